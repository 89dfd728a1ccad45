// A few examples of a split, chosen by a seed, for reports: their inputs, labels, indices and, for
// image datasets, a PNG grid. Rows are read from the stored files by index, not loaded whole. For an
// online train split, the indices are positions in the generator's example stream.
import type { DatasetSpec } from '@gengap/proto/data/v1/dataset';
import { Rng } from '@gengap/random';
import { drawDistinct } from '../datasets/draws.ts';
import { featureCount, type SplitName } from '../datasets/types.ts';
import type { DatasetStorage } from '../storage/dataset-storage.ts';
import type { ManifestFile } from '../storage/manifest-file.ts';
import { onlineExamples } from './online-batches.ts';

export interface Sample {
  x: Float32Array;
  /** [count, ...inputShape] */
  shape: number[];
  y: Int32Array;
  indices: number[];
}

const ONLINE_INDEX_RANGE = 2 ** 32;

export async function sampleSplit(
  storage: DatasetStorage,
  file: ManifestFile,
  spec: DatasetSpec,
  split: SplitName,
  count: number,
  seed: number,
): Promise<Sample> {
  const stats = split === 'train' ? file.manifest.train : file.manifest.test;
  const inputShape = (stats?.inputShape ?? []).map(Number);
  const features = featureCount(inputShape);
  const rng = new Rng(seed, 'sampleDataset');
  const tensors = file.storage.splits[split];
  if (!tensors) {
    // Online train split: distinct positions of the generator's stream, each example generated.
    const chosen = new Set<number>();
    while (chosen.size < count) chosen.add(rng.int(ONLINE_INDEX_RANGE));
    const indices = [...chosen].sort((a, b) => a - b);
    const x = new Float32Array(count * features);
    const y = new Int32Array(count);
    indices.forEach((j, i) => {
      const one = onlineExamples(spec, j, 1);
      x.set(one.x, i * features);
      y[i] = one.y[0] as number;
    });
    return { x, shape: [count, ...inputShape], y, indices };
  }
  const n = Number(stats?.numExamples ?? 0);
  const k = Math.min(count, n);
  const indices = [...drawDistinct(rng, n, k)].sort((a, b) => a - b);
  const datasetId = file.manifest.datasetId;
  const xs = await storage.openTensor(datasetId, tensors.x?.file as string);
  const ys = await storage.openTensor(datasetId, tensors.y?.file as string);
  try {
    const x = new Float32Array(k * features);
    const y = new Int32Array(k);
    for (const [i, j] of indices.entries()) {
      const row = await xs.read(j * features * 4, features * 4);
      x.set(new Float32Array(row.buffer, row.byteOffset, features), i * features);
      const label = await ys.read(j * 8, 8);
      y[i] = new DataView(label.buffer, label.byteOffset, 8).getInt32(0, true);
    }
    return { x, shape: [k, ...inputShape], y, indices };
  } finally {
    await Promise.all([xs.close(), ys.close()]);
  }
}
