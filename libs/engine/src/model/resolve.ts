// Validates a ModelSpec and resolves it into layers with static per-example shapes and named parameters.
// Errors name the offending field (EngineSpecError.field), e.g. "model.layers[2].conv2d".
import { type Initializer, InitializerKind, type Layer, type ModelSpec } from '@gengap/proto/common/v1/model';
import { EngineSpecError } from '../errors.ts';
import { type LayerCase, type LayerConfig, layerCatalogue, type ParameterInit } from './layers.ts';

export interface ParameterSpec {
  /** "<layer name>.<suffix>", e.g. "0.dense.weight" or "encoder.weight". */
  name: string;
  shape: number[];
  size: number;
  layerIndex: number;
  init: ParameterInit;
  fanIn: number;
  fanOut: number;
  /** The initializer that applies to this parameter (the layer's own, else the model default). */
  initializer: Initializer;
}

export interface ResolvedLayer {
  index: number;
  name: string;
  kind: LayerCase;
  config: LayerConfig<LayerCase>;
  inShape: number[];
  outShape: number[];
  parameters: ParameterSpec[];
}

export interface ResolvedModel {
  spec: ModelSpec;
  /** Per-example input shape. */
  inputShape: number[];
  /** Integer character codes when the first layer is an embedding, else floating features. */
  inputKind: 'float' | 'codes';
  numOutputs: number;
  layers: ResolvedLayer[];
  parameters: ParameterSpec[];
}

const TORCH_DEFAULT: Initializer = { kind: InitializerKind.INITIALIZER_KIND_TORCH_DEFAULT, scale: 0 };

function layerInitializer(layer: Layer, fallback: Initializer | undefined): Initializer | undefined {
  const kind = layer.kind;
  if (kind === undefined) return undefined;
  const own = 'initializer' in kind.value ? kind.value.initializer : undefined;
  if (own !== undefined && own.kind !== InitializerKind.INITIALIZER_KIND_UNSPECIFIED) return own;
  return fallback;
}

/** Largest input rank: feature vectors, sequences of codes, or C x H x W images. */
export const MAX_INPUT_RANK = 4;
/** Largest element count of one example's activation, or of one parameter tensor. */
export const MAX_TENSOR_ELEMENTS = 2 ** 28;
/** Largest parameter count of a model (1 GiB of float32 weights, before gradients and optimizer state). */
export const MAX_MODEL_PARAMETERS = 2 ** 28;

const elements = (shape: readonly number[]) => shape.reduce((a, d) => a * d, 1);

/** A NaN, infinite or negative scale would make every weight non-finite (or mirror them). */
function checkInitializer(field: string, init: Initializer | undefined): void {
  if (init && !(Number.isFinite(init.scale) && init.scale >= 0)) {
    throw new EngineSpecError(`${field}.scale`, `must be a finite number >= 0 (got ${init.scale})`);
  }
}

function resolveLayer(
  layer: Layer,
  index: number,
  inShape: number[],
  modelDefault: Initializer | undefined,
): ResolvedLayer {
  const field = `model.layers[${index}]`;
  const kind = layer.kind;
  if (kind === undefined) throw new EngineSpecError(field, 'layer kind is not set');
  const definition = layerCatalogue[kind.$case] as (typeof layerCatalogue)[LayerCase];
  const config = kind.value as never;
  const name = layer.name !== '' ? layer.name : `${index}.${kind.$case}`;
  let outShape: number[];
  try {
    outShape = definition.outputShape(config, inShape);
  } catch (e) {
    throw new EngineSpecError(`${field}.${kind.$case}`, `${(e as Error).message} (input shape [${inShape}])`);
  }
  if ('initializer' in kind.value)
    checkInitializer(`${field}.${kind.$case}.initializer`, kind.value.initializer);
  const tableDefault: Initializer = { kind: InitializerKind.INITIALIZER_KIND_NORMAL, scale: 1 };
  const initializer =
    layerInitializer(layer, modelDefault) ?? (kind.$case === 'embedding' ? tableDefault : TORCH_DEFAULT);
  const parameters = definition.parameters(config, inShape).map(
    (p): ParameterSpec => ({
      name: `${name}.${p.suffix}`,
      shape: p.shape,
      size: p.shape.reduce((a, d) => a * d, 1),
      layerIndex: index,
      init: p.init,
      fanIn: p.fanIn,
      fanOut: p.fanOut,
      initializer,
    }),
  );
  return { index, name, kind: kind.$case, config, inShape, outShape, parameters };
}

export function resolveModel(spec: ModelSpec): ResolvedModel {
  const inputShape = spec.inputShape.map(Number);
  if (inputShape.length === 0 || inputShape.some((d) => !Number.isInteger(d) || d < 1)) {
    throw new EngineSpecError('model.inputShape', `must be positive integers, got [${spec.inputShape}]`);
  }
  if (inputShape.length > MAX_INPUT_RANK || elements(inputShape) > MAX_TENSOR_ELEMENTS) {
    throw new EngineSpecError(
      'model.inputShape',
      `at most rank ${MAX_INPUT_RANK} and ${MAX_TENSOR_ELEMENTS} elements, got [${inputShape}]`,
    );
  }
  if (spec.layers.length === 0) throw new EngineSpecError('model.layers', 'a model needs at least one layer');
  const defaultInit = spec.defaultInitializer?.kind ? spec.defaultInitializer : undefined;
  checkInitializer('model.default_initializer', spec.defaultInitializer);
  const layers: ResolvedLayer[] = [];
  let shape = inputShape;
  spec.layers.forEach((layer, i) => {
    if (layer.kind?.$case === 'embedding' && i !== 0) {
      throw new EngineSpecError(`model.layers[${i}]`, 'an embedding must be the first layer');
    }
    const resolved = resolveLayer(layer, i, shape, defaultInit);
    const big = [resolved.outShape, ...resolved.parameters.map((p) => p.shape)].find(
      (s) => elements(s) > MAX_TENSOR_ELEMENTS,
    );
    if (big) {
      throw new EngineSpecError(
        `model.layers[${i}]`,
        `a tensor of shape [${big}] is over the limit of ${MAX_TENSOR_ELEMENTS} elements`,
      );
    }
    layers.push(resolved);
    shape = resolved.outShape;
  });
  if (shape.length !== 1) {
    throw new EngineSpecError(
      'model.layers',
      `the last layer must output a vector of logits, got [${shape}] (add a flatten)`,
    );
  }
  if (spec.numOutputs !== 0 && shape[0] !== spec.numOutputs) {
    throw new EngineSpecError(
      'model.numOutputs',
      `is ${spec.numOutputs} but the last layer outputs ${shape[0]}`,
    );
  }
  const parameters = layers.flatMap((l) => l.parameters);
  const total = parameters.reduce((n, p) => n + p.size, 0);
  if (total > MAX_MODEL_PARAMETERS) {
    throw new EngineSpecError(
      'model.layers',
      `${total} parameters is over the limit of ${MAX_MODEL_PARAMETERS}`,
    );
  }
  const names = new Set<string>();
  for (const p of parameters) {
    if (names.has(p.name)) throw new EngineSpecError('model.layers', `duplicate parameter name ${p.name}`);
    names.add(p.name);
  }
  const inputKind = layers[0]!.kind === 'embedding' ? 'codes' : 'float';
  return { spec, inputShape, inputKind, numOutputs: shape[0]!, layers, parameters };
}
