// Gradient attacks on a batch of inputs, untargeted against the true labels:
//  - FGSM (Goodfellow et al.): one step x + eps sign(grad loss);
//  - PGD L-inf (Madry et al.): a uniform random start in the eps-box, `steps` signed-gradient steps of
//    `stepSize`, each followed by projection onto the box;
//  - PGD L2: from x, `steps` steps of `stepSize` along grad / ||grad||, each followed by projection onto
//    the eps-ball;
//  - logit PGD: PGD L-inf on the margin max_{j != y} z_j - z_y instead of the loss (Carlini & Wagner's
//    observation: the logits of a distilled network are not saturated, so their gradients do not vanish).
// Every iterate is clipped to the input range [lo, hi]; clipping only shrinks |x' - x| coordinate-wise,
// so the budget holds after it. Inputs stay in the network's dtype (float32 rounding may move a value by
// half an ulp across the budget's edge).
import type { Rng } from '@gengap/random';
import { argmaxRow, type FloatArray, type InputOracle, rowNorm } from './input-oracle.ts';

export interface InputRange {
  lo: number;
  hi: number;
}

export interface GradientAttackOptions {
  epsilon: number;
  steps: number;
  stepSize: number;
  range: InputRange;
  rng: Rng;
  /** Called after each step (for progress and cancellation). */
  onStep?: (done: number, total: number) => Promise<void>;
}

export interface AttackBatch {
  adversarial: FloatArray;
  /** Norm of the gradient the attack follows, at the clean input, per example. */
  gradientNorms: Float64Array;
}

const clip = (v: number, range: InputRange) => Math.min(range.hi, Math.max(range.lo, v));

/** Projects x' onto {|x' - x|_inf <= eps} and the input range. */
function projectBox(adv: FloatArray, x: FloatArray, epsilon: number, range: InputRange): void {
  for (let j = 0; j < adv.length; j++) {
    adv[j] = clip(Math.min(x[j]! + epsilon, Math.max(x[j]! - epsilon, adv[j]!)), range);
  }
}

function gradientNorms(gradient: FloatArray, n: number, rowSize: number): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = rowNorm(gradient, i, rowSize);
  return out;
}

export async function fgsm(
  oracle: InputOracle,
  x: FloatArray,
  labels: Int32Array,
  options: Omit<GradientAttackOptions, 'steps' | 'stepSize' | 'rng'>,
): Promise<AttackBatch> {
  const { gradient } = await oracle.lossGradient(x, labels);
  const adversarial = oracle.allocate(x.length);
  for (let j = 0; j < x.length; j++) {
    adversarial[j] = clip(x[j]! + options.epsilon * Math.sign(gradient[j]!), options.range);
  }
  await options.onStep?.(1, 1);
  return { adversarial, gradientNorms: gradientNorms(gradient, labels.length, oracle.rowSize) };
}

/** The direction PGD L-inf follows: the loss gradient, or the logit-margin gradient. */
type Ascent = (x: FloatArray, labels: Int32Array) => Promise<FloatArray>;

function lossAscent(oracle: InputOracle): Ascent {
  return async (x, labels) => (await oracle.lossGradient(x, labels)).gradient;
}

/** d/dx (max_{j != y} z_j - z_y), the runner-up class j chosen at the current point. */
function marginAscent(oracle: InputOracle): Ascent {
  return async (x, labels) => {
    const n = labels.length;
    const classes = oracle.numClasses;
    const own = await oracle.logitGradient(x, labels);
    const rival = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      let best = -1;
      let value = Number.NEGATIVE_INFINITY;
      for (let c = 0; c < classes; c++) {
        const v = own.logits[i * classes + c]!;
        if (c !== labels[i] && v > value) {
          value = v;
          best = c;
        }
      }
      rival[i] = best;
    }
    const other = await oracle.logitGradient(x, rival);
    const g = oracle.allocate(x.length);
    for (let j = 0; j < g.length; j++) g[j] = other.gradient[j]! - own.gradient[j]!;
    return g;
  };
}

async function pgdLinfWith(
  ascent: Ascent,
  oracle: InputOracle,
  x: FloatArray,
  labels: Int32Array,
  options: GradientAttackOptions,
): Promise<AttackBatch> {
  const adversarial = oracle.allocate(x.length);
  for (let j = 0; j < x.length; j++) {
    adversarial[j] = clip(x[j]! + options.epsilon * (2 * options.rng.uniform() - 1), options.range);
  }
  const norms = gradientNorms(await ascent(x, labels), labels.length, oracle.rowSize);
  for (let step = 0; step < options.steps; step++) {
    const g = await ascent(adversarial, labels);
    for (let j = 0; j < x.length; j++) adversarial[j] = adversarial[j]! + options.stepSize * Math.sign(g[j]!);
    projectBox(adversarial, x, options.epsilon, options.range);
    await options.onStep?.(step + 1, options.steps);
  }
  return { adversarial, gradientNorms: norms };
}

export function pgdLinf(
  oracle: InputOracle,
  x: FloatArray,
  labels: Int32Array,
  options: GradientAttackOptions,
) {
  return pgdLinfWith(lossAscent(oracle), oracle, x, labels, options);
}

export function logitPgd(
  oracle: InputOracle,
  x: FloatArray,
  labels: Int32Array,
  options: GradientAttackOptions,
) {
  return pgdLinfWith(marginAscent(oracle), oracle, x, labels, options);
}

export async function pgdL2(
  oracle: InputOracle,
  x: FloatArray,
  labels: Int32Array,
  options: GradientAttackOptions,
): Promise<AttackBatch> {
  const n = labels.length;
  const row = oracle.rowSize;
  const adversarial = oracle.allocate(x.length);
  adversarial.set(x);
  let norms: Float64Array = new Float64Array(n);
  const delta = new Float64Array(row);
  for (let step = 0; step < options.steps; step++) {
    const { gradient } = await oracle.lossGradient(adversarial, labels);
    if (step === 0) norms = gradientNorms(gradient, n, row);
    for (let i = 0; i < n; i++) {
      const g = rowNorm(gradient, i, row);
      const scale = g > 0 ? options.stepSize / g : 0;
      let d2 = 0;
      for (let k = 0; k < row; k++) {
        const j = i * row + k;
        delta[k] = adversarial[j]! + scale * gradient[j]! - x[j]!;
        d2 += delta[k]! * delta[k]!;
      }
      const shrink = d2 > options.epsilon ** 2 ? options.epsilon / Math.sqrt(d2) : 1;
      for (let k = 0; k < row; k++) {
        const j = i * row + k;
        adversarial[j] = clip(x[j]! + shrink * delta[k]!, options.range);
      }
    }
    await options.onStep?.(step + 1, options.steps);
  }
  return { adversarial, gradientNorms: norms };
}

/**
 * Arpit et al.'s critical-sample search: from a uniform random point of the L-inf box of radius r
 * around x, signed-gradient ascent of the loss against the clean prediction, projected onto the box
 * (not clipped to the data range); x is critical when any visited point is classified differently
 * from x. Returns, per example, whether it is critical.
 */
export async function criticalSearch(
  oracle: InputOracle,
  x: FloatArray,
  predictions: Int32Array,
  options: Omit<GradientAttackOptions, 'epsilon' | 'range'> & { radius: number },
): Promise<Uint8Array> {
  const n = predictions.length;
  const unbounded = { lo: Number.NEGATIVE_INFINITY, hi: Number.POSITIVE_INFINITY };
  const point = oracle.allocate(x.length);
  for (let j = 0; j < x.length; j++) point[j] = x[j]! + options.radius * (2 * options.rng.uniform() - 1);
  const critical = new Uint8Array(n);
  for (let step = 0; step <= options.steps; step++) {
    const { gradient, logits } = await oracle.lossGradient(point, predictions);
    for (let i = 0; i < n; i++) {
      if (argmaxRow(logits, i, oracle.numClasses) !== predictions[i]) critical[i] = 1;
    }
    if (step === options.steps) break;
    for (let j = 0; j < x.length; j++) point[j] = point[j]! + options.stepSize * Math.sign(gradient[j]!);
    projectBox(point, x, options.radius, unbounded);
    await options.onStep?.(step + 1, options.steps);
  }
  return critical;
}
