// What the training loop needs from a compiled network. engine-backend.ts implements it with
// @gengap/engine (ONNX graphs on onnxruntime-node); the loop never sees ORT or graphs.
import type { NamedArray } from './worker-protocol.ts';

export type FloatArray = Float32Array | Float64Array;

/** A split in the worker: inputs [n, ...inputShape] and integer labels [n]. */
export interface LabelledSplit {
  x: Float32Array;
  y: Int32Array;
  n: number;
  rowSize: number;
  /**
   * Real-valued targets [n, targetSize] that evaluations score the outputs against by mean squared
   * error instead of the labels (an auto-encoder stage's activations to reproduce).
   */
  targets?: Float32Array;
  targetSize?: number;
}

/** int64 labels (as the data service sends them) to the int32 the graphs take. */
export function labelledSplit(x: Float32Array, y: BigInt64Array): LabelledSplit {
  const labels = new Int32Array(y.length);
  for (let i = 0; i < y.length; i++) labels[i] = Number(y[i]);
  return { x, y: labels, n: y.length, rowSize: y.length > 0 ? x.length / y.length : 0 };
}

/** K optimizer steps' batches, laid out [K, B, ...] (row-major). */
export interface ChunkBatches {
  steps: number;
  batchSize: number;
  /** Inputs [K, B, ...inputShape]. */
  x: Float32Array;
  /** Integer labels [K, B]. */
  labels: Int32Array;
  /** Soft targets [K, B, C] (distillation); replaces `labels` in the loss when present. */
  soft?: Float32Array;
  /** One batch ([B, ...], labels [B]) used at every one of the K steps (full-batch gradient descent). */
  sameBatch?: boolean;
}

/** Per-step values of a chunk, in step order; each array has `steps` entries. */
export interface ChunkMetrics {
  loss: ArrayLike<number>;
  gradientNorm: ArrayLike<number>;
  /** Accuracy of the batch's predictions before the update. */
  batchAccuracy: ArrayLike<number>;
}

export interface Evaluation {
  loss: number;
  accuracy: number;
  /** 1 where example i is classified correctly (when asked for). */
  correct?: Uint8Array;
}

export interface TrainingBackend {
  readonly numParameters: number;
  /** Names of the parameter tensors, in the flat vector's order. */
  readonly parameterNames: readonly string[];
  /** The flat parameter vector (a live view: do not keep it across train calls). */
  flatParameters(): FloatArray;
  parameterTensors(): NamedArray[];
  optimizerTensors(): NamedArray[];
  /** Replaces parameters by name; names or shapes that do not match are reported, not copied. */
  loadParameters(
    tensors: readonly NamedArray[],
    options?: { partial?: boolean },
  ): { copied: string[]; skipped: string[] };
  loadOptimizerState(tensors: readonly NamedArray[]): void;
  /**
   * Runs `batches.steps` optimizer steps; `learningRates[i]` is step i's rate; `firstStep` is the
   * global index of the first of them (dropout masks and bias corrections depend on it).
   */
  train(batches: ChunkBatches, learningRates: Float64Array, firstStep: number): Promise<ChunkMetrics>;
  /** Mean loss and accuracy over n examples (x [n, ...], labels [n]). */
  evaluate(x: Float32Array, labels: Int32Array, n: number, perExample: boolean): Promise<Evaluation>;
  /** Mean squared error of the outputs against `targets` [n, outputs]; accuracy is NaN (none). */
  evaluateTargets(x: Float32Array, targets: Float32Array, n: number): Promise<Evaluation>;
  /** Squared norm of the gradient of the mean training loss over n examples. */
  gradientNormSquared(x: Float32Array, labels: Int32Array, n: number): Promise<number>;
  dispose(): Promise<void>;
}

/**
 * A network used once, before training, to make targets: a teacher's soft labels, a base model's
 * predictions (disagreement), the activations an auto-encoder stage reproduces.
 */
export interface FrozenNetwork {
  /** softmax(logits / temperature) for n examples: [n, C]. */
  probabilities(x: Float32Array, n: number, temperature: number): Promise<Float32Array>;
  /** argmax of the logits for n examples (ties: the lowest class). */
  predictions(x: Float32Array, n: number): Promise<Int32Array>;
  /** The activation entering layer `layer` for every example, flattened: [n, size] (layer 0: x itself). */
  activationsEntering(layer: number, x: Float32Array): Promise<Float32Array>;
  dispose(): Promise<void>;
}
