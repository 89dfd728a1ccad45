// ReadDataset's response serializer for the hot path. The generated encoder copies a chunk's data
// three times (into the nested writer, the outer writer, then a Buffer) before grpc-js frames it;
// this one writes the same bytes with one copy: the fields before `data` and after it are encoded by
// the generated code (they are small), the data is copied once into the output. Tests check that the
// bytes equal the generated encoder's.
//
// The streaming variant copies nothing: grpc-js calls a response serializer synchronously and copies
// its result into the outgoing frame before it returns (server-interceptors.js, serializeMessage), so
// a chunk read into a pool buffer is encoded in place around its data, and the buffer then goes back
// to the pool. Were grpc-js ever to keep the serializer's buffer, clients
// would see CRC mismatches (DATA_LOSS), never silently wrong data; the tests stream every dataset
// through this path and check every CRC and sha256.
import { TensorChunk } from '@gengap/proto/common/v1/tensor';
import type { ReadDatasetResponse } from '@gengap/proto/data/v1/data_service';
import type { BufferPool } from '../reading/buffer-pool.ts';

const EMPTY = Buffer.alloc(0);
/** Tags of ReadDatasetResponse.chunk (field 1) and TensorChunk.data (field 6), wire type 2. */
const CHUNK_TAG = 0x0a;
const DATA_TAG = 0x32;

function varintLength(value: number): number {
  let n = 1;
  for (let v = value; v >= 0x80; v = Math.floor(v / 128)) n++;
  return n;
}

function writeVarint(out: Buffer, at: number, value: number): number {
  let v = value;
  let i = at;
  while (v >= 0x80) {
    out[i++] = (v % 128) | 0x80;
    v = Math.floor(v / 128);
  }
  out[i++] = v;
  return i;
}

interface Parts {
  head: Uint8Array;
  tail: Uint8Array;
  /** Bytes before the data: outer tag and length, fields 1-5, data tag and length. */
  prefixLength: number;
  total: number;
  body: number;
}

/** The small encoded pieces around a chunk's data, as the generated encoder orders fields. */
function partsOf(chunk: NonNullable<ReadDatasetResponse['chunk']>): Parts {
  // Fields 1-5, then 7-9: what the generated encoder writes before and after field 6.
  const head = TensorChunk.encode({
    ...chunk,
    data: EMPTY,
    crc32: 0,
    lastOfTensor: false,
    sha256Hex: '',
  }).finish();
  const tail = TensorChunk.encode({
    sequence: 0,
    tensorName: '',
    dtype: 0,
    shape: [],
    offset: 0,
    data: EMPTY,
    crc32: chunk.crc32,
    lastOfTensor: chunk.lastOfTensor,
    sha256Hex: chunk.sha256Hex,
  }).finish();
  const n = chunk.data.byteLength;
  const dataHeader = n > 0 ? 1 + varintLength(n) : 0;
  const body = head.byteLength + dataHeader + n + tail.byteLength;
  const prefixLength = 1 + varintLength(body) + head.byteLength + dataHeader;
  return { head, tail, prefixLength, total: prefixLength + n + tail.byteLength, body };
}

/** Writes everything but the data bytes at out[at..]; returns where the data goes. */
function writePrefix(
  out: Uint8Array,
  at: number,
  chunk: NonNullable<ReadDatasetResponse['chunk']>,
  parts: Parts,
): number {
  out[at] = CHUNK_TAG;
  let i = writeVarint(out as Buffer, at + 1, parts.body);
  out.set(parts.head, i);
  i += parts.head.byteLength;
  if (chunk.data.byteLength > 0) {
    out[i++] = DATA_TAG;
    i = writeVarint(out as Buffer, i, chunk.data.byteLength);
  }
  return i;
}

/** Encodes into `scratch` when it is large enough (returns a view of it), else into a new buffer. */
function encodeInto(message: ReadDatasetResponse, scratch: Buffer | undefined): Buffer {
  const chunk = message.chunk;
  if (!chunk) return Buffer.alloc(0);
  const parts = partsOf(chunk);
  const out =
    scratch && scratch.byteLength >= parts.total
      ? scratch.subarray(0, parts.total)
      : Buffer.allocUnsafe(parts.total);
  const at = writePrefix(out, 0, chunk, parts);
  out.set(chunk.data, at);
  out.set(parts.tail, at + chunk.data.byteLength);
  return out;
}

export function encodeReadDatasetResponse(message: ReadDatasetResponse): Buffer {
  return encodeInto(message, undefined);
}

/**
 * A serializer for one server. A chunk read into a pool buffer (which has room before and after
 * its data) is encoded in place: the prefix and the trailing fields are written around the data and
 * the message is a view of the buffer, so the data is never copied here; the buffer goes back to the
 * pool once grpc-js has copied the message into its frame (synchronously, before it returns). Other
 * chunks are encoded into one reused output buffer.
 */
export function readDatasetSerializer(pool: BufferPool): (message: ReadDatasetResponse) => Buffer {
  let scratch = Buffer.allocUnsafeSlow(0);
  return (message) => {
    const chunk = message.chunk;
    if (!chunk) return Buffer.alloc(0);
    const room = pool.roomAround(chunk.data);
    if (room) {
      const parts = partsOf(chunk);
      const suffix = parts.tail.byteLength;
      if (room.before >= parts.prefixLength && room.after >= suffix) {
        const start = chunk.data.byteOffset - parts.prefixLength;
        const whole = Buffer.from(chunk.data.buffer, start, parts.total);
        writePrefix(whole, 0, chunk, parts);
        whole.set(parts.tail, parts.prefixLength + chunk.data.byteLength);
        pool.release(chunk.data);
        return whole;
      }
    }
    const size = chunk.data.byteLength + 1024;
    if (scratch.byteLength < size) scratch = Buffer.allocUnsafeSlow(Math.max(size, scratch.byteLength * 2));
    const out = encodeInto(message, scratch);
    pool.release(chunk.data);
    return out;
  };
}
