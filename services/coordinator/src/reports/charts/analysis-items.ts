// Analysis results paired with the run they analysed, and the chart shapes most analyses share:
// a scalar per run (against the swept axis, or against training time when measured repeatedly) and
// curves per run (overlaid, coloured like the run's learning curves).
import type { Analysis, AnalysisResult } from '@gengap/proto/analysis/v1/analysis';
import { type ChartDraft, chartDraft } from '../chart-draft.ts';
import type { Row } from '../csv.ts';
import { colorEncoding, type ReportContext, type RunView, runColumns } from '../report-context.ts';
import type { ReportTable } from '../run-tables.ts';
import { axisValue, groupLabel } from '../sweep-axes.ts';

export type ResultKind = NonNullable<AnalysisResult['kind']>;
export type ResultCase = ResultKind['$case'];
type ResultMap = { [K in ResultKind as K['$case']]: K['value'] };
export type ResultOf<C extends ResultCase> = ResultMap[C];

/** An analysis and what it analysed, whatever its result. */
export interface AnalysisSubject {
  analysis: Analysis;
  /** The name the experiment gave the analysis (its AttachedAnalysis), or its kind. */
  name: string;
  /** The run whose checkpoint was analysed, when known. */
  run: RunView | undefined;
  /** Training step of the analysed checkpoint (0: the final one). */
  step: number;
  label: string;
}

export interface AnalysisItem<C extends ResultCase = ResultCase> extends AnalysisSubject {
  result: ResultOf<C>;
}

/** What a chart rule returns for one group of analyses of the same kind. */
export interface AnalysisCharts {
  charts: ChartDraft[];
  tables: ReportTable[];
  /** PNG artifacts to show (inversion grids), resolved against ReportInput.artifacts. */
  images?: { analysisId: string; artifact: string; caption: string }[];
}

/** Columns identifying an item in a row: its run (with swept values) or the analysis itself. */
export function itemColumns(ctx: ReportContext, item: AnalysisSubject): Row {
  const base: Row = item.run
    ? { ...runColumns(ctx, item.run), color: item.run.color }
    : { run: item.analysis.analysisId, label: item.label, color: item.label };
  return { ...base, analysis_id: item.analysis.analysisId, checkpoint_step: item.step || null };
}

/** Colour of per-run curves: the run's group when every item belongs to a run, else the item label. */
export function itemColor(ctx: ReportContext, items: readonly AnalysisSubject[]): Record<string, unknown> {
  if (items.every((i) => i.run)) return { ...colorEncoding(ctx) };
  return { field: 'color', type: 'nominal', title: 'analysis' };
}

type SweepAxis = ReportContext['axes'][number];

/**
 * Colour by the group of the other swept axes, the same colour per group as in the outcome charts
 * (the groups in the runs' order); nothing when the chart's axis is the only one.
 */
export function groupColor(ctx: ReportContext, others: readonly SweepAxis[]): Record<string, unknown> {
  if (others.length === 0) return {};
  const domain = [...new Set(ctx.runs.map((v) => groupLabel(v.record.run, others)))];
  return {
    color: {
      field: 'group',
      type: 'nominal',
      title: others.map((a) => a.name).join(', '),
      scale: { domain },
    },
  };
}

/** The x encoding of a numeric swept axis (rows carry its value as `x`). */
export function sweptX(axis: SweepAxis): Record<string, unknown> {
  return { field: 'x', type: 'quantitative', title: axis.name, scale: { zero: false, nice: false } };
}

/** Whether some run was analysed at several checkpoints (timing EVERY_K_EPOCHS). */
function measuredOverTraining(items: readonly AnalysisSubject[]): boolean {
  const stepsByRun = new Map<string, Set<number>>();
  for (const item of items) {
    const key = item.run?.key ?? item.label;
    const set = stepsByRun.get(key) ?? new Set();
    set.add(item.step);
    stepsByRun.set(key, set);
  }
  return [...stepsByRun.values()].some((s) => s.size > 1);
}

export interface ScalarMetric<C extends ResultCase> {
  field: string;
  title: string;
  value: (result: ResultOf<C>) => number | undefined;
}

/**
 * One number per analysis, drawn against what varies: the checkpoint step when runs were measured
 * repeatedly, else the first numeric swept axis (other axes as colour), else one bar per run.
 */
export function scalarChart<C extends ResultCase>(
  ctx: ReportContext,
  id: string,
  items: readonly AnalysisItem<C>[],
  metric: ScalarMetric<C>,
  caption: string,
): ChartDraft | undefined {
  const axis = ctx.axes.find((a) => a.kind === 'numeric');
  const others = ctx.axes.filter((a) => a !== axis);
  const rows: Row[] = [];
  for (const item of items) {
    const value = metric.value(item.result);
    if (value === undefined || !Number.isFinite(value)) continue;
    const row: Row = { ...itemColumns(ctx, item), [metric.field]: value };
    if (axis && item.run) {
      row.x = axisValue(item.run.record.run, axis);
      row.group = groupLabel(item.run.record.run, others);
    }
    rows.push(row);
  }
  if (rows.length === 0) return undefined;
  const y = { field: metric.field, type: 'quantitative', title: metric.title };
  if (measuredOverTraining(items)) {
    return chartDraft(id, `${metric.title} during training`, caption, rows, {
      width: 560,
      height: 280,
      mark: { type: 'line', point: true },
      encoding: {
        x: { field: 'checkpoint_step', type: 'quantitative', title: 'step of the checkpoint' },
        y,
        color: itemColor(ctx, items),
        detail: { field: 'run', type: 'nominal' },
      },
    });
  }
  if (axis && items.every((i) => i.run)) {
    const color = groupColor(ctx, others);
    const x = sweptX(axis);
    return chartDraft(id, `${metric.title} vs ${axis.name}`, caption, rows, {
      width: 560,
      height: 280,
      layer: [
        { mark: { type: 'line' }, encoding: { x, y: { ...y, aggregate: 'mean' }, ...color } },
        { mark: { type: 'point', filled: true, size: 55 }, encoding: { x, y, ...color } },
      ],
    });
  }
  return chartDraft(id, `${metric.title} per run`, caption, rows, {
    width: { step: 28 },
    height: 260,
    mark: { type: 'bar' },
    encoding: {
      x: RUN_LABEL_X,
      y,
      color: itemColor(ctx, items),
    },
  });
}

/** The x encoding of per-run bar charts: one slanted run label per bar, in the runs' order. */
export const RUN_LABEL_X = {
  field: 'label',
  type: 'nominal',
  title: null,
  sort: null,
  axis: { labelAngle: -35, labelLimit: 220 },
};

/** A table of every scalar of each item's result (one row per analysis). */
export function resultTable<C extends ResultCase>(
  ctx: ReportContext,
  id: string,
  title: string,
  items: readonly AnalysisItem<C>[],
  fields: (result: ResultOf<C>) => Row,
): ReportTable {
  const rows = items.map((item) => ({ ...itemColumns(ctx, item), ...fields(item.result) }));
  const hidden = new Set(['run', 'color', 'analysis_id']);
  const keys = [...new Set(rows.flatMap((r) => Object.keys(r)))].filter(
    (k) =>
      !hidden.has(k) &&
      !k.startsWith('p_') &&
      rows.some((r) => r[k] !== null && r[k] !== undefined && r[k] !== ''),
  );
  return {
    id,
    title,
    columns: keys.map((k) => ({ field: k, header: k.replaceAll('_', ' ') })),
    rows,
  };
}

export interface CurveOptions {
  x: { field: string; title: string; scale?: Record<string, unknown>; axis?: Record<string, unknown> };
  y: { field: string; title: string; scale?: Record<string, unknown> };
  /** Field drawn as dash pattern (e.g. train vs test). */
  dash?: { field: string; title: string };
  /** Field faceted into columns (e.g. parameter block). */
  facet?: { field: string; title: string };
  mark?: 'line' | 'point';
  width?: number;
}

/** Integer ticks (layers, ranks). */
export const integerAxis = { tickMinStep: 1, format: 'd' };

/** Solid for the first value seen (train, clean), dashed for the others, whatever their names sort as. */
function dashScale(rows: Row[], dash: { field: string; title: string }): Record<string, unknown> {
  const domain = [...new Set(rows.map((r) => r[dash.field]))].filter((v) => v !== undefined && v !== null);
  const patterns = [
    [1, 0],
    [6, 4],
    [2, 2],
    [8, 3, 2, 3],
  ];
  return {
    type: 'nominal',
    ...dash,
    scale: { domain, range: domain.map((_, i) => patterns[i % patterns.length]) },
  };
}

/** Curves of several analyses overlaid, coloured like their runs. */
export function curveChart(
  ctx: ReportContext,
  id: string,
  title: string,
  caption: string,
  items: readonly AnalysisSubject[],
  rows: Row[],
  options: CurveOptions,
): ChartDraft | undefined {
  if (rows.length === 0) return undefined;
  const encoding = {
    x: { type: 'quantitative', ...options.x },
    y: { type: 'quantitative', ...options.y },
    color: itemColor(ctx, items),
    detail: { field: 'analysis_id', type: 'nominal' },
    ...(options.dash ? { strokeDash: dashScale(rows, options.dash) } : {}),
  };
  const mark =
    options.mark === 'point'
      ? { type: 'point', filled: true, size: 40, opacity: 0.8 }
      : { type: 'line', strokeWidth: 1.5, opacity: 0.85, point: rows.length <= 120 };
  const facets = options.facet ? new Set(rows.map((r) => r[options.facet!.field])).size : 1;
  const body =
    options.facet && facets > 1
      ? {
          facet: { type: 'nominal', ...options.facet },
          spec: { width: Math.max(180, 640 / Math.min(facets, 4)), height: 240, mark, encoding },
          columns: 4,
        }
      : { width: options.width ?? 560, height: 280, mark, encoding };
  return chartDraft(id, title, caption, rows, body);
}

/** Drops undefined entries from a list of charts. */
export function present(...charts: (ChartDraft | undefined)[]): ChartDraft[] {
  return charts.filter((c): c is ChartDraft => c !== undefined);
}
