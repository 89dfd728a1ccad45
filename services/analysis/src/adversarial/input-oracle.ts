// What input-space algorithms (attacks, critical-sample search, saliency) need from a network: logits,
// per-example losses and input gradients at given inputs, in the network's own precision. The engine
// adapter is the only implementation in the service; tests of the algorithms can pass a closed-form one.
import type { CompiledModel } from '@gengap/engine';

export type FloatArray = Float32Array | Float64Array;

export interface InputOracle {
  /** Values per input row. */
  readonly rowSize: number;
  readonly numClasses: number;
  /** Precision the network computes in (saliency maps are formed in it too). */
  readonly dtype: 'float32' | 'float64';
  /** Allocates an input array of the network's dtype. */
  allocate(length: number): FloatArray;
  /** Logits [n, C] and per-example losses (against `labels`) at inputs x [n, rowSize]. */
  evaluate(x: FloatArray, labels: Int32Array): Promise<{ logits: FloatArray; loss: Float64Array }>;
  /** Per-example d loss_i / d x_i, with the logits and losses at x. */
  lossGradient(
    x: FloatArray,
    labels: Int32Array,
  ): Promise<{ gradient: FloatArray; logits: FloatArray; loss: Float64Array }>;
  /** Per-example d logit_{c_i} / d x_i, with the logits at x. */
  logitGradient(x: FloatArray, classes: Int32Array): Promise<{ gradient: FloatArray; logits: FloatArray }>;
}

/** An oracle over a compiled engine model at fixed parameters (given in the engine's dtype). */
export function engineOracle(engine: CompiledModel, parameters: FloatArray): InputOracle {
  const rowSize = engine.inputShape.reduce((a, d) => a * d, 1);
  const options = { parameters };
  return {
    rowSize,
    numClasses: engine.numOutputs,
    dtype: engine.dtype,
    allocate: (length) => (engine.dtype === 'float32' ? new Float32Array(length) : new Float64Array(length)),
    async evaluate(x, labels) {
      const r = await engine.evaluate(x, labels, options);
      return { logits: r.logits, loss: r.perExampleLoss };
    },
    async lossGradient(x, labels) {
      const r = await engine.inputGradient(x, labels, options);
      return {
        gradient: r.gradient,
        logits: r.logits,
        loss: r.perExampleLoss ?? new Float64Array(labels.length),
      };
    },
    async logitGradient(x, classes) {
      const r = await engine.logitInputGradient(x, classes, options);
      return { gradient: r.gradient, logits: r.logits };
    },
  };
}

/** Index of the largest of row i of a [n, C] matrix. */
export function argmaxRow(logits: ArrayLike<number>, i: number, classes: number): number {
  let best = 0;
  let value = logits[i * classes]!;
  for (let c = 1; c < classes; c++) {
    const v = logits[i * classes + c]!;
    if (v > value) {
      value = v;
      best = c;
    }
  }
  return best;
}

export function argmaxRows(logits: ArrayLike<number>, n: number, classes: number): Int32Array {
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) out[i] = argmaxRow(logits, i, classes);
  return out;
}

/**
 * Softmax of row i in the network's precision: in float32 the exponentials round (and underflow to 0
 * below e^-103) as they do inside a float32 network, which is what makes a saturated softmax's
 * derivatives vanish (defensive distillation's gradient masking).
 */
export function softmaxRow(
  logits: ArrayLike<number>,
  i: number,
  classes: number,
  dtype: 'float32' | 'float64',
): Float64Array {
  const round = dtype === 'float32' ? Math.fround : (v: number) => v;
  let max = Number.NEGATIVE_INFINITY;
  for (let c = 0; c < classes; c++) max = Math.max(max, logits[i * classes + c]!);
  const p = new Float64Array(classes);
  let sum = 0;
  for (let c = 0; c < classes; c++) {
    p[c] = round(Math.exp(round(logits[i * classes + c]! - max)));
    sum = round(sum + p[c]!);
  }
  for (let c = 0; c < classes; c++) p[c] = round(p[c]! / sum);
  return p;
}

/** Euclidean norm of row i of a [n, rowSize] matrix. */
export function rowNorm(values: ArrayLike<number>, i: number, rowSize: number): number {
  let s = 0;
  for (let j = i * rowSize; j < (i + 1) * rowSize; j++) s += values[j]! * values[j]!;
  return Math.sqrt(s);
}
