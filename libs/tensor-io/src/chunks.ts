// Tensors over gRPC streams: split raw little-endian bytes into TensorChunk messages (sequence numbers,
// per-chunk CRC-32, sha256 of the whole tensor on its last chunk) and reassemble them with checks.
import { createHash } from 'node:crypto';
import { crc32 } from 'node:zlib';
import type { DataType, TensorChunk } from '@gengap/proto/common/v1/tensor';

export const DEFAULT_CHUNK_BYTES = 1024 * 1024;

export interface RawTensor {
  name: string;
  dtype: DataType;
  shape: number[];
  /** Row-major little-endian bytes. */
  data: Uint8Array;
}

export class ChunkIntegrityError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ChunkIntegrityError';
  }
}

/** Yields the chunks of `tensors` in order, numbering them from `firstSequence`. */
export function* toChunks(
  tensors: Iterable<RawTensor>,
  chunkBytes = DEFAULT_CHUNK_BYTES,
  firstSequence = 0,
): Generator<TensorChunk> {
  if (!(chunkBytes > 0)) throw new RangeError('chunkBytes must be positive');
  let sequence = firstSequence;
  for (const tensor of tensors) {
    const hash = createHash('sha256');
    const total = tensor.data.byteLength;
    let offset = 0;
    do {
      const end = Math.min(total, offset + chunkBytes);
      const data = tensor.data.subarray(offset, end);
      hash.update(data);
      const last = end === total;
      yield {
        sequence: sequence++,
        tensorName: tensor.name,
        dtype: tensor.dtype,
        shape: tensor.shape,
        offset,
        data: Buffer.from(data.buffer, data.byteOffset, data.byteLength),
        crc32: crc32(data),
        lastOfTensor: last,
        sha256Hex: last ? hash.digest('hex') : '',
      };
      offset = end;
    } while (offset < total);
  }
}

/** Bytes per element of each dtype. */
export function bytesPerElement(dtype: DataType): number {
  switch (dtype) {
    case 1:
    case 3:
      return 4;
    case 2:
    case 4:
      return 8;
    case 5:
      return 1;
    default:
      throw new RangeError(`unsupported dtype ${dtype}`);
  }
}

/**
 * Reassembles tensors from a chunk stream, checking sequence numbers, offsets, CRCs and the final
 * sha256. Memory: one buffer per tensor, allocated from the declared shape.
 */
export class ChunkAssembler {
  private expectedSequence: number;
  private current: { tensor: RawTensor; hash: ReturnType<typeof createHash>; filled: number } | undefined;
  readonly completed: RawTensor[] = [];
  private readonly maxTensorBytes: number;
  private readonly allocate: (byteLength: number, name: string) => Uint8Array;

  /**
   * `allocate` provides each tensor's memory (for example a SharedArrayBuffer that worker threads
   * will read), so the stream is assembled where it will be used, without a copy afterwards.
   */
  constructor(
    options: {
      firstSequence?: number;
      maxTensorBytes?: number;
      allocate?: (byteLength: number, name: string) => Uint8Array;
    } = {},
  ) {
    this.expectedSequence = options.firstSequence ?? 0;
    this.maxTensorBytes = options.maxTensorBytes ?? 2 ** 31;
    this.allocate = options.allocate ?? ((n) => new Uint8Array(n));
  }

  /** Adds one chunk; returns the tensor it completes, if any. */
  push(chunk: TensorChunk): RawTensor | undefined {
    if (chunk.sequence !== this.expectedSequence) {
      throw new ChunkIntegrityError(`expected chunk ${this.expectedSequence}, got ${chunk.sequence}`);
    }
    this.expectedSequence++;
    if (crc32(chunk.data) !== chunk.crc32) {
      throw new ChunkIntegrityError(`CRC mismatch in chunk ${chunk.sequence} of ${chunk.tensorName}`);
    }
    if (!this.current) {
      if (chunk.offset !== 0) throw new ChunkIntegrityError(`tensor ${chunk.tensorName} does not start at 0`);
      const elements = chunk.shape.reduce((a, b) => a * b, 1);
      const bytes = elements * bytesPerElement(chunk.dtype);
      if (!Number.isSafeInteger(bytes) || bytes > this.maxTensorBytes) {
        throw new ChunkIntegrityError(`tensor ${chunk.tensorName} of ${bytes} bytes exceeds the limit`);
      }
      this.current = {
        tensor: {
          name: chunk.tensorName,
          dtype: chunk.dtype,
          shape: [...chunk.shape],
          data: this.allocateChecked(bytes, chunk.tensorName),
        },
        hash: createHash('sha256'),
        filled: 0,
      };
    }
    const cur = this.current;
    if (chunk.tensorName !== cur.tensor.name || chunk.offset !== cur.filled) {
      throw new ChunkIntegrityError(`chunk ${chunk.sequence} out of place in ${cur.tensor.name}`);
    }
    if (cur.filled + chunk.data.byteLength > cur.tensor.data.byteLength) {
      throw new ChunkIntegrityError(`tensor ${cur.tensor.name} has more bytes than its shape allows`);
    }
    cur.tensor.data.set(chunk.data, cur.filled);
    cur.hash.update(chunk.data);
    cur.filled += chunk.data.byteLength;
    if (!chunk.lastOfTensor) return undefined;
    if (cur.filled !== cur.tensor.data.byteLength) {
      throw new ChunkIntegrityError(`tensor ${cur.tensor.name} ended early (${cur.filled} bytes)`);
    }
    if (cur.hash.digest('hex') !== chunk.sha256Hex) {
      throw new ChunkIntegrityError(`sha256 mismatch for tensor ${cur.tensor.name}`);
    }
    this.current = undefined;
    this.completed.push(cur.tensor);
    return cur.tensor;
  }

  private allocateChecked(bytes: number, name: string): Uint8Array {
    const data = this.allocate(bytes, name);
    if (data.byteLength !== bytes)
      throw new RangeError(`allocate(${bytes}) returned ${data.byteLength} bytes`);
    return data;
  }

  /** Throws unless the stream ended on a tensor boundary. */
  finish(): RawTensor[] {
    if (this.current) throw new ChunkIntegrityError(`stream ended inside tensor ${this.current.tensor.name}`);
    return this.completed;
  }
}

/**
 * A tensor whose bytes are read on demand (from a file, for example), so that streaming it keeps
 * only a chunk or two in memory however large it is.
 */
export interface ChunkSource {
  name: string;
  dtype: DataType;
  shape: number[];
  byteLength: number;
  /**
   * sha256 (hex) of the complete bytes, when already known (recorded when the tensor was stored).
   * Given, it is sent as is and the stream does not hash; a reader's check then also catches
   * storage corruption since the hash was recorded. Absent, it is computed while streaming.
   */
  sha256Hex?: string;
  /** Resolves to `length` bytes starting at `offset`; the returned buffer is not reused by the source. */
  read(offset: number, length: number): Promise<Uint8Array>;
  /**
   * The CRC-32 of bytes [offset, offset + length) when already known (see BlockCrc32), so the
   * stream need not compute it; undefined means compute it from the bytes read.
   */
  crc32?(offset: number, length: number): number | undefined;
}

/**
 * Chunks of tensors read from sources, numbered from `firstSequence`. Reads one chunk ahead so disk
 * and transport overlap; a consumer that stops pulling stops the reads.
 */
export async function* toChunksFrom(
  sources: Iterable<ChunkSource>,
  chunkBytes = DEFAULT_CHUNK_BYTES,
  firstSequence = 0,
): AsyncGenerator<TensorChunk> {
  if (!(chunkBytes > 0)) throw new RangeError('chunkBytes must be positive');
  let sequence = firstSequence;
  for (const source of sources) {
    const total = source.byteLength;
    const expected = source.shape.reduce((a, b) => a * b, 1) * bytesPerElement(source.dtype);
    if (expected !== total) {
      throw new RangeError(`tensor ${source.name}: shape needs ${expected} bytes, source has ${total}`);
    }
    const hash = source.sha256Hex === undefined ? createHash('sha256') : undefined;
    const readAt = (offset: number) => source.read(offset, Math.min(chunkBytes, total - offset));
    let offset = 0;
    let pending: Promise<Uint8Array> | undefined = total > 0 ? readAt(0) : undefined;
    do {
      const data = pending ? await pending : new Uint8Array(0);
      const end = offset + data.byteLength;
      if (data.byteLength === 0 && total > 0) throw new RangeError(`tensor ${source.name}: empty read`);
      pending = end < total ? readAt(end) : undefined;
      // A rejected read-ahead that is never awaited (the consumer stopped) must not go unhandled.
      pending?.catch(() => {});
      hash?.update(data);
      const last = end === total;
      yield {
        sequence: sequence++,
        tensorName: source.name,
        dtype: source.dtype,
        shape: source.shape,
        offset,
        data: Buffer.from(data.buffer, data.byteOffset, data.byteLength),
        crc32: source.crc32?.(offset, data.byteLength) ?? crc32(data),
        lastOfTensor: last,
        sha256Hex: last ? (hash ? hash.digest('hex') : (source.sha256Hex as string)) : '',
      };
      offset = end;
    } while (offset < total);
  }
}

/** A source over bytes already in memory. */
export function memorySource(tensor: RawTensor): ChunkSource {
  return {
    name: tensor.name,
    dtype: tensor.dtype,
    shape: tensor.shape,
    byteLength: tensor.data.byteLength,
    read: async (offset, length) => tensor.data.subarray(offset, offset + length),
  };
}
