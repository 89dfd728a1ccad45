// The trainer's use cases, one method per RPC: start (validate, check capacity, store, schedule),
// get, list, watch, cancel, read parameters, describe the trainer; plus resuming interrupted runs at
// start-up and stopping every worker at shutdown. No gRPC here: handlers adapt requests to these.
import { randomUUID } from 'node:crypto';
import { TERMINAL_STATES } from '@gengap/job-store';
import type { JobState } from '@gengap/proto/common/v1/job';
import { Device, type ModelSpec } from '@gengap/proto/common/v1/model';
import type { RunCheckpoint } from '@gengap/proto/common/v1/refs';
import type { TensorChunk } from '@gengap/proto/common/v1/tensor';
import { DataType } from '@gengap/proto/common/v1/tensor';
import { type Run, RunEvent, type RunSpec } from '@gengap/proto/trainer/v1/run';
import type { GetTrainerInfoResponse } from '@gengap/proto/trainer/v1/trainer_service';
import { fromProtoState, InvalidArgumentError, type Logger } from '@gengap/service-kit';
import { toChunks } from '@gengap/tensor-io';
import type { DatasetReader } from '../datasets/dataset-source.ts';
import type { CheckpointResolver } from './checkpoint-refs.ts';
import { listCheckpoints, loadCheckpoint } from './checkpoints.ts';
import { cudaStatusOnce, onnxruntimeVersion, requireCuda } from './devices.ts';
import { validateWithEngine } from './engine-backend.ts';
import { UnknownCheckpointError } from './errors.ts';
import { queryPlanOf } from './query-dataset.ts';
import { RunExecution } from './run-execution.ts';
import { RUN_KIND, type RunRecords, runIdFor } from './run-records.ts';
import { planRun, specHash, validateRunSpec } from './run-spec.ts';
import { RunScheduler } from './scheduler.ts';
import { WorkerPool } from './worker-pool.ts';

export const TRAINER_VERSION = '0.1.0';

export interface RunServiceSettings {
  maxConcurrentRuns: number;
  maxQueuedRuns: number;
  defaultThreads: number;
  checkpointCapSteps: number;
  /** How long CancelRun waits for the worker to stop before answering. */
  cancelWaitMs?: number;
  /** How long shutdown waits for workers to reach a chunk boundary before terminating them. */
  shutdownWaitMs?: number;
}

export interface RunServiceDeps {
  records: RunRecords;
  datasets: DatasetReader;
  checkpoints: CheckpointResolver;
  log: Logger;
  settings: RunServiceSettings;
}

export interface StartRunInput {
  spec: RunSpec | undefined;
  idempotencyKey: string;
  labels: Record<string, string>;
}

const withTimeout = (promise: Promise<void>, ms: number) =>
  Promise.race([
    promise.then(() => true),
    new Promise<boolean>((r) => setTimeout(() => r(false), ms).unref()),
  ]);

export class RunService {
  private readonly deps: RunServiceDeps;
  private readonly scheduler: RunScheduler<RunExecution>;
  private readonly owner = `trainer-${process.pid}-${randomUUID().slice(0, 8)}`;
  private readonly workers: WorkerPool;

  constructor(deps: RunServiceDeps) {
    this.deps = deps;
    const { settings } = deps;
    this.workers = new WorkerPool({ warm: 1, maxIdle: settings.maxConcurrentRuns });
    this.scheduler = new RunScheduler(
      { maxConcurrent: settings.maxConcurrentRuns, maxQueued: settings.maxQueuedRuns },
      (runId) =>
        new RunExecution(
          {
            records: deps.records,
            datasets: deps.datasets,
            checkpoints: deps.checkpoints,
            log: deps.log,
            defaultThreads: settings.defaultThreads,
            checkpointCapSteps: settings.checkpointCapSteps,
            owner: this.owner,
            workers: this.workers,
          },
          runId,
        ),
    );
  }

  /** Validates, then stores and schedules the run; a known key returns the existing run. */
  async start(input: StartRunInput, signal?: AbortSignal): Promise<{ run: Run; created: boolean }> {
    const { records } = this.deps;
    if (!input.idempotencyKey) throw new InvalidArgumentError('idempotency_key', 'is required');
    validateRunSpec(input.spec);
    const spec = input.spec;
    const hash = specHash(spec);
    const existing = records.get(runIdFor(input.idempotencyKey));
    if (existing) {
      // createOrGet decides (and refuses the same key with another spec).
      const { job } = records.create(input.idempotencyKey, spec, hash, input.labels);
      return { run: records.toRun(job), created: false };
    }
    // Checks that need the dataset, the device or other runs; nothing is stored before they pass.
    const info = await this.deps.datasets.info(spec.dataset?.datasetId ?? '', signal);
    const query = await queryPlanOf(this.deps.datasets, spec, signal);
    planRun(spec, info, this.deps.settings.checkpointCapSteps, query);
    await validateWithEngine(spec);
    if (spec.device === Device.DEVICE_CUDA) await requireCuda();
    if (spec.teacher?.checkpoint)
      this.deps.checkpoints.check(spec.teacher.checkpoint, 'spec.teacher.checkpoint');
    if (spec.initFrom) this.deps.checkpoints.check(spec.initFrom, 'spec.init_from');
    if (spec.disagreement?.base)
      this.deps.checkpoints.check(spec.disagreement.base, 'spec.disagreement.base');
    // From here on everything is synchronous, so the capacity check and the insert cannot interleave
    // with another StartRun.
    if (!records.get(runIdFor(input.idempotencyKey))) this.scheduler.assertRoom();
    const { job, created } = records.create(input.idempotencyKey, spec, hash, input.labels);
    if (created) this.scheduler.submit(job.id, true);
    return { run: records.toRun(records.require(job.id)), created };
  }

  get(runId: string): Run {
    const { records } = this.deps;
    return records.toRun(records.require(runId));
  }

  list(query: { pageSize: number; pageToken: string; state: JobState; labels: Record<string, string> }): {
    runs: Run[];
    nextPageToken: string;
  } {
    const { records } = this.deps;
    const state = fromProtoState(query.state);
    let page: ReturnType<typeof records.store.list>;
    try {
      page = records.store.list({
        kind: RUN_KIND,
        pageSize: query.pageSize,
        pageToken: query.pageToken,
        labels: query.labels,
        ...(state ? { state } : {}),
      });
    } catch (err) {
      if (err instanceof RangeError) throw new InvalidArgumentError('page.page_token', err.message);
      throw err;
    }
    return { runs: page.jobs.map((j) => records.toRun(j)), nextPageToken: page.nextPageToken };
  }

  /**
   * Cancels a queued or running run. A running one stops after its current Loop chunk; the answer
   * waits for that (up to cancelWaitMs) and shows the run as it is then. Cancelling a finished run
   * returns it unchanged.
   */
  async cancel(runId: string): Promise<Run> {
    const { records } = this.deps;
    const job = records.require(runId);
    if (TERMINAL_STATES.has(job.state)) return records.toRun(job);
    if (this.scheduler.dequeue(runId) || job.state === 'QUEUED') {
      records.finish(runId, 'CANCELLED');
      return this.get(runId);
    }
    const execution = this.scheduler.execution(runId);
    if (execution) {
      execution.cancel();
      const stopped = await withTimeout(execution.done, this.deps.settings.cancelWaitMs ?? 30_000);
      if (!stopped) {
        await execution.terminate();
        await execution.done;
      }
    } else {
      records.finish(runId, 'CANCELLED');
    }
    return this.get(runId);
  }

  /** The run's events from `fromSequence`, then live ones until the run ends or `signal` aborts. */
  async *watch(
    runId: string,
    fromSequence: number,
    skipStepMetrics: boolean,
    signal: AbortSignal,
  ): AsyncGenerator<RunEvent> {
    const { records } = this.deps;
    records.require(runId);
    for await (const stored of records.store.watch(runId, fromSequence, signal)) {
      if (skipStepMetrics && stored.key.startsWith('step:')) continue;
      const event = RunEvent.decode(stored.payload);
      event.sequence = stored.sequence;
      yield event;
    }
  }

  /** A checkpoint's tensors as checksummed chunks, with the run's model spec. */
  readParameters(
    ref: RunCheckpoint | undefined,
    chunkBytes: number,
    includeOptimizer: boolean,
  ): { model: ModelSpec | undefined; chunks: Iterable<TensorChunk> } {
    if (!ref?.runId) throw new InvalidArgumentError('checkpoint.run_id', 'is required');
    const { records } = this.deps;
    const job = records.require(ref.runId);
    const runDir = records.runDir(ref.runId);
    const available = listCheckpoints(runDir);
    const step = ref.step === 0 ? available.at(-1)?.step : available.find((c) => c.step === ref.step)?.step;
    if (step === undefined) throw new UnknownCheckpointError(ref.runId, ref.step);
    const loaded = loadCheckpoint(runDir, step, includeOptimizer);
    const toRaw = (prefix: string) => (t: (typeof loaded.parameters)[number]) => ({
      name: `${prefix}${t.name}`,
      dtype: t.dtype === 'float64' ? DataType.DATA_TYPE_FLOAT64 : DataType.DATA_TYPE_FLOAT32,
      shape: t.shape,
      data: new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength),
    });
    const tensors = [...loaded.parameters.map(toRaw('')), ...loaded.optimizer.map(toRaw('optimizer.'))];
    return { model: records.spec(job).model, chunks: toChunks(tensors, chunkBytes || 1024 * 1024) };
  }

  async info(): Promise<GetTrainerInfoResponse> {
    const cuda = await cudaStatusOnce();
    const { settings } = this.deps;
    return {
      version: TRAINER_VERSION,
      onnxruntimeVersion: onnxruntimeVersion(),
      devices: cuda.available ? [Device.DEVICE_CPU, Device.DEVICE_CUDA] : [Device.DEVICE_CPU],
      maxConcurrentRuns: settings.maxConcurrentRuns,
      maxQueuedRuns: settings.maxQueuedRuns,
      running: this.scheduler.runningCount,
      queued: this.scheduler.queuedCount,
      defaultThreads: settings.defaultThreads,
    };
  }

  /**
   * Start-up: runs left RUNNING by a previous process (crash, SIGKILL, shutdown) resume from their
   * last checkpoint in a new attempt; QUEUED ones queue again in their original order.
   */
  resumeInterrupted(): { resumed: number; queued: number } {
    const { records, log } = this.deps;
    const running = records.store.inStates(RUN_KIND, ['RUNNING']);
    const queued = records.store.inStates(RUN_KIND, ['QUEUED']);
    for (const job of [...running, ...queued]) this.scheduler.submit(job.id, true);
    if (running.length + queued.length > 0) {
      log.info({ resumed: running.length, queued: queued.length }, 'resuming interrupted runs');
    }
    return { resumed: running.length, queued: queued.length };
  }

  /**
   * Shutdown: nothing new starts; running workers stop at their next chunk boundary and their runs
   * stay RUNNING (the next start resumes them from their last checkpoint).
   */
  async shutdown(): Promise<void> {
    this.scheduler.stop();
    await this.workers.close();
    const executions = this.scheduler.executions();
    for (const execution of executions) execution.interrupt();
    const waitMs = this.deps.settings.shutdownWaitMs ?? 30_000;
    await Promise.all(
      executions.map(async (execution) => {
        if (!(await withTimeout(execution.done, waitMs))) {
          await execution.terminate();
          await execution.done;
        }
      }),
    );
  }
}
