// Charts of training dynamics measured by analyses: stability of paired runs, late-training loss
// statistics, trajectory roughness against the generalization gap, hidden progress on sparse
// parity, when examples are first learned, and the generalization gap itself.
import { chartDraft } from '../chart-draft.ts';
import type { Row } from '../csv.ts';
import type { ReportContext } from '../report-context.ts';
import {
  type AnalysisCharts,
  type AnalysisItem,
  curveChart,
  itemColumns,
  present,
  resultTable,
  scalarChart,
} from './analysis-items.ts';

export function stabilityCharts(
  ctx: ReportContext,
  items: AnalysisItem<'stability'>[],
  name: string,
): AnalysisCharts {
  const rows: Row[] = [];
  for (const item of items)
    for (const p of item.result.points) {
      const base = { ...itemColumns(ctx, item), epoch: p.epoch, step: p.step };
      rows.push({
        ...base,
        parameter_distance: p.parameterDistance,
        normalized_distance: p.normalizedDistance,
        gap: 'train',
        loss_gap: p.trainLossGap,
      });
      rows.push({
        ...base,
        parameter_distance: p.parameterDistance,
        normalized_distance: p.normalizedDistance,
        gap: 'test',
        loss_gap: p.testLossGap,
      });
    }
  const distances = rows.filter((r) => r.gap === 'train');
  return {
    charts: present(
      curveChart(
        ctx,
        `${name}-distance`,
        'Parameter distance between paired runs',
        "Hardt et al.: ||theta - theta'|| between runs on datasets that differ in one example, same seed and order.",
        items,
        distances,
        {
          x: { field: 'epoch', title: 'epoch' },
          y: { field: 'parameter_distance', title: 'parameter distance' },
        },
      ),
      curveChart(
        ctx,
        `${name}-loss-gap`,
        'Loss gap between paired runs',
        'Difference in train (solid) and test (dashed) loss between the two runs of each pair.',
        items,
        rows,
        {
          x: { field: 'epoch', title: 'epoch' },
          y: { field: 'loss_gap', title: 'loss gap' },
          dash: { field: 'gap', title: 'split' },
        },
      ),
    ),
    tables: [
      resultTable(ctx, `${name}-stability`, 'Stability at the last checkpoint', items, (r) => {
        const last = r.points.at(-1);
        return {
          epochs: last?.epoch ?? null,
          parameter_distance: last?.parameterDistance ?? null,
          normalized_distance: last?.normalizedDistance ?? null,
          train_loss_gap: last?.trainLossGap ?? null,
          test_loss_gap: last?.testLossGap ?? null,
        };
      }),
    ],
  };
}

export function lateTrainingCharts(
  ctx: ReportContext,
  items: AnalysisItem<'lateTrainingStatistics'>[],
  name: string,
): AnalysisCharts {
  const rows: Row[] = [];
  for (const item of items)
    for (const run of item.result.runs) {
      const label = ctx.runsByRunId.get(run.runId)?.label ?? run.runId;
      const sd = Math.sqrt(Math.max(0, run.lossVariance));
      rows.push({
        analysis_id: item.analysis.analysisId,
        run_id: run.runId,
        label,
        mean_loss: run.meanLoss,
        loss_variance: run.lossVariance,
        low: run.meanLoss - sd,
        high: run.meanLoss + sd,
        mean_test_loss: run.meanTestLoss,
      });
    }
  const chart =
    rows.length === 0
      ? undefined
      : chartDraft(
          `${name}-late-loss`,
          'Time-averaged late training loss',
          'Mean training loss over the last part of training per run, with ± one standard deviation over time; the test loss as a tick.',
          rows,
          {
            width: { step: 30 },
            height: 260,
            layer: [
              {
                mark: { type: 'rule' },
                encoding: {
                  x: { field: 'label', type: 'nominal', title: null, sort: null, axis: { labelAngle: -35 } },
                  y: { field: 'low', type: 'quantitative', title: 'loss' },
                  y2: { field: 'high' },
                },
              },
              {
                mark: { type: 'point', filled: true, size: 60 },
                encoding: {
                  x: { field: 'label', type: 'nominal', sort: null },
                  y: { field: 'mean_loss', type: 'quantitative' },
                },
              },
              {
                mark: { type: 'tick', color: '#d62728' },
                encoding: {
                  x: { field: 'label', type: 'nominal', sort: null },
                  y: { field: 'mean_test_loss', type: 'quantitative' },
                },
              },
            ],
          },
        );
  return {
    charts: present(chart),
    tables: [
      resultTable(ctx, `${name}-late-statistics`, 'Late-training statistics across runs', items, (r) => ({
        runs: r.runs.length,
        mean_across_runs: r.meanAcrossRuns,
        variance_across_runs: r.varianceAcrossRuns,
      })),
      {
        id: `${name}-late-runs`,
        title: 'Late-training statistics per run',
        columns: [
          { field: 'label', header: 'run' },
          { field: 'mean_loss', header: 'mean loss' },
          { field: 'loss_variance', header: 'variance' },
          { field: 'mean_test_loss', header: 'mean test loss' },
        ],
        rows,
      },
    ],
  };
}

export function trajectoryCharts(
  ctx: ReportContext,
  items: AnalysisItem<'trajectory'>[],
  name: string,
): AnalysisCharts {
  const rows: Row[] = [];
  for (const item of items)
    for (const run of item.result.runs) {
      const view = ctx.runsByRunId.get(run.runId);
      rows.push({
        analysis_id: item.analysis.analysisId,
        run_id: run.runId,
        label: view?.label ?? run.runId,
        color: view?.color ?? run.runId,
        hurst_rescaled_range: run.hurstRescaledRange,
        hurst_variogram: run.hurstVariogram,
        tail_index: run.tailIndex,
        generalization_gap: run.generalizationGap,
      });
    }
  const correlations = items
    .map(
      (i) =>
        `Hurst-gap r = ${i.result.correlationHurstGap.toFixed(2)}, tail index-gap r = ${i.result.correlationTailIndexGap.toFixed(2)}`,
    )
    .join('; ');
  const scatter = (field: string, title: string) =>
    rows.length === 0
      ? undefined
      : chartDraft(
          `${name}-${field}-vs-gap`,
          `${title} vs generalization gap`,
          `One point per run. Pearson correlation across runs: ${correlations}.`,
          rows,
          {
            width: 420,
            height: 300,
            mark: { type: 'point', filled: true, size: 70 },
            encoding: {
              x: { field, type: 'quantitative', title, scale: { zero: false } },
              y: {
                field: 'generalization_gap',
                type: 'quantitative',
                title: 'generalization gap',
                scale: { zero: false },
              },
              color: { field: 'color', type: 'nominal', title: ctx.colorAxis?.name ?? 'run' },
            },
          },
        );
  return {
    charts: present(
      scatter('hurst_rescaled_range', 'Hurst exponent (R/S)'),
      scatter('tail_index', 'Tail index'),
    ),
    tables: [
      {
        id: `${name}-trajectory-runs`,
        title: 'Trajectory statistics per run',
        columns: [
          { field: 'label', header: 'run' },
          { field: 'hurst_rescaled_range', header: 'Hurst (R/S)' },
          { field: 'hurst_variogram', header: 'Hurst (variogram)' },
          { field: 'tail_index', header: 'tail index' },
          { field: 'generalization_gap', header: 'generalization gap' },
        ],
        rows,
      },
    ],
  };
}

export function parityProgressCharts(
  ctx: ReportContext,
  items: AnalysisItem<'parityProgress'>[],
  name: string,
): AnalysisCharts {
  const metrics = [
    ['relevant_weight_mass', 'weight mass on relevant coordinates'],
    ['irrelevant_weight_mass', 'weight mass on irrelevant coordinates'],
    ['fourier_coefficient', 'Fourier coefficient of the parity'],
    ['train_loss', 'train loss'],
    ['test_accuracy', 'test accuracy'],
  ] as const;
  const rows: Row[] = [];
  for (const item of items)
    for (const p of item.result.points) {
      const values = {
        relevant_weight_mass: p.relevantWeightMass,
        irrelevant_weight_mass: p.irrelevantWeightMass,
        fourier_coefficient: p.fourierCoefficient,
        train_loss: p.trainLoss,
        test_accuracy: p.testAccuracy,
      };
      for (const [field, title] of metrics)
        rows.push({ ...itemColumns(ctx, item), step: p.step, metric: title, value: values[field] });
    }
  const chart =
    rows.length === 0
      ? undefined
      : chartDraft(
          `${name}-hidden-progress`,
          'Hidden progress on sparse parity',
          'Barak et al.: the loss plateaus while weight mass concentrates on the relevant coordinates, then drops suddenly.',
          rows,
          {
            facet: { field: 'metric', type: 'nominal', title: null, sort: metrics.map((m) => m[1]) },
            columns: 2,
            resolve: { scale: { y: 'independent' } },
            spec: {
              width: 320,
              height: 180,
              mark: { type: 'line', strokeWidth: 1.5 },
              encoding: {
                x: { field: 'step', type: 'quantitative', title: 'step' },
                y: { field: 'value', type: 'quantitative', title: null },
                color: items.every((i) => i.run)
                  ? { field: 'color', type: 'nominal', title: ctx.colorAxis?.name ?? 'run' }
                  : { field: 'label', type: 'nominal' },
                detail: { field: 'analysis_id', type: 'nominal' },
              },
            },
          },
        );
  return { charts: present(chart), tables: [] };
}

export function firstLearnedCharts(
  ctx: ReportContext,
  items: AnalysisItem<'firstLearned'>[],
  name: string,
): AnalysisCharts {
  const rows: Row[] = [];
  for (const item of items)
    for (const [series, s] of [
      ['clean', item.result.cleanCumulative],
      ['corrupted', item.result.corruptedCumulative],
    ] as const)
      s?.x.forEach((epoch, i) => {
        rows.push({ ...itemColumns(ctx, item), examples: series, epoch, fraction_learned: s.y[i] ?? null });
      });
  return {
    charts: present(
      curveChart(
        ctx,
        `${name}-first-learned`,
        'Examples learned by epoch',
        'Arpit et al.: cumulative fraction of clean (solid) and corrupted (dashed) training examples first learned (and kept) by each epoch. Real data is learned first.',
        items,
        rows,
        {
          x: { field: 'epoch', title: 'epoch' },
          y: { field: 'fraction_learned', title: 'fraction learned', scale: { domain: [0, 1] } },
          dash: { field: 'examples', title: 'labels' },
        },
      ),
    ),
    tables: [
      resultTable(ctx, `${name}-first-learned`, 'First-learned epochs', items, (r) => {
        const learned = r.firstLearnedEpoch.filter((e) => e >= 0);
        return {
          examples: r.firstLearnedEpoch.length,
          never_learned: r.firstLearnedEpoch.length - learned.length,
          median_first_learned_epoch: learned.length
            ? [...learned].sort((a, b) => a - b)[Math.floor(learned.length / 2)]
            : null,
        };
      }),
    ],
  };
}

export function generalizationGapCharts(
  ctx: ReportContext,
  items: AnalysisItem<'generalizationGap'>[],
  name: string,
): AnalysisCharts {
  return {
    charts: present(
      scalarChart(
        ctx,
        `${name}-accuracy-gap`,
        items,
        { field: 'accuracy_gap', title: 'Generalization gap (accuracy)', value: (r) => r.accuracyGap },
        'Train accuracy minus test accuracy of the analysed checkpoint.',
      ),
    ),
    tables: [
      resultTable(ctx, `${name}-gap`, 'Generalization gap', items, (r) => ({
        train_loss: r.trainLoss,
        test_loss: r.testLoss,
        train_accuracy: r.trainAccuracy,
        test_accuracy: r.testAccuracy,
        loss_gap: r.lossGap,
        accuracy_gap: r.accuracyGap,
      })),
    ],
  };
}
