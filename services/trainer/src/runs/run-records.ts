// Runs as jobs of kind "run" in the job store: how a run, its status transitions and its events are
// stored, and how a stored run becomes the contract's Run. Every status change is also an event of
// the run's log, keyed so that a resumed attempt never stores one twice.

import { createHash } from 'node:crypto';
import { join } from 'node:path';
import type { JobFailure, JobRecord, JobState, JobStore } from '@gengap/job-store';
import type { JobStatus } from '@gengap/proto/common/v1/job';
import { type Run, RunEvent, RunSpec, RunSummary } from '@gengap/proto/trainer/v1/run';
import { jobStatusOf } from '@gengap/service-kit';
import { listCheckpointInfos } from './checkpoints.ts';
import { UnknownRunError } from './errors.ts';

export const RUN_KIND = 'run';

/** Run ids derive from the idempotency key, so a repeated key finds its run without a second index. */
export function runIdFor(idempotencyKey: string): string {
  return `run-${createHash('sha256').update(idempotencyKey).digest('hex').slice(0, 24)}`;
}

export type RunEventBody = NonNullable<RunEvent['event']>;

export function encodeEvent(event: RunEventBody): Uint8Array {
  return RunEvent.encode({ sequence: 0, event }).finish();
}

export class RunRecords {
  readonly store: JobStore;
  private readonly stateDir: string;

  constructor(store: JobStore, stateDir: string) {
    this.store = store;
    this.stateDir = stateDir;
  }

  runDir(runId: string): string {
    return join(this.stateDir, 'runs', runId);
  }

  get(runId: string): JobRecord | undefined {
    return this.store.get(runId);
  }

  require(runId: string): JobRecord {
    const job = this.store.get(runId);
    if (!job || job.kind !== RUN_KIND) throw new UnknownRunError(runId);
    return job;
  }

  /** Creates the run in state QUEUED with its first status event, or returns the existing one. */
  create(
    idempotencyKey: string,
    spec: RunSpec,
    hash: string,
    labels: Record<string, string>,
  ): { job: JobRecord; created: boolean } {
    const result = this.store.createOrGet({
      id: runIdFor(idempotencyKey),
      kind: RUN_KIND,
      idempotencyKey,
      specHash: hash,
      spec: RunSpec.encode(spec).finish(),
      labels,
      state: 'QUEUED',
    });
    if (result.created) this.appendStatus(result.job, 'status:QUEUED');
    return result;
  }

  spec(job: JobRecord): RunSpec {
    return RunSpec.decode(job.spec);
  }

  summary(job: JobRecord): RunSummary | undefined {
    return job.result ? RunSummary.decode(job.result) : undefined;
  }

  toRun(job: JobRecord): Run {
    const run: Run = {
      runId: job.id,
      spec: this.spec(job),
      status: jobStatusOf(job),
      labels: job.labels,
      checkpoints: listCheckpointInfos(this.runDir(job.id)).map((c) => ({
        step: c.step,
        epoch: c.epoch,
        permanent: c.permanent,
        sha256Hex: c.sha256Hex,
      })),
    };
    const summary = this.summary(job);
    if (summary) run.summary = summary;
    return run;
  }

  appendEvent(runId: string, key: string, event: RunEventBody, attempt?: number): number | undefined {
    return this.store.appendEvent(runId, key, encodeEvent(event), attempt);
  }

  private appendStatus(job: JobRecord, key: string, attempt?: number): void {
    const status: JobStatus = jobStatusOf(job);
    this.appendEvent(job.id, key, { $case: 'status', value: status }, attempt);
  }

  /** Starts a new attempt: RUNNING, a fresh fencing number, a status event. Returns the attempt. */
  beginAttempt(runId: string, owner: string): number {
    const attempt = this.store.beginAttempt(runId, owner);
    const job = this.store.update(
      runId,
      { state: 'RUNNING', phase: 'starting', startedAt: this.require(runId).startedAt ?? Date.now() },
      attempt,
    );
    this.appendStatus(job, `status:RUNNING:${attempt}`, attempt);
    return attempt;
  }

  /**
   * Ends a run. The terminal status event is stored before the state changes, so a watcher that
   * sees the terminal state has already been offered every event.
   */
  finish(
    runId: string,
    state: Extract<JobState, 'SUCCEEDED' | 'FAILED' | 'CANCELLED'>,
    options: { attempt?: number; failure?: JobFailure; summary?: Uint8Array; phase?: string } = {},
  ): JobRecord {
    const job = this.require(runId);
    const finishedAt = Date.now();
    const final: JobRecord = {
      ...job,
      state,
      finishedAt,
      error: options.failure,
      progress: state === 'SUCCEEDED' ? 1 : job.progress,
      phase: options.phase ?? state.toLowerCase(),
    };
    this.appendStatus(final, `status:${state}`, options.attempt);
    return this.store.update(
      runId,
      {
        state,
        finishedAt,
        progress: final.progress,
        phase: final.phase,
        error: options.failure ?? null,
        ...(options.summary ? { result: options.summary } : {}),
        leaseOwner: null,
        leaseExpiresAt: null,
      },
      options.attempt,
    );
  }
}
