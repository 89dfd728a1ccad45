// Outcome of each run against the swept fields, chosen from the data: every numeric axis (a
// corruption fraction, a learning rate...) becomes the x axis of a time-to-fit chart and an error
// chart, the other axes colour the series; an experiment that sweeps only categories gets bars.
import { type ChartDraft, chartDraft } from '../chart-draft.ts';
import type { Row } from '../csv.ts';
import { type ReportContext, type RunView, runColumns } from '../report-context.ts';
import { axisValue, groupLabel, type SweptAxis } from '../sweep-axes.ts';

interface Outcome {
  row: Row;
  x: number | string;
  group: string;
}

/** What the outcome charts put on x: a swept axis, or the cell itself (all axes together). */
interface OutcomeAxis extends SweptAxis {
  xOf: (view: RunView) => number | string;
  /** Axes whose values colour the series. */
  others: SweptAxis[];
}

function sweptOutcomeAxis(ctx: ReportContext, axis: SweptAxis): OutcomeAxis {
  return { ...axis, xOf: (v) => axisValue(v.record.run, axis), others: ctx.axes.filter((a) => a !== axis) };
}

/** The cell as a category: its swept values, leaving out those that are "none". */
function cellOutcomeAxis(ctx: ReportContext): OutcomeAxis {
  const label = (v: RunView) =>
    ctx.axes
      .map((a) => [a.name, axisValue(v.record.run, a)] as const)
      .filter(([, value]) => value !== 'none')
      .map(([name, value]) => (typeof value === 'number' ? `${name}=${value}` : value))
      .join(', ') || 'base cell';
  return {
    name: 'cell',
    kind: 'categorical',
    values: [...new Set(ctx.runs.map(label))],
    xOf: label,
    others: [],
  };
}

function outcomes(ctx: ReportContext, axis: OutcomeAxis): Outcome[] {
  const others = axis.others;
  return ctx.runs.map((view) => {
    const summary = view.record.run.summary;
    const lastEpoch = view.record.epochs.at(-1);
    const trainAccuracy = summary ? summary.finalTrainAccuracy : lastEpoch?.trainAccuracy;
    const testAccuracy = summary ? summary.finalTestAccuracy : lastEpoch?.testAccuracy;
    const epochsTrained = summary?.epochs || lastEpoch?.epoch || null;
    const x = axis.xOf(view);
    const group = groupLabel(view.record.run, others);
    return {
      x,
      group,
      row: {
        ...runColumns(ctx, view),
        x,
        group,
        seed: view.record.run.seed,
        fitted: view.timeToFitEpoch !== null,
        time_to_fit_epoch: view.timeToFitEpoch,
        // Where an unfitted run is drawn: at the last epoch it trained (a lower bound).
        fit_or_censored_epoch: view.timeToFitEpoch ?? epochsTrained,
        epochs_trained: epochsTrained,
        final_train_accuracy: trainAccuracy ?? null,
        final_test_accuracy: testAccuracy ?? null,
        train_error: trainAccuracy === undefined ? null : 1 - trainAccuracy,
        test_error: testAccuracy === undefined ? null : 1 - testAccuracy,
      },
    };
  });
}

function xEncoding(axis: SweptAxis): Record<string, unknown> {
  return axis.kind === 'numeric'
    ? { field: 'x', type: 'quantitative', title: axis.name, scale: { zero: false, nice: false } }
    : {
        field: 'x',
        type: 'nominal',
        title: axis.name,
        sort: axis.values,
        axis: { labelAngle: -30, labelLimit: 320 },
      };
}

/** Colour by the other axes' values, in the order the runs list them (the spec's order). */
function groupColor(hasGroups: boolean, others: SweptAxis[], data?: Outcome[]): Record<string, unknown> {
  if (!hasGroups) return {};
  const domain = data ? [...new Set(data.map((o) => o.group))] : undefined;
  return {
    color: {
      field: 'group',
      type: 'nominal',
      title: others.map((a) => a.name).join(', '),
      ...(domain ? { scale: { domain } } : {}),
    },
  };
}

function timeToFitChart(axis: OutcomeAxis, data: Outcome[]): ChartDraft {
  const others = axis.others;
  const hasGroups = others.length > 0;
  const rows = data.map((o) => o.row);
  const unfitted = rows.filter((r) => !r.fitted).length;
  // Runs that never fitted are drawn as triangles at the last epoch they trained (a lower bound).
  const shape =
    unfitted === 0
      ? {}
      : {
          shape: {
            field: 'fitted',
            type: 'nominal',
            title: '100% train acc.',
            scale: { domain: [true, false], range: ['circle', 'triangle-up'] },
            legend: { labelExpr: "datum.label == 'true' ? 'reached' : 'not reached'" },
          },
        };
  const mean =
    axis.kind === 'numeric'
      ? {
          mark: { type: 'line', point: false, strokeWidth: 2 },
          transform: [{ filter: 'datum.fitted' }],
          encoding: {
            x: xEncoding(axis),
            y: { aggregate: 'mean', field: 'time_to_fit_epoch', type: 'quantitative' },
            ...groupColor(hasGroups, others, data),
          },
        }
      : {
          mark: { type: 'bar', opacity: 0.35 },
          transform: [{ filter: 'datum.fitted' }],
          encoding: {
            x: xEncoding(axis),
            y: { aggregate: 'mean', field: 'time_to_fit_epoch', type: 'quantitative' },
            ...groupColor(hasGroups, others, data),
            ...(hasGroups ? { xOffset: { field: 'group', type: 'nominal' } } : {}),
          },
        };
  return chartDraft(
    `time-to-fit-vs-${axis.name}`,
    `Time to fit vs ${axis.name}`,
    `Epoch at which train accuracy first reached 100%, one point per run, ${
      axis.kind === 'numeric' ? 'the line through the mean over seeds' : 'bars at the mean over seeds'
    }.` +
      (unfitted > 0
        ? ` ${unfitted} run(s) never reached 100% and are drawn as triangles at the last epoch trained.`
        : ''),
    rows,
    {
      width: 560,
      height: 300,
      layer: [
        mean,
        {
          mark: { type: 'point', filled: true, size: 60, opacity: 0.85 },
          encoding: {
            x: xEncoding(axis),
            y: {
              field: 'fit_or_censored_epoch',
              type: 'quantitative',
              title: 'epochs to 100% train accuracy',
            },
            ...shape,
            ...groupColor(hasGroups, others, data),
            ...(hasGroups && axis.kind !== 'numeric' ? { xOffset: { field: 'group', type: 'nominal' } } : {}),
          },
        },
      ],
    },
  );
}

function errorChart(ctx: ReportContext, axis: OutcomeAxis, data: Outcome[]): ChartDraft {
  const others = axis.others;
  const hasGroups = others.length > 0;
  const rows: Row[] = [];
  for (const o of data) {
    const { train_error, test_error, ...rest } = o.row;
    rows.push({ ...rest, split: 'test', error: test_error ?? null });
    rows.push({ ...rest, split: 'train', error: train_error ?? null });
  }
  const chance = ctx.numClasses ? 1 - 1 / ctx.numClasses : undefined;
  // Without other axes the split gets the colour; with them the groups do and the split the dash.
  const splitChannel = hasGroups
    ? { strokeDash: { field: 'split', type: 'nominal', title: 'split', sort: ['test', 'train'] } }
    : {
        color: {
          field: 'split',
          type: 'nominal',
          title: 'split',
          sort: ['test', 'train'],
          scale: { range: ['#d62728', '#1f77b4'] },
        },
      };
  const pointSplit = hasGroups
    ? { shape: { field: 'split', type: 'nominal', title: 'split', sort: ['test', 'train'] } }
    : splitChannel;
  const y = {
    field: 'error',
    type: 'quantitative',
    title: 'final error (1 - accuracy)',
    scale: { domain: [0, 1] },
  };
  const layer: Record<string, unknown>[] =
    axis.kind === 'numeric'
      ? [
          {
            mark: { type: 'line', strokeWidth: 2 },
            encoding: {
              x: xEncoding(axis),
              y: { ...y, aggregate: 'mean' },
              detail: { field: 'split', type: 'nominal' },
              ...groupColor(hasGroups, others, data),
              ...splitChannel,
            },
          },
          {
            mark: { type: 'point', filled: true, size: 50, opacity: 0.8 },
            encoding: { x: xEncoding(axis), y, ...groupColor(hasGroups, others, data), ...pointSplit },
          },
        ]
      : [
          {
            mark: { type: 'bar', opacity: 0.5 },
            encoding: {
              x: xEncoding(axis),
              y: { ...y, aggregate: 'mean' },
              xOffset: { field: 'split', type: 'nominal', sort: ['test', 'train'] },
              color: {
                field: 'split',
                type: 'nominal',
                sort: ['test', 'train'],
                scale: { range: ['#d62728', '#1f77b4'] },
              },
            },
          },
          {
            mark: { type: 'point', filled: true, size: 40, color: 'black', opacity: 0.7 },
            encoding: {
              x: xEncoding(axis),
              y,
              xOffset: { field: 'split', type: 'nominal', sort: ['test', 'train'] },
            },
          },
        ];
  if (chance !== undefined) {
    layer.push(
      {
        data: { values: [{ chance }] },
        mark: { type: 'rule', strokeDash: [4, 4], color: '#555' },
        encoding: { y: { field: 'chance', type: 'quantitative' } },
      },
      {
        data: { values: [{ chance, label: `chance (${ctx.numClasses} classes)` }] },
        mark: { type: 'text', align: 'left', dx: 4, dy: -6, color: '#555', x: 0 },
        encoding: { y: { field: 'chance', type: 'quantitative' }, text: { field: 'label' } },
      },
    );
  }
  return chartDraft(
    `test-error-vs-${axis.name}`,
    `Test and train error vs ${axis.name}`,
    `Final test error and train error of every run against ${axis.name}` +
      (chance !== undefined ? `; the dashed rule is chance level (${chance.toFixed(2)}).` : '.') +
      ' Train error near 0 with test error at chance means the network memorised its training set.',
    rows,
    { width: 560, height: 300, layer },
  );
}

const maxCells = 40;

/** The x axes of the outcome charts: every numeric axis, or the first axis when none is numeric. */
export function outcomeAxes(ctx: ReportContext): SweptAxis[] {
  const numeric = ctx.axes.filter((a) => a.kind === 'numeric');
  if (numeric.length > 0) return numeric;
  return ctx.axes.slice(0, 1);
}

export function sweepCharts(ctx: ReportContext): ChartDraft[] {
  const charts: ChartDraft[] = [];
  const haveOutcomes = ctx.runs.some((v) => v.record.run.summary || v.record.epochs.length > 0);
  if (!haveOutcomes) return charts;
  const axes = outcomeAxes(ctx).map((a) => sweptOutcomeAxis(ctx, a));
  // With several axes, one more view: every cell side by side (Zhang et al.'s bars per condition).
  const cells = cellOutcomeAxis(ctx);
  if (ctx.axes.length > 1 && cells.values.length <= maxCells) axes.push(cells);
  for (const axis of axes) {
    const data = outcomes(ctx, axis);
    charts.push(timeToFitChart(axis, data), errorChart(ctx, axis, data));
  }
  return charts;
}
