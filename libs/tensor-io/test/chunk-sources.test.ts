import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { DataType } from '@gengap/proto/common/v1/tensor';
import {
  ChunkAssembler,
  type ChunkSource,
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
