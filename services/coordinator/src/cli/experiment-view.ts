// The experiment as the CLI prints it: the --json summary (per run its swept parameters, status,
// final accuracy and loss, time to fit) and the human tables.
import { JobState } from '@gengap/proto/common/v1/job';
import type { Experiment, ExperimentRun } from '@gengap/proto/coordinator/v1/experiment';
import { stateName } from '../reports/run-tables.ts';
import { parseParameter } from '../reports/sweep-axes.ts';

export interface RunSummaryJson {
  cellId: string;
  label: string;
  parameters: Record<string, unknown>;
  seed: number;
  status: string;
  error: string | null;
  epochs: number | null;
  finalTrainAccuracy: number | null;
  finalTestAccuracy: number | null;
  finalTrainLoss: number | null;
  finalTestLoss: number | null;
  timeToFitEpoch: number | null;
  runId: string;
}

export interface ExperimentSummaryJson {
  experimentId: string;
  name: string;
  preset: string;
  status: string;
  phase: string;
  error: string | null;
  reportPath: string | null;
  reportUrl: string | null;
  runs: RunSummaryJson[];
}

export function runSummaryJson(run: ExperimentRun): RunSummaryJson {
  const s = run.summary;
  const done = s !== undefined && (s.steps > 0 || s.epochs > 0);
  const parameters: Record<string, unknown> = {};
  for (const [name, text] of Object.entries(run.parameters)) parameters[name] = parseParameter(text);
  return {
    cellId: run.cellId,
    label: run.label,
    parameters,
    seed: run.seed,
    status: stateName(run.status?.state),
    error: run.status?.error?.message || null,
    epochs: done ? s.epochs : null,
    finalTrainAccuracy: done ? s.finalTrainAccuracy : null,
    finalTestAccuracy: done ? s.finalTestAccuracy : null,
    finalTrainLoss: done ? s.finalTrainLoss : null,
    finalTestLoss: done ? s.finalTestLoss : null,
    timeToFitEpoch: s?.timeToFit?.reached ? s.timeToFit.epoch : null,
    runId: run.runId,
  };
}

export function experimentSummaryJson(e: Experiment): ExperimentSummaryJson {
  return {
    experimentId: e.experimentId,
    name: e.spec?.name ?? '',
    preset: e.preset,
    status: stateName(e.status?.state),
    phase: e.status?.phase ?? '',
    error: e.status?.error?.message || null,
    reportPath: e.reportPath || null,
    reportUrl: e.reportUrl || null,
    runs: e.runs.map(runSummaryJson),
  };
}

const terminal = new Set<number>([
  JobState.JOB_STATE_SUCCEEDED,
  JobState.JOB_STATE_FAILED,
  JobState.JOB_STATE_CANCELLED,
]);

export function isTerminal(state: JobState | undefined): boolean {
  return state !== undefined && terminal.has(state);
}

// NaN is "no such number" (an auto-encoder stage has no accuracy): shown as "-".
export const percent = (v: number | null | undefined) =>
  v === null || v === undefined || Number.isNaN(v) ? '-' : `${(v * 100).toFixed(1)}%`;
export const fixed = (v: number | null | undefined, digits = 3) =>
  v === null || v === undefined ? '-' : v.toFixed(digits);

/** Columns padded to their widest cell. */
export function textTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

export function runsTable(e: Experiment): string {
  return textTable(
    ['run', 'status', 'epochs', 'train acc', 'test acc', 'train loss', 'test loss', 'fit at epoch'],
    e.runs.map((r) => {
      const j = runSummaryJson(r);
      return [
        r.label || r.cellId,
        j.status + (j.error ? ` (${j.error})` : ''),
        j.epochs === null ? '-' : String(Math.round(j.epochs * 10) / 10),
        percent(j.finalTrainAccuracy),
        percent(j.finalTestAccuracy),
        fixed(j.finalTrainLoss),
        fixed(j.finalTestLoss),
        j.timeToFitEpoch === null ? '-' : String(j.timeToFitEpoch),
      ];
    }),
  );
}
