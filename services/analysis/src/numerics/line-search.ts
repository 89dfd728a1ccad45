// A line search that finds a step satisfying the strong Wolfe conditions (Nocedal & Wright,
// Algorithms 3.5 and 3.6: bracketing, then zoom with safeguarded cubic interpolation), never
// stepping past `maxStep` (the feasibility limit of a bound-constrained method).
import { throwIfAborted } from './operator.ts';

export interface LinePoint {
  step: number;
  value: number;
  /** Directional derivative phi'(step) = g(x + step d) . d */
  slope: number;
}

export interface LineSearchOptions {
  initialStep: number;
  maxStep: number;
  /** Sufficient decrease (Armijo) constant; L-BFGS-B uses 1e-3. */
  c1?: number;
  /** Curvature constant; 0.9 for quasi-Newton methods. */
  c2?: number;
  maxEvaluations?: number;
  signal?: AbortSignal | undefined;
}

export interface LineSearchResult<P extends LinePoint> {
  /** The accepted point, or the best point with sufficient decrease; undefined when none was found. */
  point: P | undefined;
  /** True when the strong Wolfe conditions hold (or the step reached maxStep with sufficient decrease). */
  satisfied: boolean;
  evaluations: number;
}

function cubicMinimizer(a: LinePoint, b: LinePoint): number {
  const d1 = a.slope + b.slope - (3 * (a.value - b.value)) / (a.step - b.step);
  const radicand = d1 * d1 - a.slope * b.slope;
  if (!(radicand >= 0)) return Number.NaN;
  const d2 = Math.sign(b.step - a.step) * Math.sqrt(radicand);
  return b.step - ((b.step - a.step) * (b.slope + d2 - d1)) / (b.slope - a.slope + 2 * d2);
}

export async function strongWolfeLineSearch<P extends LinePoint>(
  phi: (step: number) => Promise<P>,
  start: LinePoint,
  options: LineSearchOptions,
): Promise<LineSearchResult<P>> {
  const c1 = options.c1 ?? 1e-3;
  const c2 = options.c2 ?? 0.9;
  const maxEvaluations = options.maxEvaluations ?? 20;
  const f0 = start.value;
  const d0 = start.slope;
  if (!(d0 < 0)) throw new RangeError(`line search needs a descent direction (slope ${d0})`);
  let evaluations = 0;
  let best: P | undefined;
  const evaluate = async (step: number): Promise<{ point: P; armijo: boolean }> => {
    throwIfAborted(options.signal);
    const point = await phi(step);
    evaluations++;
    const armijo = Number.isFinite(point.value) && point.value <= f0 + c1 * step * d0;
    if (armijo && (!best || point.value < best.value)) best = point;
    return { point, armijo };
  };
  const curvatureHolds = (p: LinePoint) => Math.abs(p.slope) <= -c2 * d0;

  const zoom = async (loIn: LinePoint, hiIn: LinePoint): Promise<LineSearchResult<P>> => {
    let lo = loIn;
    let hi = hiIn;
    while (evaluations < maxEvaluations) {
      const left = Math.min(lo.step, hi.step);
      const width = Math.abs(hi.step - lo.step);
      if (width <= 1e-14 * Math.max(1, Math.abs(lo.step))) break;
      let trial = cubicMinimizer(lo, hi);
      if (!Number.isFinite(trial) || trial < left + 0.1 * width || trial > left + 0.9 * width) {
        trial = left + 0.5 * width;
      }
      const { point, armijo } = await evaluate(trial);
      if (!armijo || point.value >= lo.value) {
        hi = point;
      } else {
        if (curvatureHolds(point)) return { point, satisfied: true, evaluations };
        if (point.slope * (hi.step - lo.step) >= 0) hi = lo;
        lo = point;
      }
    }
    return { point: best, satisfied: false, evaluations };
  };

  let previous: LinePoint = start;
  let step = Math.min(options.initialStep, options.maxStep);
  while (evaluations < maxEvaluations) {
    const { point, armijo } = await evaluate(step);
    if (!armijo || (evaluations > 1 && point.value >= previous.value)) return zoom(previous, point);
    if (curvatureHolds(point)) return { point, satisfied: true, evaluations };
    if (point.slope >= 0) return zoom(point, previous);
    if (step >= options.maxStep) return { point, satisfied: true, evaluations };
    previous = point;
    step = Math.min(options.maxStep, 2 * step);
  }
  return { point: best, satisfied: false, evaluations };
}
