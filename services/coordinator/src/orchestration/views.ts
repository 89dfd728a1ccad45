// The contract's view of what the store records: ExperimentRun per cell, ExperimentAnalysisRef per
// analysis, Experiment for the whole. Used by GetExperiment, the event log and the report.

import type { JobRecord } from '@gengap/job-store';
import { JobState, type JobStatus } from '@gengap/proto/common/v1/job';
import {
  type Experiment,
  type ExperimentAnalysisRef,
  type ExperimentRun,
  ExperimentSpec,
} from '@gengap/proto/coordinator/v1/experiment';
import { jobStatusOf, toProtoState } from '@gengap/service-kit';
import type { AnalysisRecord, CellRecord, CoordinatorStore } from '../store/coordinator-store.ts';

/** The name an analysis has inside its run ("sharpness@epoch5"), without the cell prefix. */
export function localAnalysisName(record: Pick<AnalysisRecord, 'name' | 'cellId'>): string {
  const prefix = `${record.cellId}/`;
  if (record.cellId && record.name.startsWith(prefix)) return record.name.slice(prefix.length);
  return record.name.replace(/^experiment\//, '');
}

export function analysisRefOf(record: AnalysisRecord): ExperimentAnalysisRef {
  const status: JobStatus = record.status ?? {
    state: toProtoState(record.state),
    progress: 0,
    phase: '',
    attempt: 0,
  };
  return {
    name: localAnalysisName(record),
    analysisId: record.analysisId,
    status: { ...status, state: toProtoState(record.state), phase: record.note || status.phase },
    // What the coordinator computed itself (shift detection's p-values, pre-training's comparison).
    summaryJson: record.resultJson,
  };
}

export function cellStatusOf(cell: CellRecord): JobStatus {
  const run = cell.runStatus;
  const state = toProtoState(cell.state);
  const status: JobStatus = {
    state,
    progress: state === JobState.JOB_STATE_SUCCEEDED ? 1 : (run?.progress ?? 0),
    phase: run?.phase ?? '',
    attempt: cell.attempt,
  };
  if (run?.createdAt) status.createdAt = run.createdAt;
  if (run?.startedAt) status.startedAt = run.startedAt;
  if (run?.finishedAt) status.finishedAt = run.finishedAt;
  if (cell.error)
    status.error = {
      code: cell.error.code,
      message: cell.error.message,
      field: cell.error.field ?? '',
      step: cell.error.step ?? 0,
    };
  return status;
}

export function experimentRunOf(cell: CellRecord, analyses: readonly AnalysisRecord[]): ExperimentRun {
  const run: ExperimentRun = {
    cellId: cell.cellId,
    label: cell.label,
    parameters: cell.parameters,
    seed: cell.seed,
    datasetId: cell.datasetId,
    runId: cell.runId,
    status: cellStatusOf(cell),
    analyses: analyses.filter((a) => a.cellId === cell.cellId).map(analysisRefOf),
    attempts: cell.attempt,
  };
  if (cell.summary) run.summary = cell.summary;
  return run;
}

export function experimentOf(store: CoordinatorStore, job: JobRecord): Experiment {
  const analyses = store.analyses(job.id);
  const meta = store.meta(job.id);
  return {
    experimentId: job.id,
    spec: ExperimentSpec.decode(job.spec),
    status: jobStatusOf(job),
    runs: store.cells(job.id).map((c) => experimentRunOf(c, analyses)),
    experimentAnalyses: analyses.filter((a) => a.cellId === '').map(analysisRefOf),
    reportPath: meta.reportPath,
    reportUrl: meta.reportUrl,
    preset: meta.preset,
    labels: job.labels,
  };
}
