// Seeded initialisers: deterministic per seed, with the distributions the proto promises.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type Initializer, InitializerKind, type ModelSpec } from '@gengap/proto/common/v1/model';
import { compileModel } from '../src/index.ts';

function spec(initializer: Initializer): ModelSpec {
  return {
    inputShape: [200],
    numOutputs: 100,
    layers: [{ name: 'fc', kind: { $case: 'dense', value: { units: 100, noBias: false, initializer } } }],
    defaultInitializer: undefined,
  };
}

async function weights(initializer: Initializer, seed = 1): Promise<{ w: Float32Array; b: Float32Array }> {
  const m = await compileModel(spec(initializer));
  m.initParameters(seed);
  return {
    w: m.parameters.view('fc.weight') as Float32Array,
    b: m.parameters.view('fc.bias') as Float32Array,
  };
}

const std = (v: ArrayLike<number>) => {
  const a = Array.from(v);
  const mean = a.reduce((s, x) => s + x, 0) / a.length;
  return Math.sqrt(a.reduce((s, x) => s + (x - mean) ** 2, 0) / a.length);
};
const maxAbs = (v: ArrayLike<number>) => Math.max(...Array.from(v, Math.abs));

describe('initializers', () => {
  it('He normal: std = scale * sqrt(2 / fan_in), zero bias', async () => {
    const { w, b } = await weights({ kind: InitializerKind.INITIALIZER_KIND_HE_NORMAL, scale: 0 });
    assert.ok(Math.abs(std(w) / Math.sqrt(2 / 200) - 1) < 0.02);
    assert.ok(b.every((v) => v === 0));
  });

  it('Glorot uniform: bound = scale * sqrt(6 / (fan_in + fan_out))', async () => {
    const { w } = await weights({ kind: InitializerKind.INITIALIZER_KIND_GLOROT_UNIFORM, scale: 2 });
    const bound = 2 * Math.sqrt(6 / 300);
    assert.ok(maxAbs(w) <= bound && maxAbs(w) > 0.99 * bound);
    assert.ok(Math.abs(std(w) / (bound / Math.sqrt(3)) - 1) < 0.02);
  });

  it('normal with a given scale, and PyTorch default bounds for weights and biases', async () => {
    const { w } = await weights({ kind: InitializerKind.INITIALIZER_KIND_NORMAL, scale: 0.05 });
    assert.ok(Math.abs(std(w) / 0.05 - 1) < 0.02);
    const torch = await weights({ kind: InitializerKind.INITIALIZER_KIND_TORCH_DEFAULT, scale: 0 });
    const bound = 1 / Math.sqrt(200);
    assert.ok(maxAbs(torch.w) <= bound && maxAbs(torch.w) > 0.99 * bound);
    assert.ok(maxAbs(torch.b) <= bound && maxAbs(torch.b) > 0.5 * bound);
  });

  it('is a pure function of the seed', async () => {
    const kind = { kind: InitializerKind.INITIALIZER_KIND_HE_NORMAL, scale: 1 };
    assert.deepEqual((await weights(kind, 3)).w, (await weights(kind, 3)).w);
    assert.notDeepEqual((await weights(kind, 3)).w, (await weights(kind, 4)).w);
  });
});
