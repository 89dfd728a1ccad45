// Charts of loss-surface geometry: Hessian spectra (top eigenvalues, trace, spectral density),
// epsilon-sharpness, 1-D and 2-D loss landscapes, and the function-preserving rescaling.
import { chartDraft, lossScale } from '../chart-draft.ts';
import type { Row } from '../csv.ts';
import type { ReportContext } from '../report-context.ts';
import {
  type AnalysisCharts,
  type AnalysisItem,
  curveChart,
  integerAxis,
  itemColumns,
  present,
  resultTable,
  scalarChart,
} from './analysis-items.ts';

const blockName = (block: string) => block || 'all parameters';

export function hessianEigenCharts(
  ctx: ReportContext,
  items: AnalysisItem<'hessianEigen'>[],
  name: string,
): AnalysisCharts {
  const rows: Row[] = [];
  for (const item of items)
    for (const b of item.result.blocks)
      b.eigenvalues.forEach((eigenvalue, i) => {
        rows.push({
          ...itemColumns(ctx, item),
          block: blockName(b.block),
          rank: i + 1,
          eigenvalue,
          residual_norm: b.residualNorms[i] ?? null,
        });
      });
  const top = (r: AnalysisItem<'hessianEigen'>['result']) =>
    r.blocks.find((b) => b.block === '')?.eigenvalues[0] ?? r.blocks[0]?.eigenvalues[0];
  return {
    charts: present(
      curveChart(
        ctx,
        `${name}-spectrum`,
        'Top Hessian eigenvalues',
        'Eigenvalues by rank (Lanczos), one line per analysed checkpoint.',
        items,
        rows,
        {
          x: { field: 'rank', title: 'rank', axis: integerAxis },
          y: { field: 'eigenvalue', title: 'eigenvalue' },
          facet: { field: 'block', title: 'block' },
        },
      ),
      scalarChart(
        ctx,
        `${name}-top-eigenvalue`,
        items,
        { field: 'top_eigenvalue', title: 'Top Hessian eigenvalue', value: top },
        'Largest eigenvalue of the loss Hessian: a sharper minimum has a larger one.',
      ),
    ),
    tables: [
      resultTable(ctx, `${name}-eigenvalues`, 'Hessian eigenvalues', items, (r) => ({
        top_eigenvalue: top(r) ?? null,
        eigenvalues: r.blocks
          .map((b) => `${blockName(b.block)}: ${b.eigenvalues.map((v) => v.toPrecision(4)).join(' ')}`)
          .join('; '),
        iterations: Math.max(0, ...r.blocks.map((b) => b.iterations)),
        hvp_calls: r.blocks.reduce((a, b) => a + b.hvpCalls, 0),
      })),
    ],
  };
}

export function hessianTraceCharts(
  ctx: ReportContext,
  items: AnalysisItem<'hessianTrace'>[],
  name: string,
): AnalysisCharts {
  const whole = (r: AnalysisItem<'hessianTrace'>['result']) =>
    r.blocks.find((b) => b.block === '') ?? r.blocks[0];
  return {
    charts: present(
      scalarChart(
        ctx,
        `${name}-trace`,
        items,
        { field: 'trace', title: 'Hessian trace', value: (r) => whole(r)?.trace },
        'Stochastic trace estimate of the loss Hessian (Hutchinson / Hutch++).',
      ),
    ),
    tables: [
      resultTable(ctx, `${name}-trace`, 'Hessian trace', items, (r) => ({
        trace: whole(r)?.trace ?? null,
        standard_error: whole(r)?.standardError ?? null,
        queries: whole(r)?.queries ?? null,
        blocks: r.blocks.map((b) => `${blockName(b.block)}: ${b.trace.toPrecision(4)}`).join('; '),
      })),
    ],
  };
}

export function spectralDensityCharts(
  ctx: ReportContext,
  items: AnalysisItem<'spectralDensity'>[],
  name: string,
): AnalysisCharts {
  const rows: Row[] = [];
  for (const item of items)
    for (const b of item.result.blocks)
      b.grid.forEach((eigenvalue, i) => {
        rows.push({
          ...itemColumns(ctx, item),
          block: blockName(b.block),
          eigenvalue,
          density: b.density[i] ?? null,
        });
      });
  const densities = rows.map((r) => r.density as number);
  // Outliers carry tiny density next to the bulk: a log axis shows both (floored to stay finite).
  const positive = densities.filter((d) => d > 0);
  const floor = positive.length > 0 ? Math.max(Math.min(...positive), Math.max(...positive) * 1e-8) : 0;
  for (const r of rows) if (typeof r.density === 'number' && r.density < floor) r.density_plotted = floor;
  for (const r of rows) r.density_plotted ??= r.density;
  return {
    charts: present(
      curveChart(
        ctx,
        `${name}-density`,
        'Hessian spectral density',
        'Stochastic Lanczos quadrature, Gaussian-smoothed; log density axis, so outliers beside the bulk stay visible.',
        items,
        rows,
        {
          x: { field: 'eigenvalue', title: 'eigenvalue' },
          y: {
            field: 'density_plotted',
            title: 'density',
            scale: lossScale(rows.map((r) => r.density_plotted as number)),
          },
          facet: { field: 'block', title: 'block' },
        },
      ),
    ),
    tables: [
      resultTable(ctx, `${name}-moments`, 'Spectral moments', items, (r) => ({
        first_moment: r.blocks[0]?.firstMoment ?? null,
        second_moment: r.blocks[0]?.secondMoment ?? null,
        blocks: r.blocks.length,
      })),
    ],
  };
}

export function sharpnessCharts(
  ctx: ReportContext,
  items: AnalysisItem<'sharpness'>[],
  name: string,
): AnalysisCharts {
  return {
    charts: present(
      scalarChart(
        ctx,
        `${name}-sharpness`,
        items,
        { field: 'sharpness', title: 'epsilon-sharpness', value: (r) => r.sharpness },
        'Keskar et al.: largest relative loss increase (%) inside the epsilon box around the solution.',
      ),
    ),
    tables: [
      resultTable(ctx, `${name}-sharpness`, 'Sharpness', items, (r) => ({
        sharpness: r.sharpness,
        base_loss: r.baseLoss,
        max_loss: r.maxLoss,
        iterations: r.iterations,
        subspace_dimension: r.subspaceDimension || 'full space',
      })),
    ],
  };
}

export function landscapeCharts(
  ctx: ReportContext,
  items: AnalysisItem<'landscape'>[],
  name: string,
): AnalysisCharts {
  const twoD = items.some((i) => new Set(i.result.points.map((p) => p.beta)).size > 1);
  const charts = [];
  if (!twoD) {
    const rows: Row[] = [];
    for (const item of items)
      for (const p of item.result.points) {
        rows.push({
          ...itemColumns(ctx, item),
          alpha: p.alpha,
          split: 'train',
          loss: p.trainLoss,
          accuracy: p.trainAccuracy,
        });
        rows.push({
          ...itemColumns(ctx, item),
          alpha: p.alpha,
          split: 'test',
          loss: p.testLoss,
          accuracy: p.testAccuracy,
        });
      }
    charts.push(
      curveChart(
        ctx,
        `${name}-loss`,
        'Loss along the path',
        'Loss at theta(alpha) = (1 - alpha) theta_a + alpha theta_b (or along a random direction); solid train, dashed test.',
        items,
        rows,
        {
          x: { field: 'alpha', title: 'alpha' },
          y: { field: 'loss', title: 'loss', scale: lossScale(rows.map((r) => r.loss as number)) },
          dash: { field: 'split', title: 'split' },
        },
      ),
      curveChart(
        ctx,
        `${name}-accuracy`,
        'Accuracy along the path',
        'Accuracy at the same points; solid train, dashed test.',
        items,
        rows,
        {
          x: { field: 'alpha', title: 'alpha' },
          y: { field: 'accuracy', title: 'accuracy', scale: { domain: [0, 1] } },
          dash: { field: 'split', title: 'split' },
        },
      ),
    );
  } else {
    const rows: Row[] = [];
    for (const item of items.slice(0, 6))
      for (const p of item.result.points)
        rows.push({ ...itemColumns(ctx, item), alpha: p.alpha, beta: p.beta, train_loss: p.trainLoss });
    charts.push(
      chartDraft(
        `${name}-surface`,
        'Loss surface (2-D slice)',
        'Training loss over two random directions, one panel per analysed checkpoint (at most 6).',
        rows,
        {
          facet: { field: 'label', type: 'nominal', title: null },
          columns: 3,
          spec: {
            width: 220,
            height: 220,
            mark: { type: 'rect' },
            encoding: {
              x: {
                field: 'alpha',
                type: 'ordinal',
                title: 'alpha',
                axis: { format: '.2f', labelOverlap: true },
              },
              y: {
                field: 'beta',
                type: 'ordinal',
                title: 'beta',
                sort: 'descending',
                axis: { format: '.2f', labelOverlap: true },
              },
              color: {
                field: 'train_loss',
                type: 'quantitative',
                title: 'train loss',
                scale: { type: 'log', scheme: 'viridis' },
              },
            },
          },
        },
      ),
    );
  }
  return {
    charts: present(...charts),
    tables: [
      resultTable(ctx, `${name}-landscape`, 'Landscape extremes', items, (r) => ({
        points: r.points.length,
        max_train_loss: Math.max(...r.points.map((p) => p.trainLoss)),
        min_train_accuracy: Math.min(...r.points.map((p) => p.trainAccuracy)),
      })),
    ],
  };
}

export function rescaleCharts(
  ctx: ReportContext,
  items: AnalysisItem<'rescale'>[],
  name: string,
): AnalysisCharts {
  return {
    charts: [],
    tables: [
      resultTable(ctx, `${name}-rescale`, 'Function-preserving rescaling', items, (r) => ({
        max_output_difference: r.maxOutputDifference,
        rescaled_checkpoint: r.artifact,
      })),
    ],
  };
}
