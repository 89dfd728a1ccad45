// What every report section shares: the swept axes, a label and colour group per run, and the
// encodings that make runs of the same group look alike across charts.
import type { ReportInput, RunRecord } from './report-input.ts';
import { axisValue, runLabel, type SweptAxis, safeField, sweptAxes } from './sweep-axes.ts';

export interface RunView {
  record: RunRecord;
  /** Stable key of the run within the experiment. */
  key: string;
  label: string;
  /** Value of the colour axis (or the run label when nothing is swept). */
  color: string | number;
  /** Value of the dash axis, when there is one. */
  dash: string | number | undefined;
  /** Swept values by axis name. */
  values: Record<string, string | number>;
  /** Epoch at which train accuracy first reached 100%, or null if it never did. */
  timeToFitEpoch: number | null;
}

export interface ColorEncoding {
  field: string;
  type: 'nominal' | 'ordinal';
  title: string;
  sort?: (string | number)[];
  scale?: { scheme: string; domain?: (string | number)[] };
}

export interface ReportContext {
  input: ReportInput;
  axes: SweptAxis[];
  /** The axis that colours runs in every chart (the first numeric one, else the first). */
  colorAxis: SweptAxis | undefined;
  /** A second axis drawn as the line's dash pattern, when it has few values. */
  dashAxis: SweptAxis | undefined;
  runs: RunView[];
  runsByRunId: Map<string, RunView>;
  distinctSeeds: number;
  /** Number of classes when every dataset of the experiment agrees on it. */
  numClasses: number | undefined;
}

export function timeToFitEpoch(record: RunRecord): number | null {
  const ttf = record.timeToFit ?? record.run.summary?.timeToFit;
  return ttf?.reached ? ttf.epoch : null;
}

export function reportContext(input: ReportInput): ReportContext {
  const experimentRuns = input.runs.map((r) => r.run);
  const axes = sweptAxes(experimentRuns, input.experiment);
  const colorAxis = axes.find((a) => a.kind === 'numeric') ?? axes[0];
  const dashAxis = axes.find((a) => a !== colorAxis && a.values.length <= 5);
  const distinctSeeds = new Set(experimentRuns.map((r) => r.seed)).size;
  const runs: RunView[] = input.runs.map((record, i) => {
    const values: Record<string, string | number> = {};
    for (const axis of axes) values[axis.name] = axisValue(record.run, axis);
    const label = runLabel(record.run, axes, distinctSeeds);
    return {
      record,
      key: record.run.cellId || record.run.runId || `run-${i}`,
      label,
      color: colorAxis ? axisValue(record.run, colorAxis) : label,
      dash: dashAxis ? axisValue(record.run, dashAxis) : undefined,
      values,
      timeToFitEpoch: timeToFitEpoch(record),
    };
  });
  const runsByRunId = new Map<string, RunView>();
  for (const view of runs) if (view.record.run.runId) runsByRunId.set(view.record.run.runId, view);
  const classCounts = new Set(input.datasets.map((d) => d.manifest?.numClasses ?? 0).filter((n) => n > 0));
  return {
    input,
    axes,
    colorAxis,
    dashAxis,
    runs,
    runsByRunId,
    distinctSeeds,
    numClasses: classCounts.size === 1 ? [...classCounts][0] : undefined,
  };
}

/** The colour channel shared by run-level charts (field "color" in their rows). */
export function colorEncoding(ctx: ReportContext): ColorEncoding {
  const axis = ctx.colorAxis;
  if (!axis) return { field: 'color', type: 'nominal', title: 'run', scale: { scheme: 'tableau10' } };
  if (axis.kind === 'numeric')
    return {
      field: 'color',
      type: 'ordinal',
      title: axis.name,
      scale: { scheme: 'viridis', domain: axis.values },
    };
  // The whole domain, so a value has the same colour in every chart, even where some are absent.
  return {
    field: 'color',
    type: 'nominal',
    title: axis.name,
    scale: { scheme: 'tableau10', domain: axis.values },
  };
}

/** The dash channel (field "dash"), when a second axis is drawn that way. */
export function dashEncoding(ctx: ReportContext): Record<string, unknown> {
  const axis = ctx.dashAxis;
  if (!axis) return {};
  return { strokeDash: { field: 'dash', type: 'nominal', title: axis.name, sort: axis.values } };
}

/** Columns naming the run and its swept values, for the rows of any per-run table. */
export function runColumns(ctx: ReportContext, view: RunView): Record<string, string | number> {
  const cols: Record<string, string | number> = { run: view.key, label: view.label };
  for (const axis of ctx.axes) {
    const v = view.values[axis.name];
    if (v !== undefined) cols[safeField(axis.name)] = v;
  }
  return cols;
}

/** CSV headers for the swept-value columns (the real axis names instead of the safe field names). */
export function axisHeaders(ctx: ReportContext): Map<string, string> {
  return new Map(ctx.axes.map((a) => [safeField(a.name), a.name]));
}
