// Eigen-decomposition of real symmetric matrices: Householder reduction to tridiagonal form (tred2)
// and the implicit QL algorithm with Wilkinson-type shifts (tql2), after EISPACK via JAMA. The
// tridiagonal solver is what Lanczos and stochastic Lanczos quadrature need (Ritz values, the last
// row of the eigenvector matrix for residual norms, the first row for quadrature weights); the dense
// path is for exact reference spectra in tests and for very small parameter blocks.

export interface SymmetricEigen {
  /** Eigenvalues in ascending order. */
  values: Float64Array;
  /** n x n row-major: vectors[k * n + i] is component k of the eigenvector of values[i]. */
  vectors: Float64Array;
  n: number;
}

const EPS = 2 ** -52;
const MAX_QL_SWEEPS_PER_VALUE = 64;

/**
 * Implicit QL on a symmetric tridiagonal matrix. `d` (diagonal) and `e` (e[i] couples i and i+1,
 * e[n-1] = 0) are overwritten; `v` (n x n row-major) accumulates the rotations.
 */
function tql2(n: number, d: Float64Array, e: Float64Array, v: Float64Array): void {
  let f = 0;
  let tst1 = 0;
  for (let l = 0; l < n; l++) {
    tst1 = Math.max(tst1, Math.abs(d[l]!) + Math.abs(e[l]!));
    let m = l;
    while (m < n) {
      if (Math.abs(e[m]!) <= EPS * tst1) break;
      m++;
    }
    if (m > l) {
      let sweeps = 0;
      do {
        if (++sweeps > MAX_QL_SWEEPS_PER_VALUE) {
          throw new Error(`tridiagonal QL did not converge for eigenvalue ${l} of ${n}`);
        }
        let g = d[l]!;
        let p = (d[l + 1]! - g) / (2 * e[l]!);
        let r = Math.hypot(p, 1);
        if (p < 0) r = -r;
        d[l] = e[l]! / (p + r);
        d[l + 1] = e[l]! * (p + r);
        const dl1 = d[l + 1]!;
        let h = g - d[l]!;
        for (let i = l + 2; i < n; i++) d[i] = d[i]! - h;
        f += h;
        p = d[m]!;
        let c = 1;
        let c2 = c;
        let c3 = c;
        const el1 = e[l + 1]!;
        let s = 0;
        let s2 = 0;
        for (let i = m - 1; i >= l; i--) {
          c3 = c2;
          c2 = c;
          s2 = s;
          g = c * e[i]!;
          h = c * p;
          r = Math.hypot(p, e[i]!);
          e[i + 1] = s * r;
          s = e[i]! / r;
          c = p / r;
          p = c * d[i]! - s * g;
          d[i + 1] = h + s * (c * g + s * d[i]!);
          for (let k = 0; k < n; k++) {
            const row = k * n;
            h = v[row + i + 1]!;
            v[row + i + 1] = s * v[row + i]! + c * h;
            v[row + i] = c * v[row + i]! - s * h;
          }
        }
        p = (-s * s2 * c3 * el1 * e[l]!) / dl1;
        e[l] = s * p;
        d[l] = c * p;
      } while (Math.abs(e[l]!) > EPS * tst1);
    }
    d[l] = d[l]! + f;
    e[l] = 0;
  }
  sortAscending(n, d, v);
}

function sortAscending(n: number, d: Float64Array, v: Float64Array): void {
  for (let i = 0; i < n - 1; i++) {
    let k = i;
    let p = d[i]!;
    for (let j = i + 1; j < n; j++) {
      if (d[j]! < p) {
        k = j;
        p = d[j]!;
      }
    }
    if (k !== i) {
      d[k] = d[i]!;
      d[i] = p;
      for (let j = 0; j < n; j++) {
        const row = j * n;
        const t = v[row + i]!;
        v[row + i] = v[row + k]!;
        v[row + k] = t;
      }
    }
  }
}

/**
 * Eigenvalues (ascending) and orthonormal eigenvectors of the symmetric tridiagonal matrix with
 * `diagonal` (length n) and `offDiagonal` (length n - 1; entry i couples rows i and i + 1).
 */
export function tridiagonalEigen(
  diagonal: ArrayLike<number>,
  offDiagonal: ArrayLike<number>,
): SymmetricEigen {
  const n = diagonal.length;
  if (offDiagonal.length < n - 1) throw new RangeError('offDiagonal needs n - 1 entries');
  const d = Float64Array.from(diagonal);
  const e = new Float64Array(n);
  for (let i = 0; i < n - 1; i++) e[i] = offDiagonal[i]!;
  const v = new Float64Array(n * n);
  for (let i = 0; i < n; i++) v[i * n + i] = 1;
  if (n > 0) tql2(n, d, e, v);
  return { values: d, vectors: v, n };
}

/**
 * Eigen-decomposition of a dense symmetric matrix (row-major n x n; only symmetry is assumed, the
 * input is not modified). O(n^3): for reference spectra and small blocks.
 */
export function symmetricEigen(matrix: ArrayLike<number>, n: number): SymmetricEigen {
  if (matrix.length !== n * n) throw new RangeError(`matrix needs ${n * n} entries, has ${matrix.length}`);
  const v = Float64Array.from(matrix);
  const d = new Float64Array(n);
  const e = new Float64Array(n);
  if (n === 0) return { values: d, vectors: v, n };
  tred2(n, v, d, e);
  // tred2 leaves e[i] coupling i - 1 and i; tql2 wants e[i] coupling i and i + 1.
  for (let i = 1; i < n; i++) e[i - 1] = e[i]!;
  e[n - 1] = 0;
  tql2(n, d, e, v);
  return { values: d, vectors: v, n };
}

/** Householder tridiagonalisation; `v` holds the matrix on entry and the transformation on exit. */
function tred2(n: number, v: Float64Array, d: Float64Array, e: Float64Array): void {
  const at = (r: number, c: number) => r * n + c;
  for (let j = 0; j < n; j++) d[j] = v[at(n - 1, j)]!;
  for (let i = n - 1; i > 0; i--) {
    let scale = 0;
    let h = 0;
    for (let k = 0; k < i; k++) scale += Math.abs(d[k]!);
    if (scale === 0) {
      e[i] = d[i - 1]!;
      for (let j = 0; j < i; j++) {
        d[j] = v[at(i - 1, j)]!;
        v[at(i, j)] = 0;
        v[at(j, i)] = 0;
      }
    } else {
      for (let k = 0; k < i; k++) {
        d[k] = d[k]! / scale;
        h += d[k]! * d[k]!;
      }
      let f = d[i - 1]!;
      let g = Math.sqrt(h);
      if (f > 0) g = -g;
      e[i] = scale * g;
      h -= f * g;
      d[i - 1] = f - g;
      for (let j = 0; j < i; j++) e[j] = 0;
      for (let j = 0; j < i; j++) {
        f = d[j]!;
        v[at(j, i)] = f;
        g = e[j]! + v[at(j, j)]! * f;
        for (let k = j + 1; k <= i - 1; k++) {
          g += v[at(k, j)]! * d[k]!;
          e[k] = e[k]! + v[at(k, j)]! * f;
        }
        e[j] = g;
      }
      f = 0;
      for (let j = 0; j < i; j++) {
        e[j] = e[j]! / h;
        f += e[j]! * d[j]!;
      }
      const hh = f / (h + h);
      for (let j = 0; j < i; j++) e[j] = e[j]! - hh * d[j]!;
      for (let j = 0; j < i; j++) {
        f = d[j]!;
        g = e[j]!;
        for (let k = j; k <= i - 1; k++) v[at(k, j)] = v[at(k, j)]! - (f * e[k]! + g * d[k]!);
        d[j] = v[at(i - 1, j)]!;
        v[at(i, j)] = 0;
      }
    }
    d[i] = h;
  }
  for (let i = 0; i < n - 1; i++) {
    v[at(n - 1, i)] = v[at(i, i)]!;
    v[at(i, i)] = 1;
    const h = d[i + 1]!;
    if (h !== 0) {
      for (let k = 0; k <= i; k++) d[k] = v[at(k, i + 1)]! / h;
      for (let j = 0; j <= i; j++) {
        let g = 0;
        for (let k = 0; k <= i; k++) g += v[at(k, i + 1)]! * v[at(k, j)]!;
        for (let k = 0; k <= i; k++) v[at(k, j)] = v[at(k, j)]! - g * d[k]!;
      }
    }
    for (let k = 0; k <= i; k++) v[at(k, i + 1)] = 0;
  }
  for (let j = 0; j < n; j++) {
    d[j] = v[at(n - 1, j)]!;
    v[at(n - 1, j)] = 0;
  }
  v[at(n - 1, n - 1)] = 1;
  e[0] = 0;
}
