// A canonical spec to an in-memory dataset: the source, then each corruption in order. Pure and
// deterministic: the same spec gives the same arrays on every machine.
import type { DatasetSpec } from '@gengap/proto/data/v1/dataset';
import { applyCorruption } from '../corruptions/index.ts';
import { fashionMnistDataset } from '../datasets/fashion-mnist.ts';
import { gaussianMixtureDataset } from '../datasets/gaussian-mixture.ts';
import { mnistDataset } from '../datasets/mnist.ts';
import { sparseParityDataset } from '../datasets/sparse-parity.ts';
import { subspaceDataset } from '../datasets/subspace.ts';
import { tabularDataset } from '../datasets/tabular.ts';
import type { DatasetData, ProgressFn } from '../datasets/types.ts';

export interface GenerationEnv {
  /** Folder for caches of parsed source files (Fashion-MNIST). */
  cacheDir: string;
}

/** Reports overall progress in [0, 1] and the current phase. */
export type PhaseProgress = (fraction: number, phase: string) => void;

/** Share of the work done by the source; corruptions share the rest up to SOURCE + CORRUPTIONS. */
const SOURCE_SHARE = 0.5;
const CORRUPTIONS_SHARE = 0.3;

async function generateSource(
  spec: DatasetSpec,
  env: GenerationEnv,
  progress: ProgressFn,
): Promise<DatasetData> {
  const source = spec.source;
  switch (source?.$case) {
    case 'mnist':
      return mnistDataset(source.value);
    case 'fashionMnist':
      return fashionMnistDataset(source.value, env.cacheDir);
    case 'gaussianMixture':
      return gaussianMixtureDataset(spec.seed, source.value, progress);
    case 'subspace':
      return subspaceDataset(spec.seed, source.value, progress);
    case 'sparseParity':
      return sparseParityDataset(spec.seed, source.value, progress);
    case 'tabular':
      return tabularDataset(spec.seed, source.value);
    default:
      throw new Error('spec has no source (it must be validated first)');
  }
}

/** Generates a dataset from a validated, canonical spec. Progress goes from 0 to 0.8 here. */
export async function generateDataset(
  spec: DatasetSpec,
  env: GenerationEnv,
  progress: PhaseProgress,
): Promise<DatasetData> {
  const kind = spec.source?.$case ?? 'source';
  progress(0, `generating ${kind}`);
  const data = await generateSource(spec, env, (f) => progress(SOURCE_SHARE * f, `generating ${kind}`));
  const occurrences = new Map<string, number>();
  const count = spec.corruptions.length;
  spec.corruptions.forEach((corruption, index) => {
    const k = corruption.kind;
    if (!k) throw new Error(`corruption ${index} has no kind (the spec must be validated first)`);
    const occurrence = occurrences.get(k.$case) ?? 0;
    occurrences.set(k.$case, occurrence + 1);
    const start = SOURCE_SHARE + (CORRUPTIONS_SHARE * index) / count;
    const phase = `corruption ${index + 1}/${count}: ${k.$case}`;
    progress(start, phase);
    applyCorruption(k, {
      seed: spec.seed,
      data,
      index,
      occurrence,
      kind: k.$case,
      progress: (f) => progress(start + (CORRUPTIONS_SHARE * f) / count, phase),
    });
  });
  progress(SOURCE_SHARE + CORRUPTIONS_SHARE, 'computing statistics');
  return data;
}
