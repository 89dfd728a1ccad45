// One evaluation of a run: train and test loss/accuracy (train on the first eval_train_subset examples;
// for online data, the means over the epoch's batches; for an auto-encoder stage, the reconstruction
// MSE and no accuracy (NaN); for a disagreement run, the training split alone, with its labels), parameter norm, the squared norm of the full
// training gradient when asked, and which training examples are classified correctly.
import type { RunPlan } from './run-spec.ts';
import type { Evaluation, LabelledSplit, TrainingBackend } from './training-backend.ts';

export interface EvaluationResult {
  trainLoss: number;
  trainAccuracy: number;
  testLoss: number;
  testAccuracy: number;
  parameterNorm: number;
  fullGradientNormSquared: number;
  /** 1 where training example i is classified correctly (with per_example_correctness). */
  correct?: Uint8Array;
}

export interface EvaluationData {
  train?: LabelledSplit | undefined;
  test?: LabelledSplit | undefined;
  /** Online datasets: sums of the epoch's batch losses and accuracies. */
  onlineSums?: { loss: number; accuracy: number; steps: number } | undefined;
}

function norm(values: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += (values[i] as number) ** 2;
  return Math.sqrt(sum);
}

/** Little-endian bit i = example i (the contract's ExampleCorrectness.correct_bitmap). */
export function correctnessBitmap(correct: Uint8Array): Uint8Array {
  const out = new Uint8Array(Math.ceil(correct.length / 8));
  for (let i = 0; i < correct.length; i++)
    if (correct[i]) out[i >> 3] = (out[i >> 3] as number) | (1 << (i & 7));
  return out;
}

async function evaluateSplit(
  backend: TrainingBackend,
  split: LabelledSplit | undefined,
  limit: number,
  perExample: boolean,
): Promise<Evaluation> {
  if (!split || split.n === 0) return { loss: Number.NaN, accuracy: Number.NaN };
  const n = limit > 0 ? Math.min(limit, split.n) : split.n;
  const x = n === split.n ? split.x : split.x.subarray(0, n * split.rowSize);
  // An auto-encoder stage is scored against its reconstruction targets (no accuracy).
  if (split.targets)
    return backend.evaluateTargets(x, split.targets.subarray(0, n * (split.targetSize ?? 0)), n);
  const y = n === split.n ? split.y : split.y.subarray(0, n);
  return backend.evaluate(x, y, n, perExample);
}

export async function evaluateModel(
  backend: TrainingBackend,
  plan: RunPlan,
  data: EvaluationData,
): Promise<EvaluationResult> {
  let trainLoss: number;
  let trainAccuracy: number;
  let correct: Uint8Array | undefined;
  if (plan.online) {
    const sums = data.onlineSums ?? { loss: Number.NaN, accuracy: Number.NaN, steps: 1 };
    trainLoss = sums.loss / sums.steps;
    trainAccuracy = sums.accuracy / sums.steps;
  } else {
    const train = await evaluateSplit(backend, data.train, plan.evalTrainSubset, plan.perExampleCorrectness);
    trainLoss = train.loss;
    trainAccuracy = train.accuracy;
    correct = train.correct;
  }
  const test = await evaluateSplit(backend, data.test, 0, false);
  let fullGradientNormSquared = 0;
  if (plan.fullGradientNorm && data.train) {
    const { x, y, n } = data.train;
    fullGradientNormSquared = await backend.gradientNormSquared(x, y, n);
  }
  const result: EvaluationResult = {
    trainLoss,
    trainAccuracy,
    testLoss: test.loss,
    testAccuracy: test.accuracy,
    parameterNorm: norm(backend.flatParameters()),
    fullGradientNormSquared,
  };
  if (correct) result.correct = correct;
  return result;
}
