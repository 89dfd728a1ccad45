// ReadDataset's response serializer for the hot path. The generated encoder copies a chunk's data
// three times (into the nested writer, the outer writer, then a Buffer) before grpc-js frames it;
// this one writes the same bytes with one copy: the fields before `data` and after it are encoded by
// the generated code (they are small), the data is copied once into the output. Tests check that the
// bytes equal the generated encoder's.
//
// The streaming variant also avoids allocating: grpc-js calls a response serializer synchronously
// and copies its result into the outgoing frame before it returns (server-interceptors.js,
// serializeMessage), so one output buffer is reused for every message, and the chunk's data buffer
// goes back to the read pool it came from. Were grpc-js ever to keep the serializer's buffer, clients
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

/** Encodes into `scratch` when it is large enough (returns a view of it), else into a new buffer. */
function encodeInto(message: ReadDatasetResponse, scratch: Buffer | undefined): Buffer {
  const chunk = message.chunk;
  if (!chunk) return Buffer.alloc(0);
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
  const data = chunk.data;
  const dataField = data.byteLength > 0 ? 1 + varintLength(data.byteLength) + data.byteLength : 0;
  const body = head.byteLength + dataField + tail.byteLength;
  const total = 1 + varintLength(body) + body;
  const out = scratch && scratch.byteLength >= total ? scratch.subarray(0, total) : Buffer.allocUnsafe(total);
  out[0] = CHUNK_TAG;
  let at = writeVarint(out, 1, body);
  out.set(head, at);
  at += head.byteLength;
  if (data.byteLength > 0) {
    out[at++] = DATA_TAG;
    at = writeVarint(out, at, data.byteLength);
    out.set(data, at);
    at += data.byteLength;
  }
  out.set(tail, at);
  return out;
}

export function encodeReadDatasetResponse(message: ReadDatasetResponse): Buffer {
  return encodeInto(message, undefined);
}

/** A serializer for one server: a reused output buffer, and chunk buffers returned to `pool`. */
export function readDatasetSerializer(pool: BufferPool): (message: ReadDatasetResponse) => Buffer {
  let scratch = Buffer.allocUnsafeSlow(0);
  return (message) => {
    const size = (message.chunk?.data.byteLength ?? 0) + 1024;
    if (scratch.byteLength < size) scratch = Buffer.allocUnsafeSlow(Math.max(size, scratch.byteLength * 2));
    const out = encodeInto(message, scratch);
    if (message.chunk) pool.release(message.chunk.data);
    return out;
  };
}
