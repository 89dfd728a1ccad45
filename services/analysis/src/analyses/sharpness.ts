// SHARPNESS: the epsilon-sharpness of Keskar et al. (2017),
//   phi = (max_{y in C} f(x + A y) - f(x)) / (1 + f(x)) * 100,
// with C the box |y_i| <= epsilon (|z_i| + 1), z = x and A = I in the full space, or z = A^+ x for a
// random n x p matrix A (i.i.d. standard normal entries, seeded) in a random subspace. The maximum is
// found by L-BFGS-B (bound-constrained quasi-Newton with a generalized Cauchy point and a strong-Wolfe
// line search), from a seeded uniform point of the box per restart; the largest value over restarts
// is reported. f is the mean loss over the analysed examples.
import { InvalidArgumentError } from '@gengap/service-kit';
import type { AnalysisModel } from '../inputs/analysis-model.ts';
import type { ExampleSet } from '../inputs/examples.ts';
import { minimizeBoxConstrained } from '../numerics/lbfgsb.ts';
import { cholesky, choleskySolve } from '../numerics/small-dense.ts';
import { requireAtMost, requireNonNegative } from './checks.ts';
import { defineKind } from './kind.ts';
import { lineChart, type Row } from './plots.ts';

const FIELD = 'spec.sharpness';
/** Largest random subspace basis kept in memory (float32 entries: 512 MiB). */
export const MAX_SUBSPACE_ENTRIES = 2 ** 27;

/** A seeded random n x p matrix with its pseudo-inverse action, stored column by column in float32. */
export class RandomSubspace {
  readonly n: number;
  readonly p: number;
  private readonly columns: Float32Array[];

  private constructor(n: number, columns: Float32Array[]) {
    this.n = n;
    this.p = columns.length;
    this.columns = columns;
  }

  /** Draws the p columns in order from `normal`, yielding between columns. */
  static async draw(
    n: number,
    p: number,
    normal: () => number,
    yieldNow: () => Promise<void>,
  ): Promise<RandomSubspace> {
    const columns: Float32Array[] = [];
    for (let j = 0; j < p; j++) {
      const c = new Float32Array(n);
      for (let i = 0; i < n; i++) c[i] = normal();
      columns.push(c);
      await yieldNow();
    }
    return new RandomSubspace(n, columns);
  }

  /** A z */
  apply(z: Float64Array): Float64Array {
    const out = new Float64Array(this.n);
    for (let j = 0; j < this.p; j++) {
      const c = this.columns[j]!;
      const zj = z[j]!;
      if (zj === 0) continue;
      for (let i = 0; i < this.n; i++) out[i] = out[i]! + zj * c[i]!;
    }
    return out;
  }

  /** A^T g */
  transpose(g: ArrayLike<number>): Float64Array {
    const out = new Float64Array(this.p);
    for (let j = 0; j < this.p; j++) {
      const c = this.columns[j]!;
      let s = 0;
      for (let i = 0; i < this.n; i++) s += c[i]! * g[i]!;
      out[j] = s;
    }
    return out;
  }

  /** A^+ x = (A^T A)^{-1} A^T x (A has full column rank with probability 1). */
  async pseudoInverse(x: ArrayLike<number>, yieldNow: () => Promise<void>): Promise<Float64Array> {
    const p = this.p;
    const gram = new Float64Array(p * p);
    for (let a = 0; a < p; a++) {
      const ca = this.columns[a]!;
      for (let b = a; b < p; b++) {
        const cb = this.columns[b]!;
        let s = 0;
        for (let i = 0; i < this.n; i++) s += ca[i]! * cb[i]!;
        gram[a * p + b] = s;
        gram[b * p + a] = s;
      }
      await yieldNow();
    }
    return choleskySolve(cholesky(gram, p), this.transpose(x), p);
  }
}

interface RestartOutcome {
  restart: number;
  maxLoss: number;
  iterations: number;
  evaluations: number;
  stopReason: string;
  fractionAtBound: number;
  history: number[];
}

async function maximiseInBox(
  model: AnalysisModel,
  examples: ExampleSet,
  options: {
    x: Float64Array;
    subspace: RandomSubspace | undefined;
    bound: Float64Array;
    maxIterations: number;
    start: Float64Array;
    signal: AbortSignal;
    onStep: (done: number, planned: number) => Promise<void>;
  },
): Promise<Omit<RestartOutcome, 'restart'>> {
  const { x, subspace, bound } = options;
  const dim = bound.length;
  const lower = bound.map((b) => -b);
  const point = new Float64Array(x.length);
  const result = await minimizeBoxConstrained(
    {
      lower,
      upper: bound,
      evaluate: async (y) => {
        const perturbation = subspace ? subspace.apply(y) : y;
        for (let i = 0; i < x.length; i++) point[i] = x[i]! + perturbation[i]!;
        const { loss, gradient } = await model.lossAndGradient(examples, point);
        const g = subspace ? subspace.transpose(gradient) : gradient;
        for (let i = 0; i < g.length; i++) g[i] = -g[i]!;
        return { value: -loss, gradient: g };
      },
    },
    options.start,
    { maxIterations: options.maxIterations, signal: options.signal, onStep: options.onStep },
  );
  let atBound = 0;
  for (let i = 0; i < dim; i++)
    if (Math.abs(Math.abs(result.x[i]!) - bound[i]!) <= 1e-12 * bound[i]!) atBound++;
  return {
    maxLoss: -result.value,
    iterations: result.iterations,
    evaluations: result.evaluations,
    stopReason: result.stopReason,
    fractionAtBound: atBound / dim,
    history: result.history.map((v) => -v),
  };
}

export const sharpnessKind = defineKind({
  name: 'sharpness',
  validate(v) {
    requireNonNegative(`${FIELD}.epsilon`, v.epsilon);
    requireAtMost(`${FIELD}.epsilon`, v.epsilon, 10);
    requireAtMost(`${FIELD}.max_iterations`, v.maxIterations, 10_000);
    requireAtMost(`${FIELD}.restarts`, v.restarts, 100);
  },
  async run(ctx, v) {
    const epsilon = v.epsilon || 1e-3;
    const maxIterations = v.maxIterations || 20;
    const restarts = v.restarts || 1;
    const model = await ctx.inputs.model();
    const examples = await ctx.inputs.examples();
    const x = model.parameters;
    const n = x.length;
    const p = v.subspaceDimension;
    if (p > n) {
      throw new InvalidArgumentError(`${FIELD}.subspace_dimension`, `must be at most the ${n} parameters`);
    }
    if (p * n > MAX_SUBSPACE_ENTRIES) {
      throw new InvalidArgumentError(
        `${FIELD}.subspace_dimension`,
        `a ${n} x ${p} random basis exceeds ${MAX_SUBSPACE_ENTRIES} entries; use at most ${Math.floor(MAX_SUBSPACE_ENTRIES / n)}`,
      );
    }
    await ctx.progress.report(0, 'base loss');
    const base = (await model.lossAndGradient(examples)).loss;
    let subspace: RandomSubspace | undefined;
    let centre: ArrayLike<number> = x;
    if (p > 0) {
      await ctx.progress.report(0, `random ${p}-dimensional subspace`);
      const rng = ctx.rng('sharpness:subspace');
      subspace = await RandomSubspace.draw(
        n,
        p,
        () => rng.normal(),
        () => ctx.progress.report(0),
      );
      centre = await subspace.pseudoInverse(x, () => ctx.progress.report(0));
    }
    const dim = p > 0 ? p : n;
    const bound = new Float64Array(dim);
    for (let i = 0; i < dim; i++) bound[i] = epsilon * (Math.abs(centre[i]!) + 1);
    const outcomes: RestartOutcome[] = [];
    for (let r = 0; r < restarts; r++) {
      const rng = ctx.rng(`sharpness:start:${r}`);
      const start = bound.map((b) => (2 * rng.uniform() - 1) * b);
      const progress = ctx.progress.span(r / restarts, (r + 1) / restarts, `restart ${r + 1}/${restarts}`);
      const outcome = await maximiseInBox(model, examples, {
        x,
        subspace,
        bound,
        maxIterations,
        start,
        signal: ctx.signal,
        onStep: (done, planned) => progress.report(done / planned, `L-BFGS-B iteration ${done}`),
      });
      outcomes.push({ restart: r, ...outcome });
    }
    const maxLoss = Math.max(...outcomes.map((o) => o.maxLoss));
    const sharpness = ((maxLoss - base) / (1 + base)) * 100;
    const rows: Row[] = outcomes.flatMap((o) =>
      o.history.map((loss, it) => ({ restart: `restart ${o.restart + 1}`, iteration: it, loss })),
    );
    return {
      result: {
        $case: 'sharpness',
        value: {
          sharpness,
          baseLoss: base,
          maxLoss,
          iterations: outcomes.reduce((a, o) => a + o.iterations, 0),
          subspaceDimension: p,
          restartMaxLosses: outcomes.map((o) => o.maxLoss),
          // Of the restart that found the maximum.
          fractionAtBound: outcomes.reduce((best, o) => (o.maxLoss > best.maxLoss ? o : best))
            .fractionAtBound,
        },
      },
      plot: lineChart({
        title: `Loss during the sharpness maximisation (epsilon ${epsilon}, ${p > 0 ? `subspace of ${p}` : 'full space'})`,
        rows,
        x: { field: 'iteration', title: 'L-BFGS-B iteration' },
        y: { field: 'loss', title: 'loss in the box' },
        color: { field: 'restart', title: 'restart' },
        points: true,
      }),
      table: {
        columns: ['restart', 'iteration', 'loss'],
        rows: rows.map((r) => [r.restart as string, r.iteration as number, r.loss as number]),
      },
      details: {
        epsilon,
        examples: examples.count,
        precision: model.precision,
        restarts: outcomes.map(({ history: _h, ...o }) => o),
        optimizer: 'L-BFGS-B (memory 10, strong Wolfe line search, generalized Cauchy point)',
      },
    };
  },
});
