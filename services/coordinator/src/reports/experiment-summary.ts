// One line's worth of an experiment, shared by the live list (HTTP) and `gengap ls` / `--json`.
import { JobState } from '@gengap/proto/common/v1/job';
import type { Experiment, ExperimentRun } from '@gengap/proto/coordinator/v1/experiment';
import { stateName } from './run-tables.ts';

export interface ExperimentSummary {
  experimentId: string;
  name: string;
  preset: string;
  state: string;
  progress: number;
  phase: string;
  runs: number;
  runsSucceeded: number;
  runsFailed: number;
  runsRunning: number;
  createdAt: string | null;
  finishedAt: string | null;
  reportPath: string;
  reportUrl: string;
  error: string;
}

function count(runs: readonly ExperimentRun[], state: JobState): number {
  return runs.filter((r) => r.status?.state === state).length;
}

export function experimentSummary(e: Experiment): ExperimentSummary {
  return {
    experimentId: e.experimentId,
    name: e.spec?.name ?? '',
    preset: e.preset,
    state: stateName(e.status?.state),
    progress: e.status?.progress ?? 0,
    phase: e.status?.phase ?? '',
    runs: e.runs.length,
    runsSucceeded: count(e.runs, JobState.JOB_STATE_SUCCEEDED),
    runsFailed: count(e.runs, JobState.JOB_STATE_FAILED),
    runsRunning: count(e.runs, JobState.JOB_STATE_RUNNING),
    createdAt: e.status?.createdAt?.toISOString() ?? null,
    finishedAt: e.status?.finishedAt?.toISOString() ?? null,
    reportPath: e.reportPath,
    reportUrl: e.reportUrl,
    error: e.status?.error?.message ?? '',
  };
}
