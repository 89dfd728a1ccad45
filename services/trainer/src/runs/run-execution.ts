// One attempt of one run, seen from the main thread: resolve its inputs (dataset splits from the
// cache, teacher and init_from checkpoints), start a worker thread that trains, store what the worker
// reports in the order it reports it, and record the outcome. The worker owns the ORT session, so a
// training loop never blocks the gRPC event loop.
import type { Worker } from 'node:worker_threads';
import { type JobFailure, StaleAttemptError } from '@gengap/job-store';
import { ModelSpec } from '@gengap/proto/common/v1/model';
import type { RunSpec } from '@gengap/proto/trainer/v1/run';
import { GenGapError, InvalidArgumentError, type Logger } from '@gengap/service-kit';
import type { DatasetReader } from '../datasets/dataset-source.ts';
import type { CheckpointResolver } from './checkpoint-refs.ts';
import { queryPlanOf } from './query-dataset.ts';
import type { RunRecords } from './run-records.ts';
import { planRun } from './run-spec.ts';
import type { ScheduledRun } from './scheduler.ts';
import type { WorkerPool } from './worker-pool.ts';
import {
  ControlFlag,
  type MainToWorker,
  type WorkerInput,
  type WorkerOutcome,
  type WorkerToMain,
} from './worker-protocol.ts';

export interface ExecutionDeps {
  records: RunRecords;
  datasets: DatasetReader;
  checkpoints: CheckpointResolver;
  log: Logger;
  defaultThreads: number;
  checkpointCapSteps: number;
  /** Identifies this trainer process as the owner of its attempts. */
  owner: string;
  workers: WorkerPool;
}

/** gRPC codes of failures worth retrying while preparing (UNAVAILABLE, DEADLINE_EXCEEDED, ABORTED). */
const TRANSIENT_CODES = new Set([14, 4, 10]);
const PREPARE_ATTEMPTS = 6;

function codeOf(err: unknown): number {
  if (err instanceof GenGapError) return err.code;
  const code = (err as { code?: unknown } | undefined)?.code;
  return typeof code === 'number' && code > 0 && code < 17 ? code : 13;
}

function failureOf(err: unknown): JobFailure {
  const failure: JobFailure = { code: codeOf(err), message: (err as Error)?.message ?? String(err) };
  const field = (err as { field?: unknown })?.field;
  if (typeof field === 'string') failure.field = field;
  const step = (err as { step?: unknown })?.step;
  if (typeof step === 'number') failure.step = step;
  return failure;
}

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(timer);
      resolve();
    });
  });

export class RunExecution implements ScheduledRun {
  readonly runId: string;
  readonly attempt: number;
  readonly done: Promise<void>;
  private readonly deps: ExecutionDeps;
  private readonly log: Logger;
  private readonly control = new Int32Array(new SharedArrayBuffer(4));
  private readonly abort = new AbortController();
  private worker: Worker | undefined;
  private fenced = false;

  constructor(deps: ExecutionDeps, runId: string) {
    this.deps = deps;
    this.runId = runId;
    this.attempt = deps.records.beginAttempt(runId, deps.owner);
    this.log = deps.log.child({ runId, attempt: this.attempt });
    this.done = this.execute().catch((err: unknown) => {
      this.log.error({ err }, 'run execution failed unexpectedly');
    });
  }

  /** The client cancelled: the worker stops after its current Loop chunk; the run ends CANCELLED. */
  cancel(): void {
    Atomics.store(this.control, 0, ControlFlag.CANCEL);
    this.abort.abort();
  }

  /** The trainer is stopping: the worker stops after its chunk; the run stays RUNNING to resume later. */
  interrupt(): void {
    if (Atomics.load(this.control, 0) === ControlFlag.RUN)
      Atomics.store(this.control, 0, ControlFlag.SHUTDOWN);
    this.abort.abort();
  }

  /** Stops the worker thread at once (after `interrupt` took too long). */
  async terminate(): Promise<void> {
    await this.worker?.terminate();
  }

  private get flag(): number {
    return Atomics.load(this.control, 0);
  }

  private async execute(): Promise<void> {
    let input: WorkerInput;
    try {
      input = await this.prepareWithRetries();
    } catch (err) {
      if (this.flag === ControlFlag.SHUTDOWN) return;
      if (this.flag === ControlFlag.CANCEL) {
        this.finish({ kind: 'cancelled', summary: new Uint8Array() });
        return;
      }
      this.log.warn({ err }, 'run failed while preparing its inputs');
      this.finish({ kind: 'failed', failure: failureOf(err), summary: new Uint8Array() });
      return;
    }
    if (this.flag === ControlFlag.SHUTDOWN) return;
    if (this.flag === ControlFlag.CANCEL) {
      this.finish({ kind: 'cancelled', summary: new Uint8Array() });
      return;
    }
    const outcome = await this.runWorker(input);
    if (!this.fenced) this.finish(outcome);
  }

  private async prepareWithRetries(): Promise<WorkerInput> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.prepare();
      } catch (err) {
        if (this.abort.signal.aborted || !TRANSIENT_CODES.has(codeOf(err)) || attempt >= PREPARE_ATTEMPTS)
          throw err;
        const delayMs = Math.min(30_000, 500 * 2 ** attempt);
        this.log.warn({ err, delayMs }, 'a dependency is unavailable; retrying');
        await sleep(delayMs, this.abort.signal);
      }
    }
  }

  private async prepare(): Promise<WorkerInput> {
    const { records, datasets, checkpoints } = this.deps;
    const signal = this.abort.signal;
    const job = records.require(this.runId);
    const spec: RunSpec = records.spec(job);
    const datasetId = spec.dataset?.datasetId ?? '';
    const info = await datasets.info(datasetId, signal);
    const query = await queryPlanOf(datasets, spec, signal);
    planRun(spec, info, this.deps.checkpointCapSteps, query);
    const input: WorkerInput = {
      runId: this.runId,
      attempt: this.attempt,
      spec: job.spec,
      specHash: job.specHash,
      runDir: records.runDir(this.runId),
      threads: spec.threads || this.deps.defaultThreads,
      numClasses: info.numClasses,
      inputShape: info.inputShape,
      online: info.online,
      checkpointEverySteps: this.deps.checkpointCapSteps,
      control: this.control.buffer as SharedArrayBuffer,
    };
    if (!info.online) {
      const train = await datasets.readSplit(datasetId, 'train', signal);
      input.train = { x: train.x, xShape: train.xShape, y: train.y };
    }
    if (info.testSize > 0) {
      const test = await datasets.readSplit(datasetId, 'test', signal);
      input.test = { x: test.x, xShape: test.xShape, y: test.y };
    }
    if (spec.teacher?.checkpoint) {
      const teacher = await checkpoints.resolve(spec.teacher.checkpoint, 'spec.teacher.checkpoint', signal);
      input.teacher = { model: ModelSpec.encode(teacher.model).finish(), parameters: teacher.parameters };
      this.log.info({ teacher: teacher.origin }, 'teacher loaded');
    }
    if (spec.initFrom) {
      const init = await checkpoints.resolve(spec.initFrom, 'spec.init_from', signal);
      input.initFrom = init.parameters;
      this.log.info({ initFrom: init.origin }, 'initial parameters loaded');
    }
    const disagreement = spec.disagreement;
    if (disagreement?.base && disagreement.query && query) {
      const base = await checkpoints.resolve(disagreement.base, 'spec.disagreement.base', signal);
      if (base.model.numOutputs !== spec.model?.numOutputs) {
        throw new InvalidArgumentError(
          'spec.disagreement.base',
          `${base.origin} has ${base.model.numOutputs} outputs; this model has ${spec.model?.numOutputs}`,
        );
      }
      input.base = { model: ModelSpec.encode(base.model).finish(), parameters: base.parameters };
      const split = await datasets.readSplit(disagreement.query.datasetId, query.split, signal);
      input.query = { x: split.x, xShape: split.xShape, y: split.y, plan: query };
      this.log.info({ base: base.origin, query: query.size }, 'disagreement base and query set loaded');
    }
    return input;
  }

  private runWorker(input: WorkerInput): Promise<WorkerOutcome> {
    return new Promise<WorkerOutcome>((resolve) => {
      let crash: unknown;
      let settled = false;
      const worker = this.deps.workers.start(input);
      this.worker = worker;
      worker.on('message', (message: WorkerToMain) => {
        if (settled) return;
        try {
          if (message.type === 'done') {
            // The run is over and the worker is idle again: hand it back for the next run.
            settled = true;
            this.worker = undefined;
            this.deps.workers.release(worker);
            resolve(message.outcome);
          } else {
            this.handle(worker, message);
          }
        } catch (err) {
          if (err instanceof StaleAttemptError) {
            // A newer attempt owns the run: this one must not write anything more.
            this.fenced = true;
            this.log.warn('attempt fenced off by a newer one; stopping its worker');
          } else {
            crash = err;
          }
          void worker.terminate();
        }
      });
      worker.on('error', (err) => {
        crash = err;
      });
      worker.on('exit', (code) => {
        this.worker = undefined;
        if (settled) return;
        settled = true;
        if (this.flag === ControlFlag.SHUTDOWN) resolve({ kind: 'interrupted' });
        else if (this.flag === ControlFlag.CANCEL && !crash)
          resolve({ kind: 'cancelled', summary: new Uint8Array() });
        else {
          this.log.error({ err: crash, exitCode: code }, 'training worker died');
          const message = crash
            ? `training worker failed: ${(crash as Error).message}`
            : `training worker exited with code ${code}`;
          resolve({ kind: 'failed', failure: { code: 13, message }, summary: new Uint8Array() });
        }
      });
    });
  }

  private handle(worker: Worker, message: Exclude<WorkerToMain, { type: 'done' }>): void {
    const { records } = this.deps;
    switch (message.type) {
      case 'events':
        for (const event of message.events) {
          records.store.appendEvent(this.runId, event.key, event.payload, this.attempt);
        }
        return;
      case 'flush':
        worker.postMessage({ type: 'flushed', id: message.id } satisfies MainToWorker);
        return;
      case 'progress':
        records.store.update(
          this.runId,
          { progress: message.progress, phase: message.phase, result: message.summary },
          this.attempt,
        );
        return;
      case 'onlineBatches':
        this.serveOnlineBatches(worker, message);
        return;
    }
  }

  private serveOnlineBatches(
    worker: Worker,
    request: Extract<WorkerToMain, { type: 'onlineBatches' }>,
  ): void {
    const job = this.deps.records.require(this.runId);
    const datasetId = this.deps.records.spec(job).dataset?.datasetId ?? '';
    this.deps.datasets
      .onlineBatches(datasetId, request.batchSize, request.startBatch, request.count, this.abort.signal)
      .then(
        (batches) => {
          const reply: MainToWorker = { type: 'onlineBatches', id: request.id, batches };
          worker.postMessage(
            reply,
            batches.flatMap((b) => [b.x.buffer as ArrayBuffer, b.y.buffer as ArrayBuffer]),
          );
        },
        (err: unknown) => {
          worker.postMessage({
            type: 'onlineBatches',
            id: request.id,
            error: (err as Error).message,
          } satisfies MainToWorker);
        },
      );
  }

  private finish(outcome: WorkerOutcome): void {
    const { records } = this.deps;
    const summary = 'summary' in outcome && outcome.summary.byteLength > 0 ? outcome.summary : undefined;
    const options = { attempt: this.attempt, ...(summary ? { summary } : {}) };
    try {
      switch (outcome.kind) {
        case 'interrupted':
          this.log.info('run interrupted by shutdown; it resumes from its last checkpoint on the next start');
          return;
        case 'succeeded':
          records.finish(this.runId, 'SUCCEEDED', options);
          this.log.info('run succeeded');
          return;
        case 'cancelled':
          records.finish(this.runId, 'CANCELLED', options);
          this.log.info('run cancelled');
          return;
        case 'failed':
          records.finish(this.runId, 'FAILED', { ...options, failure: outcome.failure });
          this.log.warn({ failure: outcome.failure }, 'run failed');
          return;
      }
    } catch (err) {
      if (err instanceof StaleAttemptError) return;
      throw err;
    }
  }
}
