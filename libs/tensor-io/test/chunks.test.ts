import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DataType } from '@gengap/proto/common/v1/tensor';
import { ChunkAssembler, ChunkIntegrityError, type RawTensor, toChunks } from '../src/chunks.ts';

function tensor(name: string, n: number): RawTensor {
  const values = Float32Array.from({ length: n }, (_, i) => i * 0.5);
  return { name, dtype: DataType.DATA_TYPE_FLOAT32, shape: [n], data: new Uint8Array(values.buffer) };
}

test('chunks reassemble into the same tensors, in order, with numbered sequence', () => {
  const tensors = [tensor('x', 1000), tensor('y', 3), tensor('empty', 0)];
  const chunks = [...toChunks(tensors, 512)];
  assert.deepEqual(
    chunks.map((c) => c.sequence),
    chunks.map((_, i) => i),
  );
  const assembler = new ChunkAssembler();
  for (const c of chunks) assembler.push(c);
  const out = assembler.finish();
  assert.deepEqual(
    out.map((t) => t.name),
    ['x', 'y', 'empty'],
  );
  for (const [i, t] of out.entries()) assert.deepEqual(t.data, tensors[i]?.data);
});

test('a corrupted, missing or reordered chunk is detected', () => {
  const chunks = [...toChunks([tensor('x', 1000)], 512)];
  const corrupt = structuredClone(chunks);
  (corrupt[2] as { data: Buffer }).data = Buffer.from(corrupt[2]!.data).fill(7);
  const checking = new ChunkAssembler();
  checking.push(corrupt[0]!);
  checking.push(corrupt[1]!);
  assert.throws(() => checking.push(corrupt[2]!), /CRC mismatch/);
  assert.ok(ChunkIntegrityError);

  const assembler = new ChunkAssembler();
  assembler.push(chunks[0]!);
  assert.throws(() => assembler.push(chunks[2]!), /expected chunk 1/);

  const truncated = new ChunkAssembler();
  for (const c of chunks.slice(0, -1)) truncated.push(c);
  assert.throws(() => truncated.finish(), /ended inside tensor/);
});

test('a tensor declaring more bytes than the limit is refused before allocation', () => {
  const [first] = [...toChunks([tensor('x', 10)], 8)];
  const huge = { ...first!, shape: [2 ** 40] };
  assert.throws(() => new ChunkAssembler({ maxTensorBytes: 1 << 20 }).push(huge), /exceeds the limit/);
});
