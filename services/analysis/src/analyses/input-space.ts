// Shared by the input-space kinds (inversion, sensitivity, attacks, critical samples, attribution,
// probes, ensembles): the model as deployed, its parameters in the engine's dtype, the shape of image
// inputs, and refusals for inputs the method cannot handle.
//
// "As deployed" means the run's loss kind at temperature 1: a network trained at temperature T
// (defensive distillation) is used at T = 1 (Papernot et al.), which is what saturates its softmax and
// masks its gradients. Analyses of the training objective itself (Hessians, landscapes) keep the run's T.
import { FailedPreconditionError } from '@gengap/service-kit';
import type { ImageGeometry } from '@gengap/tensor-io';
import type { FloatArray } from '../adversarial/input-oracle.ts';
import type { AnalysisModel } from '../inputs/analysis-model.ts';
import type { ExampleSet } from '../inputs/examples.ts';
import type { AnalysisContext } from './kind.ts';

export async function deployedModel(
  ctx: AnalysisContext,
  options: { chunkSize?: number; ref?: Parameters<AnalysisContext['inputs']['model']>[0] } = {},
): Promise<AnalysisModel> {
  const checkpoint = await ctx.inputs.checkpoint(options.ref);
  const run = await ctx.inputs.run(checkpoint.runId);
  return ctx.inputs.model(options.ref, {
    ...(options.chunkSize ? { chunkSize: options.chunkSize } : {}),
    loss: { kind: run.spec?.loss?.kind ?? 0, temperature: 1 },
  });
}

/** The checkpoint's parameters in the engine's dtype (converted once, fed as they are to every call). */
export function nativeParameters(model: AnalysisModel): FloatArray {
  return model.precision === 'float32' ? Float32Array.from(model.parameters) : model.parameters;
}

/** Whether the model reads integer codes (an embedding first), which have no input gradient. */
export function readsCodes(model: AnalysisModel): boolean {
  return model.checkpoint.model.layers[0]?.kind?.$case === 'embedding';
}

export function requireContinuousInputs(model: AnalysisModel, what: string): void {
  if (readsCodes(model)) {
    throw new FailedPreconditionError(
      `${what} needs continuous inputs; model ${model.checkpoint.origin} reads integer codes (an embedding first)`,
    );
  }
}

/** The examples' inputs as the engine's float dtype (copied only when the dtype differs). */
export function floatInputs(examples: ExampleSet, model: AnalysisModel): FloatArray {
  const x = examples.x;
  if (model.precision === 'float32') return x instanceof Float32Array ? x : Float32Array.from(x);
  return x instanceof Float64Array ? x : Float64Array.from(x);
}

// Channels, height and width of one image: the same shape the PNG grids of @gengap/tensor-io draw.
export type { ImageGeometry };

/**
 * Inputs that are images: shape [C, H, W] with C in 1..4, [H, W], or flattened MNIST-like datasets
 * (the dataset's spec says mnist or fashion_mnist with `flatten`: 1 x 28 x 28).
 */
export function imageGeometry(examples: ExampleSet): ImageGeometry | undefined {
  const shape = examples.inputShape;
  if (shape.length === 3 && shape[0]! >= 1 && shape[0]! <= 4) {
    return { channels: shape[0]!, height: shape[1]!, width: shape[2]! };
  }
  if (shape.length === 2) return { channels: 1, height: shape[0]!, width: shape[1]! };
  const source = examples.datasetSpec?.source?.$case;
  if (shape.length === 1 && shape[0] === 784 && (source === 'mnist' || source === 'fashionMnist')) {
    return { channels: 1, height: 28, width: 28 };
  }
  return undefined;
}

/** Per-example class probabilities (softmax in float64) of logits [n, C]. */
export function probabilities(logits: ArrayLike<number>, n: number, classes: number): Float64Array {
  const p = new Float64Array(n * classes);
  for (let i = 0; i < n; i++) {
    let max = Number.NEGATIVE_INFINITY;
    for (let c = 0; c < classes; c++) max = Math.max(max, logits[i * classes + c]!);
    let sum = 0;
    for (let c = 0; c < classes; c++) {
      const e = Math.exp(logits[i * classes + c]! - max);
      p[i * classes + c] = e;
      sum += e;
    }
    for (let c = 0; c < classes; c++) p[i * classes + c]! /= sum;
  }
  return p;
}
