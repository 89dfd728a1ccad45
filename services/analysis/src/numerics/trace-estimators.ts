// Stochastic trace estimators with their own error estimates.
//  - Hutchinson: tr(A) ~ mean of z^T A z over Rademacher z; standard error = sample std / sqrt(m).
//  - Hutch++ (Meyer, Musco, Musco & Woodruff 2021): a third of the products sketch the dominant
//    range Q = orth(A S), a third compute tr(Q^T A Q) exactly, the last third run Hutchinson on the
//    deflated (I - QQ^T) A (I - QQ^T), whose variance is far smaller when the spectrum decays (as a
//    Hessian's does). Its standard error is the deflated part's (the exact part has none given Q).
import type { Rng } from '@gengap/random';
import { type IterationHooks, type SymmetricOperator, throwIfAborted } from './operator.ts';
import { axpy, dot, fillRademacher, norm2, orthogonalizeAgainst, scale } from './vector.ts';

export interface TraceEstimate {
  trace: number;
  standardError: number;
  /** Matrix-vector products used. */
  queries: number;
  /** Rank of the exactly traced part (Hutch++), 0 for Hutchinson. */
  sketchRank: number;
}

export interface TraceOptions extends IterationHooks {
  queries: number;
  rng: Rng;
}

function sampleStandardError(samples: number[]): number {
  const n = samples.length;
  if (n < 2) return Number.NaN;
  const mean = samples.reduce((a, b) => a + b, 0) / n;
  const variance = samples.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1);
  return Math.sqrt(variance / n);
}

export async function hutchinsonTrace(op: SymmetricOperator, options: TraceOptions): Promise<TraceEstimate> {
  const samples: number[] = [];
  for (let i = 0; i < options.queries; i++) {
    throwIfAborted(options.signal);
    const z = fillRademacher(options.rng, new Float64Array(op.dimension));
    samples.push(dot(z, await op.apply(z)));
    await options.onStep?.(i + 1, options.queries);
  }
  const trace = samples.reduce((a, b) => a + b, 0) / samples.length;
  return { trace, standardError: sampleStandardError(samples), queries: samples.length, sketchRank: 0 };
}

/** Orthonormalises vectors in order, dropping those (numerically) in the span of earlier ones. */
function orthonormalBasis(vectors: Float64Array[]): Float64Array[] {
  const basis: Float64Array[] = [];
  for (const v of vectors) {
    const w = Float64Array.from(v);
    const before = norm2(w);
    if (!(before > 0)) continue;
    const after = orthogonalizeAgainst(w, basis);
    if (after > 1e-10 * before) {
      scale(1 / after, w);
      basis.push(w);
    }
  }
  return basis;
}

export async function hutchPlusPlusTrace(
  op: SymmetricOperator,
  options: TraceOptions,
): Promise<TraceEstimate> {
  const n = op.dimension;
  const m = options.queries;
  if (m < 3) return hutchinsonTrace(op, options);
  const sketchSize = Math.min(Math.floor(m / 3), n);
  let done = 0;
  const step = async () => {
    done++;
    await options.onStep?.(done, m);
  };
  const sketched: Float64Array[] = [];
  for (let i = 0; i < sketchSize; i++) {
    throwIfAborted(options.signal);
    sketched.push(await op.apply(fillRademacher(options.rng, new Float64Array(n))));
    await step();
  }
  const q = orthonormalBasis(sketched);
  let exactPart = 0;
  for (const qi of q) {
    throwIfAborted(options.signal);
    exactPart += dot(qi, await op.apply(qi));
    await step();
  }
  const samples: number[] = [];
  const remaining = m - sketchSize - q.length;
  for (let i = 0; i < remaining; i++) {
    throwIfAborted(options.signal);
    const g = fillRademacher(options.rng, new Float64Array(n));
    // (I - QQ^T) g, once: Q is orthonormal to working precision.
    for (const qi of q) axpy(-dot(qi, g), qi, g);
    samples.push(dot(g, await op.apply(g)));
    await step();
  }
  const deflated = samples.length > 0 ? samples.reduce((a, b) => a + b, 0) / samples.length : 0;
  return {
    trace: exactPart + deflated,
    standardError: samples.length > 0 ? sampleStandardError(samples) : 0,
    queries: done,
    sketchRank: q.length,
  };
}
