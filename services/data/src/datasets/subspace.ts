// Data on a k-dimensional linear subspace of R^d: an orthonormal basis U (d x k, Gram-Schmidt of a
// Gaussian matrix), latent z ~ N(0, I_k), x = U z + sigma * P n with n ~ N(0, I_d) and P the projection
// onto the subspace's orthogonal complement, so the noise is exactly transverse and U^T x = z.
// Labels are a function of z. The basis is stored as `basis.npy` (float64, [d, k]) and, for linear
// labels, the weights as `label_weights.npy` (float64, [k]).
import { SubspaceLabel, type SubspaceSource } from '@gengap/proto/data/v1/dataset';
import type { Rng } from '@gengap/random';
import { fillNormal, itemStream, streamOf } from './draws.ts';
import { type DatasetData, makeSplit, type PoolExample, type ProgressFn, type SplitData } from './types.ts';

const STREAM = 'source.subspace';

/** Orthonormal columns: U[i * k + j] is row i, column j. */
export function orthonormalBasis(rng: Rng, d: number, k: number): Float64Array {
  const u = new Float64Array(d * k);
  for (let j = 0; j < k; j++) {
    for (;;) {
      const v = new Float64Array(d);
      fillNormal(rng, v, 0, d);
      // Modified Gram-Schmidt, twice for numerical orthogonality.
      for (let pass = 0; pass < 2; pass++) {
        for (let p = 0; p < j; p++) {
          let dot = 0;
          for (let i = 0; i < d; i++) dot += (u[i * k + p] as number) * (v[i] as number);
          for (let i = 0; i < d; i++) v[i] = (v[i] as number) - dot * (u[i * k + p] as number);
        }
      }
      let norm = 0;
      for (let i = 0; i < d; i++) norm += (v[i] as number) ** 2;
      norm = Math.sqrt(norm);
      if (norm < 1e-8) continue; // a draw (almost) inside the span so far: draw again
      for (let i = 0; i < d; i++) u[i * k + j] = (v[i] as number) / norm;
      break;
    }
  }
  return u;
}

export function subspaceLabel(source: SubspaceSource, z: Float64Array, weights: Float64Array): number {
  switch (source.label) {
    case SubspaceLabel.SUBSPACE_LABEL_LINEAR: {
      let s = 0;
      for (let j = 0; j < z.length; j++) s += (weights[j] as number) * (z[j] as number);
      return s > 0 ? 1 : 0;
    }
    case SubspaceLabel.SUBSPACE_LABEL_STRIPES: {
      const band = Math.floor((z[0] as number) * source.stripeFrequency);
      return ((band % 2) + 2) % 2;
    }
    default:
      return (z[0] as number) > 0 ? 1 : 0;
  }
}

interface Geometry {
  d: number;
  k: number;
  u: Float64Array;
  weights: Float64Array;
}

/** One example: latent from `latent`, transverse noise from `noise`, written at out[at..at+d). */
function drawExample(
  source: SubspaceSource,
  g: Geometry,
  latent: Rng,
  noise: Rng,
  out: Float32Array,
  at: number,
): number {
  const { d, k, u } = g;
  const z = new Float64Array(k);
  fillNormal(latent, z, 0, k);
  const n = new Float64Array(d);
  if (source.noiseSigma > 0) {
    fillNormal(noise, n, 0, d);
    // Remove the component inside the subspace: n <- n - U (U^T n).
    const c = new Float64Array(k);
    for (let i = 0; i < d; i++)
      for (let j = 0; j < k; j++) c[j] = (c[j] as number) + (u[i * k + j] as number) * (n[i] as number);
    for (let i = 0; i < d; i++) {
      let s = 0;
      for (let j = 0; j < k; j++) s += (u[i * k + j] as number) * (c[j] as number);
      n[i] = (n[i] as number) - s;
    }
  }
  for (let i = 0; i < d; i++) {
    let s = 0;
    for (let j = 0; j < k; j++) s += (u[i * k + j] as number) * (z[j] as number);
    out[at + i] = s + source.noiseSigma * (n[i] as number);
  }
  return subspaceLabel(source, z, g.weights);
}

function split(
  seed: number,
  name: string,
  n: number,
  source: SubspaceSource,
  g: Geometry,
  progress: ProgressFn,
): SplitData {
  const data = makeSplit(n, g.d);
  const latent = streamOf(seed, `${STREAM}.${name}.latent`);
  const noise = streamOf(seed, `${STREAM}.${name}.noise`);
  const step = Math.max(1, Math.floor(n / 50));
  for (let i = 0; i < n; i++) {
    data.y[i] = drawExample(source, g, latent, noise, data.x, i * g.d);
    if (i % step === 0) progress(i / n);
  }
  progress(1);
  return data;
}

/** `source` must be canonical (label resolved). */
export function subspaceDataset(seed: number, source: SubspaceSource, progress: ProgressFn): DatasetData {
  const d = source.ambientDimension;
  const k = source.subspaceDimension;
  const u = orthonormalBasis(streamOf(seed, `${STREAM}.basis`), d, k);
  const weights = new Float64Array(k);
  fillNormal(streamOf(seed, `${STREAM}.labelWeights`), weights, 0, k);
  const g: Geometry = { d, k, u, weights };
  const total = source.trainSize + source.testSize;
  const train = split(seed, 'train', source.trainSize, source, g, (f) =>
    progress((f * source.trainSize) / total),
  );
  const test = split(seed, 'test', source.testSize, source, g, (f) =>
    progress((source.trainSize + f * source.testSize) / total),
  );
  const pool = (candidate: number): PoolExample => {
    const rng = itemStream(seed, `${STREAM}.pool`, candidate);
    const x = new Float32Array(d);
    const y = drawExample(source, g, rng, rng, x, 0);
    return { x, y };
  };
  const auxiliary: DatasetData['auxiliary'] = new Map([
    ['basis', { dtype: 'float64', shape: [d, k], data: u }],
  ]);
  if (source.label === SubspaceLabel.SUBSPACE_LABEL_LINEAR) {
    auxiliary.set('label_weights', { dtype: 'float64', shape: [k], data: weights });
  }
  return {
    inputShape: [d],
    numClasses: 2,
    train,
    test,
    image: undefined,
    sourceTrain: train,
    pool,
    auxiliary,
    classNames: undefined,
    onlineLabelCorruption: 0,
    details: {},
  };
}
