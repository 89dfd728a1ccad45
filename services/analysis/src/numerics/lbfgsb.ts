// L-BFGS-B (Byrd, Lu, Nocedal & Zhu 1995) for min f(x) subject to lower <= x <= upper, the method
// Keskar et al. used for epsilon-sharpness. Each iteration:
//  1. the generalized Cauchy point: the first local minimiser of the quadratic model along the
//     projected steepest-descent path, found by walking its breakpoints in order;
//  2. subspace minimisation of the model over the variables still free at the Cauchy point (direct
//     primal method with the compact representation B = theta I - W M W^T), projected back into the
//     box (Morales & Nocedal 2011), falling back to the truncated step when that is not descent;
//  3. a strong-Wolfe line search along the step, never leaving the box;
//  4. the limited-memory update, skipped when the curvature s^T y is not safely positive.
import { strongWolfeLineSearch } from './line-search.ts';
import { type IterationHooks, throwIfAborted } from './operator.ts';
import { invert, luFactor, luSolve, matVec } from './small-dense.ts';
import { dot, norm2 } from './vector.ts';

export interface BoxConstrainedProblem {
  lower: Float64Array;
  upper: Float64Array;
  evaluate(x: Float64Array): Promise<{ value: number; gradient: Float64Array }>;
}

export interface LbfgsbOptions extends IterationHooks {
  maxIterations: number;
  /** Corrections kept; 10 as in Keskar et al. and scipy. */
  memory?: number;
  maxEvaluations?: number;
  /** Stop when the infinity norm of the projected gradient is below this (scipy's pgtol, 1e-5). */
  projectedGradientTolerance?: number;
  /** Stop when (f_k - f_{k+1}) / max(|f_k|, |f_{k+1}|, 1) is below this (scipy's factr * eps). */
  relativeReductionTolerance?: number;
}

export type LbfgsbStopReason =
  | 'projected-gradient'
  | 'relative-reduction'
  | 'max-iterations'
  | 'max-evaluations'
  | 'line-search-failed';

export interface LbfgsbResult {
  x: Float64Array;
  value: number;
  gradient: Float64Array;
  iterations: number;
  evaluations: number;
  projectedGradientNorm: number;
  stopReason: LbfgsbStopReason;
  /** f after each iteration (index 0: the start point). */
  history: number[];
}

/** The limited-memory matrix B = theta I - W M W^T with W = [Y, theta S]. */
class CompactBfgs {
  readonly s: Float64Array[] = [];
  readonly y: Float64Array[] = [];
  theta = 1;
  /** 2m x 2m */
  m: Float64Array = new Float64Array(0);
  private sy: number[][] = [];
  private ss: number[][] = [];
  private readonly memory: number;

  constructor(memory: number) {
    this.memory = memory;
  }

  get size(): number {
    return this.s.length;
  }

  reset(): void {
    this.s.length = 0;
    this.y.length = 0;
    this.sy = [];
    this.ss = [];
    this.theta = 1;
    this.m = new Float64Array(0);
  }

  /** Adds (s, y) when s^T y > eps * y^T y; returns whether it did. */
  add(s: Float64Array, y: Float64Array): boolean {
    const sTy = dot(s, y);
    const yTy = dot(y, y);
    if (!(sTy > 2.2e-16 * yTy) || !Number.isFinite(sTy)) return false;
    if (this.s.length === this.memory) {
      this.s.shift();
      this.y.shift();
      this.sy.shift();
      this.ss.shift();
      for (const row of this.sy) row.shift();
      for (const row of this.ss) row.shift();
    }
    this.s.push(s);
    this.y.push(y);
    const k = this.s.length - 1;
    const syRow: number[] = [];
    const ssRow: number[] = [];
    for (let j = 0; j < k; j++) {
      syRow.push(dot(s, this.y[j]!));
      this.sy[j]!.push(dot(this.s[j]!, y));
      ssRow.push(dot(s, this.s[j]!));
      this.ss[j]!.push(ssRow[j]!);
    }
    syRow.push(sTy);
    ssRow.push(dot(s, s));
    this.sy.push(syRow);
    this.ss.push(ssRow);
    this.theta = yTy / sTy;
    this.rebuildMiddle();
    return true;
  }

  /** M = [[-D, L^T], [L, theta S^T S]]^{-1}. */
  private rebuildMiddle(): void {
    const k = this.s.length;
    const n2 = 2 * k;
    const middle = new Float64Array(n2 * n2);
    for (let i = 0; i < k; i++) {
      for (let j = 0; j < k; j++) {
        if (i === j) middle[i * n2 + j] = -this.sy[i]![i]!;
        if (i > j) middle[(k + i) * n2 + j] = this.sy[i]![j]!;
        if (j > i) middle[i * n2 + k + j] = this.sy[j]![i]!;
        middle[(k + i) * n2 + k + j] = this.theta * this.ss[i]![j]!;
      }
    }
    this.m = invert(middle, n2);
  }

  /** Row b of W: [y_1[b] ... y_k[b], theta s_1[b] ... theta s_k[b]]. */
  row(b: number, out: Float64Array): Float64Array {
    const k = this.s.length;
    for (let j = 0; j < k; j++) {
      out[j] = this.y[j]![b]!;
      out[k + j] = this.theta * this.s[j]![b]!;
    }
    return out;
  }

  /** W^T v */
  wTranspose(v: Float64Array): Float64Array {
    const k = this.s.length;
    const out = new Float64Array(2 * k);
    for (let j = 0; j < k; j++) {
      out[j] = dot(this.y[j]!, v);
      out[k + j] = this.theta * dot(this.s[j]!, v);
    }
    return out;
  }
}

function projectedGradientNorm(x: Float64Array, g: Float64Array, lower: Float64Array, upper: Float64Array) {
  let norm = 0;
  for (let i = 0; i < x.length; i++) {
    let gi = g[i]!;
    gi = gi < 0 ? Math.max(x[i]! - upper[i]!, gi) : Math.min(x[i]! - lower[i]!, gi);
    norm = Math.max(norm, Math.abs(gi));
  }
  return norm;
}

function clampInto(x: Float64Array, lower: Float64Array, upper: Float64Array): Float64Array {
  for (let i = 0; i < x.length; i++) x[i] = Math.min(upper[i]!, Math.max(lower[i]!, x[i]!));
  return x;
}

/** Algorithm CP of Byrd et al.: the generalized Cauchy point and c = W^T (xcp - x). */
function cauchyPoint(
  x: Float64Array,
  g: Float64Array,
  lower: Float64Array,
  upper: Float64Array,
  bfgs: CompactBfgs,
): { xcp: Float64Array; c: Float64Array } {
  const n = x.length;
  const k2 = 2 * bfgs.size;
  const theta = bfgs.theta;
  const t = new Float64Array(n);
  const d = new Float64Array(n);
  const order: number[] = [];
  for (let i = 0; i < n; i++) {
    const gi = g[i]!;
    let ti = Number.POSITIVE_INFINITY;
    if (gi < 0 && Number.isFinite(upper[i]!)) ti = (x[i]! - upper[i]!) / gi;
    else if (gi > 0 && Number.isFinite(lower[i]!)) ti = (x[i]! - lower[i]!) / gi;
    t[i] = ti;
    d[i] = ti === 0 ? 0 : -gi;
    if (ti > 0 && ti < Number.POSITIVE_INFINITY) order.push(i);
  }
  order.sort((a, b) => t[a]! - t[b]!);
  const xcp = Float64Array.from(x);
  const p = bfgs.wTranspose(d);
  const c = new Float64Array(k2);
  const mat = bfgs.m;
  const quad = (a: Float64Array, b: Float64Array) => (k2 === 0 ? 0 : dot(a, matVec(mat, b, k2)));
  let fp = -dot(d, d);
  let fpp = -theta * fp - quad(p, p);
  const fppFloor = 2.2e-16 * -theta * fp;
  fpp = Math.max(fpp, fppFloor);
  let dtMin = fpp > 0 ? -fp / fpp : 0;
  let tOld = 0;
  let next = 0;
  let tNext = order.length > 0 ? t[order[0]!]! : Number.POSITIVE_INFINITY;
  let dt = tNext;
  const wb = new Float64Array(k2);
  while (dtMin >= dt && next < order.length) {
    const b = order[next++]!;
    xcp[b] = d[b]! > 0 ? upper[b]! : lower[b]!;
    const zb = xcp[b]! - x[b]!;
    for (let j = 0; j < k2; j++) c[j] = c[j]! + dt * p[j]!;
    const gb = g[b]!;
    if (k2 > 0) bfgs.row(b, wb);
    const mwb = k2 > 0 ? matVec(mat, wb, k2) : wb;
    const wMc = k2 > 0 ? dot(mwb, c) : 0;
    const wMp = k2 > 0 ? dot(mwb, p) : 0;
    const wMw = k2 > 0 ? dot(mwb, wb) : 0;
    fp = fp + dt * fpp + gb * gb + theta * gb * zb - gb * wMc;
    fpp = Math.max(fppFloor, fpp - theta * gb * gb - 2 * gb * wMp - gb * gb * wMw);
    for (let j = 0; j < k2; j++) p[j] = p[j]! + gb * wb[j]!;
    d[b] = 0;
    dtMin = fpp > 0 ? -fp / fpp : 0;
    tOld = tNext;
    tNext = next < order.length ? t[order[next]!]! : Number.POSITIVE_INFINITY;
    dt = tNext - tOld;
  }
  dtMin = Math.max(dtMin, 0);
  if (!Number.isFinite(dtMin)) dtMin = 0;
  tOld += dtMin;
  for (let i = 0; i < n; i++) if (d[i] !== 0) xcp[i] = x[i]! + tOld * d[i]!;
  for (let j = 0; j < k2; j++) c[j] = c[j]! + dtMin * p[j]!;
  return { xcp: clampInto(xcp, lower, upper), c };
}

/** Direct primal subspace minimisation over the variables free at the Cauchy point. */
function subspaceStep(
  x: Float64Array,
  g: Float64Array,
  lower: Float64Array,
  upper: Float64Array,
  bfgs: CompactBfgs,
  xcp: Float64Array,
  c: Float64Array,
): { projected: Float64Array; truncated: Float64Array } {
  const n = x.length;
  const k = bfgs.size;
  const k2 = 2 * k;
  const theta = bfgs.theta;
  const mask = new Float64Array(n);
  let free = 0;
  for (let i = 0; i < n; i++) {
    if (xcp[i]! > lower[i]! && xcp[i]! < upper[i]!) {
      mask[i] = 1;
      free++;
    }
  }
  if (free === 0) return { projected: xcp, truncated: xcp };
  const mc = matVec(bfgs.m, c, k2);
  // Reduced gradient r = Z^T (g + theta (xcp - x) - W M c), kept as a full vector zero off Z.
  const r = new Float64Array(n);
  const wb = new Float64Array(k2);
  for (let i = 0; i < n; i++) {
    if (mask[i] === 0) continue;
    bfgs.row(i, wb);
    r[i] = g[i]! + theta * (xcp[i]! - x[i]!) - dot(wb, mc);
  }
  // W^T Z Z^T W from masked products of the columns of W = [Y, theta S].
  const columns: Float64Array[] = [...bfgs.y, ...bfgs.s];
  const weight = (j: number) => (j < k ? 1 : theta);
  const masked = columns.map((col) => col.map((v, i) => v * mask[i]!));
  const gram = new Float64Array(k2 * k2);
  for (let a = 0; a < k2; a++) {
    for (let b = a; b < k2; b++) {
      const v = weight(a) * weight(b) * dot(masked[a]!, columns[b]!);
      gram[a * k2 + b] = v;
      gram[b * k2 + a] = v;
    }
  }
  // v = M W^T Z r;  N = I - (1/theta) M W^T Z Z^T W;  v = N^{-1} v
  let v = matVec(bfgs.m, bfgs.wTranspose(r), k2);
  const mGram = new Float64Array(k2 * k2);
  for (let i = 0; i < k2; i++) {
    for (let j = 0; j < k2; j++) {
      let s = 0;
      for (let l = 0; l < k2; l++) s += bfgs.m[i * k2 + l]! * gram[l * k2 + j]!;
      mGram[i * k2 + j] = (i === j ? 1 : 0) - s / theta;
    }
  }
  v = luSolve(luFactor(mGram, k2), v);
  // d = -(1/theta) r - (1/theta^2) Z^T W v
  const du = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    if (mask[i] === 0) continue;
    bfgs.row(i, wb);
    du[i] = -r[i]! / theta - dot(wb, v) / (theta * theta);
  }
  const projected = Float64Array.from(xcp);
  let alpha = 1;
  for (let i = 0; i < n; i++) {
    if (mask[i] === 0) continue;
    projected[i] = Math.min(upper[i]!, Math.max(lower[i]!, xcp[i]! + du[i]!));
    if (du[i]! > 0) alpha = Math.min(alpha, (upper[i]! - xcp[i]!) / du[i]!);
    else if (du[i]! < 0) alpha = Math.min(alpha, (lower[i]! - xcp[i]!) / du[i]!);
  }
  const truncated = Float64Array.from(xcp);
  for (let i = 0; i < n; i++) if (mask[i] !== 0) truncated[i] = xcp[i]! + Math.max(alpha, 0) * du[i]!;
  return { projected, truncated: clampInto(truncated, lower, upper) };
}

function difference(a: Float64Array, b: Float64Array): Float64Array {
  const out = new Float64Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i]! - b[i]!;
  return out;
}

/** Minimises f over the box by L-BFGS-B, from x0 (clamped into the box). */
export async function minimizeBoxConstrained(
  problem: BoxConstrainedProblem,
  x0: Float64Array,
  options: LbfgsbOptions,
): Promise<LbfgsbResult> {
  const { lower, upper } = problem;
  const n = x0.length;
  if (lower.length !== n || upper.length !== n) throw new RangeError('bounds must match x0');
  for (let i = 0; i < n; i++) {
    if (!(lower[i]! <= upper[i]!)) throw new RangeError(`empty box at coordinate ${i}`);
  }
  const pgTolerance = options.projectedGradientTolerance ?? 1e-5;
  const reductionTolerance = options.relativeReductionTolerance ?? 1e7 * 2.2e-16;
  const maxEvaluations = options.maxEvaluations ?? Math.max(20, 4 * options.maxIterations + 20);
  const bfgs = new CompactBfgs(options.memory ?? 10);
  let x = clampInto(Float64Array.from(x0), lower, upper);
  throwIfAborted(options.signal);
  let { value: f, gradient: g } = await problem.evaluate(x);
  let evaluations = 1;
  if (!Number.isFinite(f)) throw new RangeError('objective is not finite at the start point');
  const history = [f];
  let iterations = 0;
  let stopReason: LbfgsbStopReason = 'max-iterations';
  let retriedWithoutMemory = false;
  while (iterations < options.maxIterations) {
    throwIfAborted(options.signal);
    if (projectedGradientNorm(x, g, lower, upper) <= pgTolerance) {
      stopReason = 'projected-gradient';
      break;
    }
    if (evaluations >= maxEvaluations) {
      stopReason = 'max-evaluations';
      break;
    }
    const { xcp, c } = cauchyPoint(x, g, lower, upper, bfgs);
    let target = xcp;
    if (bfgs.size > 0) {
      const step = subspaceStep(x, g, lower, upper, bfgs, xcp, c);
      target = dot(g, difference(step.projected, x)) < 0 ? step.projected : step.truncated;
    }
    let direction = difference(target, x);
    let slope = dot(g, direction);
    if (!(slope < 0)) {
      direction = difference(xcp, x);
      slope = dot(g, direction);
    }
    if (!(slope < 0)) {
      stopReason = 'projected-gradient';
      break;
    }
    const dnorm = norm2(direction);
    const initialStep = bfgs.size === 0 ? Math.min(1, 1 / dnorm) : 1;
    const base = x;
    const search = await strongWolfeLineSearch(
      async (t) => {
        const xt = new Float64Array(n);
        for (let i = 0; i < n; i++) xt[i] = base[i]! + t * direction[i]!;
        clampInto(xt, lower, upper);
        const out = await problem.evaluate(xt);
        return {
          step: t,
          value: out.value,
          slope: dot(out.gradient, direction),
          x: xt,
          gradient: out.gradient,
        };
      },
      { step: 0, value: f, slope },
      {
        initialStep,
        maxStep: 1,
        maxEvaluations: Math.max(1, Math.min(20, maxEvaluations - evaluations)),
        signal: options.signal,
      },
    );
    evaluations += search.evaluations;
    const accepted = search.point;
    if (!accepted) {
      if (bfgs.size > 0 && !retriedWithoutMemory) {
        bfgs.reset();
        retriedWithoutMemory = true;
        continue;
      }
      stopReason = evaluations >= maxEvaluations ? 'max-evaluations' : 'line-search-failed';
      break;
    }
    retriedWithoutMemory = false;
    const previous = f;
    bfgs.add(difference(accepted.x, x), difference(accepted.gradient, g));
    x = accepted.x;
    f = accepted.value;
    g = accepted.gradient;
    iterations++;
    history.push(f);
    await options.onStep?.(iterations, options.maxIterations);
    if ((previous - f) / Math.max(Math.abs(previous), Math.abs(f), 1) <= reductionTolerance) {
      stopReason = 'relative-reduction';
      break;
    }
  }
  return {
    x,
    value: f,
    gradient: g,
    iterations,
    evaluations,
    projectedGradientNorm: projectedGradientNorm(x, g, lower, upper),
    stopReason,
    history,
  };
}
