// Analyses as durable jobs: StartAnalysis is idempotent on its key, a job waits in a bounded queue
// for one of `maxConcurrent` slots, its status and events live in the job store (so WatchAnalysis can
// resume from any sequence number), and jobs left QUEUED or RUNNING by a crash are run again on start
// (analyses are deterministic given their seed, so a re-run gives the same result). Attempts are
// fenced: a cancelled or superseded attempt can no longer write.
import { createHash, randomUUID } from 'node:crypto';
import { type JobRecord, type JobStore, TERMINAL_STATES } from '@gengap/job-store';
import {
  type Analysis,
  type AnalysisEvent,
  AnalysisResult,
  AnalysisSpec,
} from '@gengap/proto/analysis/v1/analysis';
import { type JobState, JobStatus } from '@gengap/proto/common/v1/job';
import {
  CancelledError,
  FailedPreconditionError,
  fromProtoState,
  InvalidArgumentError,
  jobStatusOf,
  NotFoundError,
  ResourceExhaustedError,
  toServiceError,
} from '@gengap/service-kit';
import type { Logger } from 'pino';
import type { LoadedCheckpoint } from '../analyses/kind.ts';
import { type KindRegistry, protoFieldName } from '../analyses/registry.ts';
import { validateSpec } from '../analyses/validate-spec.ts';
import type { InputServices } from '../inputs/job-inputs.ts';
import type { DerivedCheckpointSource } from '../inputs/sources.ts';
import type { ArtifactStore, OpenedArtifact } from './artifact-store.ts';
import { executeAnalysis } from './job-execution.ts';
import { jobProgress } from './progress.ts';

export const JOB_KIND = 'analysis';
/** Label added to every analysis of a run checkpoint, so a run's analyses can be listed. */
export const RUN_LABEL = 'gengap/run-id';

export interface AnalysisJobsOptions {
  store: JobStore;
  artifacts: ArtifactStore;
  registry: KindRegistry;
  /** Input sources and caches; the derived-checkpoint source is this object itself. */
  inputs: Omit<InputServices, 'derived'>;
  log: Logger;
  maxConcurrent: number;
  maxQueued: number;
  /** Intra-op threads when the spec says 0. */
  defaultThreads: number;
}

interface Running {
  controller: AbortController;
  done: Promise<void>;
}

class ShutdownSignal extends CancelledError {
  constructor() {
    super('analysis service is stopping');
  }
}

export class AnalysisJobs implements DerivedCheckpointSource {
  private readonly options: AnalysisJobsOptions;
  private readonly store: JobStore;
  private readonly log: Logger;
  private readonly queue: string[] = [];
  private readonly running = new Map<string, Running>();
  private readonly inputs: InputServices;
  private closing = false;

  constructor(options: AnalysisJobsOptions) {
    this.options = options;
    this.store = options.store;
    this.log = options.log;
    this.inputs = { ...options.inputs, derived: this };
  }

  /** What this service runs: kind names as proto fields, and its concurrency. */
  info(): { kinds: string[]; maxConcurrentAnalyses: number } {
    return {
      kinds: this.options.registry.names.map(protoFieldName).sort(),
      maxConcurrentAnalyses: this.options.maxConcurrent,
    };
  }

  // ---- requests ----

  start(request: {
    spec: AnalysisSpec | undefined;
    idempotencyKey: string;
    labels: Record<string, string>;
  }): {
    analysis: Analysis;
    created: boolean;
  } {
    if (this.closing) throw new FailedPreconditionError('analysis service is stopping');
    if (!request.idempotencyKey) throw new InvalidArgumentError('idempotency_key', 'is required');
    const spec = validateSpec(request.spec, this.options.registry);
    const specBytes = AnalysisSpec.encode(spec).finish();
    const specHash = createHash('sha256').update(specBytes).digest('hex');
    const labels = { ...request.labels };
    const source = spec.checkpoint?.source;
    if (source?.$case === 'run') labels[RUN_LABEL] = source.value.runId;
    const { job, created } = this.store.createOrGet({
      id: randomUUID(),
      kind: JOB_KIND,
      idempotencyKey: request.idempotencyKey,
      specHash,
      spec: specBytes,
      labels,
    });
    if (created) {
      const waiting = this.store.inStates(JOB_KIND, ['QUEUED', 'RUNNING']).length - 1;
      if (waiting >= this.options.maxConcurrent + this.options.maxQueued) {
        this.store.deleteJob(job.id);
        throw new ResourceExhaustedError(
          `analysis queue is full (${this.options.maxConcurrent} running, ${this.options.maxQueued} queued); retry later`,
        );
      }
      this.appendStatus(job.id, 'state:QUEUED', job);
      this.queue.push(job.id);
      this.pump();
    }
    return { analysis: this.toAnalysis(this.store.require(job.id)), created };
  }

  get(analysisId: string): Analysis {
    return this.toAnalysis(this.requireJob(analysisId));
  }

  list(query: { pageSize: number; pageToken: string; state: JobState; labels: Record<string, string> }): {
    analyses: Analysis[];
    nextPageToken: string;
  } {
    let page: ReturnType<JobStore['list']>;
    try {
      page = this.store.list({
        kind: JOB_KIND,
        state: fromProtoState(query.state),
        labels: query.labels,
        pageSize: query.pageSize,
        pageToken: query.pageToken,
      });
    } catch (err) {
      if (err instanceof RangeError) throw new InvalidArgumentError('page.page_token', err.message);
      throw err;
    }
    return { analyses: page.jobs.map((j) => this.toAnalysis(j)), nextPageToken: page.nextPageToken };
  }

  cancel(analysisId: string): Analysis {
    const job = this.requireJob(analysisId);
    if (TERMINAL_STATES.has(job.state)) return this.toAnalysis(job);
    // A new attempt number fences the running attempt: its later writes are rejected.
    this.store.beginAttempt(analysisId);
    const index = this.queue.indexOf(analysisId);
    if (index >= 0) this.queue.splice(index, 1);
    const updated = this.store.update(analysisId, {
      state: 'CANCELLED',
      finishedAt: Date.now(),
      phase: 'cancelled',
    });
    this.appendStatus(analysisId, 'state:CANCELLED', updated);
    this.running.get(analysisId)?.controller.abort(new CancelledError('analysis cancelled'));
    return this.toAnalysis(updated);
  }

  async *watch(analysisId: string, fromSequence: number, signal: AbortSignal): AsyncGenerator<AnalysisEvent> {
    this.requireJob(analysisId);
    for await (const event of this.store.watch(analysisId, fromSequence, signal)) {
      yield { sequence: event.sequence, status: JobStatus.decode(event.payload) };
    }
  }

  async openArtifact(analysisId: string, name: string): Promise<OpenedArtifact> {
    this.requireJob(analysisId);
    if (!name) throw new InvalidArgumentError('artifact', 'is required');
    return this.options.artifacts.open(analysisId, name);
  }

  /** DerivedCheckpointSource: the checkpoint a RESCALE analysis wrote. */
  async load(analysisId: string, _signal: AbortSignal): Promise<LoadedCheckpoint> {
    const job = this.store.get(analysisId);
    if (!job) throw new NotFoundError('analysis', analysisId);
    if (job.state !== 'SUCCEEDED' || !job.result) {
      throw new FailedPreconditionError(
        `analysis ${analysisId} has not succeeded (${job.state}); no checkpoint yet`,
      );
    }
    const result = AnalysisResult.decode(job.result);
    if (result.kind?.$case !== 'rescale') {
      throw new FailedPreconditionError(
        `analysis ${analysisId} did not produce a checkpoint (it is not a rescale)`,
      );
    }
    const stored = await this.options.artifacts.readCheckpoint(analysisId, result.kind.value.artifact);
    return {
      model: stored.model,
      parameters: stored.parameters,
      runId: stored.metadata['gengap.source_run_id'] ?? '',
      step: Number(stored.metadata['gengap.source_step'] ?? 0),
      origin: `analysis:${analysisId}`,
    };
  }

  // ---- life cycle ----

  /** Queues jobs left QUEUED or RUNNING by a previous process (RUNNING ones start a new attempt). */
  resume(): void {
    for (const job of this.store.inStates(JOB_KIND, ['QUEUED', 'RUNNING'])) {
      if (!this.queue.includes(job.id) && !this.running.has(job.id)) {
        this.log.info({ analysisId: job.id, state: job.state, attempt: job.attempt }, 'resuming analysis');
        this.queue.push(job.id);
      }
    }
    this.pump();
  }

  /** Stops running jobs (they stay RUNNING and resume on the next start) and waits for them. */
  async close(): Promise<void> {
    this.closing = true;
    this.queue.length = 0;
    const running = [...this.running.values()];
    for (const r of running) r.controller.abort(new ShutdownSignal());
    await Promise.all(running.map((r) => r.done));
  }

  get runningCount(): number {
    return this.running.size;
  }

  // ---- internals ----

  private requireJob(analysisId: string): JobRecord {
    if (!analysisId) throw new InvalidArgumentError('analysis_id', 'is required');
    const job = this.store.get(analysisId);
    if (!job || job.kind !== JOB_KIND) throw new NotFoundError('analysis', analysisId);
    return job;
  }

  private toAnalysis(job: JobRecord): Analysis {
    const analysis: Analysis = {
      analysisId: job.id,
      spec: AnalysisSpec.decode(job.spec),
      status: jobStatusOf(job),
      labels: job.labels,
      result: undefined,
    };
    if (job.state === 'SUCCEEDED' && job.result) analysis.result = AnalysisResult.decode(job.result);
    return analysis;
  }

  private appendStatus(jobId: string, key: string, job: JobRecord, attempt?: number): void {
    this.store.appendEvent(jobId, key, JobStatus.encode(jobStatusOf(job)).finish(), attempt);
  }

  private pump(): void {
    while (!this.closing && this.running.size < this.options.maxConcurrent && this.queue.length > 0) {
      const id = this.queue.shift()!;
      const job = this.store.get(id);
      if (!job || TERMINAL_STATES.has(job.state) || this.running.has(id)) continue;
      const controller = new AbortController();
      const done = this.execute(job, controller).finally(() => {
        this.running.delete(id);
        this.pump();
      });
      this.running.set(id, { controller, done });
    }
  }

  private async execute(queued: JobRecord, controller: AbortController): Promise<void> {
    const id = queued.id;
    const log = this.log.child({ analysisId: id });
    const attempt = this.store.beginAttempt(id);
    let job: JobRecord;
    try {
      job = this.store.update(
        id,
        { state: 'RUNNING', startedAt: queued.startedAt ?? Date.now(), phase: 'starting', error: null },
        attempt,
      );
      this.appendStatus(id, `state:RUNNING:${attempt}`, job, attempt);
    } catch (err) {
      log.warn({ err }, 'could not start analysis attempt');
      return;
    }
    const spec = AnalysisSpec.decode(job.spec);
    const kind = this.options.registry.get(spec.kind!.$case);
    try {
      if (!kind)
        throw new FailedPreconditionError(`analysis kind ${spec.kind?.$case} is no longer available`);
      const progress = jobProgress(
        (fraction, phase) => {
          try {
            const updated = this.store.update(id, { progress: fraction, phase }, attempt);
            this.appendStatus(id, `p:${Math.floor(fraction * 1000)}:${phase}`, updated, attempt);
          } catch (err) {
            controller.abort(err);
          }
        },
        controller.signal,
        job.progress,
      );
      log.info({ kind: spec.kind?.$case, attempt }, 'analysis started');
      const result = await executeAnalysis({
        analysisId: id,
        spec,
        kind,
        log,
        signal: controller.signal,
        threads: spec.threads || this.options.defaultThreads,
        progress,
        inputs: this.inputs,
        artifacts: this.options.artifacts,
      });
      const finished = this.store.update(
        id,
        {
          state: 'SUCCEEDED',
          progress: 1,
          phase: 'done',
          result: AnalysisResult.encode(result).finish(),
          finishedAt: Date.now(),
        },
        attempt,
      );
      this.appendStatus(id, 'state:SUCCEEDED', finished, attempt);
      log.info({ wallSeconds: result.wallSeconds }, 'analysis succeeded');
    } catch (err) {
      if (controller.signal.aborted) {
        const reason = controller.signal.reason;
        log.info({ reason: (reason as Error)?.message }, 'analysis stopped');
        return;
      }
      if ((err as Error)?.name === 'StaleAttemptError') return;
      const mapped = toServiceError(err, log);
      const failure = {
        code: mapped.code ?? 13,
        message: mapped.details ?? 'internal error',
        ...(err instanceof InvalidArgumentError ? { field: err.field } : {}),
      };
      try {
        const failed = this.store.update(
          id,
          { state: 'FAILED', error: failure, finishedAt: Date.now(), phase: 'failed' },
          attempt,
        );
        this.appendStatus(id, 'state:FAILED', failed, attempt);
        log.warn({ code: failure.code, message: failure.message }, 'analysis failed');
      } catch (writeErr) {
        log.warn({ err: writeErr }, 'could not record the failure (attempt superseded?)');
      }
    }
  }
}
