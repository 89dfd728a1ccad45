// Isotropic Gaussian clusters: class c's centre is a direction drawn uniformly on the sphere of radius
// `separation`; an example of class c is centre_c + cluster_std * N(0, I). Labels are balanced
// (counts differ by at most one) and in seeded random order.
import type { GaussianMixtureSource } from '@gengap/proto/data/v1/dataset';
import type { Rng } from '@gengap/random';
import { fillNormal, itemStream, streamOf } from './draws.ts';
import { type DatasetData, makeSplit, type PoolExample, type ProgressFn, type SplitData } from './types.ts';

const STREAM = 'source.gaussianMixture';

/** Class counts of a balanced split of n examples into c classes. */
export function balancedCounts(n: number, classes: number): number[] {
  return Array.from({ length: classes }, (_, c) => Math.floor(n / classes) + (c < n % classes ? 1 : 0));
}

function centres(seed: number, source: GaussianMixtureSource): Float64Array {
  const { numClasses: k, dimension: d, separation } = source;
  const rng = streamOf(seed, `${STREAM}.centres`);
  const out = new Float64Array(k * d);
  for (let c = 0; c < k; c++) {
    let norm = 0;
    do {
      fillNormal(rng, out, c * d, d);
      norm = 0;
      for (let j = 0; j < d; j++) norm += (out[c * d + j] as number) ** 2;
    } while (norm === 0);
    const scale = separation / Math.sqrt(norm);
    for (let j = 0; j < d; j++) out[c * d + j] = (out[c * d + j] as number) * scale;
  }
  return out;
}

function drawPoint(
  rng: Rng,
  centre: Float64Array,
  c: number,
  d: number,
  std: number,
  out: Float32Array,
  at: number,
) {
  for (let j = 0; j < d; j++) out[at + j] = (centre[c * d + j] as number) + std * rng.normal();
}

function split(
  seed: number,
  name: string,
  n: number,
  source: GaussianMixtureSource,
  mu: Float64Array,
  progress: ProgressFn,
): SplitData {
  const { numClasses: k, dimension: d } = source;
  const std = source.clusterStd;
  const data = makeSplit(n, d);
  for (let i = 0; i < n; i++) data.y[i] = i % k;
  streamOf(seed, `${STREAM}.${name}.labels`).shuffle(data.y);
  const rng = streamOf(seed, `${STREAM}.${name}.inputs`);
  const step = Math.max(1, Math.floor(n / 50));
  for (let i = 0; i < n; i++) {
    drawPoint(rng, mu, data.y[i] as number, d, std, data.x, i * d);
    if (i % step === 0) progress(i / n);
  }
  progress(1);
  return data;
}

/** `source` must be canonical (cluster_std resolved). */
export function gaussianMixtureDataset(
  seed: number,
  source: GaussianMixtureSource,
  progress: ProgressFn,
): DatasetData {
  const mu = centres(seed, source);
  const { trainSize, testSize, dimension: d, numClasses: k } = source;
  const total = trainSize + testSize;
  const train = split(seed, 'train', trainSize, source, mu, (f) => progress((f * trainSize) / total));
  const test = split(seed, 'test', testSize, source, mu, (f) => progress((trainSize + f * testSize) / total));
  const pool = (candidate: number): PoolExample => {
    const rng = itemStream(seed, `${STREAM}.pool`, candidate);
    const y = rng.int(k);
    const x = new Float32Array(d);
    drawPoint(rng, mu, y, d, source.clusterStd, x, 0);
    return { x, y };
  };
  return {
    inputShape: [d],
    numClasses: k,
    train,
    test,
    image: undefined,
    sourceTrain: train,
    pool,
    auxiliary: new Map([['centres', { dtype: 'float64', shape: [k, d], data: mu }]]),
    classNames: undefined,
    onlineLabelCorruption: 0,
    details: {},
  };
}
