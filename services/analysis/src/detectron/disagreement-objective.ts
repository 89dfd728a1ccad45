// Detectron's training objective for a constrained disagreement classifier (CDC), expressed as plain
// cross-entropy against soft targets so that any trainer that supports soft targets (the engine's
// trainSteps, the trainer's distillation path) can optimise it:
//   L = mean over P ∪ Q of  CE(h(x), onehot(f(x)))        for x in P (agree with the base model f)
//                        + w * DCE(h(x), f(x))            for x in Q (disagree on the query set)
// with DCE(z, y) = -(1 / (C - 1)) sum_{c != y} log softmax(z)_c (Ginsberg et al. 2023, eq. 4), which is
// exactly cross-entropy against the soft target (1 - onehot(y)) / (C - 1); the weight w (Detectron's
// lambda, default 1 / (|Q| + 1)) scales that target row, since cross-entropy is linear in the target.
// P is labelled with the base model's predictions (Detectron's pseudo-labels; true labels also work).
import type { FloatArray } from '../adversarial/input-oracle.ts';

/** Detectron's default weight of a query example relative to a training example: 1 / (|Q| + 1). */
export function detectronWeight(querySize: number): number {
  return 1 / (querySize + 1);
}

/** Soft targets [n, C]: weight * (1 - onehot(y_i)) / (C - 1), the DCE loss as cross-entropy. */
export function disagreementTargets(
  predictions: ArrayLike<number>,
  classes: number,
  weight: number,
): Float32Array {
  if (classes < 2) throw new RangeError('disagreement needs at least two classes');
  const out = new Float32Array(predictions.length * classes);
  const share = weight / (classes - 1);
  for (let i = 0; i < predictions.length; i++) {
    for (let c = 0; c < classes; c++) out[i * classes + c] = c === predictions[i] ? 0 : share;
  }
  return out;
}

/** One-hot soft targets [n, C] of integer labels. */
export function agreementTargets(labels: ArrayLike<number>, classes: number): Float32Array {
  const out = new Float32Array(labels.length * classes);
  for (let i = 0; i < labels.length; i++) out[i * classes + labels[i]!] = 1;
  return out;
}

export interface CdcTrainingSet {
  /** [|P| + |Q|, ...inputShape]: the training examples, then the query examples. */
  x: FloatArray;
  /** Soft targets [|P| + |Q|, C]. */
  targets: Float32Array;
  /** 1 for query rows. */
  isQuery: Uint8Array;
}

/** Concatenates P (agree with `trainLabels`) and Q (disagree with `queryPredictions`, weighted). */
export function cdcTrainingSet(options: {
  trainX: FloatArray;
  trainLabels: ArrayLike<number>;
  queryX: FloatArray;
  queryPredictions: ArrayLike<number>;
  classes: number;
  weight?: number;
}): CdcTrainingSet {
  const p = options.trainLabels.length;
  const q = options.queryPredictions.length;
  const weight = options.weight ?? detectronWeight(q);
  const x = new (options.trainX.constructor as { new (n: number): FloatArray })(
    options.trainX.length + options.queryX.length,
  );
  x.set(options.trainX);
  x.set(options.queryX, options.trainX.length);
  const targets = new Float32Array((p + q) * options.classes);
  targets.set(agreementTargets(options.trainLabels, options.classes));
  targets.set(disagreementTargets(options.queryPredictions, options.classes, weight), p * options.classes);
  const isQuery = new Uint8Array(p + q);
  isQuery.fill(1, p);
  return { x, targets, isQuery };
}

/** Detectron's DCE loss of one row of logits against the base prediction y (reference formula). */
export function disagreementCrossEntropy(logits: ArrayLike<number>, y: number): number {
  const classes = logits.length;
  let max = Number.NEGATIVE_INFINITY;
  for (let c = 0; c < classes; c++) max = Math.max(max, logits[c]!);
  let sum = 0;
  for (let c = 0; c < classes; c++) sum += Math.exp(logits[c]! - max);
  const logSumExp = max + Math.log(sum);
  let others = 0;
  for (let c = 0; c < classes; c++) if (c !== y) others += logits[c]!;
  return -others / (classes - 1) + logSumExp;
}
