// The report's tables: one row per run (every number the trainer reported in its summary) and one
// row per cell (runs of the same swept values averaged over seeds).
import { type JobState, jobStateToJSON } from '@gengap/proto/common/v1/job';
import type { Row } from './csv.ts';
import { type ReportContext, type RunView, runColumns } from './report-context.ts';
import { groupLabel, safeField } from './sweep-axes.ts';

export interface TableColumn {
  field: string;
  header: string;
  /** Format for HTML (the CSV always keeps full precision). */
  format?: 'percent' | 'fixed3' | 'fixed1' | 'text';
}

export interface ReportTable {
  /** File stem of its CSV. */
  id: string;
  title: string;
  caption?: string;
  columns: TableColumn[];
  rows: Row[];
}

/** "succeeded", "running"... from a JobState number. */
export function stateName(state: JobState | undefined): string {
  return jobStateToJSON(state ?? 0)
    .replace(/^JOB_STATE_/, '')
    .toLowerCase();
}

function axisColumns(ctx: ReportContext): TableColumn[] {
  return ctx.axes.map((a) => ({ field: safeField(a.name), header: a.name }));
}

function runRow(ctx: ReportContext, view: RunView): Row {
  const { run, epochs, timeToFit } = view.record;
  const s = run.summary;
  const last = epochs.at(-1);
  const ttf = timeToFit ?? s?.timeToFit;
  return {
    ...runColumns(ctx, view),
    seed: run.seed,
    status: stateName(run.status?.state),
    attempts: run.attempts,
    epochs: s?.epochs ?? last?.epoch ?? null,
    steps: s?.steps ?? last?.step ?? null,
    final_train_loss: s ? s.finalTrainLoss : (last?.trainLoss ?? null),
    final_train_accuracy: s ? s.finalTrainAccuracy : (last?.trainAccuracy ?? null),
    final_test_loss: s ? s.finalTestLoss : (last?.testLoss ?? null),
    final_test_accuracy: s ? s.finalTestAccuracy : (last?.testAccuracy ?? null),
    time_to_fit_epoch: view.timeToFitEpoch,
    time_to_fit_step: ttf?.reached ? ttf.step : null,
    time_to_fit_seconds: ttf?.reached ? ttf.wallSeconds : null,
    wall_seconds: s?.wallSeconds ?? null,
    num_parameters: s?.numParameters ?? null,
    stop_reason: s?.stopReason ?? '',
    run_id: run.runId,
    dataset_id: run.datasetId,
    error: run.status?.error?.message ?? '',
  };
}

export function runsTable(ctx: ReportContext): ReportTable {
  return {
    id: 'runs',
    title: 'Runs',
    caption: 'One row per run. Time to fit: first evaluation with 100% train accuracy (empty if never).',
    columns: [
      { field: 'label', header: 'run' },
      ...axisColumns(ctx),
      ...(ctx.distinctSeeds > 1 ? [{ field: 'seed', header: 'seed' }] : []),
      { field: 'status', header: 'status' },
      { field: 'epochs', header: 'epochs', format: 'fixed1' },
      { field: 'final_train_accuracy', header: 'train acc', format: 'percent' },
      { field: 'final_test_accuracy', header: 'test acc', format: 'percent' },
      { field: 'final_train_loss', header: 'train loss', format: 'fixed3' },
      { field: 'final_test_loss', header: 'test loss', format: 'fixed3' },
      { field: 'time_to_fit_epoch', header: 'time to fit (epoch)', format: 'fixed1' },
      { field: 'wall_seconds', header: 'wall s', format: 'fixed1' },
      { field: 'stop_reason', header: 'stopped by', format: 'text' },
      { field: 'error', header: 'error', format: 'text' },
    ],
    rows: ctx.runs.map((view) => runRow(ctx, view)),
  };
}

function mean(values: number[]): number | null {
  return values.length === 0 ? null : values.reduce((a, b) => a + b, 0) / values.length;
}

/** Runs with the same swept values, averaged over seeds (only when seeds repeat a cell). */
export function cellsTable(ctx: ReportContext, runs: ReportTable): ReportTable | undefined {
  if (ctx.distinctSeeds <= 1 || ctx.axes.length === 0) return undefined;
  const groups = new Map<string, Row[]>();
  ctx.runs.forEach((view, i) => {
    const key = groupLabel(view.record.run, ctx.axes);
    const list = groups.get(key) ?? [];
    list.push(runs.rows[i] as Row);
    groups.set(key, list);
  });
  const num = (rows: Row[], field: string) =>
    rows.map((r) => r[field]).filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
  const rows: Row[] = [...groups.entries()].map(([cell, members]) => {
    const first = members[0] as Row;
    const axisValues: Row = {};
    for (const c of axisColumns(ctx)) axisValues[c.field] = first[c.field];
    return {
      cell,
      ...axisValues,
      runs: members.length,
      fitted_runs: num(members, 'time_to_fit_epoch').length,
      mean_final_train_accuracy: mean(num(members, 'final_train_accuracy')),
      mean_final_test_accuracy: mean(num(members, 'final_test_accuracy')),
      mean_time_to_fit_epoch: mean(num(members, 'time_to_fit_epoch')),
    };
  });
  return {
    id: 'cells',
    title: 'Cells (mean over seeds)',
    columns: [
      ...axisColumns(ctx),
      { field: 'runs', header: 'runs' },
      { field: 'fitted_runs', header: 'fitted' },
      { field: 'mean_final_train_accuracy', header: 'train acc', format: 'percent' },
      { field: 'mean_final_test_accuracy', header: 'test acc', format: 'percent' },
      { field: 'mean_time_to_fit_epoch', header: 'time to fit (epoch)', format: 'fixed1' },
    ],
    rows,
  };
}
