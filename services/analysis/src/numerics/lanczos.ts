// Lanczos with full reorthogonalisation: every new Krylov vector is orthogonalised against the whole
// stored basis (classical Gram-Schmidt, repeated when the DGKS test asks), so the tridiagonal matrix
// T has no spurious copies of converged eigenvalues ("ghosts") and the residual bound
// ||A y - theta y|| = |beta_m s_m| of each Ritz pair is a reliable error estimate.
import type { Rng } from '@gengap/random';
import { type IterationHooks, type SymmetricOperator, throwIfAborted } from './operator.ts';
import { tridiagonalEigen } from './symmetric-eigen.ts';
import { axpy, combine, dot, fillGaussian, norm2, orthogonalizeAgainst, scale } from './vector.ts';

/** The Krylov decomposition A Q_m = Q_m T_m + beta_m q_{m+1} e_m^T after m steps. */
export interface LanczosDecomposition {
  /** Diagonal of T (length m). */
  alphas: number[];
  /** Off-diagonal of T (length m - 1); 0 where the process was restarted after an invariant subspace. */
  betas: number[];
  /** beta_m: the coupling to the next (not stored) Krylov vector; 0 after an exact breakdown. */
  residualBeta: number;
  /** Orthonormal basis Q_m (m vectors). */
  basis: Float64Array[];
  matvecs: number;
  /** True when the Krylov space became invariant and the process stopped (no restart). */
  exhausted: boolean;
}

export interface LanczosStepOptions extends IterationHooks {
  /** Start vector (normalised here). */
  start: Float64Array;
  maxSteps: number;
  /**
   * After an invariant subspace is found, continue from a fresh random vector orthogonal to the basis
   * (eigenvalue problems), instead of stopping (quadrature, where the breakdown makes it exact).
   */
  restartRng?: Rng | undefined;
  /** Checked after every step; returning true stops the process. */
  shouldStop?: ((decomposition: LanczosDecomposition) => boolean) | undefined;
}

/** Relative size of beta below which the Krylov space is taken to be invariant. */
const BREAKDOWN = 1e-10;

export async function lanczosDecomposition(
  op: SymmetricOperator,
  options: LanczosStepOptions,
): Promise<LanczosDecomposition> {
  const n = op.dimension;
  const maxSteps = Math.min(options.maxSteps, n);
  const q0 = Float64Array.from(options.start);
  const q0norm = norm2(q0);
  if (!(q0norm > 0) || !Number.isFinite(q0norm))
    throw new RangeError('Lanczos start vector must be non-zero');
  scale(1 / q0norm, q0);
  const dec: LanczosDecomposition = {
    alphas: [],
    betas: [],
    residualBeta: 0,
    basis: [q0],
    matvecs: 0,
    exhausted: false,
  };
  let normEstimate = 0;
  for (let j = 0; j < maxSteps; j++) {
    throwIfAborted(options.signal);
    const q = dec.basis[j]!;
    // apply() returns a fresh array (the operator contract), so it is ours to overwrite.
    const w = await op.apply(q);
    dec.matvecs++;
    if (w.length !== n) throw new RangeError(`operator returned ${w.length} values, expected ${n}`);
    if (j > 0) axpy(-dec.betas[j - 1]!, dec.basis[j - 1]!, w);
    const alpha = dot(q, w);
    axpy(-alpha, q, w);
    const beta = orthogonalizeAgainst(w, dec.basis);
    if (!Number.isFinite(alpha) || !Number.isFinite(beta)) {
      throw new RangeError(`non-finite value in Lanczos step ${j + 1} (alpha ${alpha}, beta ${beta})`);
    }
    dec.alphas.push(alpha);
    normEstimate = Math.max(normEstimate, Math.abs(alpha) + beta + (j > 0 ? dec.betas[j - 1]! : 0));
    const invariant = beta <= BREAKDOWN * normEstimate || dec.basis.length === n;
    dec.residualBeta = invariant ? 0 : beta;
    const last = j + 1 === maxSteps;
    let next: Float64Array | undefined;
    if (invariant) {
      if (!options.restartRng || dec.basis.length === n) {
        dec.exhausted = true;
        await options.onStep?.(j + 1, maxSteps);
        break;
      }
      next = freshOrthogonalVector(n, dec.basis, options.restartRng);
    } else {
      next = w;
      scale(1 / beta, next);
    }
    const stop = options.shouldStop?.(dec) ?? false;
    await options.onStep?.(j + 1, maxSteps);
    if (stop || last) break;
    dec.betas.push(invariant ? 0 : beta);
    dec.basis.push(next);
  }
  return dec;
}

function freshOrthogonalVector(n: number, basis: readonly Float64Array[], rng: Rng): Float64Array {
  for (let attempt = 0; attempt < 8; attempt++) {
    const v = fillGaussian(rng, new Float64Array(n));
    const before = norm2(v);
    const after = orthogonalizeAgainst(v, basis);
    if (after > 1e-8 * before) {
      scale(1 / after, v);
      return v;
    }
  }
  throw new Error('could not extend the Krylov basis with a random vector');
}

export interface TopEigenOptions extends IterationHooks {
  /** Number of largest (algebraic) eigenvalues wanted. */
  k: number;
  maxIterations: number;
  /** Converged when every wanted Ritz pair has residual norm <= tolerance * |theta|. */
  tolerance: number;
  rng: Rng;
  /** Start vector (normalised here); a seeded Gaussian from `rng` when absent. */
  start?: Float64Array | undefined;
  returnVectors?: boolean;
}

export interface TopEigenResult {
  /** Largest Ritz values, descending. */
  values: number[];
  /** ||A y_i - theta_i y_i|| estimated as |beta_m s_{m,i}| (exact in exact arithmetic). */
  residualNorms: number[];
  /** Unit Ritz vectors, when requested. */
  vectors: Float64Array[] | undefined;
  iterations: number;
  matvecs: number;
  converged: boolean;
}

interface RitzPairs {
  values: number[];
  residualNorms: number[];
  /** Coefficients of each wanted Ritz vector in the Lanczos basis. */
  coefficients: Float64Array[];
}

function wantedRitzPairs(dec: LanczosDecomposition, k: number): RitzPairs {
  const m = dec.alphas.length;
  const eig = tridiagonalEigen(dec.alphas, dec.betas.slice(0, m - 1));
  const values: number[] = [];
  const residualNorms: number[] = [];
  const coefficients: Float64Array[] = [];
  for (let r = 0; r < Math.min(k, m); r++) {
    const i = m - 1 - r;
    values.push(eig.values[i]!);
    residualNorms.push(Math.abs(dec.residualBeta * eig.vectors[(m - 1) * m + i]!));
    const s = new Float64Array(m);
    for (let row = 0; row < m; row++) s[row] = eig.vectors[row * m + i]!;
    coefficients.push(s);
  }
  return { values, residualNorms, coefficients };
}

function allConverged(pairs: RitzPairs, k: number, tolerance: number): boolean {
  if (pairs.values.length < k) return false;
  const largest = Math.max(...pairs.values.map(Math.abs));
  return pairs.values.every(
    (theta, i) => pairs.residualNorms[i]! <= tolerance * Math.max(Math.abs(theta), 1e-12 * largest),
  );
}

/**
 * The k largest eigenvalues of a symmetric operator (and optionally their eigenvectors) by Lanczos
 * with full reorthogonalisation, stopping as soon as every wanted Ritz pair meets the residual test.
 */
export async function topEigenpairs(
  op: SymmetricOperator,
  options: TopEigenOptions,
): Promise<TopEigenResult> {
  const n = op.dimension;
  const k = Math.min(options.k, n);
  const start = options.start ?? fillGaussian(options.rng, new Float64Array(n));
  let converged = false;
  const dec = await lanczosDecomposition(op, {
    start,
    maxSteps: Math.max(options.maxIterations, k),
    restartRng: options.rng,
    signal: options.signal,
    onStep: options.onStep,
    shouldStop: (d) => {
      if (d.alphas.length < k) return false;
      converged = allConverged(wantedRitzPairs(d, k), k, options.tolerance);
      return converged;
    },
  });
  const pairs = wantedRitzPairs(dec, k);
  converged = allConverged(pairs, k, options.tolerance);
  const m = dec.alphas.length;
  const basis = dec.basis.slice(0, m);
  let vectors: Float64Array[] | undefined;
  if (options.returnVectors) {
    vectors = [];
    for (const s of pairs.coefficients) {
      vectors.push(combine(basis, s));
      // Each Ritz vector is m x n work: give the caller a chance to yield between them.
      await options.onStep?.(m, m);
    }
  }
  return {
    values: pairs.values,
    residualNorms: pairs.residualNorms,
    vectors,
    iterations: m,
    matvecs: dec.matvecs,
    converged,
  };
}
