// Training runtime: the K-step Scan against single steps, resumption from a checkpoint (bitwise on CPU
// with fixed threads, dropout included), in-graph dropout masks against their JS definition, frozen
// parameters, and soft targets.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { OptimizerKind, type OptimizerSpec } from '@gengap/proto/common/v1/model';
import * as ort from 'onnxruntime-node';
import { compileModel, dropoutKey, dropoutUniform, stepSeed } from '../src/index.ts';
import { Builder } from '../src/ir/builder.ts';
import { Graph } from '../src/ir/graph.ts';
import { dropoutUniforms } from '../src/model/dropout.ts';
import { serializeModel } from '../src/onnx/serialize.ts';
import { dropout, mlp, relu, wave } from './support/models.ts';

const adam: OptimizerSpec = {
  kind: OptimizerKind.OPTIMIZER_KIND_ADAM,
  learningRate: 0,
  momentum: 0,
  beta1: 0,
  beta2: 0,
  epsilon: 0,
  trustCoefficient: 0,
};
const spec = mlp([6, 16, 16, 3], relu, [dropout(0.3)]);
const K = 6;
const N = 10;
const x = Float32Array.from(wave(K * N * 6, 0.5));
const y = Int32Array.from({ length: K * N }, (_, i) => (i * 5) % 3);
const learningRates = Array.from({ length: K }, (_, k) => 0.01 / (1 + k));
const rows = (from: number, to: number) => ({
  x: x.subarray(from * N * 6, to * N * 6),
  y: y.subarray(from * N, to * N),
  learningRates: learningRates.slice(from, to),
});

describe('training runtime', () => {
  it('resumes bitwise from a checkpoint taken between calls (Adam, dropout)', async () => {
    const straight = await compileModel(spec, { optimizer: adam });
    straight.initParameters(42);
    const all = await straight.trainSteps({ ...rows(0, K), seed: 9, firstStep: 0 });

    const first = await compileModel(spec, { optimizer: adam });
    first.initParameters(42);
    const a = await first.trainSteps({ ...rows(0, 2), seed: 9, firstStep: 0 });
    const checkpoint = { params: first.parameters.data.slice(), state: first.optimizerState.data.slice() };
    await first.dispose();

    const resumed = await compileModel(spec, { optimizer: adam });
    resumed.parameters.load(checkpoint.params);
    resumed.optimizerState.load(checkpoint.state);
    const b = await resumed.trainSteps({ ...rows(2, 5), seed: 9, firstStep: 2 });
    const c = await resumed.trainSteps({ ...rows(5, K), seed: 9, firstStep: 5 });

    assert.deepEqual(resumed.parameters.data, straight.parameters.data);
    assert.deepEqual(resumed.optimizerState.data, straight.optimizerState.data);
    assert.deepEqual([...a.losses, ...b.losses, ...c.losses], [...all.losses]);
    assert.equal(resumed.optimizerState.view('optimizer.step')[0], K);
  });

  it('draws different dropout masks for different seeds and steps', async () => {
    const run = async (seed: number, firstStep: number) => {
      const m = await compileModel(spec, { optimizer: adam });
      m.initParameters(1);
      const r = await m.trainSteps({ ...rows(0, 1), seed, firstStep });
      return r.losses[0];
    };
    const base = await run(1, 0);
    assert.equal(await run(1, 0), base);
    assert.notEqual(await run(2, 0), base);
    assert.notEqual(await run(1, 1), base);
  });

  it('runs K steps in one Scan call exactly like K single-step calls', async () => {
    const loop = await compileModel(spec, { optimizer: adam });
    loop.initParameters(3);
    const single = await compileModel(spec, { optimizer: adam });
    single.parameters.load(loop.parameters.data);
    const metrics = await loop.trainSteps({ ...rows(0, K), seed: 5, firstStep: 10 });
    for (let k = 0; k < K; k++) {
      const r = rows(k, k + 1);
      const m = await single.trainStep(r.x, r.y, r.learningRates[0]!, { seed: 5, step: 10 + k });
      assert.equal(m.losses[0], metrics.losses[k]);
    }
    assert.deepEqual(single.parameters.data, loop.parameters.data);
  });

  it('repeats one batch at every step with sameBatch (full-batch gradient descent)', async () => {
    const stacked = await compileModel(spec, { optimizer: adam });
    stacked.initParameters(4);
    const shared = await compileModel(spec, { optimizer: adam });
    shared.parameters.load(stacked.parameters.data);
    const one = rows(0, 1);
    const copies = {
      x: Float32Array.from({ length: 3 * one.x.length }, (_, i) => one.x[i % one.x.length]!),
      y: Int32Array.from({ length: 3 * one.y.length }, (_, i) => one.y[i % one.y.length]!),
    };
    const a = await stacked.trainSteps({ ...copies, learningRates: [0.01, 0.02, 0.03], seed: 2 });
    const b = await shared.trainSteps({
      x: one.x,
      y: one.y,
      learningRates: [0.01, 0.02, 0.03],
      seed: 2,
      sameBatch: true,
    });
    assert.deepEqual([...b.losses], [...a.losses]);
    assert.deepEqual(shared.parameters.data, stacked.parameters.data);
  });

  it('keeps frozen parameters fixed and trains the rest', async () => {
    const m = await compileModel(mlp([6, 8, 3]), { frozenParameters: ['0.dense.weight', '0.dense.bias'] });
    m.initParameters(7);
    const before = m.parameters.data.slice();
    await m.trainSteps({ ...rows(0, 2), learningRates: [0.5, 0.5] });
    const frozen = m.parameters.view('0.dense.weight').length + m.parameters.view('0.dense.bias').length;
    assert.deepEqual(m.parameters.data.subarray(0, frozen), before.subarray(0, frozen));
    assert.notDeepEqual(m.parameters.data.subarray(frozen), before.subarray(frozen));
  });

  it('treats one-hot soft targets like integer labels', async () => {
    const hard = await compileModel(mlp([6, 8, 3]), { precision: 'float64' });
    hard.initParameters(11);
    const soft = await compileModel(mlp([6, 8, 3]), { precision: 'float64' });
    soft.parameters.load(hard.parameters.data);
    const r = rows(0, 2);
    const oneHot = new Float64Array(r.y.length * 3);
    r.y.forEach((label, i) => {
      oneHot[i * 3 + label] = 1;
    });
    const a = await hard.trainSteps(r);
    const b = await soft.trainSteps({ ...r, y: oneHot });
    assert.deepEqual([...b.accuracies], [...a.accuracies]);
    for (let k = 0; k < 2; k++) assert.ok(Math.abs(a.losses[k]! - b.losses[k]!) < 1e-12);
    for (let i = 0; i < hard.numParameters; i++)
      assert.ok(Math.abs(hard.parameters.data[i]! - soft.parameters.data[i]!) < 1e-12);
  });
});

describe('in-graph dropout masks', () => {
  it('equal the JS definition (prng.dropoutUniform) element by element', async () => {
    const g = new Graph('dropout');
    const b = new Builder(g);
    const xIn = g.addInput('x', 'float32', ['N', 4, 5]);
    const seedIn = g.addInput('seed', 'uint32', []);
    b.output(dropoutUniforms(b, xIn, seedIn, 3), 'u');
    const session = await ort.InferenceSession.create(serializeModel(g));
    const seed = stepSeed(123456789, 77);
    const out = await session.run({
      x: new ort.Tensor('float32', new Float32Array(2 * 20), [2, 4, 5]),
      seed: new ort.Tensor('uint32', Uint32Array.of(seed), []),
    });
    const u = out.u!.data as Float32Array;
    const key = dropoutKey(seed, 3);
    const expected = Array.from({ length: 40 }, (_, i) => dropoutUniform(key, i));
    assert.deepEqual([...u], expected);
    const mean = expected.reduce((s, v) => s + v, 0) / expected.length;
    assert.ok(mean > 0.3 && mean < 0.7, `mean uniform ${mean}`);
  });

  it('keep about 1 - rate of the units, scaled by 1 / (1 - rate)', () => {
    const key = dropoutKey(stepSeed(1, 0), 0);
    const n = 100_000;
    let kept = 0;
    for (let i = 0; i < n; i++) if (dropoutUniform(key, i) >= 0.3) kept++;
    assert.ok(Math.abs(kept / n - 0.7) < 0.01, `kept fraction ${kept / n}`);
  });
});
