// Seeded draws shared by sources and corruptions. Every consumer names its own stream, so adding a
// corruption never shifts the numbers another one draws (see @gengap/random).
import { hashWords, Rng, streamId } from '@gengap/random';

/** The generator of one named stream of a dataset's seed. */
export function streamOf(seed: number, name: string): Rng {
  return new Rng(seed, name);
}

/** A generator for item `index` of a named family (online examples, pool candidates...). */
export function itemStream(seed: number, name: string, index: number): Rng {
  const lo = index >>> 0;
  const hi = Math.floor(index / 2 ** 32) >>> 0;
  return new Rng(seed, hashWords(streamId(name), lo, hi));
}

/** Fills `out[offset..offset+count)` with N(mean, std^2) draws. */
export function fillNormal(
  rng: Rng,
  out: Float32Array | Float64Array,
  offset: number,
  count: number,
  mean = 0,
  std = 1,
): void {
  for (let i = offset, end = offset + count; i < end; i++) out[i] = mean + std * rng.normal();
}

/**
 * `k` distinct indices from [0, n), in the order drawn (a partial Fisher-Yates shuffle of 0..n-1,
 * so the first k of a full shuffle).
 */
export function drawDistinct(rng: Rng, n: number, k: number): Uint32Array {
  if (k > n) throw new RangeError(`cannot draw ${k} distinct of ${n}`);
  const pool = new Uint32Array(n);
  for (let i = 0; i < n; i++) pool[i] = i;
  for (let i = 0; i < k; i++) {
    const j = i + rng.int(n - i);
    const tmp = pool[i] as number;
    pool[i] = pool[j] as number;
    pool[j] = tmp;
  }
  return pool.slice(0, k);
}

/** Ascending copy of indices. */
export function sortedIndices(indices: ArrayLike<number>): Uint32Array {
  return Uint32Array.from(indices).sort();
}
