// Decoding a TensorChunk from the wire without copying its data. The generated decoder copies every
// chunk's bytes into a fresh Buffer (ts-proto's `Buffer.from(reader.bytes())`); at hundreds of MB/s
// that copy and its allocation cost as much as checking the chunk. This decoder returns `data` as a
// view into the received message, which is safe when the message buffer is not reused (grpc-js gives
// every received message its own buffer). Use it as a response deserializer, e.g. for
// ReadDatasetResponse: `responseDeserialize: (b) => ({ chunk: decodeChunkEnvelope(b) })`.
import type { DataType, TensorChunk } from '@gengap/proto/common/v1/tensor';

export class ChunkWireError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ChunkWireError';
  }
}

class Reader {
  pos: number;
  readonly end: number;
  readonly bytes: Uint8Array;
  constructor(bytes: Uint8Array, start: number, end: number) {
    this.bytes = bytes;
    this.pos = start;
    this.end = end;
  }

  /** A varint as a number (exact up to 2^53; uint64 fields beyond that are not used by GenGap). */
  varint(): number {
    let result = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw new ChunkWireError('truncated varint');
      const b = this.bytes[this.pos++] as number;
      result += (b & 0x7f) * scale;
      if (b < 0x80) return result;
      scale *= 128;
    }
    throw new ChunkWireError('varint longer than 10 bytes');
  }

  /** Start and end of a length-delimited field's payload. */
  delimited(): [number, number] {
    const length = this.varint();
    const start = this.pos;
    if (start + length > this.end) throw new ChunkWireError('length-delimited field past the end');
    this.pos += length;
    return [start, start + length];
  }

  skip(wireType: number): void {
    if (wireType === 0) this.varint();
    else if (wireType === 1) this.pos += 8;
    else if (wireType === 2) this.delimited();
    else if (wireType === 5) this.pos += 4;
    else throw new ChunkWireError(`unsupported wire type ${wireType}`);
    if (this.pos > this.end) throw new ChunkWireError('field past the end');
  }
}

const utf8 = new TextDecoder();

function decodeChunk(bytes: Uint8Array, start: number, end: number): TensorChunk {
  const r = new Reader(bytes, start, end);
  const chunk: TensorChunk = {
    sequence: 0,
    tensorName: '',
    dtype: 0,
    shape: [],
    offset: 0,
    data: Buffer.alloc(0),
    crc32: 0,
    lastOfTensor: false,
    sha256Hex: '',
  };
  while (r.pos < r.end) {
    const tag = r.varint();
    const field = Math.floor(tag / 8);
    const wire = tag & 7;
    if (field === 1 && wire === 0) chunk.sequence = r.varint();
    else if (field === 2 && wire === 2) chunk.tensorName = utf8.decode(bytes.subarray(...r.delimited()));
    else if (field === 3 && wire === 0) chunk.dtype = r.varint() as DataType;
    else if (field === 4 && wire === 2) {
      const [s, e] = r.delimited();
      const packed = new Reader(bytes, s, e);
      while (packed.pos < packed.end) chunk.shape.push(packed.varint());
    } else if (field === 4 && wire === 0) chunk.shape.push(r.varint());
    else if (field === 5 && wire === 0) chunk.offset = r.varint();
    else if (field === 6 && wire === 2) {
      const [s, e] = r.delimited();
      chunk.data = Buffer.from(bytes.buffer, bytes.byteOffset + s, e - s);
    } else if (field === 7 && wire === 0) chunk.crc32 = r.varint() >>> 0;
    else if (field === 8 && wire === 0) chunk.lastOfTensor = r.varint() !== 0;
    else if (field === 9 && wire === 2) chunk.sha256Hex = utf8.decode(bytes.subarray(...r.delimited()));
    else r.skip(wire);
  }
  return chunk;
}

/**
 * The TensorChunk in field `field` of an encoded message (ReadDatasetResponse.chunk is field 1),
 * its data a view into `bytes`; undefined when the message has no such field.
 */
export function decodeChunkEnvelope(bytes: Uint8Array, field = 1): TensorChunk | undefined {
  const r = new Reader(bytes, 0, bytes.byteLength);
  let chunk: TensorChunk | undefined;
  while (r.pos < r.end) {
    const tag = r.varint();
    if (Math.floor(tag / 8) === field && (tag & 7) === 2) {
      const [s, e] = r.delimited();
      chunk = decodeChunk(bytes, s, e);
    } else {
      r.skip(tag & 7);
    }
  }
  return chunk;
}
