// Dense Float64 vector kernels used by the Krylov methods, the trace estimators and the optimizer.
// Plain loops over typed arrays, unrolled by four where a loop dominates (the Gram-Schmidt passes of
// Lanczos touch every stored basis vector at every iteration).
import type { Rng } from '@gengap/random';

export function dot(a: Float64Array, b: Float64Array): number {
  const n = a.length;
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let i = 0;
  for (; i + 3 < n; i += 4) {
    s0 += a[i]! * b[i]!;
    s1 += a[i + 1]! * b[i + 1]!;
    s2 += a[i + 2]! * b[i + 2]!;
    s3 += a[i + 3]! * b[i + 3]!;
  }
  for (; i < n; i++) s0 += a[i]! * b[i]!;
  return s0 + s1 + (s2 + s3);
}

export function norm2(a: Float64Array): number {
  return Math.sqrt(dot(a, a));
}

/** y += alpha * x */
export function axpy(alpha: number, x: Float64Array, y: Float64Array): void {
  const n = x.length;
  let i = 0;
  for (; i + 3 < n; i += 4) {
    y[i] = y[i]! + alpha * x[i]!;
    y[i + 1] = y[i + 1]! + alpha * x[i + 1]!;
    y[i + 2] = y[i + 2]! + alpha * x[i + 2]!;
    y[i + 3] = y[i + 3]! + alpha * x[i + 3]!;
  }
  for (; i < n; i++) y[i] = y[i]! + alpha * x[i]!;
}

export function scale(alpha: number, x: Float64Array): void {
  for (let i = 0; i < x.length; i++) x[i] = x[i]! * alpha;
}

/** Fills `out` with independent standard normal numbers. */
export function fillGaussian(rng: Rng, out: Float64Array): Float64Array {
  for (let i = 0; i < out.length; i++) out[i] = rng.normal();
  return out;
}

/** Fills `out` with independent +-1 signs (Rademacher), 32 signs per random word. */
export function fillRademacher(rng: Rng, out: Float64Array): Float64Array {
  let bits = 0;
  for (let i = 0; i < out.length; i++) {
    if ((i & 31) === 0) bits = rng.nextUint32();
    out[i] = bits & 1 ? 1 : -1;
    bits >>>= 1;
  }
  return out;
}

/** h_i = q_i . w for every basis vector, four vectors per sweep over `w` (one load of w[k] serves four). */
function basisCoefficients(w: Float64Array, basis: readonly Float64Array[]): Float64Array {
  const m = basis.length;
  const n = w.length;
  const h = new Float64Array(m);
  let i = 0;
  for (; i + 3 < m; i += 4) {
    const q0 = basis[i]!;
    const q1 = basis[i + 1]!;
    const q2 = basis[i + 2]!;
    const q3 = basis[i + 3]!;
    let s0 = 0;
    let s1 = 0;
    let s2 = 0;
    let s3 = 0;
    for (let k = 0; k < n; k++) {
      const wk = w[k]!;
      s0 += q0[k]! * wk;
      s1 += q1[k]! * wk;
      s2 += q2[k]! * wk;
      s3 += q3[k]! * wk;
    }
    h[i] = s0;
    h[i + 1] = s1;
    h[i + 2] = s2;
    h[i + 3] = s3;
  }
  for (; i < m; i++) h[i] = dot(basis[i]!, w);
  return h;
}

/** w -= sum_i h_i q_i, four vectors per sweep (one store of w[k] for four updates). */
function subtractCombination(w: Float64Array, basis: readonly Float64Array[], h: Float64Array): void {
  const m = basis.length;
  const n = w.length;
  let i = 0;
  for (; i + 3 < m; i += 4) {
    const q0 = basis[i]!;
    const q1 = basis[i + 1]!;
    const q2 = basis[i + 2]!;
    const q3 = basis[i + 3]!;
    const h0 = h[i]!;
    const h1 = h[i + 1]!;
    const h2 = h[i + 2]!;
    const h3 = h[i + 3]!;
    for (let k = 0; k < n; k++) w[k] = w[k]! - (h0 * q0[k]! + h1 * q1[k]! + h2 * q2[k]! + h3 * q3[k]!);
  }
  for (; i < m; i++) axpy(-h[i]!, basis[i]!, w);
}

/**
 * Orthogonalises `w` in place against the orthonormal vectors `basis` by classical Gram-Schmidt,
 * repeated once when the norm drops by more than 1/sqrt(2) (the Daniel-Gragg-Kaufman-Stewart
 * criterion: "twice is enough"). Returns the norm of `w` afterwards.
 */
export function orthogonalizeAgainst(w: Float64Array, basis: readonly Float64Array[]): number {
  let before = norm2(w);
  for (let pass = 0; pass < 2; pass++) {
    subtractCombination(w, basis, basisCoefficients(w, basis));
    const after = norm2(w);
    if (after > before * Math.SQRT1_2) return after;
    before = after;
  }
  return before;
}

/** Linear combination sum_j c[j] * basis[j], for Ritz vectors. */
export function combine(basis: readonly Float64Array[], coefficients: ArrayLike<number>): Float64Array {
  const out = new Float64Array(basis[0]?.length ?? 0);
  for (let j = 0; j < basis.length; j++) {
    const c = coefficients[j] ?? 0;
    if (c !== 0) axpy(c, basis[j]!, out);
  }
  return out;
}
