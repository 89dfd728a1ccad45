// Mapping between the job store's records and the contracts' JobStatus.

import type { JobRecord, JobState as StoredState } from '@gengap/job-store';
import { JobState, type JobStatus } from '@gengap/proto/common/v1/job';

const stateToProto: Record<StoredState, JobState> = {
  QUEUED: JobState.JOB_STATE_QUEUED,
  RUNNING: JobState.JOB_STATE_RUNNING,
  SUCCEEDED: JobState.JOB_STATE_SUCCEEDED,
  FAILED: JobState.JOB_STATE_FAILED,
  CANCELLED: JobState.JOB_STATE_CANCELLED,
};

export function toProtoState(state: StoredState): JobState {
  return stateToProto[state];
}

/** The stored state for a proto filter value; undefined for UNSPECIFIED (no filter). */
export function fromProtoState(state: JobState | undefined): StoredState | undefined {
  for (const [k, v] of Object.entries(stateToProto)) if (v === state) return k as StoredState;
  return undefined;
}

export function jobStatusOf(job: JobRecord): JobStatus {
  const status: JobStatus = {
    state: toProtoState(job.state),
    progress: job.progress,
    phase: job.phase,
    createdAt: new Date(job.createdAt),
    attempt: job.attempt,
  };
  if (job.error) {
    status.error = {
      code: job.error.code,
      message: job.error.message,
      field: job.error.field ?? '',
      step: job.error.step ?? 0,
    };
  }
  if (job.startedAt) status.startedAt = new Date(job.startedAt);
  if (job.finishedAt) status.finishedAt = new Date(job.finishedAt);
  return status;
}
