// One cell of an experiment, through its attempts: its dataset, a trainer run started with an
// idempotency key stored before the call (so a restarted coordinator finds the same run, never a
// second one), the run's event log followed from the last stored sequence, and the outcome.
// Transient failures (trainer unreachable, restarted, killed) get a new attempt after a backoff, up
// to max_attempts; deterministic ones (invalid spec, NaN) fail the cell at once.
import type { JobFailure, JobState } from '@gengap/job-store';
import { JobState as ProtoJobState } from '@gengap/proto/common/v1/job';
import type { Run, RunSpec } from '@gengap/proto/trainer/v1/run';
import type { Logger } from '@gengap/service-kit';
import type { TrainerApi } from '../clients/service-clients.ts';
import type { AttemptRef, Executor, Placement } from '../executors/executor.ts';
import type { AttemptRecord, CellRecord, CoordinatorStore } from '../store/coordinator-store.ts';
import { DatasetFailure, type DatasetProvider } from './datasets.ts';
import type { ExperimentEvents } from './events.ts';
import {
  type BackoffPolicy,
  backoffMs,
  classifyRunFailure,
  type FailureKind,
  failureOf,
  isTransientCallError,
  RpcCode,
  rpcCodeOf,
  sleep,
} from './failures.ts';

export const TERMINAL: ReadonlySet<JobState> = new Set(['SUCCEEDED', 'FAILED', 'CANCELLED']);

/** How long the coordinator keeps trying to cancel the run of an attempt it gave up on. */
export const STALE_RUN_CANCEL_MS = 15 * 60_000;

/** Labels every trainer run of the coordinator carries (ListRuns filters on them). */
export const RUN_LABELS = {
  experiment: 'gengap/experiment',
  cell: 'gengap/cell',
  attempt: 'gengap/attempt',
} as const;

/** Why an experiment's signal aborted: a user's cancel (runs are cancelled) or a shutdown (they go on). */
export class ExperimentCancelled extends Error {
  constructor() {
    super('experiment cancelled');
    this.name = 'ExperimentCancelled';
  }
}

export interface CellRunnerDeps {
  store: CoordinatorStore;
  executor: Executor;
  trainer(address: string): TrainerApi;
  datasets: DatasetProvider;
  events: ExperimentEvents;
  log: Logger;
  backoff: BackoffPolicy;
  /** How long an attempt may keep failing to reach its trainer before it counts as failed. */
  unreachableBudgetMs: number;
  maxAttempts: number;
  /** Takes a run slot (the concurrency limits); the returned function gives it back. */
  acquireSlot(signal: AbortSignal): Promise<() => void>;
}

type AttemptResult =
  | { kind: 'succeeded'; run: Run }
  | { kind: 'failed'; failureKind: FailureKind; failure: JobFailure }
  | { kind: 'cancelled' };

const TERMINAL_RUN = new Set<number>([
  ProtoJobState.JOB_STATE_SUCCEEDED,
  ProtoJobState.JOB_STATE_FAILED,
  ProtoJobState.JOB_STATE_CANCELLED,
]);

export function idempotencyKeyOf(experimentId: string, cellId: string, attempt: number): string {
  return `${experimentId}/${cellId}/${attempt}`;
}

export class CellRunner {
  private readonly deps: CellRunnerDeps;
  private readonly experimentId: string;

  constructor(experimentId: string, deps: CellRunnerDeps) {
    this.experimentId = experimentId;
    this.deps = deps;
  }

  private update(cellId: string, patch: Parameters<CoordinatorStore['updateCell']>[2]): CellRecord {
    const cell = this.deps.store.updateCell(this.experimentId, cellId, patch);
    this.deps.events.run(cell);
    return cell;
  }

  private fail(cellId: string, failure: JobFailure): CellRecord {
    this.deps.log.warn({ cellId, failure }, 'cell failed');
    return this.update(cellId, { state: 'FAILED', error: failure });
  }

  /** Runs the cell to a terminal state (or until `signal` aborts) and returns its record. */
  async run(cellId: string, signal: AbortSignal): Promise<CellRecord> {
    const { store } = this.deps;
    let cell = store.cell(this.experimentId, cellId);
    if (!cell) throw new Error(`cell ${cellId} is not stored`);
    if (TERMINAL.has(cell.state)) return cell;

    let datasetId = cell.datasetId || cell.runSpec.dataset?.datasetId || '';
    if (!datasetId) {
      if (!cell.datasetSpec)
        return this.fail(cellId, { code: RpcCode.INVALID_ARGUMENT, message: 'the cell names no dataset' });
      try {
        datasetId = await this.deps.datasets.ensure(cell.datasetSpec, signal);
      } catch (err) {
        if (err instanceof DatasetFailure) return this.fail(cellId, err.failure);
        throw err;
      }
    }
    if (cell.datasetId !== datasetId || cell.runSpec.dataset?.datasetId !== datasetId) {
      cell = store.updateCell(this.experimentId, cellId, {
        datasetId,
        runSpec: { ...cell.runSpec, dataset: { datasetId } },
      });
    }

    const release = await this.deps.acquireSlot(signal);
    try {
      return await this.attempts(cell, signal);
    } finally {
      release();
    }
  }

  private async attempts(initial: CellRecord, signal: AbortSignal): Promise<CellRecord> {
    const { store, log } = this.deps;
    const cellId = initial.cellId;
    let attempt = initial.attempt > 0 ? store.attempt(this.experimentId, cellId, initial.attempt) : undefined;
    for (;;) {
      if (!attempt || attempt.state === 'FAILED' || attempt.state === 'CANCELLED') {
        if (attempt && attempt.attempt >= this.deps.maxAttempts) {
          const last = attempt.error;
          return this.fail(cellId, {
            code: last?.code ?? RpcCode.UNAVAILABLE,
            message: `gave up after ${attempt.attempt} attempts; last: ${last?.message ?? 'unknown failure'}`,
          });
        }
        attempt = store.beginAttempt(this.experimentId, cellId, (n) =>
          idempotencyKeyOf(this.experimentId, cellId, n),
        );
        this.deps.events.run(store.cell(this.experimentId, cellId) as CellRecord);
        log.info({ cellId, attempt: attempt.attempt }, 'attempt started');
      }
      const result = await this.runAttempt(attempt, initial.runSpec, signal);
      if (result.kind === 'succeeded') {
        store.updateAttempt(this.experimentId, cellId, attempt.attempt, { state: 'SUCCEEDED', error: null });
        const summary = result.run.summary;
        return this.update(cellId, {
          state: 'SUCCEEDED',
          runId: result.run.runId,
          error: null,
          ...(result.run.status ? { runStatus: result.run.status } : {}),
          ...(summary ? { summary } : {}),
          ...(summary?.timeToFit ? { timeToFit: summary.timeToFit } : {}),
        });
      }
      if (result.kind === 'cancelled') {
        store.updateAttempt(this.experimentId, cellId, attempt.attempt, { state: 'CANCELLED' });
        return this.update(cellId, { state: 'CANCELLED' });
      }
      store.updateAttempt(this.experimentId, cellId, attempt.attempt, {
        state: 'FAILED',
        error: result.failure,
      });
      if (result.failureKind === 'deterministic') return this.fail(cellId, result.failure);
      const wait = backoffMs(attempt.attempt, this.deps.backoff);
      log.warn(
        { cellId, attempt: attempt.attempt, failure: result.failure, waitMs: wait },
        'attempt failed; retrying',
      );
      attempt = store.attempt(this.experimentId, cellId, attempt.attempt);
      await sleep(wait, signal);
    }
  }

  private async runAttempt(
    attempt: AttemptRecord,
    runSpec: RunSpec,
    signal: AbortSignal,
  ): Promise<AttemptResult> {
    const { executor, store, log } = this.deps;
    const ref: AttemptRef = {
      experimentId: this.experimentId,
      cellId: attempt.cellId,
      attempt: attempt.attempt,
      idempotencyKey: attempt.idempotencyKey,
    };
    let placement: Placement | undefined = attempt.placement;
    let runId = attempt.runId;
    let failingSince: number | undefined;
    let failures = 0;
    let outcome: AttemptResult | undefined;
    try {
      for (;;) {
        try {
          placement = await executor.place(ref, placement, signal);
          if (JSON.stringify(placement) !== JSON.stringify(attempt.placement)) {
            store.updateAttempt(this.experimentId, ref.cellId, ref.attempt, { placement });
            attempt = { ...attempt, placement };
          }
          const infra = await executor.check(ref, placement, signal);
          if (infra) {
            outcome = { kind: 'failed', failureKind: infra.kind, failure: infra.failure };
            return outcome;
          }
          const trainer = this.deps.trainer(placement.trainerAddress);
          if (!runId) {
            const started = await trainer.startRun(
              {
                spec: { ...runSpec, seed: runSpec.seed },
                idempotencyKey: ref.idempotencyKey,
                labels: {
                  [RUN_LABELS.experiment]: this.experimentId,
                  [RUN_LABELS.cell]: ref.cellId,
                  [RUN_LABELS.attempt]: String(ref.attempt),
                },
              },
              signal,
            );
            runId = started.run?.runId ?? '';
            if (!runId) throw new Error('StartRun answered without a run id');
            store.updateAttempt(this.experimentId, ref.cellId, ref.attempt, { runId });
            this.update(ref.cellId, { state: 'RUNNING', runId });
            log.info(
              { cellId: ref.cellId, runId, created: started.created, trainer: trainer.address },
              'run started',
            );
          }
          const run = await this.follow(trainer, ref, runId, signal);
          outcome = this.outcomeOf(run, signal);
          return outcome;
        } catch (err) {
          if (signal.aborted) throw signal.reason;
          const code = rpcCodeOf(err);
          if (code === RpcCode.NOT_FOUND && runId) {
            outcome = {
              kind: 'failed',
              failureKind: 'transient',
              failure: { code: RpcCode.NOT_FOUND, message: `run ${runId} is no longer known to its trainer` },
            };
            return outcome;
          }
          if (!isTransientCallError(err)) {
            outcome = { kind: 'failed', failureKind: 'deterministic', failure: failureOf(err) };
            return outcome;
          }
          // Trainer busy: wait without using up the attempt's patience.
          if (code !== RpcCode.RESOURCE_EXHAUSTED) failingSince ??= Date.now();
          else failingSince = undefined;
          if (failingSince !== undefined && Date.now() - failingSince > this.deps.unreachableBudgetMs) {
            if (runId && placement) this.abandonStaleRun(placement.trainerAddress, runId);
            outcome = {
              kind: 'failed',
              failureKind: 'transient',
              failure: {
                ...failureOf(err),
                message: `trainer unreachable for ${this.deps.unreachableBudgetMs} ms: ${failureOf(err).message}`,
              },
            };
            return outcome;
          }
          failures++;
          const wait = backoffMs(failures, this.deps.backoff);
          log.warn({ cellId: ref.cellId, runId, err, waitMs: wait }, 'trainer call failed; retrying');
          await sleep(wait, signal);
        }
      }
    } finally {
      if (placement && outcome) {
        const released =
          outcome.kind === 'succeeded' ? 'succeeded' : outcome.kind === 'cancelled' ? 'cancelled' : 'failed';
        await executor.release(ref, placement, released).catch((err) => log.warn({ err }, 'release failed'));
      }
      if (signal.aborted && signal.reason instanceof ExperimentCancelled && runId && placement) {
        await this.deps
          .trainer(placement.trainerAddress)
          .cancelRun(runId)
          .catch((err) => log.warn({ err, runId }, 'could not cancel the run'));
        if (!outcome) await executor.release(ref, placement, 'cancelled').catch(() => {});
      }
    }
  }

  /**
   * The attempt's trainer stopped answering (killed, SIGSTOPped, cut off) and the cell moves on to a
   * new attempt, placed elsewhere. The old run may still be alive there: a stopped or partitioned
   * trainer comes back and carries on. Cancel it, in the background, as soon as that trainer answers
   * again (for up to STALE_RUN_CANCEL_MS), so the stale attempt neither finishes a second result for
   * the cell nor keeps a training slot. Its events are never read again (the cell follows the new run).
   */
  private abandonStaleRun(address: string, runId: string): void {
    const { log, backoff } = this.deps;
    const trainer = this.deps.trainer(address);
    const giveUpAt = Date.now() + STALE_RUN_CANCEL_MS;
    const tryCancel = async (n: number): Promise<void> => {
      try {
        await trainer.cancelRun(runId, AbortSignal.timeout(5_000));
        log.info({ runId, trainer: address }, 'stale run cancelled on the trainer that came back');
        return;
      } catch (err) {
        if (!isTransientCallError(err) || Date.now() > giveUpAt) {
          log.warn({ err, runId, trainer: address }, 'could not cancel the stale run');
          return;
        }
      }
      await new Promise((r) => setTimeout(r, backoffMs(n, backoff)).unref());
      return tryCancel(n + 1);
    };
    void tryCancel(1);
  }

  /** Reads the run's event log from where the coordinator left off, until the run ends. */
  private async follow(
    trainer: TrainerApi,
    ref: AttemptRef,
    runId: string,
    signal: AbortSignal,
  ): Promise<Run> {
    const { store, events } = this.deps;
    const attempt = store.attempt(this.experimentId, ref.cellId, ref.attempt);
    let next = attempt?.nextSequence ?? 0;
    let progress = 0;
    for await (const message of trainer.watchRun(runId, next, signal)) {
      const event = message.event;
      if (!event) continue;
      const payload = event.event;
      switch (payload?.$case) {
        case 'epoch':
          store.recordEpoch(this.experimentId, ref.cellId, runId, payload.value);
          events.progress(ref.cellId, runId, payload.value, progress);
          break;
        case 'step':
          store.recordStep(this.experimentId, ref.cellId, runId, payload.value);
          break;
        case 'timeToFit':
          store.updateCell(this.experimentId, ref.cellId, { timeToFit: payload.value });
          break;
        case 'status':
          progress = payload.value.progress;
          store.updateCell(this.experimentId, ref.cellId, { runStatus: payload.value });
          break;
        default:
          break;
      }
      next = event.sequence + 1;
      store.updateAttempt(this.experimentId, ref.cellId, ref.attempt, { nextSequence: next });
    }
    const run = (await trainer.getRun(runId, signal)).run;
    if (!run || !TERMINAL_RUN.has(run.status?.state ?? 0)) {
      // The stream ended before the run did (the trainer is stopping): follow it again.
      throw Object.assign(new Error(`the event stream of run ${runId} ended before the run`), {
        code: RpcCode.UNAVAILABLE,
      });
    }
    return run;
  }

  private outcomeOf(run: Run, signal: AbortSignal): AttemptResult {
    const state = run.status?.state;
    if (state === ProtoJobState.JOB_STATE_SUCCEEDED) return { kind: 'succeeded', run };
    if (state === ProtoJobState.JOB_STATE_CANCELLED) {
      if (signal.aborted) return { kind: 'cancelled' };
      return {
        kind: 'failed',
        failureKind: 'transient',
        failure: { code: RpcCode.ABORTED, message: `run ${run.runId} was cancelled outside the coordinator` },
      };
    }
    const error = run.status?.error;
    const failure: JobFailure = {
      code: error?.code || RpcCode.INTERNAL,
      message: error?.message || `run ${run.runId} failed`,
    };
    if (error?.field) failure.field = error.field;
    if (error?.step) failure.step = error.step;
    return { kind: 'failed', failureKind: classifyRunFailure(failure), failure };
  }
}
