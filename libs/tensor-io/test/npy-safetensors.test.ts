import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  type DTypeName,
  decodeNpy,
  decodeSafetensors,
  elementCount,
  encodeNpy,
  encodeSafetensors,
  type HostTensor,
  openNpyFile,
  readNpyFile,
  readSafetensorsFile,
  SafetensorsFormatError,
  typedArrayOf,
  writeNpyFile,
  writeSafetensorsFile,
} from '../src/index.ts';

// Debian's interpreter: a `python3` earlier on PATH may lack numpy (see DEVELOPING.md).
const PYTHON = '/usr/bin/python3';
const script = fileURLToPath(new URL('./python/numpy_reference.py', import.meta.url));
const hasNumpy = spawnSync(PYTHON, ['-c', 'import numpy'], { encoding: 'utf8' }).status === 0;
const skip = hasNumpy ? false : `${PYTHON} with numpy is not installed (apt-get install python3-numpy)`;

interface Case {
  name: string;
  dtype: DTypeName;
  shape: number[];
}

// Shapes cover a scalar, empty axes, 1-d (numpy's "(n,)"), and first dimensions of several digit
// counts (numpy pads the header so the first axis can grow in place).
const cases: Case[] = [
  { name: 'scalar_i32', dtype: 'int32', shape: [] },
  { name: 'empty_u16', dtype: 'uint16', shape: [0] },
  { name: 'empty_rows_i32', dtype: 'int32', shape: [10, 0] },
  { name: 'vector_f64', dtype: 'float64', shape: [5] },
  { name: 'matrix_f32', dtype: 'float32', shape: [2, 3] },
  { name: 'images_u8', dtype: 'uint8', shape: [3, 1, 28, 28] },
  { name: 'long_u8', dtype: 'uint8', shape: [100000] },
  { name: 'labels_i64', dtype: 'int64', shape: [3, 1, 2] },
  { name: 'signed_i8', dtype: 'int8', shape: [300] },
  { name: 'i16', dtype: 'int16', shape: [7, 7] },
  { name: 'u32', dtype: 'uint32', shape: [4] },
  { name: 'u64', dtype: 'uint64', shape: [2, 2] },
  { name: 'half', dtype: 'float16', shape: [6] },
  { name: 'mask', dtype: 'bool', shape: [7] },
];

/** IEEE half-precision bits of a small non-negative integer (exact up to 2048). */
function halfBits(n: number): number {
  if (n === 0) return 0;
  const e = Math.floor(Math.log2(n));
  return ((e + 15) << 10) | Math.round((n / 2 ** e - 1) * 1024);
}

/** np.arange(n).astype(dtype).reshape(shape), as the Python side builds it. */
function arange(c: Case): HostTensor {
  const n = elementCount(c.shape);
  const values = (() => {
    switch (c.dtype) {
      case 'float32':
        return Float32Array.from({ length: n }, (_, i) => i);
      case 'float64':
        return Float64Array.from({ length: n }, (_, i) => i);
      case 'int8':
        return Int8Array.from({ length: n }, (_, i) => i);
      case 'int16':
        return Int16Array.from({ length: n }, (_, i) => i);
      case 'int32':
        return Int32Array.from({ length: n }, (_, i) => i);
      case 'int64':
        return BigInt64Array.from({ length: n }, (_, i) => BigInt(i));
      case 'uint8':
        return Uint8Array.from({ length: n }, (_, i) => i);
      case 'uint16':
        return Uint16Array.from({ length: n }, (_, i) => i);
      case 'uint32':
        return Uint32Array.from({ length: n }, (_, i) => i);
      case 'uint64':
        return BigUint64Array.from({ length: n }, (_, i) => BigInt(i));
      case 'float16':
        return Uint16Array.from({ length: n }, (_, i) => halfBits(i));
      case 'bool':
        return Uint8Array.from({ length: n }, (_, i) => i % 2);
      default:
        throw new Error(c.dtype);
    }
  })();
  return { dtype: c.dtype, shape: c.shape, data: new Uint8Array(values.buffer) };
}

function python(command: string, dir: string): string {
  const res = spawnSync(PYTHON, [script, command, dir, JSON.stringify(cases)], { encoding: 'utf8' });
  assert.equal(res.status, 0, `numpy_reference.py ${command} failed:\n${res.stderr}`);
  return res.stdout;
}

let fromNumpy: string;
let fromGengap: string;
before(() => {
  fromNumpy = mkdtempSync(join(tmpdir(), 'tensor-io-numpy-'));
  fromGengap = mkdtempSync(join(tmpdir(), 'tensor-io-gengap-'));
  if (hasNumpy) python('write', fromNumpy);
});
after(() => {
  rmSync(fromNumpy, { recursive: true, force: true });
  rmSync(fromGengap, { recursive: true, force: true });
});

test('.npy files written here are byte-identical to np.save', { skip }, () => {
  for (const c of cases) {
    const ours = encodeNpy(arange(c));
    const theirs = readFileSync(join(fromNumpy, `${c.name}.npy`));
    assert.deepEqual(Buffer.from(ours), theirs, `${c.name}: bytes differ from np.save`);
  }
});

test('.npy files from numpy decode to the expected dtype, shape and values', { skip }, async () => {
  for (const c of cases) {
    const path = join(fromNumpy, `${c.name}.npy`);
    const got = await readNpyFile(path);
    const want = arange(c);
    assert.equal(got.dtype, c.dtype);
    assert.deepEqual(got.shape, c.shape);
    assert.deepEqual(Buffer.from(got.data), Buffer.from(want.data), c.name);
    assert.deepEqual(decodeNpy(readFileSync(path)).shape, c.shape);
  }
});

test('numpy loads our .npy files and the reference reader parses our safetensors file', {
  skip,
}, async () => {
  const tensors = new Map<string, HostTensor>();
  for (const c of cases) {
    await writeNpyFile(join(fromGengap, `${c.name}.npy`), arange(c));
    tensors.set(c.name, arange(c));
  }
  await writeSafetensorsFile(join(fromGengap, 'gengap.safetensors'), tensors, { step: '120', format: 'pt' });
  assert.equal(python('check', fromGengap).trim(), 'ok');
  // The atomic writer leaves no temporary file behind.
  assert.ok(!readdirSync(fromGengap).some((f) => f.startsWith('.tmp-')));
});

test('safetensors from the reference layout decode here, and encoding reproduces its bytes', {
  skip,
}, async () => {
  const path = join(fromNumpy, 'reference.safetensors');
  const { tensors, metadata } = await readSafetensorsFile(path);
  assert.deepEqual(metadata, { format: 'pt', step: '120' });
  assert.equal(tensors.size, cases.length);
  for (const c of cases) {
    const t = tensors.get(c.name);
    assert.ok(t, c.name);
    assert.equal(t.dtype, c.dtype);
    assert.deepEqual(t.shape, c.shape);
    assert.deepEqual(Buffer.from(t.data), Buffer.from(arange(c).data), c.name);
  }
  const again = encodeSafetensors(tensors, metadata);
  assert.deepEqual(Buffer.from(again), readFileSync(path));
});

test('safetensors round-trip keeps wide dtypes aligned for zero-copy typed arrays', () => {
  const bytes = encodeSafetensors({
    b: { dtype: 'uint8', shape: [3], data: Uint8Array.of(1, 2, 3) },
    a: { dtype: 'float64', shape: [2], data: new Uint8Array(Float64Array.of(0.5, -2).buffer) },
    c: { dtype: 'int64', shape: [1], data: new Uint8Array(BigInt64Array.of(-7n).buffer) },
  });
  const { tensors, metadata } = decodeSafetensors(bytes);
  assert.deepEqual(metadata, {});
  assert.deepEqual([...tensors.keys()], ['c', 'a', 'b']);
  const a = tensors.get('a') as HostTensor & { dtype: 'float64' };
  assert.equal((a.data.byteOffset - 8) % 8, 0);
  assert.deepEqual([...typedArrayOf(a)], [0.5, -2]);
  assert.deepEqual([...typedArrayOf(tensors.get('c') as HostTensor & { dtype: 'int64' })], [-7n]);
});

test('malformed safetensors are refused with a reason', () => {
  const header = (json: unknown, data = 0) => {
    let text = JSON.stringify(json);
    text += ' '.repeat((8 - (text.length % 8)) % 8);
    const out = new Uint8Array(8 + text.length + data);
    new DataView(out.buffer).setBigUint64(0, BigInt(text.length), true);
    out.set(new TextEncoder().encode(text), 8);
    return out;
  };
  const bad: [string, Uint8Array][] = [
    ['short', new Uint8Array(4)],
    ['header past end', Uint8Array.of(255, 0, 0, 0, 0, 0, 0, 0)],
    ['unknown dtype', header({ x: { dtype: 'Q8', shape: [1], data_offsets: [0, 1] } }, 1)],
    ['size mismatch', header({ x: { dtype: 'F32', shape: [2], data_offsets: [0, 4] } }, 4)],
    ['gap', header({ x: { dtype: 'U8', shape: [1], data_offsets: [1, 2] } }, 2)],
    [
      'overlap',
      header(
        {
          x: { dtype: 'U8', shape: [2], data_offsets: [0, 2] },
          y: { dtype: 'U8', shape: [2], data_offsets: [1, 3] },
        },
        3,
      ),
    ],
    ['trailing bytes', header({ x: { dtype: 'U8', shape: [1], data_offsets: [0, 1] } }, 2)],
    ['not an object', header([1, 2])],
  ];
  for (const [why, bytes] of bad) {
    assert.throws(() => decodeSafetensors(bytes), SafetensorsFormatError, why);
  }
});

test('openNpyFile reads element ranges without loading the file', async () => {
  const path = join(fromGengap, 'ranged.npy');
  const values = Float32Array.from({ length: 1000 }, (_, i) => i * 0.5);
  await writeNpyFile(path, { dtype: 'float32', shape: [10, 100], data: new Uint8Array(values.buffer) });
  const reader = await openNpyFile(path);
  try {
    assert.deepEqual(reader.shape, [10, 100]);
    assert.equal(reader.dataBytes, 4000);
    const row3 = new Float32Array(Uint8Array.from(await reader.read(3 * 400, 400)).buffer);
    assert.equal(row3[0], 150);
    await assert.rejects(reader.read(3900, 200), RangeError);
  } finally {
    await reader.close();
  }
  writeFileSync(path, readFileSync(path).subarray(0, 1000));
  await assert.rejects(openNpyFile(path), /truncated/);
});
