// Fractional Brownian motion of known Hurst exponent for the trajectory tests, by Hosking's method:
// the exact Cholesky factorisation of the fractional Gaussian noise covariance, done row by row with
// the Durbin-Levinson recursion (O(n^2), shared by all paths). Independent of the Davies-Harte sampler
// the service's R/S calibration uses, so a mistake there cannot cancel out here.
import { Rng } from '@gengap/random';

/** Autocovariance of unit fractional Gaussian noise at lag k. */
export function fgnCovariance(hurst: number, k: number): number {
  const h2 = 2 * hurst;
  return 0.5 * (Math.abs(k + 1) ** h2 - 2 * Math.abs(k) ** h2 + Math.abs(k - 1) ** h2);
}

/** `dimensions` independent fBm paths X_0 = 0, X_1..X_n (length n + 1), seeded. */
export function fractionalBrownianPaths(
  hurst: number,
  n: number,
  dimensions: number,
  seed: number,
): Float64Array[] {
  const rng = new Rng(seed, `fbm:${hurst}`);
  const gamma = Float64Array.from({ length: n }, (_, k) => fgnCovariance(hurst, k));
  const noise = Array.from({ length: dimensions }, () => new Float64Array(n));
  let phi = new Float64Array(n);
  let next = new Float64Array(n);
  let variance = gamma[0]!;
  for (const x of noise) x[0] = Math.sqrt(variance) * rng.normal();
  for (let t = 1; t < n; t++) {
    // phi_{t,t} = (gamma(t) - sum_j phi_{t-1,j} gamma(t - j)) / v_{t-1}; phi_{t,j} = phi_{t-1,j} - phi_{t,t} phi_{t-1,t-j}.
    let s = gamma[t]!;
    for (let j = 1; j < t; j++) s -= phi[j]! * gamma[t - j]!;
    const reflection = s / variance;
    for (let j = 1; j < t; j++) next[j] = phi[j]! - reflection * phi[t - j]!;
    next[t] = reflection;
    [phi, next] = [next, phi];
    variance *= 1 - reflection * reflection;
    const sd = Math.sqrt(variance);
    for (const x of noise) {
      let mean = 0;
      for (let j = 1; j <= t; j++) mean += phi[j]! * x[t - j]!;
      x[t] = mean + sd * rng.normal();
    }
  }
  return noise.map((x) => {
    const path = new Float64Array(n + 1);
    for (let t = 0; t < n; t++) path[t + 1] = path[t]! + x[t]!;
    return path;
  });
}
