// The real data service and trainer started in-process on 127.0.0.1:0 (their own composition, as in
// their main.ts files), for end-to-end tests of the analysis service against them.
import { join } from 'node:path';
import { JobStore } from '@gengap/job-store';
import { JobState } from '@gengap/proto/common/v1/job';
import { Activation, Device, InitializerKind, LossKind, OptimizerKind } from '@gengap/proto/common/v1/model';
import { DataServiceClient } from '@gengap/proto/data/v1/data_service';
import type { DatasetSpec } from '@gengap/proto/data/v1/dataset';
import { type Run, RunSpec } from '@gengap/proto/trainer/v1/run';
import { TrainerServiceClient } from '@gengap/proto/trainer/v1/trainer_service';
import { callUnary, closeClient, createClient, readStream } from '@gengap/service-kit';
import { runInWorker } from '../../../data/src/generation/runner.ts';
import { DatasetJobs } from '../../../data/src/jobs/dataset-jobs.ts';
import { createServer as createDataServer } from '../../../data/src/server.ts';
import { LocalDatasetStorage } from '../../../data/src/storage/local-storage.ts';
import { defaultLimits } from '../../../data/src/validation/limits.ts';
import { buildTrainer } from '../../../trainer/src/trainer.ts';
import type { RunSource } from '../../src/inputs/sources.ts';
import { settingsFor, silentLog } from './harness.ts';

export interface Handle<C> {
  address: string;
  client: C;
  close(): Promise<void>;
}

export async function startDataService(stateDir: string): Promise<Handle<DataServiceClient>> {
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

export async function createDataset(
  data: Handle<DataServiceClient>,
  spec: Partial<DatasetSpec>,
): Promise<string> {
  const { dataset } = await callUnary(data.client, data.client.createDataset, {
    spec: { corruptions: [], seed: 0, ...spec } as DatasetSpec,
    idempotencyKey: '',
  });
  const id = dataset!.datasetId;
  for await (const m of readStream(data.client, data.client.watchDataset, {
    datasetId: id,
    fromSequence: 0,
  })) {
    const state = m.status?.state;
    if (state === JobState.JOB_STATE_SUCCEEDED) return id;
    if (state === JobState.JOB_STATE_FAILED || state === JobState.JOB_STATE_CANCELLED) {
      throw new Error(`dataset ${id} ended ${state}: ${m.status?.error?.message}`);
    }
  }
  throw new Error(`dataset ${id}: watch ended early`);
}

export async function startTrainer(
  stateDir: string,
  dataAddress: string,
  analysisAddress?: string,
): Promise<Handle<TrainerServiceClient>> {
  const trainer = buildTrainer({
    settings: settingsFor('trainer'),
    log: silentLog,
    stateDir,
    dataAddress,
    analysisAddress,
    maxConcurrentRuns: 2,
    maxQueuedRuns: 10,
    threadsPerRun: 1,
    checkpointEverySteps: 1000,
    datasetCacheBytes: 256 * 1024 * 1024,
    outboundDeadlineMs: 30_000,
    shutdownWaitMs: 10_000,
  });
  const port = await trainer.server.listen('127.0.0.1', 0);
  trainer.start();
  trainer.server.setServing(true);
  const address = `127.0.0.1:${port}`;
  const client = createClient(TrainerServiceClient, address, { deadlineMs: 60_000 });
  return {
    address,
    client,
    async close() {
      closeClient(client);
      await trainer.server.shutdown();
      await trainer.close();
    },
  };
}

/** A small MLP run (one hidden layer of 32 ReLU units) with permanent checkpoints every epoch. */
export function mlpRun(
  datasetId: string,
  inputs: number,
  classes: number,
  fields: Partial<RunSpec> = {},
): RunSpec {
  return RunSpec.fromPartial({
    model: {
      inputShape: [inputs],
      numOutputs: classes,
      layers: [
        { kind: { $case: 'dense', value: { units: 32, noBias: false } } },
        { kind: { $case: 'activation', value: { activation: Activation.ACTIVATION_RELU } } },
        { kind: { $case: 'dense', value: { units: classes, noBias: false } } },
      ],
      defaultInitializer: { kind: InitializerKind.INITIALIZER_KIND_TORCH_DEFAULT, scale: 0 },
    },
    dataset: { datasetId },
    loss: { kind: LossKind.LOSS_KIND_CROSS_ENTROPY, temperature: 0 },
    optimizer: { kind: OptimizerKind.OPTIMIZER_KIND_SGD, learningRate: 0.1 },
    batchSize: 32,
    stop: { maxEpochs: 4 },
    seed: 1,
    device: Device.DEVICE_CPU,
    metrics: { stepEvery: 4 },
    checkpoints: { everySteps: 0, keepEpochs: [], keepEveryEpochs: 1 },
    ...fields,
  });
}

const TERMINAL = new Set<number>([
  JobState.JOB_STATE_SUCCEEDED,
  JobState.JOB_STATE_FAILED,
  JobState.JOB_STATE_CANCELLED,
]);

export async function trainRun(
  trainer: Handle<TrainerServiceClient>,
  spec: RunSpec,
  key: string,
): Promise<Run> {
  const { run } = await callUnary(trainer.client, trainer.client.startRun, {
    spec,
    idempotencyKey: key,
    labels: {},
  });
  const runId = run!.runId;
  for (const started = Date.now(); Date.now() - started < 120_000; ) {
    const { run: now } = await callUnary(trainer.client, trainer.client.getRun, { runId });
    if (TERMINAL.has(now?.status?.state ?? 0)) {
      if (now?.status?.state !== JobState.JOB_STATE_SUCCEEDED) {
        throw new Error(`run ${runId} ended ${now?.status?.state}: ${now?.status?.error?.message}`);
      }
      return now;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`run ${runId} did not finish`);
}

/** A RunSource whose target is set once the trainer is up (the trainer also needs our address). */
export class DeferredRunSource implements RunSource {
  target: RunSource | undefined;
  private get ready(): RunSource {
    if (!this.target) throw new Error('trainer not connected yet');
    return this.target;
  }
  getRun(runId: string, signal: AbortSignal) {
    return this.ready.getRun(runId, signal);
  }
  events(runId: string, signal: AbortSignal) {
    return this.ready.events(runId, signal);
  }
  readParameters(runId: string, step: number, signal: AbortSignal) {
    return this.ready.readParameters(runId, step, signal);
  }
}
