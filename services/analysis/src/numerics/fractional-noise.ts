// Fractional Gaussian noise (the increments of fractional Brownian motion) by the Davies-Harte method:
// exact, by circulant embedding of the autocovariance, sampled with one FFT. The R/S estimator uses it
// to calibrate its small-sample bias (hurst.ts); tests generate their fBm with an independent method.
import type { Rng } from '@gengap/random';

/** Autocovariance of unit fractional Gaussian noise at lag k. */
export function fgnAutocovariance(hurst: number, k: number): number {
  const h2 = 2 * hurst;
  return 0.5 * (Math.abs(k + 1) ** h2 - 2 * Math.abs(k) ** h2 + Math.abs(k - 1) ** h2);
}

/** In-place iterative radix-2 FFT (length a power of two), unnormalised, sign -1. */
export function fft(re: Float64Array, im: Float64Array): void {
  const n = re.length;
  for (let i = 1, j = 0; i < n; i++) {
    let bit = n >> 1;
    for (; j & bit; bit >>= 1) j ^= bit;
    j ^= bit;
    if (i < j) {
      [re[i], re[j]] = [re[j]!, re[i]!];
      [im[i], im[j]] = [im[j]!, im[i]!];
    }
  }
  for (let len = 2; len <= n; len <<= 1) {
    const angle = (-2 * Math.PI) / len;
    const wr = Math.cos(angle);
    const wi = Math.sin(angle);
    for (let start = 0; start < n; start += len) {
      let cr = 1;
      let ci = 0;
      for (let k = 0; k < len / 2; k++) {
        const a = start + k;
        const b = a + len / 2;
        const tr = re[b]! * cr - im[b]! * ci;
        const ti = re[b]! * ci + im[b]! * cr;
        re[b] = re[a]! - tr;
        im[b] = im[a]! - ti;
        re[a] = re[a]! + tr;
        im[a] = im[a]! + ti;
        const next = cr * wr - ci * wi;
        ci = cr * wi + ci * wr;
        cr = next;
      }
    }
  }
}

/**
 * Two independent fractional Gaussian noise series of length n (a power of two) and unit variance:
 * the real and imaginary parts of FFT(sqrt(lambda / 2n) * (xi + i eta)), lambda the eigenvalues of the
 * 2n circulant embedding of the autocovariance (all >= 0 for fGn).
 */
export function fractionalGaussianNoisePair(
  hurst: number,
  n: number,
  rng: Rng,
): [Float64Array, Float64Array] {
  const m = 2 * n;
  const re = new Float64Array(m);
  const im = new Float64Array(m);
  for (let k = 0; k <= n; k++) re[k] = fgnAutocovariance(hurst, k);
  for (let k = n + 1; k < m; k++) re[k] = re[m - k]!;
  fft(re, im);
  const wr = new Float64Array(m);
  const wi = new Float64Array(m);
  for (let k = 0; k < m; k++) {
    const lambda = re[k]!;
    if (lambda < -1e-9) throw new Error(`circulant embedding not non-negative (${lambda}) for H=${hurst}`);
    const s = Math.sqrt(Math.max(0, lambda) / m);
    wr[k] = s * rng.normal();
    wi[k] = s * rng.normal();
  }
  fft(wr, wi);
  return [wr.slice(0, n), wi.slice(0, n)];
}

/** `count` independent unit fractional Gaussian noise series of any `length` (prefixes of power-of-two draws). */
export function fractionalGaussianNoise(
  hurst: number,
  length: number,
  count: number,
  rng: Rng,
): Float64Array[] {
  let size = 1;
  while (size < length) size *= 2;
  const out: Float64Array[] = [];
  while (out.length < count) {
    for (const series of fractionalGaussianNoisePair(hurst, size, rng)) {
      if (out.length < count) out.push(series.subarray(0, length));
    }
  }
  return out;
}
