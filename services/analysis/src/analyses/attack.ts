// ATTACK: adversarial examples against the model as deployed (temperature 1; see input-space.ts) on
// the analysed examples: FGSM, PGD (L-inf with a random start, L2), JSMA (targeted, a seeded random
// target class != label per example, stream "jsma-targets") and PGD on the logit margin (the control for
// defensive distillation). Only examples the model classifies correctly are attacked; success means
// misclassified afterwards (JSMA: classified as its target). Means of perturbation, features changed,
// loss increase (per-example loss at T = 1 against the label) and input-gradient norm are over the
// attacked examples; the same means over successful attacks only are in details. The input-gradient
// norm is that of the direction the method follows, at the clean input: the loss gradient (FGSM, PGD),
// the softmax forward derivative dF_t/dx (JSMA), the logit-margin gradient (logit PGD).
import { AttackMethod, attackMethodToJSON } from '@gengap/proto/analysis/v1/analysis';
import type { Rng } from '@gengap/random';
import { InvalidArgumentError } from '@gengap/service-kit';
import {
  type AttackBatch,
  fgsm,
  type GradientAttackOptions,
  logitPgd,
  pgdL2,
  pgdLinf,
} from '../adversarial/gradient-attacks.ts';
import { argmaxRows, engineOracle, type FloatArray, type InputOracle } from '../adversarial/input-oracle.ts';
import { jsma } from '../adversarial/jsma.ts';
import { mean, median, quantile } from '../numerics/distributions.ts';
import { requireAtMost, requireFinite, requirePositive } from './checks.ts';
import { deployedModel, floatInputs, nativeParameters, requireContinuousInputs } from './input-space.ts';
import { type AnalysisOutput, defineKind, type KindValue, type ProgressReporter } from './kind.ts';
import { barChart } from './plots.ts';

const FIELD = 'spec.attack';
const MAX_STEPS = 10_000;
/** Examples attacked per batch (bounds memory: a few copies of the batch's inputs). */
const ATTACK_BATCH = 256;

type AttackSpec = KindValue<'attack'>;

export interface ResolvedAttack {
  method: AttackMethod;
  epsilon: number;
  steps: number;
  stepSize: number;
  featureBudget: number;
  theta: number;
  range: { lo: number; hi: number };
}

/** The spec with every "0 means ..." default written out. */
export function resolveAttack(v: AttackSpec): ResolvedAttack {
  const steps = v.method === AttackMethod.ATTACK_METHOD_FGSM ? 1 : v.steps || 10;
  const range = v.clipMin === 0 && v.clipMax === 0 ? { lo: 0, hi: 1 } : { lo: v.clipMin, hi: v.clipMax };
  return {
    method: v.method,
    epsilon: v.epsilon,
    steps,
    stepSize: v.stepSize || (2.5 * v.epsilon) / steps,
    featureBudget: v.featureBudget || 0.145,
    theta: v.theta || 1,
    range,
  };
}

const METHODS = new Set<number>([
  AttackMethod.ATTACK_METHOD_FGSM,
  AttackMethod.ATTACK_METHOD_PGD_LINF,
  AttackMethod.ATTACK_METHOD_PGD_L2,
  AttackMethod.ATTACK_METHOD_JSMA,
  AttackMethod.ATTACK_METHOD_LOGIT_PGD,
]);

interface ExampleOutcome {
  index: number;
  label: number;
  target: number;
  cleanPrediction: number;
  adversarialPrediction: number;
  success: boolean;
  linf: number;
  l2: number;
  featuresChanged: number;
  cleanLoss: number;
  adversarialLoss: number;
  gradientNorm: number;
}

async function attackBatch(
  oracle: InputOracle,
  attack: ResolvedAttack,
  x: FloatArray,
  labels: Int32Array,
  targets: Int32Array,
  rng: Rng,
  onStep: (done: number, total: number) => Promise<void>,
): Promise<AttackBatch & { reached?: Uint8Array }> {
  const options: GradientAttackOptions = {
    epsilon: attack.epsilon,
    steps: attack.steps,
    stepSize: attack.stepSize,
    range: attack.range,
    rng,
    onStep,
  };
  switch (attack.method) {
    case AttackMethod.ATTACK_METHOD_FGSM:
      return fgsm(oracle, x, labels, options);
    case AttackMethod.ATTACK_METHOD_PGD_LINF:
      return pgdLinf(oracle, x, labels, options);
    case AttackMethod.ATTACK_METHOD_PGD_L2:
      return pgdL2(oracle, x, labels, options);
    case AttackMethod.ATTACK_METHOD_LOGIT_PGD:
      return logitPgd(oracle, x, labels, options);
    default:
      return jsma(oracle, x, targets, {
        featureBudget: attack.featureBudget,
        theta: attack.theta,
        range: attack.range,
        onIteration: (done, total) => onStep(done, Math.max(1, total)),
      });
  }
}

interface IndexedBatch {
  indices: number[];
  x: FloatArray;
  labels: Int32Array;
  targets: Int32Array;
  cleanPredictions: Int32Array;
  cleanLoss: Float64Array;
}

/** Attacks the examples `indices` together and measures each outcome. */
async function attackIndices(
  oracle: InputOracle,
  attack: ResolvedAttack,
  batch: IndexedBatch,
  rng: Rng,
  progress: ProgressReporter,
): Promise<ExampleOutcome[]> {
  const row = oracle.rowSize;
  const { indices } = batch;
  const xb = oracle.allocate(indices.length * row);
  const yb = Int32Array.from(indices, (i) => batch.labels[i]!);
  const tb = Int32Array.from(indices, (i) => batch.targets[i]!);
  for (const [k, i] of indices.entries()) xb.set(batch.x.subarray(i * row, (i + 1) * row), k * row);
  const out = await attackBatch(oracle, attack, xb, yb, tb, rng, (done, total) =>
    progress.report(done / total),
  );
  const after = await oracle.evaluate(out.adversarial, yb);
  const predictions = argmaxRows(after.logits, indices.length, oracle.numClasses);
  const targeted = attack.method === AttackMethod.ATTACK_METHOD_JSMA;
  return indices.map((i, k) => {
    let linf = 0;
    let l2 = 0;
    let changed = 0;
    for (let f = 0; f < row; f++) {
      const d = out.adversarial[k * row + f]! - xb[k * row + f]!;
      if (d !== 0) changed++;
      linf = Math.max(linf, Math.abs(d));
      l2 += d * d;
    }
    return {
      index: i,
      label: yb[k]!,
      target: targeted ? tb[k]! : -1,
      cleanPrediction: batch.cleanPredictions[i]!,
      adversarialPrediction: predictions[k]!,
      success: targeted ? predictions[k] === tb[k] : predictions[k] !== yb[k],
      linf,
      l2: Math.sqrt(l2),
      featuresChanged: changed,
      cleanLoss: batch.cleanLoss[i]!,
      adversarialLoss: after.loss[k]!,
      gradientNorm: out.gradientNorms[k]!,
    };
  });
}

/** The result, plot, table and details of an attack from its per-example outcomes over n examples. */
function attackOutput(
  attack: ResolvedAttack,
  outcomes: ExampleOutcome[],
  n: number,
  precision: string,
): AnalysisOutput {
  const summary = (set: ExampleOutcome[]) => ({
    meanPerturbationLinf: mean(set.map((o) => o.linf)),
    meanPerturbationL2: mean(set.map((o) => o.l2)),
    meanFeaturesChanged: mean(set.map((o) => o.featuresChanged)),
    meanInputGradientNorm: mean(set.map((o) => o.gradientNorm)),
    medianInputGradientNorm: median(set.map((o) => o.gradientNorm)),
    meanLossIncrease: mean(set.map((o) => o.adversarialLoss - o.cleanLoss)),
  });
  const all = summary(outcomes);
  const gradientNorms = outcomes.map((o) => o.gradientNorm);
  const successes = outcomes.filter((o) => o.success);
  const stillCorrect = outcomes.filter((o) => o.adversarialPrediction === o.label).length;
  const result = {
    successRate: outcomes.length ? successes.length / outcomes.length : Number.NaN,
    cleanAccuracy: outcomes.length / n,
    adversarialAccuracy: stillCorrect / n,
    ...all,
  };
  const method = attackMethodToJSON(attack.method).replace('ATTACK_METHOD_', '');
  return {
    result: { $case: 'attack', value: result },
    plot: barChart({
      title: `${method} (${attack.method === AttackMethod.ATTACK_METHOD_JSMA ? `budget ${attack.featureBudget}` : `epsilon ${attack.epsilon}`}) on ${n} examples`,
      rows: [
        { measure: 'clean accuracy', value: result.cleanAccuracy },
        { measure: 'adversarial accuracy', value: result.adversarialAccuracy },
        { measure: 'success rate', value: Number.isFinite(result.successRate) ? result.successRate : 0 },
      ],
      x: { field: 'measure', title: '' },
      y: { field: 'value', title: 'fraction' },
    }),
    table: {
      columns: [
        'index',
        'label',
        'target',
        'clean_prediction',
        'adversarial_prediction',
        'success',
        'perturbation_linf',
        'perturbation_l2',
        'features_changed',
        'clean_loss',
        'adversarial_loss',
        'input_gradient_norm',
      ],
      rows: outcomes.map((o) => [
        o.index,
        o.label,
        o.target,
        o.cleanPrediction,
        o.adversarialPrediction,
        o.success,
        o.linf,
        o.l2,
        o.featuresChanged,
        o.cleanLoss,
        o.adversarialLoss,
        o.gradientNorm,
      ]),
    },
    details: {
      method,
      resolved: attack,
      examples: n,
      attacked: outcomes.length,
      successful: successes.length,
      overSuccessfulAttacks: summary(successes),
      // A few low-margin examples dominate the mean on a distilled network; the quantiles show the rest.
      inputGradientNorm: {
        q10: quantile(gradientNorms, 0.1),
        median: median(gradientNorms),
        q90: quantile(gradientNorms, 0.9),
        zeros: gradientNorms.filter((g) => g === 0).length,
      },
      maxFeaturesChanged: outcomes.reduce((m, o) => Math.max(m, o.featuresChanged), 0),
      maxPerturbationLinf: outcomes.reduce((m, o) => Math.max(m, o.linf), 0),
      maxPerturbationL2: outcomes.reduce((m, o) => Math.max(m, o.l2), 0),
      temperature: 1,
      precision,
    },
  };
}

export const attackKind = defineKind({
  name: 'attack',
  validate(v) {
    if (!METHODS.has(v.method)) {
      throw new InvalidArgumentError(
        `${FIELD}.method`,
        `must be one of FGSM, PGD_LINF, PGD_L2, JSMA, LOGIT_PGD`,
      );
    }
    if (v.method !== AttackMethod.ATTACK_METHOD_JSMA) requirePositive(`${FIELD}.epsilon`, v.epsilon);
    requireAtMost(`${FIELD}.steps`, v.steps, MAX_STEPS);
    requireFinite(`${FIELD}.step_size`, v.stepSize);
    if (v.stepSize < 0) throw new InvalidArgumentError(`${FIELD}.step_size`, 'must not be negative');
    requireFinite(`${FIELD}.feature_budget`, v.featureBudget);
    if (v.featureBudget < 0 || v.featureBudget > 1) {
      throw new InvalidArgumentError(`${FIELD}.feature_budget`, `must be in [0, 1], got ${v.featureBudget}`);
    }
    requireFinite(`${FIELD}.theta`, v.theta);
    if (v.theta < 0) {
      throw new InvalidArgumentError(`${FIELD}.theta`, 'must be positive (JSMA increases features)');
    }
    requireFinite(`${FIELD}.clip_min`, v.clipMin);
    requireFinite(`${FIELD}.clip_max`, v.clipMax);
    if (!(v.clipMin === 0 && v.clipMax === 0) && !(v.clipMin < v.clipMax)) {
      throw new InvalidArgumentError(`${FIELD}.clip_max`, `must exceed clip_min (${v.clipMin})`);
    }
  },
  async run(ctx, v) {
    const attack = resolveAttack(v);
    const model = await deployedModel(ctx);
    requireContinuousInputs(model, 'an attack');
    const examples = await ctx.inputs.examples();
    const oracle = engineOracle(model.engine, nativeParameters(model));
    const x = floatInputs(examples, model);
    const classes = oracle.numClasses;
    const clean = await oracle.evaluate(x, examples.y);
    const cleanPredictions = argmaxRows(clean.logits, examples.count, classes);
    const targetRng = ctx.rng('jsma-targets');
    const targets = Int32Array.from(
      examples.y,
      (label) => (label + 1 + targetRng.int(classes - 1)) % classes,
    );
    const startRng = ctx.rng('attack-start');
    const attacked: number[] = [];
    for (let i = 0; i < examples.count; i++) if (cleanPredictions[i] === examples.y[i]) attacked.push(i);
    const outcomes: ExampleOutcome[] = [];
    for (let start = 0; start < attacked.length; start += ATTACK_BATCH) {
      const indices = attacked.slice(start, start + ATTACK_BATCH);
      const progress = ctx.progress.span(
        start / attacked.length,
        (start + indices.length) / attacked.length,
        `attacking ${start + indices.length}/${attacked.length}`,
      );
      const batch = { indices, x, labels: examples.y, targets, cleanPredictions, cleanLoss: clean.loss };
      outcomes.push(...(await attackIndices(oracle, attack, batch, startRng, progress)));
    }
    return attackOutput(attack, outcomes, examples.count, model.precision);
  },
});
