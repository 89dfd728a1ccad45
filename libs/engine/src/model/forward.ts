// The forward pass of a resolved model as graph nodes: layer by layer, each layer's output kept so that
// embeddings (layer k's activations) and gradients with respect to them are available.
import type { Builder } from '../ir/builder.ts';
import type { Value } from '../ir/types.ts';
import { type LayerCase, layerCatalogue } from './layers.ts';
import type { ResolvedModel } from './resolve.ts';

export interface ForwardOptions {
  training: boolean;
  /** uint32 scalar seeding this step's dropout masks; required for dropout in training graphs. */
  stepSeed?: Value;
  /** Stop after this layer (inclusive); defaults to the last layer. */
  upTo?: number;
}

/**
 * Outputs of layers 0..upTo for input `x` ([N, ...inputShape], or int32 codes for embedding models).
 * `params` are the model's parameters in `model.parameters` order.
 */
export function forwardLayers(
  b: Builder,
  model: ResolvedModel,
  params: readonly Value[],
  x: Value,
  options: ForwardOptions,
): Value[] {
  const upTo = options.upTo ?? model.layers.length - 1;
  const outputs: Value[] = [];
  let h = model.inputKind === 'codes' ? b.cast(x, 'int64') : x;
  let next = 0;
  for (const layer of model.layers.slice(0, upTo + 1)) {
    const own = params.slice(next, next + layer.parameters.length);
    next += layer.parameters.length;
    const definition = layerCatalogue[layer.kind as LayerCase];
    h = definition.forward(b, h, [...own], layer.config as never, {
      training: options.training,
      layerIndex: layer.index,
      ...(options.stepSeed !== undefined ? { stepSeed: options.stepSeed } : {}),
    });
    outputs.push(h);
  }
  return outputs;
}

/** Logits [N, numOutputs]. */
export function forwardLogits(
  b: Builder,
  model: ResolvedModel,
  params: readonly Value[],
  x: Value,
  options: ForwardOptions,
): Value {
  return forwardLayers(b, model, params, x, options).at(-1)!;
}
