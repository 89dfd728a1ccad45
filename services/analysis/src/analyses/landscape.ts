// Loss landscapes: INTERPOLATION, the 1-D line theta(alpha) = (1 - alpha) theta_a + alpha theta_b
// between two checkpoints (Goodfellow et al.; Keskar et al. plot alpha in [-1, 2]), and RANDOM_SLICE,
// 1-D or 2-D slices theta + alpha d1 (+ beta d2) along seeded random directions with filter
// normalisation (Li et al. 2018). At every point: train and test loss and accuracy, over the analysed
// number of examples of each split (spec.num_examples applies to both; spec.split is not used).
import type { CurvePoint } from '@gengap/proto/analysis/v1/analysis';
import { Split } from '@gengap/proto/common/v1/refs';
import { InvalidArgumentError } from '@gengap/service-kit';
import { type AnalysisModel, flattenParameters } from '../inputs/analysis-model.ts';
import type { ExampleSet } from '../inputs/examples.ts';
import { filterNormalizedDirection, globallyNormalizedDirection } from '../numerics/directions.ts';
import { requireAtMost, requireFinite, requireNonNegative, validateCheckpointRef } from './checks.ts';
import { type AnalysisContext, type AnalysisOutput, defineKind } from './kind.ts';
import { finiteOrNull, heatmap, lineChart, type Row } from './plots.ts';

export const MAX_LANDSCAPE_POINTS = 10_201;
const DEFAULT_ALPHA_RANGE: [number, number] = [-1, 2];

export function linspace(from: number, to: number, count: number): number[] {
  if (count === 1) return [from];
  return Array.from({ length: count }, (_, i) => from + ((to - from) * i) / (count - 1));
}

async function splits(ctx: AnalysisContext): Promise<{ train: ExampleSet; test: ExampleSet }> {
  const [train, test] = await Promise.all([
    ctx.inputs.examples({ split: Split.SPLIT_TRAIN }),
    ctx.inputs.examples({ split: Split.SPLIT_TEST }),
  ]);
  return { train, test };
}

/** Train and test metrics at each parameter vector produced by `pointAt`, with progress. */
async function evaluateCurve(
  ctx: AnalysisContext,
  model: AnalysisModel,
  coordinates: { alpha: number; beta: number }[],
  pointAt: (alpha: number, beta: number, out: Float64Array) => void,
): Promise<CurvePoint[]> {
  const { train, test } = await splits(ctx);
  const theta = new Float64Array(model.numParameters);
  const points: CurvePoint[] = [];
  for (const [i, c] of coordinates.entries()) {
    pointAt(c.alpha, c.beta, theta);
    const tr = await model.evaluate(train, theta);
    const te = await model.evaluate(test, theta);
    points.push({
      alpha: c.alpha,
      beta: c.beta,
      trainLoss: tr.loss,
      trainAccuracy: tr.accuracy,
      testLoss: te.loss,
      testAccuracy: te.accuracy,
    });
    await ctx.progress.report((i + 1) / coordinates.length, `point ${i + 1}/${coordinates.length}`);
  }
  return points;
}

function curveTable(points: CurvePoint[]): NonNullable<AnalysisOutput['table']> {
  return {
    columns: ['alpha', 'beta', 'train_loss', 'train_accuracy', 'test_loss', 'test_accuracy'],
    rows: points.map((p) => [p.alpha, p.beta, p.trainLoss, p.trainAccuracy, p.testLoss, p.testAccuracy]),
  };
}

function lossRows(points: CurvePoint[]): Row[] {
  return points.flatMap((p) => [
    { alpha: p.alpha, series: 'train loss', loss: finiteOrNull(p.trainLoss) },
    { alpha: p.alpha, series: 'test loss', loss: finiteOrNull(p.testLoss) },
  ]);
}

export const interpolationKind = defineKind({
  name: 'interpolation',
  validate(v) {
    const field = 'spec.interpolation';
    validateCheckpointRef(v.other, `${field}.other`);
    requireFinite(`${field}.alpha_min`, v.alphaMin);
    requireFinite(`${field}.alpha_max`, v.alphaMax);
    if (!(v.alphaMin === 0 && v.alphaMax === 0) && !(v.alphaMin < v.alphaMax)) {
      throw new InvalidArgumentError(`${field}.alpha_max`, 'must be greater than alpha_min');
    }
    requireAtMost(`${field}.num_points`, v.numPoints, MAX_LANDSCAPE_POINTS);
  },
  async run(ctx, v) {
    const [alphaMin, alphaMax] =
      v.alphaMin === 0 && v.alphaMax === 0 ? DEFAULT_ALPHA_RANGE : [v.alphaMin, v.alphaMax];
    const count = v.numPoints || 25;
    const model = await ctx.inputs.model();
    const other = await ctx.inputs.checkpoint(v.other, 'spec.interpolation.other');
    const a = model.parameters;
    const b = flattenParameters(model.engine, other);
    const points = await evaluateCurve(
      ctx,
      model,
      linspace(alphaMin, alphaMax, count).map((alpha) => ({ alpha, beta: 0 })),
      (alpha, _beta, out) => {
        for (let i = 0; i < out.length; i++) out[i] = (1 - alpha) * a[i]! + alpha * b[i]!;
      },
    );
    let distance = 0;
    for (let i = 0; i < a.length; i++) distance += (a[i]! - b[i]!) ** 2;
    return {
      result: { $case: 'landscape', value: { points } },
      plot: lineChart({
        title: `Loss along (1 - alpha) ${model.checkpoint.origin} + alpha ${other.origin}`,
        rows: lossRows(points),
        x: { field: 'alpha', title: 'alpha' },
        y: { field: 'loss', title: 'loss', scale: { type: 'log' } },
        color: { field: 'series', title: '' },
        points: true,
      }),
      table: curveTable(points),
      details: {
        from: model.checkpoint.origin,
        to: other.origin,
        parameterDistance: Math.sqrt(distance),
        precision: model.precision,
      },
    };
  },
});

export const randomSliceKind = defineKind({
  name: 'randomSlice',
  validate(v) {
    const field = 'spec.random_slice';
    if (v.dimensions > 2) throw new InvalidArgumentError(`${field}.dimensions`, 'must be 1 or 2');
    requireNonNegative(`${field}.extent`, v.extent);
    const n = v.numPoints || 21;
    if ((v.dimensions === 2 ? n * n : n) > MAX_LANDSCAPE_POINTS) {
      throw new InvalidArgumentError(`${field}.num_points`, `gives more than ${MAX_LANDSCAPE_POINTS} points`);
    }
  },
  async run(ctx, v) {
    const dims = v.dimensions || 1;
    const extent = v.extent || 1;
    const count = v.numPoints || 21;
    const model = await ctx.inputs.model();
    const theta = model.parameters;
    const direction = (i: number) =>
      v.filterNormalize
        ? filterNormalizedDirection(theta, model.blocks, ctx.rng(`slice:direction:${i}`))
        : globallyNormalizedDirection(theta, ctx.rng(`slice:direction:${i}`));
    const d1 = direction(1);
    const d2 = dims === 2 ? direction(2) : undefined;
    const axis = linspace(-extent, extent, count);
    const coordinates =
      dims === 2
        ? axis.flatMap((beta) => axis.map((alpha) => ({ alpha, beta })))
        : axis.map((alpha) => ({ alpha, beta: 0 }));
    const points = await evaluateCurve(ctx, model, coordinates, (alpha, beta, out) => {
      for (let i = 0; i < out.length; i++) out[i] = theta[i]! + alpha * d1[i]! + (d2 ? beta * d2[i]! : 0);
    });
    const normalisation = v.filterNormalize ? 'filter-normalised' : 'norm-matched';
    const plot =
      dims === 2
        ? heatmap({
            title: `Train loss on a 2-D random slice (${normalisation} directions)`,
            rows: points.map((p) => ({
              alpha: p.alpha,
              beta: p.beta,
              train_loss: finiteOrNull(p.trainLoss),
            })),
            x: { field: 'alpha', title: 'alpha (direction 1)' },
            y: { field: 'beta', title: 'beta (direction 2)' },
            color: { field: 'train_loss', title: 'train loss' },
          })
        : lineChart({
            title: `Loss on a 1-D random slice (${normalisation} direction)`,
            rows: lossRows(points),
            x: { field: 'alpha', title: 'alpha' },
            y: { field: 'loss', title: 'loss', scale: { type: 'log' } },
            color: { field: 'series', title: '' },
            points: true,
          });
    return {
      result: { $case: 'landscape', value: { points } },
      plot,
      table: curveTable(points),
      details: {
        dimensions: dims,
        filterNormalize: v.filterNormalize,
        extent,
        directionNorms: [d1, d2].filter((d) => d !== undefined).map(norm),
        precision: model.precision,
        note: v.filterNormalize
          ? 'one-dimensional tensors (biases) have zero direction (Li et al., "ignore biasbn")'
          : 'each direction has the norm of the whole parameter vector',
      },
    };
  },
});

function norm(d: Float64Array): number {
  let s = 0;
  for (const v of d) s += v * v;
  return Math.sqrt(s);
}
