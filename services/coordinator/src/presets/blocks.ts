// Building blocks the presets share: datasets (MNIST subsets in the shapes the models expect),
// models (MLPs and small CNNs as layer stacks), optimizers and stop rules, in the spec's JSON form.
import type { z } from 'zod';
import { analysisKinds } from '../spec/schema/analysis.ts';
import type { datasetSchema } from '../spec/schema/dataset.ts';
import type { AnalysisSpecJson, CellJson, ExperimentSpecJson } from '../spec/schema/experiment.ts';
import type { layerSchema, modelSchema, optimizerSchema } from '../spec/schema/model.ts';
import type { runSchema } from '../spec/schema/run.ts';

export type DatasetJson = z.input<typeof datasetSchema>;
export type CorruptionJson = NonNullable<DatasetJson['corruptions']>[number];
export type RunJson = z.input<typeof runSchema>;
export type ModelJson = z.input<typeof modelSchema>;
export type LayerJson = z.input<typeof layerSchema>;
export type OptimizerJson = z.input<typeof optimizerSchema>;
export type { AnalysisSpecJson, CellJson, ExperimentSpecJson };

export type PresetSize = 'quick' | 'full';

export const MNIST_INPUT = 784;
export const MNIST_IMAGE = [1, 28, 28];

/**
 * MNIST with optional subsets of each split: corruptions[0] subsamples the training split and
 * corruptions[1] the test split when sizes are given (so presets can address the corruptions that
 * follow at known indices), then `extra` in order.
 */
export function mnist(
  options: { train?: number; test?: number; flatten?: boolean; extra?: CorruptionJson[]; seed?: number } = {},
): DatasetJson {
  const corruptions: CorruptionJson[] = [];
  if (options.train)
    corruptions.push({ subsample: { size: options.train, splits: 'SPLIT_SELECTION_TRAIN' } });
  if (options.test) corruptions.push({ subsample: { size: options.test, splits: 'SPLIT_SELECTION_TEST' } });
  corruptions.push(...(options.extra ?? []));
  return {
    mnist: { scaling: 'PIXEL_SCALING_UNIT', flatten: options.flatten ?? true },
    ...(corruptions.length > 0 ? { corruptions } : {}),
    seed: options.seed ?? 20170101,
  };
}

const relu: LayerJson = { activation: { activation: 'ACTIVATION_RELU' } };

/** Dense layers with ReLU between them; `dropout` after each hidden layer when > 0. */
export function mlp(
  inputs: number,
  hidden: number[],
  outputs: number,
  options: { dropout?: number } = {},
): ModelJson {
  const layers: LayerJson[] = [];
  for (const units of hidden) {
    layers.push({ dense: { units } }, relu);
    if (options.dropout) layers.push({ dropout: { rate: options.dropout } });
  }
  layers.push({ dense: { units: outputs } });
  return {
    inputShape: [inputs],
    numOutputs: outputs,
    layers,
    defaultInitializer: { kind: 'INITIALIZER_KIND_TORCH_DEFAULT' },
  };
}

/** A small CNN for 1x28x28 images: conv-pool blocks, then dense layers. */
export function cnn(
  channels: number[],
  dense: number[],
  outputs: number,
  options: { dropout?: number } = {},
): ModelJson {
  const layers: LayerJson[] = [];
  for (const c of channels) {
    layers.push({ conv2d: { outChannels: c, kernelSize: 3, padding: 1 } }, relu, {
      maxPool2d: { kernelSize: 2 },
    });
  }
  layers.push({ flatten: {} });
  for (const units of dense) {
    layers.push({ dense: { units } }, relu);
    if (options.dropout) layers.push({ dropout: { rate: options.dropout } });
  }
  layers.push({ dense: { units: outputs } });
  return {
    inputShape: MNIST_IMAGE,
    numOutputs: outputs,
    layers,
    defaultInitializer: { kind: 'INITIALIZER_KIND_TORCH_DEFAULT' },
  };
}

export function sgd(learningRate: number, momentum = 0): OptimizerJson {
  return momentum > 0
    ? { kind: 'OPTIMIZER_KIND_MOMENTUM', learningRate, momentum }
    : { kind: 'OPTIMIZER_KIND_SGD', learningRate };
}

export function adam(learningRate: number): OptimizerJson {
  return { kind: 'OPTIMIZER_KIND_ADAM', learningRate };
}

export const crossEntropy = { kind: 'LOSS_KIND_CROSS_ENTROPY' } as const;

/** Seeds 0..n-1. */
export function seedsUpTo(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

/** The analysis kinds a spec uses (attached and experiment-level), for a preset's description. */
export function analysisKindsOf(spec: ExperimentSpecJson): string[] {
  const kinds = new Set<string>();
  const add = (a: AnalysisSpecJson | undefined) => {
    if (!a) return;
    for (const [k, v] of Object.entries(a))
      if (v && typeof v === 'object' && (analysisKinds as readonly string[]).includes(k)) kinds.add(k);
  };
  for (const a of spec.analyses ?? []) add(a.spec);
  for (const ea of spec.experimentAnalyses ?? []) {
    add(ea.pairedRuns?.spec);
    add(ea.acrossRuns?.spec);
    for (const a of ea.teacherStudent?.analyses ?? []) add(a);
    if (ea.shiftDetection) kinds.add('ensembleDisagreement');
  }
  return [...kinds];
}
