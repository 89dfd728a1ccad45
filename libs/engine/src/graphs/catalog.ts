// Every graph a compiled model can run, by kind, built on demand and serialized (after float64 lowering)
// to ONNX bytes.
import { lowerGraph } from '../autodiff/lowering/lower.ts';
import type { Graph } from '../ir/graph.ts';
import type { Dim } from '../ir/types.ts';
import type { ResolvedModel } from '../model/resolve.ts';
import { serializeModel } from '../onnx/serialize.ts';
import type { FloatDType } from '../runtime/tensors.ts';
import type { TrainSetup } from '../train/step.ts';
import {
  buildEmbedGraph,
  buildEvalGraph,
  buildGradientGraph,
  buildInputGradientGraph,
  buildInversionGraph,
} from './analysis.ts';
import { BATCH } from './io.ts';
import { splitByDependence } from './partition.ts';
import { buildSingleStepGraph, buildTrainLoopGraph } from './train.ts';

export type GraphKind =
  | 'trainLoop'
  | 'trainLoopSoft'
  | 'trainLoopSameBatch'
  | 'trainLoopSameBatchSoft'
  | 'trainStep'
  | 'trainStepSoft'
  | 'eval'
  | 'grad'
  | 'hvp'
  | 'hvpPrepare'
  | 'hvpApply'
  | 'inputGradientLoss'
  | 'inputGradientLogit'
  | `embed:${number}`
  | `inversion:${number}`;

export interface GraphContext {
  model: ResolvedModel;
  setup: TrainSetup;
  dtype: FloatDType;
  /** Examples per graph call; a number gives constant shapes (faster), the default 'N' any size. */
  batch?: Dim;
}

function layerOf(kind: string, model: ResolvedModel): number {
  const layer = Number(kind.split(':')[1]);
  if (!Number.isInteger(layer) || layer < 0 || layer >= model.layers.length) {
    throw new RangeError(`layer index ${kind.split(':')[1]} is outside 0..${model.layers.length - 1}`);
  }
  return layer;
}

export function buildGraph(kind: GraphKind, { model, setup, dtype, batch = BATCH }: GraphContext): Graph {
  const soft = kind.endsWith('Soft');
  switch (kind) {
    case 'trainLoop':
    case 'trainLoopSoft':
    case 'trainLoopSameBatch':
    case 'trainLoopSameBatchSoft':
      return buildTrainLoopGraph(model, setup, { dtype, soft, batch, sameBatch: kind.includes('SameBatch') });
    case 'trainStep':
    case 'trainStepSoft':
      return buildSingleStepGraph(model, setup, { dtype, soft, batch });
    case 'eval':
      return buildEvalGraph(model, setup.loss, dtype, batch);
    case 'grad':
      return buildGradientGraph(model, setup.loss, dtype, false, batch);
    case 'hvp':
      return buildGradientGraph(model, setup.loss, dtype, true, batch);
    case 'hvpPrepare':
    case 'hvpApply': {
      const parts = splitByDependence(buildGradientGraph(model, setup.loss, dtype, true, batch), ['vector']);
      return kind === 'hvpPrepare' ? parts.prepare : parts.apply;
    }
    case 'inputGradientLoss':
      return buildInputGradientGraph(model, setup.loss, dtype, 'loss', batch);
    case 'inputGradientLogit':
      return buildInputGradientGraph(model, setup.loss, dtype, 'logit', batch);
    default:
      if (kind.startsWith('embed:')) return buildEmbedGraph(model, dtype, layerOf(kind, model), batch);
      if (kind.startsWith('inversion:'))
        return buildInversionGraph(model, dtype, layerOf(kind, model), batch);
      throw new Error(`unknown graph kind ${kind}`);
  }
}

/** ONNX bytes of a graph, as onnxruntime loads them. */
export function graphBytes(kind: GraphKind, context: GraphContext): Uint8Array {
  return serializeModel(lowerGraph(buildGraph(kind, context)));
}
