// Test support: the real data service and trainer started in-process on 127.0.0.1:0 (or the trainer as
// a child process, for crash tests), generated clients, and helpers to create datasets and follow runs.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { JobStore } from '@gengap/job-store';
import { serviceNames } from '@gengap/proto';
import { JobState } from '@gengap/proto/common/v1/job';
import { Activation, Device, InitializerKind, LossKind, OptimizerKind } from '@gengap/proto/common/v1/model';
import { DataServiceClient } from '@gengap/proto/data/v1/data_service';
import type { DatasetSpec } from '@gengap/proto/data/v1/dataset';
import { type Run, type RunEvent, RunSpec } from '@gengap/proto/trainer/v1/run';
import { TrainerServiceClient } from '@gengap/proto/trainer/v1/trainer_service';
import {
  callUnary,
  closeClient,
  createClient,
  createRootLogger,
  readStream,
  type ServerSettings,
} from '@gengap/service-kit';
import { ChunkAssembler } from '@gengap/tensor-io';
import { runInWorker } from '../../../data/src/generation/runner.ts';
import { DatasetJobs } from '../../../data/src/jobs/dataset-jobs.ts';
import { createServer as createDataServer } from '../../../data/src/server.ts';
import { LocalDatasetStorage } from '../../../data/src/storage/local-storage.ts';
import { defaultLimits } from '../../../data/src/validation/limits.ts';
import { buildTrainer, type Trainer, type TrainerOptions } from '../../src/trainer.ts';

export const silentLog = createRootLogger({
  service: 'test',
  level: process.env.GENGAP_TEST_LOG ?? 'silent',
});

export function settingsFor(service: keyof typeof serviceNames): ServerSettings {
  return {
    log: silentLog,
    serviceNames: [serviceNames[service]],
    maxMessageBytes: 64 * 1024 * 1024,
    maxConcurrentStreams: 1000,
    maxUnaryDeadlineMs: 120_000,
    shutdownGraceMs: 2_000,
    drainDelayMs: 0,
  };
}

export function tempDir(prefix: string): { path: string; remove: () => void } {
  const path = mkdtempSync(join(tmpdir(), `gengap-${prefix}-`));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

export interface DataService {
  address: string;
  client: DataServiceClient;
  close(): Promise<void>;
}

export async function startDataService(stateDir: string): Promise<DataService> {
  // The data service's own composition (services/data/src/main.ts), on 127.0.0.1:0.
  const store = new JobStore(join(stateDir, 'data.sqlite'));
  const storage = new LocalDatasetStorage(join(stateDir, 'datasets'));
  const jobs = new DatasetJobs({
    store,
    storage,
    limits: { ...defaultLimits, maxMessageBytes: 64 * 1024 * 1024 },
    cacheDir: join(stateDir, 'cache'),
    concurrency: 1,
    runner: runInWorker,
    log: silentLog,
  });
  const server = createDataServer({ settings: settingsFor('data'), jobs, storage });
  const port = await server.listen('127.0.0.1', 0);
  jobs.resume();
  server.setServing(true);
  const address = `127.0.0.1:${port}`;
  const client = createClient(DataServiceClient, address, { deadlineMs: 60_000 });
  return {
    address,
    client,
    async close() {
      closeClient(client);
      await server.shutdown();
      await jobs.close();
      store.close();
    },
  };
}

/** Creates a dataset and waits until it has been generated; returns its id. */
export async function createDataset(data: DataService, spec: Partial<DatasetSpec>): Promise<string> {
  const full: DatasetSpec = { corruptions: [], seed: 0, ...spec } as DatasetSpec;
  const { dataset } = await callUnary(data.client, data.client.createDataset, {
    spec: full,
    idempotencyKey: '',
  });
  const id = dataset?.datasetId as string;
  for (const _ of [0]) {
    for await (const message of readStream(data.client, data.client.watchDataset, {
      datasetId: id,
      fromSequence: 0,
    })) {
      const state = message.status?.state;
      if (state === JobState.JOB_STATE_SUCCEEDED) return id;
      if (state === JobState.JOB_STATE_FAILED || state === JobState.JOB_STATE_CANCELLED) {
        throw new Error(`dataset ${id} ended ${state}: ${message.status?.error?.message}`);
      }
    }
  }
  const { dataset: final } = await callUnary(data.client, data.client.getDataset, { datasetId: id });
  if (final?.status?.state !== JobState.JOB_STATE_SUCCEEDED) throw new Error(`dataset ${id} did not succeed`);
  return id;
}

export interface TrainerHandle {
  address: string;
  client: TrainerServiceClient;
  trainer: Trainer;
  close(): Promise<void>;
}

export async function startTrainer(
  options: Partial<TrainerOptions> & { stateDir: string; dataAddress: string },
): Promise<TrainerHandle> {
  const trainer = buildTrainer({
    settings: settingsFor('trainer'),
    log: silentLog,
    maxConcurrentRuns: 2,
    maxQueuedRuns: 10,
    threadsPerRun: 1,
    checkpointEverySteps: 1000,
    datasetCacheBytes: 512 * 1024 * 1024,
    outboundDeadlineMs: 30_000,
    shutdownWaitMs: 10_000,
    ...options,
  });
  const port = await trainer.server.listen('127.0.0.1', 0);
  trainer.start();
  trainer.server.setServing(true);
  const address = `127.0.0.1:${port}`;
  const client = createClient(TrainerServiceClient, address, { deadlineMs: 120_000 });
  return {
    address,
    client,
    trainer,
    async close() {
      closeClient(client);
      await trainer.server.shutdown();
      await trainer.close();
    },
  };
}

const mainScript = fileURLToPath(new URL('../../src/main.ts', import.meta.url));

/** Trainer child processes still alive; killed when the test process exits, whatever happened. */
const children = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});

/** Kills every trainer child process of this test file (for `after` hooks). */
export function killTrainers(): void {
  for (const child of children) child.kill('SIGKILL');
}

/** The trainer as a child process (`node services/trainer/src/main.ts`), for SIGKILL tests. */
export async function spawnTrainer(
  env: Record<string, string>,
): Promise<{ address: string; process: ChildProcess; client: TrainerServiceClient; stop(): void }> {
  const dir = mkdtempSync(join(tmpdir(), 'gengap-ready-'));
  const readyFile = join(dir, 'ready.json');
  const child = spawn(process.execPath, [mainScript], {
    env: { ...process.env, GENGAP_PORT: '0', GENGAP_LOG_LEVEL: 'warn', GENGAP_READY_FILE: readyFile, ...env },
    stdio: ['ignore', 'ignore', process.env.GENGAP_TEST_LOG ? 'inherit' : 'ignore'],
  });
  children.add(child);
  child.once('exit', () => children.delete(child));
  const started = Date.now();
  let port: number | undefined;
  while (port === undefined) {
    if (child.exitCode !== null) throw new Error(`trainer exited with ${child.exitCode} before it was ready`);
    if (Date.now() - started > 30_000) {
      child.kill('SIGKILL');
      throw new Error('trainer did not become ready in 30 s');
    }
    await new Promise((r) => setTimeout(r, 50));
    try {
      // The file may be seen while it is still being written: retry until it parses.
      if (existsSync(readyFile))
        port = (JSON.parse(readFileSync(readyFile, 'utf8')) as { port: number }).port;
    } catch {}
  }
  rmSync(dir, { recursive: true, force: true });
  const address = `127.0.0.1:${port}`;
  const client = createClient(TrainerServiceClient, address, { deadlineMs: 60_000 });
  return {
    address,
    process: child,
    client,
    stop() {
      closeClient(client);
      if (child.exitCode === null) child.kill('SIGKILL');
    },
  };
}

export function startRun(
  client: TrainerServiceClient,
  spec: RunSpec,
  key: string,
  labels: Record<string, string> = {},
) {
  return callUnary(client, client.startRun, { spec, idempotencyKey: key, labels });
}

export async function getRun(client: TrainerServiceClient, runId: string): Promise<Run> {
  const { run } = await callUnary(client, client.getRun, { runId });
  return run as Run;
}

/** Every event of the run from `fromSequence` until it ends. */
export async function watchAll(
  client: TrainerServiceClient,
  runId: string,
  fromSequence = 0,
  options: { skipStepMetrics?: boolean; signal?: AbortSignal } = {},
): Promise<RunEvent[]> {
  const events: RunEvent[] = [];
  const request = { runId, fromSequence, skipStepMetrics: options.skipStepMetrics ?? false };
  const settings = options.signal ? { signal: options.signal } : {};
  for await (const message of readStream(client, client.watchRun, request, settings)) {
    if (message.event) events.push(message.event);
  }
  return events;
}

const TERMINAL = new Set<number>([
  JobState.JOB_STATE_SUCCEEDED,
  JobState.JOB_STATE_FAILED,
  JobState.JOB_STATE_CANCELLED,
]);

/** Polls GetRun until the run is terminal. */
export async function waitForRun(
  client: TrainerServiceClient,
  runId: string,
  timeoutMs = 120_000,
): Promise<Run> {
  const started = Date.now();
  for (;;) {
    const run = await getRun(client, runId);
    if (TERMINAL.has(run.status?.state ?? 0)) return run;
    if (Date.now() - started > timeoutMs) throw new Error(`run ${runId} not finished after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Polls until `predicate(run)` holds. */
export async function waitUntil(
  client: TrainerServiceClient,
  runId: string,
  predicate: (run: Run) => boolean,
  timeoutMs = 60_000,
): Promise<Run> {
  const started = Date.now();
  for (;;) {
    const run = await getRun(client, runId);
    if (predicate(run)) return run;
    if (Date.now() - started > timeoutMs)
      throw new Error(`run ${runId}: condition not met after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A checkpoint's tensors through ReadParameters, by name. */
export async function readParameters(
  client: TrainerServiceClient,
  runId: string,
  step = 0,
  includeOptimizerState = false,
): Promise<{ model: unknown; tensors: Map<string, { shape: number[]; data: Uint8Array }> }> {
  const assembler = new ChunkAssembler();
  let model: unknown;
  const request = { checkpoint: { runId, step }, chunkBytes: 4096, includeOptimizerState };
  for await (const message of readStream(client, client.readParameters, request)) {
    if (message.model) model = message.model;
    if (message.chunk) assembler.push(message.chunk);
  }
  const tensors = new Map(
    assembler.finish().map((t) => [t.name, { shape: t.shape.map(Number), data: t.data }]),
  );
  return { model, tensors };
}

export const Dense = (units: number) => ({
  kind: { $case: 'dense' as const, value: { units, noBias: false } },
});
export const Relu = {
  kind: { $case: 'activation' as const, value: { activation: Activation.ACTIVATION_RELU } },
};

/** A small MLP run spec over a dataset of vectors of `inputs` features and `classes` classes. */
type DeepPartial<T> = T extends (infer E)[]
  ? DeepPartial<E>[]
  : T extends Uint8Array
    ? T
    : T extends object
      ? { [K in keyof T]?: DeepPartial<T[K]> }
      : T;

export type SpecFields = DeepPartial<RunSpec>;

export function mlpSpec(
  datasetId: string,
  inputs: number,
  classes: number,
  fields: SpecFields = {},
): RunSpec {
  const merged: SpecFields = {
    model: {
      inputShape: [inputs],
      numOutputs: classes,
      layers: [Dense(32), Relu, Dense(classes)],
      defaultInitializer: { kind: InitializerKind.INITIALIZER_KIND_TORCH_DEFAULT, scale: 0 },
    },
    dataset: { datasetId },
    loss: { kind: LossKind.LOSS_KIND_CROSS_ENTROPY, temperature: 0 },
    optimizer: { kind: OptimizerKind.OPTIMIZER_KIND_SGD, learningRate: 0.1 },
    batchSize: 50,
    stop: { maxEpochs: 5 },
    seed: 1,
    device: Device.DEVICE_CPU,
    metrics: { stepEvery: 1 },
    ...fields,
  };
  return RunSpec.fromPartial(merged as Parameters<typeof RunSpec.fromPartial>[0]);
}
