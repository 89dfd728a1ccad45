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

/**
 * Orthogonalises `w` in place against the orthonormal vectors `basis` by classical Gram-Schmidt,
 * repeated once when the norm drops by more than 1/sqrt(2) (the Daniel-Gragg-Kaufman-Stewart
 * criterion: "twice is enough"). Returns the norm of `w` afterwards.
 */
export function orthogonalizeAgainst(w: Float64Array, basis: readonly Float64Array[]): number {
  let before = norm2(w);
  for (let pass = 0; pass < 2; pass++) {
    const coefficients = basis.map((q) => dot(q, w));
    for (let j = 0; j < basis.length; j++) axpy(-coefficients[j]!, basis[j]!, w);
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
