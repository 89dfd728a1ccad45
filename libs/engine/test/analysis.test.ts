// Evaluation and analysis graphs: chunking invariance, exact HVPs (symmetry and finite differences of
// the gradient at a smooth point), input gradients, embeddings and the inversion step, all in float64.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type CompiledModel, compileModel } from '../src/index.ts';
import { mlp, smallCnn, tabular, tanh, wave } from './support/models.ts';
import { relativeError } from './support/rule-check.ts';

const N = 9;

async function tanhMlp(chunkSize?: number): Promise<CompiledModel> {
  const m = await compileModel(mlp([5, 7, 6, 3], tanh), {
    precision: 'float64',
    ...(chunkSize ? { chunkSize } : {}),
  });
  m.initParameters(21);
  return m;
}

const x = wave(N * 5, 0.3);
const labels = Int32Array.from({ length: N }, (_, i) => i % 3);

function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

const plus = (a: ArrayLike<number>, b: ArrayLike<number>, s: number) =>
  Float64Array.from(a, (v, i) => v + s * b[i]!);

describe('evaluation and analysis', () => {
  it('evaluates the same in chunks as in one batch, with accuracy from the logits', async () => {
    const whole = await (await tanhMlp()).evaluate(x, labels);
    const chunked = await (await tanhMlp(4)).evaluate(x, labels);
    assert.deepEqual(chunked.correct, whole.correct);
    assert.ok(relativeError(chunked.perExampleLoss, whole.perExampleLoss) < 1e-14);
    const predicted = Array.from({ length: N }, (_, i) => {
      const row = Array.from(whole.logits.subarray(i * 3, i * 3 + 3));
      return row.indexOf(Math.max(...row));
    });
    const accuracy = predicted.filter((p, i) => p === labels[i]).length / N;
    assert.equal(whole.accuracy, accuracy);
    assert.ok(Math.abs(whole.loss - whole.perExampleLoss.reduce((s, v) => s + v, 0) / N) < 1e-15);
  });

  it('averages gradients over chunks like one batch', async () => {
    const whole = await (await tanhMlp()).gradient(x, labels);
    const chunked = await (await tanhMlp(4)).gradient(x, labels);
    assert.ok(relativeError(chunked.gradient, whole.gradient) < 1e-13);
    assert.ok(Math.abs(chunked.loss - whole.loss) < 1e-14);
  });

  it('computes exact, symmetric Hessian-vector products', async () => {
    const m = await tanhMlp(4);
    const u = wave(m.numParameters, 1);
    const v = wave(m.numParameters, 2);
    const hu = (await m.hvp(x, labels, u)).hvp;
    const hv = (await m.hvp(x, labels, v)).hvp;
    assert.ok(Math.abs(dot(u, hv) - dot(v, hu)) < 1e-12 * Math.abs(dot(u, hv)));
    // At a smooth point, central differences of the gradient agree.
    const eps = 1e-5;
    const base = m.parameters.data.slice();
    const g1 = (await m.gradient(x, labels, { parameters: plus(base, v, eps) })).gradient;
    const g0 = (await m.gradient(x, labels, { parameters: plus(base, v, -eps) })).gradient;
    const fd = g1.map((a, i) => (a - g0[i]!) / (2 * eps));
    assert.ok(relativeError(hv, fd) < 1e-6, `HVP vs finite differences ${relativeError(hv, fd)}`);
  });

  it('prepares the v-independent work once for repeated HVPs (same values as hvp)', async () => {
    for (const model of [
      await tanhMlp(4),
      await compileModel(smallCnn(), { precision: 'float64', chunkSize: 4 }),
    ]) {
      if (model.numOutputs !== 3) continue;
      model.initParameters(13);
      const inputs = model.inputShape[0] === 5 ? x : wave(N * 36, 0.2);
      const operator = await model.hvpOperator(inputs, labels);
      for (const phase of [1, 2]) {
        const v = wave(model.numParameters, phase);
        const direct = await model.hvp(inputs, labels, v);
        assert.ok(relativeError(await operator.apply(v), direct.hvp) < 1e-13);
        assert.ok(Math.abs(operator.loss - direct.loss) < 1e-14);
      }
      operator.release();
    }
  });

  it('computes per-example input gradients of the loss and of a logit', async () => {
    const m = await tanhMlp();
    const lossGrad = await m.inputGradient(x, labels);
    const classes = Int32Array.from({ length: N }, (_, i) => (i + 1) % 3);
    const logitGrad = await m.logitInputGradient(x, classes);
    const direction = wave(x.length, 4);
    const eps = 1e-5;
    const at = async (s: number) => m.evaluate(plus(x, direction, s), labels);
    const [up, down] = [await at(eps), await at(-eps)];
    for (let i = 0; i < N; i++) {
      const row = (a: ArrayLike<number>) => Array.prototype.slice.call(a, i * 5, i * 5 + 5) as number[];
      const fdLoss = (up.perExampleLoss[i]! - down.perExampleLoss[i]!) / (2 * eps);
      assert.ok(Math.abs(dot(row(lossGrad.gradient), row(direction)) - fdLoss) < 1e-8);
      const c = classes[i]!;
      const fdLogit = (up.logits[i * 3 + c]! - down.logits[i * 3 + c]!) / (2 * eps);
      assert.ok(Math.abs(dot(row(logitGrad.gradient), row(direction)) - fdLogit) < 1e-8);
    }
    assert.ok(relativeError(lossGrad.perExampleLoss!, (await m.evaluate(x, labels)).perExampleLoss) < 1e-15);
  });

  it('returns layer embeddings; the last one is the logits', async () => {
    const m = await tanhMlp();
    const hidden = await m.embed(1, x);
    assert.deepEqual(hidden.shape, [N, 7]);
    assert.ok(
      hidden.data.every((v) => v > -1 && v < 1),
      'tanh activations lie in (-1, 1)',
    );
    const last = await m.embed(m.layers.length - 1, x);
    assert.deepEqual(last.data, (await m.evaluate(x, labels)).logits);
  });

  it('takes inversion steps whose gradient matches finite differences (CNN)', async () => {
    const m = await compileModel(smallCnn(), { precision: 'float64' });
    m.initParameters(5);
    const images = wave(2 * 36, 0.9);
    const target = (await m.embed(4, wave(2 * 36, 3))).data;
    const step = await m.inversionStep(4, images, target);
    const direction = wave(images.length, 6);
    const eps = 1e-5;
    const up = await m.inversionStep(4, plus(images, direction, eps), target);
    const down = await m.inversionStep(4, plus(images, direction, -eps), target);
    const total = (r: { perExampleLoss: Float64Array }) => r.perExampleLoss.reduce((s, v) => s + v, 0);
    const fd = (total(up) - total(down)) / (2 * eps);
    assert.ok(Math.abs(dot(step.gradient, direction) - fd) < 1e-7 * Math.max(1, Math.abs(fd)));
    assert.ok(step.perExampleLoss.every((v) => v > 0));
  });

  it('gives embedding models gradients with respect to the embedding output', async () => {
    const m = await compileModel(tabular(), { precision: 'float64' });
    m.initParameters(8);
    const codes = Int32Array.from({ length: 4 * 5 }, (_, i) => (i * 3) % 7);
    const y = Int32Array.from([0, 1, 1, 0]);
    const r = await m.inputGradient(codes, y);
    assert.equal(r.gradient.length, 4 * 5 * 3);
    assert.equal(r.embedding!.length, 4 * 5 * 3);
    const table = m.parameters.view('chars.weight');
    assert.deepEqual(Array.from(r.embedding!.subarray(0, 3)), Array.from(table.subarray(0, 3)));
    assert.ok(r.gradient.some((v) => v !== 0));
  });
});
