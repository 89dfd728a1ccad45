// Small dense linear algebra (matrices of a few dozen rows: L-BFGS-B's 2m x 2m middle matrix, the
// p x p Gram matrix of a random subspace). Row-major Float64Array, n x n.

/** LU factorisation with partial pivoting; throws on a (numerically) singular matrix. */
export function luFactor(matrix: Float64Array, n: number): { lu: Float64Array; pivots: Int32Array } {
  const lu = Float64Array.from(matrix);
  const pivots = new Int32Array(n);
  let largest = 0;
  for (let i = 0; i < n * n; i++) largest = Math.max(largest, Math.abs(lu[i]!));
  for (let k = 0; k < n; k++) {
    let p = k;
    for (let i = k + 1; i < n; i++) if (Math.abs(lu[i * n + k]!) > Math.abs(lu[p * n + k]!)) p = i;
    pivots[k] = p;
    if (Math.abs(lu[p * n + k]!) <= 1e-300 + 1e-14 * largest) throw new RangeError('singular matrix');
    if (p !== k) {
      for (let j = 0; j < n; j++) {
        const t = lu[k * n + j]!;
        lu[k * n + j] = lu[p * n + j]!;
        lu[p * n + j] = t;
      }
    }
    const pivot = lu[k * n + k]!;
    for (let i = k + 1; i < n; i++) {
      const f = lu[i * n + k]! / pivot;
      lu[i * n + k] = f;
      if (f !== 0) for (let j = k + 1; j < n; j++) lu[i * n + j] = lu[i * n + j]! - f * lu[k * n + j]!;
    }
  }
  return { lu, pivots };
}

export function luSolve(
  factor: { lu: Float64Array; pivots: Int32Array },
  rhs: ArrayLike<number>,
): Float64Array {
  const { lu, pivots } = factor;
  const n = pivots.length;
  const x = Float64Array.from(rhs);
  for (let k = 0; k < n; k++) {
    const p = pivots[k]!;
    if (p !== k) {
      const t = x[k]!;
      x[k] = x[p]!;
      x[p] = t;
    }
  }
  for (let i = 0; i < n; i++) {
    let s = x[i]!;
    for (let j = 0; j < i; j++) s -= lu[i * n + j]! * x[j]!;
    x[i] = s;
  }
  for (let i = n - 1; i >= 0; i--) {
    let s = x[i]!;
    for (let j = i + 1; j < n; j++) s -= lu[i * n + j]! * x[j]!;
    x[i] = s / lu[i * n + i]!;
  }
  return x;
}

export function invert(matrix: Float64Array, n: number): Float64Array {
  const factor = luFactor(matrix, n);
  const out = new Float64Array(n * n);
  const e = new Float64Array(n);
  for (let c = 0; c < n; c++) {
    e.fill(0);
    e[c] = 1;
    const col = luSolve(factor, e);
    for (let r = 0; r < n; r++) out[r * n + c] = col[r]!;
  }
  return out;
}

/** y = M x for a row-major n x n matrix. */
export function matVec(matrix: Float64Array, x: ArrayLike<number>, n: number): Float64Array {
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let j = 0; j < n; j++) s += matrix[i * n + j]! * x[j]!;
    y[i] = s;
  }
  return y;
}

/** Cholesky factor L (lower, row-major) of a symmetric positive definite matrix. */
export function cholesky(matrix: Float64Array, n: number): Float64Array {
  const l = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let s = matrix[i * n + j]!;
      for (let k = 0; k < j; k++) s -= l[i * n + k]! * l[j * n + k]!;
      if (i === j) {
        if (!(s > 0)) throw new RangeError('matrix is not positive definite');
        l[i * n + i] = Math.sqrt(s);
      } else {
        l[i * n + j] = s / l[j * n + j]!;
      }
    }
  }
  return l;
}

/** Solves (L L^T) x = b given the Cholesky factor L. */
export function choleskySolve(l: Float64Array, b: ArrayLike<number>, n: number): Float64Array {
  const y = Float64Array.from(b);
  for (let i = 0; i < n; i++) {
    let s = y[i]!;
    for (let k = 0; k < i; k++) s -= l[i * n + k]! * y[k]!;
    y[i] = s / l[i * n + i]!;
  }
  for (let i = n - 1; i >= 0; i--) {
    let s = y[i]!;
    for (let k = i + 1; k < n; k++) s -= l[k * n + i]! * y[k]!;
    y[i] = s / l[i * n + i]!;
  }
  return y;
}
