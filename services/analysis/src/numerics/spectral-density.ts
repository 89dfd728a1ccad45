// Spectral density by stochastic Lanczos quadrature (Lin, Saad & Yang 2016; Ghorbani et al. 2019):
// for a unit probe v, m Lanczos steps give the Gauss quadrature rule (nodes theta_i = Ritz values,
// weights tau_i = (first component of the Ritz vector)^2) of the spectral measure
// mu_v = sum_j (v . u_j)^2 delta(lambda_j); with random probes E[mu_v] is the empirical spectral
// distribution (1/n) sum_j delta(lambda_j). Averaging probes and smoothing each node with a Gaussian
// kernel gives the density. The rule is exact for polynomials of degree <= 2m - 1, so the moment
// estimates E[lambda^k] (k <= 2m - 1) carry only the probes' sampling error, reported as a standard error.
import type { Rng } from '@gengap/random';
import { lanczosDecomposition } from './lanczos.ts';
import type { IterationHooks, SymmetricOperator } from './operator.ts';
import { tridiagonalEigen } from './symmetric-eigen.ts';
import { fillRademacher } from './vector.ts';

export interface SpectralDensityOptions extends IterationHooks {
  probes: number;
  lanczosSteps: number;
  gridPoints: number;
  /** Kernel standard deviation relative to the spread of the quadrature nodes. */
  kernelWidth: number;
  rng: Rng;
}

export interface QuadratureRule {
  nodes: Float64Array;
  weights: Float64Array;
}

export interface SpectralDensityEstimate {
  grid: Float64Array;
  density: Float64Array;
  /** Nodes and weights of every probe, pooled; the weights sum to 1. */
  nodes: Float64Array;
  weights: Float64Array;
  perProbe: QuadratureRule[];
  /** Estimates of E[lambda] = tr(A)/n and E[lambda^2] = tr(A^2)/n, and their standard errors over probes. */
  firstMoment: number;
  secondMoment: number;
  firstMomentStandardError: number;
  secondMomentStandardError: number;
  /** Kernel standard deviation actually used (absolute). */
  sigma: number;
  matvecs: number;
}

/** The Gauss quadrature rule of the spectral measure of `op` at one probe vector. */
export async function lanczosQuadrature(
  op: SymmetricOperator,
  probe: Float64Array,
  steps: number,
  hooks: IterationHooks = {},
): Promise<QuadratureRule & { matvecs: number }> {
  const dec = await lanczosDecomposition(op, { start: probe, maxSteps: steps, ...hooks });
  const m = dec.alphas.length;
  const eig = tridiagonalEigen(dec.alphas, dec.betas.slice(0, m - 1));
  const weights = new Float64Array(m);
  for (let i = 0; i < m; i++) weights[i] = eig.vectors[i]! ** 2;
  return { nodes: eig.values, weights, matvecs: dec.matvecs };
}

function meanAndStandardError(samples: number[]): [number, number] {
  const n = samples.length;
  const mean = samples.reduce((a, b) => a + b, 0) / n;
  if (n < 2) return [mean, Number.NaN];
  const variance = samples.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1);
  return [mean, Math.sqrt(variance / n)];
}

/** Gaussian-smoothed density of a weighted point set on an evenly spaced grid. */
export function smoothedDensity(
  nodes: ArrayLike<number>,
  weights: ArrayLike<number>,
  gridPoints: number,
  kernelWidth: number,
): { grid: Float64Array; density: Float64Array; sigma: number } {
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < nodes.length; i++) {
    lo = Math.min(lo, nodes[i]!);
    hi = Math.max(hi, nodes[i]!);
  }
  const spread = hi - lo > 0 ? hi - lo : Math.max(Math.abs(hi), 1);
  const sigma = kernelWidth * spread;
  const pad = Math.max(5 * sigma, 0.01 * spread);
  const start = lo - pad;
  const step = gridPoints > 1 ? (hi + pad - start) / (gridPoints - 1) : 0;
  const grid = new Float64Array(gridPoints);
  const density = new Float64Array(gridPoints);
  const norm = 1 / (sigma * Math.sqrt(2 * Math.PI));
  for (let g = 0; g < gridPoints; g++) {
    const t = start + g * step;
    grid[g] = t;
    let s = 0;
    for (let i = 0; i < nodes.length; i++) {
      const z = (t - nodes[i]!) / sigma;
      if (z > -8 && z < 8) s += weights[i]! * Math.exp(-0.5 * z * z);
    }
    density[g] = s * norm;
  }
  return { grid, density, sigma };
}

export async function spectralDensity(
  op: SymmetricOperator,
  options: SpectralDensityOptions,
): Promise<SpectralDensityEstimate> {
  const n = op.dimension;
  const perProbe: QuadratureRule[] = [];
  const first: number[] = [];
  const second: number[] = [];
  let matvecs = 0;
  const planned = options.probes * Math.min(options.lanczosSteps, n);
  for (let p = 0; p < options.probes; p++) {
    const probe = fillRademacher(options.rng, new Float64Array(n));
    const base = matvecs;
    const rule = await lanczosQuadrature(op, probe, options.lanczosSteps, {
      signal: options.signal,
      onStep: (done) => options.onStep?.(base + done, planned),
    });
    matvecs += rule.matvecs;
    perProbe.push({ nodes: rule.nodes, weights: rule.weights });
    let m1 = 0;
    let m2 = 0;
    for (let i = 0; i < rule.nodes.length; i++) {
      m1 += rule.weights[i]! * rule.nodes[i]!;
      m2 += rule.weights[i]! * rule.nodes[i]! ** 2;
    }
    first.push(m1);
    second.push(m2);
  }
  const total = perProbe.reduce((a, r) => a + r.nodes.length, 0);
  const nodes = new Float64Array(total);
  const weights = new Float64Array(total);
  let at = 0;
  for (const rule of perProbe) {
    nodes.set(rule.nodes, at);
    for (let i = 0; i < rule.weights.length; i++) weights[at + i] = rule.weights[i]! / perProbe.length;
    at += rule.nodes.length;
  }
  const smooth = smoothedDensity(nodes, weights, options.gridPoints, options.kernelWidth);
  const [firstMoment, firstMomentStandardError] = meanAndStandardError(first);
  const [secondMoment, secondMomentStandardError] = meanAndStandardError(second);
  return {
    grid: smooth.grid,
    density: smooth.density,
    sigma: smooth.sigma,
    nodes,
    weights,
    perProbe,
    firstMoment,
    secondMoment,
    firstMomentStandardError,
    secondMomentStandardError,
    matvecs,
  };
}
