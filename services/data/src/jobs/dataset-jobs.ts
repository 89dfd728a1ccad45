// Dataset generation as durable jobs (@gengap/job-store, kind "dataset", job id = dataset id):
// - create is idempotent on the spec (the id is the spec's hash), and on an optional idempotency key;
// - each job's event log holds JobStatus messages with dedupe keys ("state:RUNNING", "progress:40"),
//   so a job resumed after a crash re-emits nothing a watcher has already seen;
// - at start-up, jobs left QUEUED or RUNNING by a crash run again (generation is deterministic) and
//   staging directories they left are removed;
// - at most `concurrency` generations run at once, each in a worker thread;
// - writes of an attempt are fenced by its number, so a late write from an older attempt is refused.
import { type JobRecord, type JobStore, TERMINAL_STATES } from '@gengap/job-store';
import { JobStatus } from '@gengap/proto/common/v1/job';
import { type Dataset, DatasetManifest, DatasetSpec } from '@gengap/proto/data/v1/dataset';
import {
  FailedPreconditionError,
  InvalidArgumentError,
  jobStatusOf,
  type Logger,
  NotFoundError,
  ResourceExhaustedError,
} from '@gengap/service-kit';
import { GenerationFailure, type GenerationRunner } from '../generation/runner.ts';
import { Code } from '../generation/task.ts';
import type { DatasetStorage } from '../storage/dataset-storage.ts';
import type { ManifestFile } from '../storage/manifest-file.ts';
import type { DataLimits } from '../validation/limits.ts';
import { type ValidatedSpec, validateSpec } from '../validation/validate-spec.ts';

export const DATASET_JOB_KIND = 'dataset';

export interface DatasetJobsOptions {
  store: JobStore;
  storage: DatasetStorage;
  limits: DataLimits;
  /** Folder for parsed-source caches (Fashion-MNIST). */
  cacheDir: string;
  /** Generations running at once. */
  concurrency: number;
  /** Generations that may wait beyond the running ones; more CreateDatasets are RESOURCE_EXHAUSTED. */
  maxQueued?: number;
  runner: GenerationRunner;
  log: Logger;
}

interface Running {
  controller: AbortController;
  /** Resolves when the run has finished (whatever the outcome). */
  done: Promise<void>;
  /** Set once the files are complete and being published: cancelling then waits instead. */
  publishing: boolean;
}

export class DatasetJobs {
  private readonly options: DatasetJobsOptions;
  private readonly queue: string[] = [];
  private readonly running = new Map<string, Running>();
  private readonly manifests = new Map<string, ManifestFile>();
  private closed = false;

  constructor(options: DatasetJobsOptions) {
    this.options = options;
  }

  get limits(): DataLimits {
    return this.options.limits;
  }

  validate(spec: DatasetSpec | undefined): ValidatedSpec {
    return validateSpec(spec, this.options.limits);
  }

  /** Removes what a crash left behind and queues the jobs it interrupted. */
  async resume(): Promise<void> {
    const swept = await this.options.storage.sweep();
    const live = this.options.store.inStates(DATASET_JOB_KIND, ['QUEUED', 'RUNNING']);
    if (swept > 0 || live.length > 0) {
      this.options.log.info({ swept, resumed: live.map((j) => j.id) }, 'resuming dataset jobs');
    }
    for (const job of live) this.enqueue(job.id);
  }

  /** Stops running generations; their jobs stay RUNNING and resume at the next start. */
  async close(): Promise<void> {
    this.closed = true;
    this.queue.length = 0;
    const runs = [...this.running.values()];
    for (const run of runs) run.controller.abort(new Error('service stopping'));
    await Promise.all(runs.map((r) => r.done));
  }

  private datasetOf(job: JobRecord): Dataset {
    const dataset: Dataset = {
      datasetId: job.id,
      status: jobStatusOf(job),
      manifest: undefined,
      storageUri: '',
    };
    if (job.state === 'SUCCEEDED' && job.result) {
      dataset.manifest = DatasetManifest.decode(job.result);
      dataset.storageUri = this.options.storage.uri(job.id);
    }
    return dataset;
  }

  private requireJob(datasetId: string): JobRecord {
    const job = this.options.store.get(datasetId);
    if (!job || job.kind !== DATASET_JOB_KIND) throw new NotFoundError('dataset', datasetId);
    return job;
  }

  private appendStatus(job: JobRecord, key: string, attempt?: number): void {
    const payload = JobStatus.encode(jobStatusOf(job)).finish();
    this.options.store.appendEvent(job.id, key, payload, attempt);
  }

  async create(
    spec: DatasetSpec | undefined,
    idempotencyKey: string,
  ): Promise<{ dataset: Dataset; created: boolean }> {
    const validated = this.validate(spec);
    const id = validated.datasetId;
    const { store } = this.options;
    const newJob = {
      id,
      kind: DATASET_JOB_KIND,
      idempotencyKey: idempotencyKey || id,
      specHash: id,
      spec: DatasetSpec.encode(validated.spec).finish(),
    };
    // A key already used with another spec fails here (IdempotencyConflictError: ALREADY_EXISTS).
    let { job, created } = store.createOrGet(newJob);
    if (!created && (await this.needsNewRun(job))) {
      await this.waitIdle(id);
      store.deleteJob(id);
      this.manifests.delete(id);
      ({ job, created } = store.createOrGet(newJob));
    }
    if (created) {
      const maxQueued = this.options.maxQueued ?? Number.POSITIVE_INFINITY;
      if (this.queue.length >= maxQueued && this.running.size >= this.options.concurrency) {
        store.deleteJob(id);
        throw new ResourceExhaustedError(
          `dataset queue is full (${this.options.concurrency} generating, ${maxQueued} waiting); retry later`,
        );
      }
      this.appendStatus(job, 'state:QUEUED');
      this.enqueue(id);
    }
    return { dataset: this.datasetOf(job), created };
  }

  /** A cancelled job, a job that failed for a reason other than its spec, or a vanished dataset runs again. */
  private async needsNewRun(job: JobRecord): Promise<boolean> {
    if (job.state === 'CANCELLED') return true;
    if (job.state === 'FAILED') return job.error?.code !== Code.INVALID_ARGUMENT;
    if (job.state === 'SUCCEEDED') return (await this.options.storage.readManifest(job.id)) === undefined;
    return false;
  }

  get(datasetId: string): Dataset {
    return this.datasetOf(this.requireJob(datasetId));
  }

  list(pageSize: number, pageToken: string): { datasets: Dataset[]; nextPageToken: string } {
    if (pageSize > 1000) throw new InvalidArgumentError('page.pageSize', 'must be at most 1000');
    let page: ReturnType<JobStore['list']>;
    try {
      page = this.options.store.list({ kind: DATASET_JOB_KIND, pageSize, pageToken });
    } catch (err) {
      if (err instanceof RangeError)
        throw new InvalidArgumentError('page.pageToken', 'is not a token from a previous page');
      throw err;
    }
    return { datasets: page.jobs.map((j) => this.datasetOf(j)), nextPageToken: page.nextPageToken };
  }

  async cancel(datasetId: string): Promise<Dataset> {
    const job = this.requireJob(datasetId);
    if (TERMINAL_STATES.has(job.state)) return this.datasetOf(job);
    const run = this.running.get(datasetId);
    if (run?.publishing) {
      // The files are complete: cancelling now would only throw them away.
      await run.done;
      return this.get(datasetId);
    }
    const index = this.queue.indexOf(datasetId);
    if (index >= 0) this.queue.splice(index, 1);
    const cancelled = this.options.store.update(datasetId, { state: 'CANCELLED', finishedAt: Date.now() });
    this.appendStatus(cancelled, 'state:CANCELLED');
    if (run) {
      run.controller.abort(new Error('cancelled'));
      await run.done;
    }
    return this.datasetOf(this.requireJob(datasetId));
  }

  async delete(datasetId: string): Promise<void> {
    const job = this.options.store.get(datasetId);
    if (job && !TERMINAL_STATES.has(job.state)) await this.cancel(datasetId);
    await this.waitIdle(datasetId);
    const removed = /^[0-9a-f]{32}$/.test(datasetId) ? await this.options.storage.delete(datasetId) : false;
    if (!job && !removed) throw new NotFoundError('dataset', datasetId);
    if (job) this.options.store.deleteJob(datasetId);
    this.manifests.delete(datasetId);
  }

  private async waitIdle(datasetId: string): Promise<void> {
    await this.running.get(datasetId)?.done;
  }

  async *watch(
    datasetId: string,
    fromSequence: number,
    signal: AbortSignal,
  ): AsyncGenerator<{ sequence: number; status: JobStatus }> {
    this.requireJob(datasetId);
    for await (const event of this.options.store.watch(datasetId, fromSequence, signal)) {
      yield { sequence: event.sequence, status: JobStatus.decode(event.payload) };
    }
  }

  /** The stored manifest of a generated dataset (FAILED_PRECONDITION until it is generated). */
  async manifestFile(datasetId: string): Promise<ManifestFile> {
    const cached = this.manifests.get(datasetId);
    if (cached) return cached;
    const job = this.requireJob(datasetId);
    if (job.state !== 'SUCCEEDED') {
      throw new FailedPreconditionError(`dataset ${datasetId} is ${job.state}, not generated`);
    }
    const file = await this.options.storage.readManifest(datasetId);
    if (!file)
      throw new FailedPreconditionError(`dataset ${datasetId} has no stored files (create it again)`);
    this.manifests.set(datasetId, file);
    return file;
  }

  private enqueue(datasetId: string): void {
    if (this.closed || this.queue.includes(datasetId) || this.running.has(datasetId)) return;
    this.queue.push(datasetId);
    this.pump();
  }

  private pump(): void {
    while (!this.closed && this.running.size < this.options.concurrency && this.queue.length > 0) {
      const id = this.queue.shift() as string;
      const controller = new AbortController();
      const entry: Running = { controller, done: Promise.resolve(), publishing: false };
      this.running.set(id, entry);
      entry.done = this.run(id, entry)
        .catch((err: unknown) => this.options.log.error({ err, datasetId: id }, 'dataset job crashed'))
        .finally(() => {
          this.running.delete(id);
          this.pump();
        });
    }
  }

  private async run(datasetId: string, entry: Running): Promise<void> {
    const { store, storage, runner } = this.options;
    const queued = store.get(datasetId);
    if (!queued || TERMINAL_STATES.has(queued.state)) return;
    const log = this.options.log.child({ datasetId });
    const attempt = store.beginAttempt(datasetId);
    const started = store.update(datasetId, { state: 'RUNNING', startedAt: Date.now() }, attempt);
    this.appendStatus(started, 'state:RUNNING', attempt);
    let lastPercent = Math.round(started.progress * 100);
    const onProgress = (fraction: number, phase: string) => {
      const percent = Math.min(99, Math.floor(fraction * 100));
      if (percent <= lastPercent) return;
      lastPercent = percent;
      try {
        const job = store.update(datasetId, { progress: percent / 100, phase }, attempt);
        this.appendStatus(job, `progress:${percent}`, attempt);
      } catch (err) {
        log.warn({ err }, 'progress not recorded');
      }
    };
    let stagingDir: string | undefined;
    try {
      // Validated again: the configured limits may have changed since the job was created.
      const validated = this.validate(DatasetSpec.decode(queued.spec));
      stagingDir = await storage.stage(datasetId);
      log.info({ attempt, stagingDir }, 'generating dataset');
      const manifest = await runner(
        {
          datasetId,
          spec: DatasetSpec.encode(validated.spec).finish(),
          canonicalSpecJson: validated.canonicalJson,
          stagingDir,
          cacheDir: this.options.cacheDir,
        },
        onProgress,
        entry.controller.signal,
      );
      entry.publishing = true;
      if (store.get(datasetId)?.state !== 'RUNNING') {
        await storage.discard(stagingDir);
        return;
      }
      await storage.commit(datasetId, stagingDir);
      const done = store.update(
        datasetId,
        {
          state: 'SUCCEEDED',
          progress: 1,
          phase: 'done',
          finishedAt: Date.now(),
          result: DatasetManifest.encode(manifest).finish(),
        },
        attempt,
      );
      this.appendStatus(done, 'state:SUCCEEDED', attempt);
      log.info({ sizeBytes: manifest.sizeBytes }, 'dataset generated');
    } catch (err) {
      if (stagingDir) await storage.discard(stagingDir);
      if (entry.controller.signal.aborted) {
        log.info('generation stopped');
        return;
      }
      const failure =
        err instanceof GenerationFailure
          ? err
          : err instanceof InvalidArgumentError
            ? new GenerationFailure(Code.INVALID_ARGUMENT, err.message, err.field)
            : new GenerationFailure(Code.INTERNAL, err instanceof Error ? err.message : String(err));
      if (failure.code === Code.INTERNAL) log.error({ err }, 'dataset generation failed');
      const error = {
        code: failure.code,
        message: failure.message,
        ...(failure.field ? { field: failure.field } : {}),
      };
      const failed = store.update(datasetId, { state: 'FAILED', error, finishedAt: Date.now() }, attempt);
      this.appendStatus(failed, 'state:FAILED', attempt);
    }
  }
}
