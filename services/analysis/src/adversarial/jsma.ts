// Jacobian-based saliency map attack (Papernot et al. 2016, "The limitations of deep learning in
// adversarial settings"), targeted, increasing features, on the softmax output F as in the defensive
// distillation paper. Per iteration the forward derivative dF_t/dx is formed from one input gradient:
// d(-log F_t)/dx is what the engine returns for label t at temperature 1, and dF_t/dx = -F_t times it,
// with F_t computed in the network's precision (a float32 softmax saturates to exactly 0 and 1, the
// vanishing derivatives distillation produces). Because the softmax outputs sum to one,
// sum_{c != t} dF_c/dx = -dF_t/dx, so the pairwise saliency map alpha * |beta| with alpha > 0 > beta
// is maximised by the two search-domain features with the largest dF_t/dx_i (alpha = their sum > 0).
// Both are increased by theta (clipped to the range) and leave the search domain; the attack stops
// when the target class wins, when floor(budget * features) features have changed, or when no pair
// has positive saliency.
import { argmaxRow, type FloatArray, type InputOracle, softmaxRow } from './input-oracle.ts';

export interface JsmaOptions {
  /** Largest fraction of the input features changed. */
  featureBudget: number;
  theta: number;
  range: { lo: number; hi: number };
  onIteration?: (done: number, total: number) => Promise<void>;
}

export interface JsmaBatch {
  adversarial: FloatArray;
  /** ||dF_t/dx|| at the clean input, per example. */
  gradientNorms: Float64Array;
  featuresChanged: Int32Array;
  /** Whether the target class won within the budget. */
  reached: Uint8Array;
}

export async function jsma(
  oracle: InputOracle,
  x: FloatArray,
  targets: Int32Array,
  options: JsmaOptions,
): Promise<JsmaBatch> {
  const n = targets.length;
  const row = oracle.rowSize;
  const classes = oracle.numClasses;
  const maxChanged = Math.floor(options.featureBudget * row);
  const maxIterations = Math.floor(maxChanged / 2);
  const adversarial = oracle.allocate(x.length);
  adversarial.set(x);
  const domain = new Uint8Array(x.length);
  for (let j = 0; j < x.length; j++) domain[j] = x[j]! < options.range.hi ? 1 : 0;
  const featuresChanged = new Int32Array(n);
  const reached = new Uint8Array(n);
  const gradientNorms = new Float64Array(n);
  let active = Array.from({ length: n }, (_, i) => i);
  for (let iteration = 0; active.length > 0; iteration++) {
    const batch = oracle.allocate(active.length * row);
    const labels = new Int32Array(active.length);
    for (const [k, i] of active.entries()) {
      batch.set(adversarial.subarray(i * row, (i + 1) * row), k * row);
      labels[k] = targets[i]!;
    }
    const { gradient, logits } = await oracle.lossGradient(batch, labels);
    const still: number[] = [];
    for (const [k, i] of active.entries()) {
      const t = targets[i]!;
      if (argmaxRow(logits, k, classes) === t) {
        reached[i] = 1;
        continue;
      }
      const pt = softmaxRow(logits, k, classes, oracle.dtype)[t]!;
      if (iteration === 0) {
        let s = 0;
        for (let f = 0; f < row; f++) s += (pt * gradient[k * row + f]!) ** 2;
        gradientNorms[i] = Math.sqrt(s);
      }
      if (iteration >= maxIterations) continue;
      // The two domain features with the largest dF_t/dx = -pt * d(-log F_t)/dx.
      let first = -1;
      let second = -1;
      let a1 = Number.NEGATIVE_INFINITY;
      let a2 = Number.NEGATIVE_INFINITY;
      for (let f = 0; f < row; f++) {
        if (!domain[i * row + f]) continue;
        const a = -pt * gradient[k * row + f]!;
        if (a > a1) {
          second = first;
          a2 = a1;
          first = f;
          a1 = a;
        } else if (a > a2) {
          second = f;
          a2 = a;
        }
      }
      if (second < 0 || !(a1 + a2 > 0)) continue;
      for (const f of [first, second]) {
        const j = i * row + f;
        adversarial[j] = Math.min(
          options.range.hi,
          Math.max(options.range.lo, adversarial[j]! + options.theta),
        );
        domain[j] = 0;
        if (adversarial[j] !== x[j]) featuresChanged[i]!++;
      }
      still.push(i);
    }
    active = still;
    await options.onIteration?.(Math.min(iteration + 1, maxIterations), maxIterations);
  }
  return { adversarial, gradientNorms, featuresChanged, reached };
}
