// The pure numerics against dense Float64 matrices with known spectra. Tolerances are stated per test.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Rng } from '@gengap/random';
import { filterNormalizedDirection } from '../src/numerics/directions.ts';
import { topEigenpairs } from '../src/numerics/lanczos.ts';
import { minimizeBoxConstrained } from '../src/numerics/lbfgsb.ts';
import { denseOperator, type SymmetricOperator } from '../src/numerics/operator.ts';
import { smoothedDensity, spectralDensity } from '../src/numerics/spectral-density.ts';
import { symmetricEigen, tridiagonalEigen } from '../src/numerics/symmetric-eigen.ts';
import { hutchinsonTrace, hutchPlusPlusTrace } from '../src/numerics/trace-estimators.ts';
import { dot, norm2 } from '../src/numerics/vector.ts';

function randomSymmetric(n: number, rng: Rng): Float64Array {
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      const v = rng.normal();
      a[i * n + j] = v;
      a[j * n + i] = v;
    }
  }
  return a;
}

/** Q diag(spectrum) Q^T with a random orthogonal Q (the eigenvectors of a random symmetric matrix). */
function withSpectrum(spectrum: number[], rng: Rng): Float64Array {
  const n = spectrum.length;
  const q = symmetricEigen(randomSymmetric(n, rng), n).vectors;
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let s = 0;
      for (let k = 0; k < n; k++) s += q[i * n + k]! * spectrum[k]! * q[j * n + k]!;
      a[i * n + j] = s;
      a[j * n + i] = s;
    }
  }
  return a;
}

/** A Hessian-like spectrum: a few large outliers, a bulk near zero, some small negative values. */
function hessianLikeSpectrum(n: number, rng: Rng): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    if (i < 12) out.push(50 / (i + 1) + rng.uniform());
    else if (i < n - 20) out.push(0.05 * rng.normal() ** 2);
    else out.push(-0.3 * rng.uniform());
  }
  return out;
}

function countingOperator(op: SymmetricOperator): SymmetricOperator & { calls: number } {
  const counted = {
    dimension: op.dimension,
    calls: 0,
    apply: async (v: Float64Array) => {
      counted.calls++;
      return op.apply(v);
    },
  };
  return counted;
}

describe('symmetric eigen-solvers', () => {
  test('dense: A V = V diag(values) and V^T V = I to 1e-11', () => {
    const n = 40;
    const a = randomSymmetric(n, new Rng(1));
    const { values, vectors } = symmetricEigen(a, n);
    for (let i = 1; i < n; i++) assert.ok(values[i - 1]! <= values[i]!);
    for (let c = 0; c < n; c++) {
      for (let r = 0; r < n; r++) {
        let av = 0;
        for (let k = 0; k < n; k++) av += a[r * n + k]! * vectors[k * n + c]!;
        assert.ok(Math.abs(av - values[c]! * vectors[r * n + c]!) < 1e-11, `residual at ${r},${c}`);
      }
      for (let c2 = 0; c2 < n; c2++) {
        let s = 0;
        for (let k = 0; k < n; k++) s += vectors[k * n + c]! * vectors[k * n + c2]!;
        assert.ok(Math.abs(s - (c === c2 ? 1 : 0)) < 1e-11);
      }
    }
  });

  test('tridiagonal solver agrees with the dense one on a tridiagonal matrix to 1e-12', () => {
    const n = 25;
    const rng = new Rng(2);
    const diag = Array.from({ length: n }, () => rng.normal());
    const off = Array.from({ length: n - 1 }, () => rng.normal());
    const dense = new Float64Array(n * n);
    for (let i = 0; i < n; i++) dense[i * n + i] = diag[i]!;
    for (let i = 0; i < n - 1; i++) {
      dense[i * n + i + 1] = off[i]!;
      dense[(i + 1) * n + i] = off[i]!;
    }
    const t = tridiagonalEigen(diag, off);
    const d = symmetricEigen(dense, n);
    for (let i = 0; i < n; i++) assert.ok(Math.abs(t.values[i]! - d.values[i]!) < 1e-12);
  });
});

describe('Lanczos with full reorthogonalisation', () => {
  test('top-10 and top-50 of a 300 x 300 Hessian-like matrix to 1e-9 relative; residual estimates are true', async () => {
    const n = 300;
    const rng = new Rng(3);
    const spectrum = hessianLikeSpectrum(n, rng);
    const a = withSpectrum(spectrum, rng);
    const exact = [...symmetricEigen(a, n).values].reverse();
    for (const k of [10, 50]) {
      const op = countingOperator(denseOperator(a, n));
      const result = await topEigenpairs(op, {
        k,
        maxIterations: 3 * k + 60,
        tolerance: 1e-10,
        rng: new Rng(4),
        returnVectors: true,
      });
      assert.equal(result.values.length, k);
      for (let i = 0; i < k; i++) {
        const rel = Math.abs(result.values[i]! - exact[i]!) / Math.abs(exact[i]!);
        assert.ok(rel < 1e-9, `k=${k} eigenvalue ${i}: ${result.values[i]} vs ${exact[i]} (rel ${rel})`);
        const y = result.vectors![i]!;
        const ay = await denseOperator(a, n).apply(y);
        let r2 = 0;
        for (let j = 0; j < n; j++) r2 += (ay[j]! - result.values[i]! * y[j]!) ** 2;
        // The Lanczos estimate |beta s_m| matches the explicit residual to rounding.
        assert.ok(Math.abs(Math.sqrt(r2) - result.residualNorms[i]!) < 1e-9 * exact[0]!);
        assert.ok(Math.abs(norm2(y) - 1) < 1e-12);
      }
      assert.equal(result.matvecs, op.calls);
      assert.ok(result.converged);
    }
  });

  test('an exhausted Krylov space restarts; with k = n every multiple copy is found', async () => {
    // A single Krylov sequence sees each distinct eigenvalue once (5 here); the restarts after each
    // invariant subspace supply the other copies. (With k < n Lanczos may stop before it has seen
    // every copy of a repeated eigenvalue: all Ritz residuals are zero. Exact multiplicities are
    // rare in Hessians; a block method would be needed to guarantee them.)
    const spectrum = [5, 5, 5, 3, 1, 1, 0.5, -2];
    const a = withSpectrum(spectrum, new Rng(5));
    const result = await topEigenpairs(denseOperator(a, 8), {
      k: 8,
      maxIterations: 8,
      tolerance: 1e-10,
      rng: new Rng(6),
    });
    assert.deepEqual(
      result.values.map((v) => Number(v.toFixed(9))),
      spectrum,
    );
  });
});

describe('stochastic Lanczos quadrature', () => {
  const n = 200;
  const rng = new Rng(7);
  const spectrum = hessianLikeSpectrum(n, rng);
  const a = withSpectrum(spectrum, rng);
  const m1 = spectrum.reduce((s, v) => s + v, 0) / n;
  const m2 = spectrum.reduce((s, v) => s + v * v, 0) / n;

  test('moment estimates are within 4 standard errors of tr(A)/n and tr(A^2)/n', async () => {
    const est = await spectralDensity(denseOperator(a, n), {
      probes: 30,
      lanczosSteps: 40,
      gridPoints: 500,
      kernelWidth: 0.01,
      rng: new Rng(8),
    });
    assert.ok(
      Math.abs(est.firstMoment - m1) < 4 * est.firstMomentStandardError,
      `${est.firstMoment} vs ${m1}`,
    );
    assert.ok(Math.abs(est.secondMoment - m2) < 4 * est.secondMomentStandardError);
    // The reported standard errors are honest: within a factor 2 of the exact standard deviation of a
    // Rademacher quadratic form, sqrt(2 (||B||_F^2 - sum_i B_ii^2) / probes) / n for B = A and A^2.
    const a2 = new Float64Array(n * n);
    for (let i = 0; i < n; i++)
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let k = 0; k < n; k++) s += a[i * n + k]! * a[k * n + j]!;
        a2[i * n + j] = s;
      }
    const exactSe = (b: Float64Array) => {
      let off = 0;
      for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) if (i !== j) off += b[i * n + j]! ** 2;
      return Math.sqrt((2 * off) / 30) / n;
    };
    for (const [reported, exact] of [
      [est.firstMomentStandardError, exactSe(a)],
      [est.secondMomentStandardError, exactSe(a2)],
    ] as const) {
      assert.ok(reported > exact / 2 && reported < exact * 2, `standard error ${reported} vs exact ${exact}`);
    }
    const w = est.weights.reduce((s, v) => s + v, 0);
    assert.ok(Math.abs(w - 1) < 1e-10);
    // The density integrates to 1 (trapezoid rule) to 1e-3.
    let integral = 0;
    for (let i = 1; i < est.grid.length; i++) {
      integral += 0.5 * (est.density[i]! + est.density[i - 1]!) * (est.grid[i]! - est.grid[i - 1]!);
    }
    assert.ok(Math.abs(integral - 1) < 1e-3, `integral ${integral}`);
  });

  test('with n steps the quadrature nodes are the exact eigenvalues and the density matches the smoothed exact spectrum', async () => {
    const small = 40;
    const r = new Rng(9);
    const spec = hessianLikeSpectrum(small, r);
    const b = withSpectrum(spec, r);
    const est = await spectralDensity(denseOperator(b, small), {
      probes: 200,
      lanczosSteps: small,
      gridPoints: 400,
      kernelWidth: 0.02,
      rng: new Rng(10),
    });
    const sorted = [...spec].sort((x, y) => x - y);
    for (const rule of est.perProbe) {
      assert.equal(rule.nodes.length, small);
      for (let i = 0; i < small; i++) assert.ok(Math.abs(rule.nodes[i]! - sorted[i]!) < 1e-8);
    }
    // L1 distance between the SLQ density and the exact spectrum smoothed on the same grid and
    // kernel: only the probe weights' sampling error remains (< 0.1 with 200 probes).
    const exact = smoothedDensity(sorted, new Float64Array(small).fill(1 / small), 400, 0.02);
    let l1 = 0;
    for (let i = 1; i < est.grid.length; i++) {
      const t = est.grid[i]!;
      let e = 0;
      for (const lam of sorted) e += Math.exp(-0.5 * ((t - lam) / est.sigma) ** 2);
      e /= small * est.sigma * Math.sqrt(2 * Math.PI);
      l1 += Math.abs(est.density[i]! - e) * (est.grid[i]! - est.grid[i - 1]!);
    }
    assert.ok(exact.sigma > 0);
    assert.ok(l1 < 0.1, `L1 distance ${l1}`);
  });
});

describe('trace estimators', () => {
  const n = 300;
  const rng = new Rng(11);
  const spectrum = hessianLikeSpectrum(n, rng);
  const a = withSpectrum(spectrum, rng);
  const trace = spectrum.reduce((s, v) => s + v, 0);

  test('Hutchinson and Hutch++ are within 4 standard errors; Hutch++ has the smaller error', async () => {
    const h = await hutchinsonTrace(denseOperator(a, n), { queries: 150, rng: new Rng(12) });
    const hpp = await hutchPlusPlusTrace(denseOperator(a, n), { queries: 150, rng: new Rng(12) });
    assert.equal(h.queries, 150);
    assert.equal(hpp.queries, 150);
    assert.ok(
      Math.abs(h.trace - trace) < 4 * h.standardError,
      `${h.trace} vs ${trace} (se ${h.standardError})`,
    );
    assert.ok(Math.abs(hpp.trace - trace) < 4 * hpp.standardError + 1e-9);
    assert.ok(hpp.standardError < h.standardError / 3, `${hpp.standardError} vs ${h.standardError}`);
  });
});

describe('L-BFGS-B', () => {
  test('Rosenbrock with x1 <= 0.5: reaches (0.5, 0.25), f = 0.25, to 1e-6', async () => {
    const result = await minimizeBoxConstrained(
      {
        lower: Float64Array.of(-2, -2),
        upper: Float64Array.of(0.5, 2),
        evaluate: async (x) => {
          const [x1, x2] = [x[0]!, x[1]!];
          return {
            value: (1 - x1) ** 2 + 100 * (x2 - x1 * x1) ** 2,
            gradient: Float64Array.of(-2 * (1 - x1) - 400 * x1 * (x2 - x1 * x1), 200 * (x2 - x1 * x1)),
          };
        },
      },
      Float64Array.of(-1.2, 1),
      { maxIterations: 200, projectedGradientTolerance: 1e-9, relativeReductionTolerance: 0 },
    );
    assert.ok(Math.abs(result.x[0]! - 0.5) < 1e-6);
    assert.ok(Math.abs(result.x[1]! - 0.25) < 1e-6);
    assert.ok(Math.abs(result.value - 0.25) < 1e-6);
  });

  test('a 500-dimensional convex quadratic with many active bounds meets the KKT conditions to 1e-6', async () => {
    const n = 500;
    const rng = new Rng(13);
    // A = B^T B / n + 0.1 I (well conditioned, coupled), b random: minimise 1/2 x^T A x - b^T x.
    const b = Array.from({ length: n }, () => 3 * rng.normal());
    const m = 60;
    const factor = Array.from({ length: m }, () => Float64Array.from({ length: n }, () => rng.normal()));
    const apply = (x: Float64Array) => {
      const out = new Float64Array(n);
      for (const row of factor) {
        const s = dot(row, x) / m;
        for (let i = 0; i < n; i++) out[i] = out[i]! + s * row[i]!;
      }
      for (let i = 0; i < n; i++) out[i] = out[i]! + 0.1 * x[i]!;
      return out;
    };
    const lower = new Float64Array(n).fill(-1);
    const upper = new Float64Array(n).fill(1);
    const result = await minimizeBoxConstrained(
      {
        lower,
        upper,
        evaluate: async (x) => {
          const ax = apply(x);
          const gradient = ax.map((v, i) => v - b[i]!);
          return { value: 0.5 * dot(x, ax) - dot(Float64Array.from(b), x), gradient };
        },
      },
      new Float64Array(n),
      { maxIterations: 500, projectedGradientTolerance: 1e-7, relativeReductionTolerance: 0 },
    );
    let active = 0;
    for (let i = 0; i < n; i++) {
      const x = result.x[i]!;
      const g = result.gradient[i]!;
      if (x <= -1 + 1e-12) {
        assert.ok(g >= -1e-6);
        active++;
      } else if (x >= 1 - 1e-12) {
        assert.ok(g <= 1e-6);
        active++;
      } else assert.ok(Math.abs(g) < 1e-6, `free coordinate ${i} has gradient ${g}`);
    }
    assert.ok(active > 50, `${active} active bounds`);
    // Quasi-Newton speed: far fewer iterations than the dimension (seen: 104 for condition ~150).
    assert.ok(result.iterations < 150, `${result.iterations} iterations`);
  });
});

describe('filter-normalised directions', () => {
  test('each filter of the direction has the norm of the parameter filter; biases get zero', () => {
    const rng = new Rng(14);
    // A dense weight [out=3, in=4] (filters are rows) and a bias [3].
    const params = Float64Array.from({ length: 15 }, () => rng.normal());
    const blocks = [
      { name: 'w', offset: 0, size: 12, shape: [3, 4], filterAxis: 0 },
      { name: 'b', offset: 12, size: 3, shape: [3], filterAxis: 0 },
    ];
    const d = filterNormalizedDirection(params, blocks, new Rng(15));
    for (let f = 0; f < 3; f++) {
      const pn = Math.hypot(...params.slice(4 * f, 4 * f + 4));
      const dn = Math.hypot(...d.slice(4 * f, 4 * f + 4));
      assert.ok(Math.abs(pn - dn) < 1e-12);
    }
    assert.deepEqual([...d.slice(12)], [0, 0, 0]);
  });
});
