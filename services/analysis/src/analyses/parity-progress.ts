// PARITY_PROGRESS (Barak et al. 2022, hidden progress on (n, k)-sparse parity): at the run's
// initialisation (step 0: the trainer's seeded parameters, or its init_from checkpoint) and at every
// permanent checkpoint,
//  - the weight mass of the first dense layer on the relevant coordinates S and on the rest: the mean,
//    over the coordinates of each group, of the L2 norm of the weight column reading that coordinate;
//  - the Fourier coefficient of the network on S: E_x[g(x) chi_S(x)] over `fourier_samples` uniform
//    x in {-1, +1}^n (stream "fourier-inputs"), chi_S(x) = prod_{i in S} x_i, and g = p_0 - p_1 (the
//    softmax, two outputs; y = 1 exactly when chi_S = -1, so a solved task gives +1) or the output
//    itself for one output;
//  - the train loss and test accuracy of the run's evaluation at that step (or the latest before it).
// S is `coordinates`, else the dataset's hidden coordinates (the canonical spec of its manifest). The
// mean |coefficient| over 8 random other subsets of |S| coordinates (the noise floor) is in details.
import type { ParityPoint } from '@gengap/proto/analysis/v1/analysis';
import { Split } from '@gengap/proto/common/v1/refs';
import type { EpochMetrics } from '@gengap/proto/trainer/v1/run';
import type { Rng } from '@gengap/random';
import { FailedPreconditionError, InvalidArgumentError } from '@gengap/service-kit';
import type { FloatArray } from '../adversarial/input-oracle.ts';
import type { AnalysisModel } from '../inputs/analysis-model.ts';
import { requireAtMost } from './checks.ts';
import { checkpointParameters, initialParameters } from './initial-parameters.ts';
import { deployedModel } from './input-space.ts';
import { type AnalysisContext, defineKind } from './kind.ts';
import { finiteOrNull, lineChart } from './plots.ts';

const FIELD = 'spec.parity_progress';

/** Mean column L2 norm of the first dense layer's weight [units, n] over S and over the rest. */
export function weightMass(
  weight: ArrayLike<number>,
  units: number,
  n: number,
  relevant: ReadonlySet<number>,
) {
  let inside = 0;
  let outside = 0;
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let u = 0; u < units; u++) s += weight[u * n + i]! ** 2;
    if (relevant.has(i)) inside += Math.sqrt(s);
    else outside += Math.sqrt(s);
  }
  return {
    relevant: inside / relevant.size,
    irrelevant: n > relevant.size ? outside / (n - relevant.size) : Number.NaN,
  };
}

/** Uniform sign vectors [count, n]. */
export function signInputs(rng: Rng, count: number, n: number, dtype: 'float32' | 'float64'): FloatArray {
  const x = dtype === 'float32' ? new Float32Array(count * n) : new Float64Array(count * n);
  for (let j = 0; j < x.length; j++) x[j] = rng.uniform() < 0.5 ? -1 : 1;
  return x;
}

/** E[g(x) chi_T(x)] for each subset T, g the network's signed output (see the header). */
export function fourierCoefficients(
  logits: ArrayLike<number>,
  outputs: number,
  x: ArrayLike<number>,
  n: number,
  subsets: readonly number[][],
): number[] {
  const count = x.length / n;
  const sums = new Array<number>(subsets.length).fill(0);
  for (let i = 0; i < count; i++) {
    const g = outputs === 1 ? logits[i]! : Math.tanh((logits[2 * i]! - logits[2 * i + 1]!) / 2);
    for (const [k, subset] of subsets.entries()) {
      let chi = 1;
      for (const c of subset) chi *= x[i * n + c]!;
      sums[k]! += g * chi;
    }
  }
  return sums.map((s) => s / count);
}

function evaluationAt(epochs: readonly EpochMetrics[], step: number): EpochMetrics | undefined {
  let best: EpochMetrics | undefined;
  for (const e of epochs) if (e.step <= step && (!best || e.step > best.step)) best = e;
  return best;
}

async function relevantCoordinates(ctx: AnalysisContext, given: readonly number[]): Promise<number[]> {
  if (given.length) return [...new Set(given)].sort((a, b) => a - b);
  const examples = await ctx.inputs.examples({ split: Split.SPLIT_TEST, numExamples: 1 });
  const source = examples.datasetSpec?.source;
  if (source?.$case === 'sparseParity' && source.value.hiddenCoordinates.length) {
    return [...source.value.hiddenCoordinates].sort((a, b) => a - b);
  }
  throw new FailedPreconditionError(
    `dataset ${examples.datasetId} names no hidden parity coordinates; give ${FIELD}.coordinates`,
  );
}

function firstDense(model: AnalysisModel): { name: string; units: number; inputs: number } {
  const engine = model.engine;
  const layer = engine.layers.find(
    (l) => l.kind === 'dense' || l.kind === 'conv2d' || l.kind === 'embedding',
  );
  if (layer?.kind !== 'dense' || layer.inShape.length !== 1) {
    throw new FailedPreconditionError(
      `parity progress needs a model whose first parametrised layer is dense on vector inputs (${model.checkpoint.origin})`,
    );
  }
  return { name: `${layer.name}.weight`, units: layer.outShape[0]!, inputs: layer.inShape[0]! };
}

export const parityProgressKind = defineKind({
  name: 'parityProgress',
  validate(v, spec) {
    requireAtMost(`${FIELD}.fourier_samples`, v.fourierSamples, 1 << 22);
    if (spec.checkpoint?.source?.$case !== 'run') {
      throw new InvalidArgumentError(
        'spec.checkpoint',
        'must name a training run (parity progress follows its checkpoints)',
      );
    }
  },
  async run(ctx, v) {
    const model = await deployedModel(ctx);
    const runId = model.checkpoint.runId;
    const dense = firstDense(model);
    const coordinates = await relevantCoordinates(ctx, v.coordinates);
    for (const [i, c] of coordinates.entries()) {
      if (c >= dense.inputs) {
        throw new InvalidArgumentError(
          `${FIELD}.coordinates[${i}]`,
          `the model reads ${dense.inputs} coordinates, not ${c + 1}`,
        );
      }
    }
    const relevant = new Set(coordinates);
    const samples = v.fourierSamples || 4096;
    const n = dense.inputs;
    const x = signInputs(ctx.rng('fourier-inputs'), samples, n, model.precision);
    const subsetRng = ctx.rng('control-subsets');
    const controls = Array.from({ length: 8 }, () => [
      ...subsetRng.permutation(n).subarray(0, coordinates.length),
    ]);
    const history = await ctx.inputs.runHistory(runId);
    const steps = [
      ...new Set(history.checkpoints.filter((c) => c.permanent && c.step > 0).map((c) => c.step)),
    ].sort((a, b) => a - b);
    const initial = await initialParameters(ctx, model);
    const view = model.engine.parameters.views.find((w) => w.name === dense.name)!;
    const points: ParityPoint[] = [];
    const floors: number[] = [];
    const total = steps.length + 1;
    for (let k = 0; k < total; k++) {
      await ctx.progress.report(k / total, k === 0 ? 'initialization' : `step ${steps[k - 1]}`);
      const step = k === 0 ? 0 : steps[k - 1]!;
      const parameters = k === 0 ? initial.parameters : await checkpointParameters(ctx, model, runId, step);
      const weight = parameters.subarray(view.offset, view.offset + view.length);
      const mass = weightMass(weight, dense.units, n, relevant);
      const { logits } = await model.engine.evaluate(x, new Int32Array(samples), { parameters });
      const [coefficient, ...others] = fourierCoefficients(logits, model.engine.numOutputs, x, n, [
        coordinates,
        ...controls,
      ]);
      floors.push(others.reduce((a, c) => a + Math.abs(c), 0) / others.length);
      const evaluation = evaluationAt(history.epochs, step);
      points.push({
        step,
        relevantWeightMass: mass.relevant,
        irrelevantWeightMass: mass.irrelevant,
        fourierCoefficient: coefficient!,
        trainLoss: evaluation?.trainLoss ?? Number.NaN,
        testAccuracy: evaluation?.testAccuracy ?? Number.NaN,
      });
    }
    const rows = points.flatMap((p) => [
      {
        step: p.step,
        measure: 'relevant / irrelevant weight mass',
        value: finiteOrNull(p.relevantWeightMass / p.irrelevantWeightMass),
      },
      { step: p.step, measure: 'Fourier coefficient on S', value: finiteOrNull(p.fourierCoefficient) },
      { step: p.step, measure: 'train loss', value: finiteOrNull(p.trainLoss) },
    ]);
    return {
      result: { $case: 'parityProgress', value: { points } },
      plot: lineChart({
        title: `Hidden progress on sparse parity (S = {${coordinates.join(', ')}}, n = ${n})`,
        rows,
        x: { field: 'step', title: 'step' },
        y: { field: 'value', title: 'value' },
        color: { field: 'measure', title: '' },
        points: true,
      }),
      table: {
        columns: [
          'step',
          'relevant_weight_mass',
          'irrelevant_weight_mass',
          'fourier_coefficient',
          'fourier_noise_floor',
          'train_loss',
          'test_accuracy',
        ],
        rows: points.map((p, i) => [
          p.step,
          p.relevantWeightMass,
          p.irrelevantWeightMass,
          p.fourierCoefficient,
          floors[i]!,
          p.trainLoss,
          p.testAccuracy,
        ]),
      },
      details: {
        coordinates,
        inputs: n,
        firstLayer: dense.name,
        fourierSamples: samples,
        initialParameters: initial.origin,
        controlSubsets: controls,
        fourierNoiseFloor: floors,
      },
    };
  },
});
