// The engine against PyTorch (fixtures/make_torch_fixtures.py): 5 optimizer steps of MLPs (every
// optimizer, weight decay, clipping, MSE, hinge, distillation, gradient-norm penalty), a CNN with max and
// average pooling, an embedding/layer-norm/GELU model; and exact Hessian-vector products. Losses, gradient
// norms and parameters (per tensor, norm-wise) must agree within 1e-5 relative in float32 and 1e-10 in
// float64; batch accuracies exactly.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compileModel } from '../src/index.ts';
import type { CompiledModel } from '../src/runtime/compiled-model.ts';
import { decode, type HvpScenario, loadTorchFixtures, type TrainScenario } from './support/fixtures.ts';
import { relativeError } from './support/rule-check.ts';

const scenarios = loadTorchFixtures();
const tolerance = (dtype: string) => (dtype === 'float32' ? 1e-5 : 1e-10);

function assertClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  tol: number,
  what: string,
): void {
  const err = relativeError(actual, expected);
  assert.ok(err < tol, `${what}: relative error ${err.toExponential(2)} exceeds ${tol}`);
}

function assertParametersClose(model: CompiledModel, expected: ArrayLike<number>, tol: number): void {
  for (const v of model.parameters.views) {
    const slice = Array.prototype.slice.call(expected, v.offset, v.offset + v.length) as number[];
    assertClose(model.parameters.view(v.name), slice, tol, `parameter ${v.name}`);
  }
}

async function compiled(s: TrainScenario): Promise<CompiledModel> {
  const model = await compileModel(s.spec, {
    loss: s.loss,
    optimizer: s.optimizer,
    regularizers: s.regularizers,
    precision: s.dtype,
  });
  model.parameters.load(decode(s.init));
  model.resetOptimizerState();
  return model;
}

function targets(s: TrainScenario): Int32Array | Float32Array | Float64Array {
  return decode(s.targets);
}

function checkMetrics(
  s: TrainScenario,
  m: { losses: Float64Array; gradientNorms: Float64Array; accuracies: Float64Array },
) {
  const tol = tolerance(s.dtype);
  s.losses.forEach((expected, k) => {
    assertClose([m.losses[k]!], [expected], tol, `loss at step ${k}`);
    assertClose([m.gradientNorms[k]!], [s.gradientNorms[k]!], tol, `gradient norm at step ${k}`);
  });
  assert.deepEqual([...m.accuracies], s.accuracies);
}

describe('training matches PyTorch', () => {
  for (const s of scenarios.filter((x): x is TrainScenario => x.kind === 'train')) {
    it(`${s.name} (${s.dtype}), ${s.steps} steps in one Scan call`, async () => {
      const model = await compiled(s);
      const metrics = await model.trainSteps({
        x: decode(s.x),
        y: targets(s),
        learningRates: s.learningRates,
      });
      checkMetrics(s, metrics);
      assertParametersClose(model, decode(s.final), tolerance(s.dtype));
      await model.dispose();
    });
  }
  for (const s of scenarios.filter(
    (x): x is TrainScenario => x.kind === 'train' && x.name.includes('momentum'),
  )) {
    it(`${s.name} (${s.dtype}), one step per call (single-step graph)`, async () => {
      const model = await compiled(s);
      const x = decode(s.x);
      const y = targets(s);
      const rowsX = x.length / s.steps;
      const rowsY = y.length / s.steps;
      const all = {
        losses: new Float64Array(s.steps),
        gradientNorms: new Float64Array(s.steps),
        accuracies: new Float64Array(s.steps),
      };
      for (let k = 0; k < s.steps; k++) {
        const m = await model.trainStep(
          x.subarray(k * rowsX, (k + 1) * rowsX),
          y.subarray(k * rowsY, (k + 1) * rowsY),
          s.learningRates[k]!,
        );
        all.losses[k] = m.losses[0]!;
        all.gradientNorms[k] = m.gradientNorms[0]!;
        all.accuracies[k] = m.accuracies[0]!;
      }
      checkMetrics(s, all);
      assertParametersClose(model, decode(s.final), tolerance(s.dtype));
      await model.dispose();
    });
  }
});

describe('Hessian-vector products match PyTorch double backward', () => {
  for (const s of scenarios.filter((x): x is HvpScenario => x.kind === 'hvp')) {
    it(`${s.name} (${s.dtype})`, async () => {
      const model = await compileModel(s.spec, { precision: s.dtype });
      model.parameters.load(decode(s.init));
      const x = decode(s.x);
      const labels = decode(s.labels) as Int32Array;
      const tol = tolerance(s.dtype);
      const { loss, hvp } = await model.hvp(x, labels, decode(s.vector));
      assertClose([loss], [s.loss], tol, 'loss');
      assertClose(hvp, decode(s.hvp), tol, 'Hv');
      const { gradient } = await model.gradient(x, labels);
      assertClose(gradient, decode(s.gradient), tol, 'gradient');
      await model.dispose();
    });
  }
});
