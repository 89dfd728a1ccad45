import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { crc32 } from 'node:zlib';
import { DataType } from '@gengap/proto/common/v1/tensor';
import { ReadDatasetResponse } from '@gengap/proto/data/v1/data_service';
import {
  BlockCrc32,
  blockCrc32s,
  ChunkAssembler,
  type ChunkSource,
  ChunkWireError,
  crc32Combine,
  decodeChunkEnvelope,
  memorySource,
  type RawTensor,
  toChunks,
  toChunksFrom,
} from '../src/index.ts';

function tensor(name: string, n: number): RawTensor {
  const values = Float32Array.from({ length: n }, (_, i) => Math.sin(i));
  return { name, dtype: DataType.DATA_TYPE_FLOAT32, shape: [n], data: new Uint8Array(values.buffer) };
}

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

test('chunks read from sources equal the in-memory chunks and reassemble', async () => {
  const tensors = [tensor('x', 1000), tensor('y', 3), tensor('empty', 0)];
  const fromSources = await collect(toChunksFrom(tensors.map(memorySource), 512, 5));
  const inMemory = [...toChunks(tensors, 512, 5)];
  assert.deepEqual(fromSources, inMemory);
  const assembler = new ChunkAssembler({ firstSequence: 5 });
  for (const c of fromSources) assembler.push(c);
  assert.deepEqual(
    assembler.finish().map((t) => t.data),
    tensors.map((t) => t.data),
  );
});

test('a recorded sha256 is sent as is, so a reader detects bytes that changed since', async () => {
  const t = tensor('x', 100);
  const recorded = createHash('sha256').update(t.data).digest('hex');
  const good = await collect(toChunksFrom([{ ...memorySource(t), sha256Hex: recorded }], 128));
  assert.equal(good.at(-1)?.sha256Hex, recorded);
  const changed = { ...t, data: t.data.slice() };
  (changed.data[7] as number) ^= 1;
  const stale = await collect(toChunksFrom([{ ...memorySource(changed), sha256Hex: recorded }], 128));
  const assembler = new ChunkAssembler();
  assert.throws(() => {
    for (const c of stale) assembler.push(c);
  }, /sha256 mismatch/);
});

test('reads stay one chunk ahead of the consumer and stop when it stops', async () => {
  let reads = 0;
  const source: ChunkSource = {
    ...memorySource(tensor('x', 1024)),
    read: async (offset, length) => {
      reads++;
      return new Uint8Array(length).fill(offset & 0xff);
    },
  };
  const chunks = toChunksFrom([source], 64);
  await chunks.next();
  await chunks.next();
  assert.equal(reads, 3);
  await chunks.return(undefined);
  assert.equal(reads, 3);
});

test('a source whose shape disagrees with its length is refused', async () => {
  const source = { ...memorySource(tensor('x', 10)), shape: [11] };
  await assert.rejects(collect(toChunksFrom([source])), /shape needs 44 bytes/);
});

test('decodeChunkEnvelope equals the generated decoder, with data as a view of the message', () => {
  const data = new Uint8Array(Float64Array.from({ length: 5000 }, (_, i) => i / 7).buffer);
  const chunks = [
    ...toChunks([{ name: 'x', dtype: DataType.DATA_TYPE_FLOAT64, shape: [50, 100], data }], 16_384, 2 ** 40),
    ...toChunks([{ name: 'é', dtype: DataType.DATA_TYPE_INT64, shape: [0], data: new Uint8Array(0) }]),
  ];
  for (const chunk of chunks) {
    const bytes = Buffer.from(ReadDatasetResponse.encode({ chunk }).finish());
    const fast = decodeChunkEnvelope(bytes);
    assert.deepEqual(fast, ReadDatasetResponse.decode(bytes).chunk);
    if (chunk.data.byteLength > 0) assert.equal(fast?.data.buffer, bytes.buffer, 'no copy');
  }
  // Unpacked repeated shape and unknown fields are accepted, as protobuf parsers must.
  const unpacked = Buffer.from([0x0a, 10, 0x20, 3, 0x20, 4, 0x58, 1, 0x32, 2, 7, 8, 0x10, 1]);
  assert.deepEqual(decodeChunkEnvelope(unpacked)?.shape, [3, 4]);
  assert.deepEqual([...(decodeChunkEnvelope(unpacked)?.data ?? [])], [7, 8]);
  assert.equal(decodeChunkEnvelope(Buffer.alloc(0)), undefined);
  assert.throws(() => decodeChunkEnvelope(Buffer.from([0x0a, 50, 0x08])), ChunkWireError);
});

test('ChunkAssembler assembles into memory the caller provides (a SharedArrayBuffer)', () => {
  const t = tensor('x', 300);
  const assembler = new ChunkAssembler({ allocate: (n) => new Uint8Array(new SharedArrayBuffer(n)) });
  for (const c of toChunks([t], 128)) assembler.push(c);
  const [out] = assembler.finish();
  assert.ok(out?.data.buffer instanceof SharedArrayBuffer);
  assert.deepEqual(Uint8Array.from(out?.data ?? []), t.data);
  const wrong = new ChunkAssembler({ allocate: () => new Uint8Array(3) });
  assert.throws(() => wrong.push([...toChunks([t], 128)][0] as never), /returned 3 bytes/);
});

test('CRC-32 of block-aligned ranges from per-block CRCs equals zlib, and feeds chunk streams', async () => {
  const data = new Uint8Array(1_000_003).map((_, i) => (i * 2654435761) >>> 24);
  for (const cut of [0, 1, 7, 65_536, 300_000, 1_000_003]) {
    const a = data.subarray(0, cut);
    const b = data.subarray(cut);
    assert.equal(crc32Combine(crc32(a), crc32(b), b.byteLength), crc32(data), `cut at ${cut}`);
  }
  const blocks = new BlockCrc32(blockCrc32s(data, 65_536, crc32), 65_536, data.byteLength);
  assert.equal(blocks.range(3 * 65_536, 5 * 65_536), crc32(data.subarray(3 * 65_536, 8 * 65_536)));
  assert.equal(blocks.range(10 * 65_536, data.byteLength - 10 * 65_536), crc32(data.subarray(10 * 65_536)));
  assert.equal(blocks.range(1, 65_536), undefined, 'unaligned start');
  assert.equal(blocks.range(0, 1000), undefined, 'unaligned end');
  // A source with recorded block CRCs produces the same chunks as one without.
  const t: RawTensor = { name: 'x', dtype: DataType.DATA_TYPE_UINT8, shape: [data.byteLength], data };
  for (const size of [65_536, 4 * 65_536, 100_000]) {
    const source = { ...memorySource(t), crc32: (o: number, n: number) => blocks.range(o, n) };
    assert.deepEqual(await collect(toChunksFrom([source], size)), [...toChunks([t], size)]);
  }
});
