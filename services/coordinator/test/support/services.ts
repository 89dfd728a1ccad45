// Test support: the real data, trainer and analysis services started in-process on 127.0.0.1:0
// through their own composition code, the coordinator in-process or as a child process (for
// SIGKILL tests), generated clients, and small specs that train in seconds.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { JobStore } from '@gengap/job-store';
import { serviceNames } from '@gengap/proto';
import { JobState } from '@gengap/proto/common/v1/job';
import { CoordinatorServiceClient } from '@gengap/proto/coordinator/v1/coordinator_service';
import type { Experiment, ExperimentEvent } from '@gengap/proto/coordinator/v1/experiment';
import { TrainerServiceClient } from '@gengap/proto/trainer/v1/trainer_service';
import {
  callUnary,
  closeClient,
  createClient,
  createRootLogger,
  readStream,
  type ServerSettings,
} from '@gengap/service-kit';
import { buildAnalysisService } from '../../../analysis/src/analysis-service.ts';
import { runInWorker } from '../../../data/src/generation/runner.ts';
import { DatasetJobs } from '../../../data/src/jobs/dataset-jobs.ts';
import { createServer as createDataServer } from '../../../data/src/server.ts';
import { LocalDatasetStorage } from '../../../data/src/storage/local-storage.ts';
import { defaultLimits } from '../../../data/src/validation/limits.ts';
import { buildTrainer } from '../../../trainer/src/trainer.ts';
import { buildCoordinatorService, type CoordinatorService } from '../../src/coordinator-service.ts';
import type { Executor } from '../../src/executors/executor.ts';
import type { ReportBuilder } from '../../src/orchestration/coordinator.ts';
import type { ExperimentSpecJson } from '../../src/spec/schema/experiment.ts';

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
    shutdownGraceMs: 1_000,
    drainDelayMs: 0,
  };
}

export function tempDir(prefix: string): { path: string; remove: () => void } {
  const path = mkdtempSync(join(tmpdir(), `gengap-${prefix}-`));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

export interface Running {
  address: string;
  close(): Promise<void>;
}

/** The data service, wired as services/data/src/main.ts wires it. */
export async function startData(stateDir: string): Promise<Running> {
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
  return {
    address: `127.0.0.1:${port}`,
    async close() {
      await server.shutdown();
      await jobs.close();
      store.close();
    },
  };
}

export async function startTrainer(stateDir: string, dataAddress: string, port = 0): Promise<Running> {
  const trainer = buildTrainer({
    settings: settingsFor('trainer'),
    log: silentLog,
    stateDir,
    dataAddress,
    maxConcurrentRuns: 2,
    maxQueuedRuns: 16,
    threadsPerRun: 1,
    checkpointEverySteps: 1000,
    datasetCacheBytes: 256 * 1024 * 1024,
    outboundDeadlineMs: 30_000,
    shutdownWaitMs: 5_000,
  });
  const bound = await trainer.server.listen('127.0.0.1', port);
  trainer.start();
  trainer.server.setServing(true);
  return {
    address: `127.0.0.1:${bound}`,
    async close() {
      await trainer.server.shutdown();
      await trainer.close();
    },
  };
}

export async function startAnalysis(
  stateDir: string,
  trainerAddress: string,
  dataAddress: string,
): Promise<Running> {
  const service = buildAnalysisService({
    settings: settingsFor('analysis'),
    log: silentLog,
    stateDir,
    trainerAddress,
    dataAddress,
    maxConcurrentAnalyses: 1,
    maxQueuedAnalyses: 64,
    defaultThreads: 1,
    datasetCacheBytes: 128 * 1024 * 1024,
    checkpointCacheBytes: 128 * 1024 * 1024,
    outboundDeadlineMs: 30_000,
  });
  const port = await service.server.listen('127.0.0.1', 0);
  await service.start?.();
  service.server.setServing(true);
  return {
    address: `127.0.0.1:${port}`,
    async close() {
      await service.server.shutdown();
      await service.close?.();
    },
  };
}

export interface CoordinatorHandle extends Running {
  client: CoordinatorServiceClient;
  service: CoordinatorService;
}

export async function startCoordinator(options: {
  stateDir: string;
  dataAddress: string;
  trainerAddresses: string[];
  analysisAddress?: string;
  executor?: Executor;
  buildReport?: ReportBuilder;
  maxConcurrentRuns?: number;
  unreachableBudgetMs?: number;
}): Promise<CoordinatorHandle> {
  const service = await buildCoordinatorService({
    settings: settingsFor('coordinator'),
    log: silentLog,
    stateDir: options.stateDir,
    dataAddress: options.dataAddress,
    trainerAddresses: options.trainerAddresses,
    analysisAddress: options.analysisAddress,
    ...(options.executor ? { executor: options.executor } : {}),
    maxConcurrentRuns: options.maxConcurrentRuns ?? 2,
    retryBaseMs: 100,
    retryMaxMs: 1000,
    unreachableBudgetMs: options.unreachableBudgetMs ?? 20_000,
    outboundDeadlineMs: 30_000,
    maxMessageBytes: 64 * 1024 * 1024,
    httpPort: -1,
    httpHost: '127.0.0.1',
    buildReport: options.buildReport,
  });
  const port = await service.server.listen('127.0.0.1', 0);
  await service.start();
  service.server.setServing(true);
  const address = `127.0.0.1:${port}`;
  const client = createClient(CoordinatorServiceClient, address, { deadlineMs: 60_000 });
  return {
    address,
    client,
    service,
    async close() {
      closeClient(client);
      await service.server.shutdown();
      await service.close();
    },
  };
}

const coordinatorMain = fileURLToPath(new URL('../../src/main.ts', import.meta.url));
const children = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});

/** The coordinator as a child process (`node services/coordinator/src/main.ts`). */
export async function spawnCoordinator(
  env: Record<string, string>,
): Promise<{ address: string; child: ChildProcess }> {
  const dir = mkdtempSync(join(tmpdir(), 'gengap-ready-'));
  const readyFile = join(dir, 'ready.json');
  const child = spawn(process.execPath, [coordinatorMain], {
    env: {
      ...process.env,
      GENGAP_PORT: '0',
      GENGAP_HTTP_PORT: '-1',
      GENGAP_LOG_LEVEL: process.env.GENGAP_TEST_LOG ?? 'warn',
      GENGAP_READY_FILE: readyFile,
      GENGAP_RETRY_BASE_MS: '100',
      GENGAP_RETRY_MAX_MS: '1000',
      ...env,
    },
    stdio: ['ignore', process.env.GENGAP_TEST_LOG ? 'inherit' : 'ignore', 'inherit'],
  });
  children.add(child);
  child.once('exit', () => children.delete(child));
  const started = Date.now();
  for (;;) {
    if (child.exitCode !== null)
      throw new Error(`coordinator exited with ${child.exitCode} before it was ready`);
    if (Date.now() - started > 60_000) {
      child.kill('SIGKILL');
      throw new Error('coordinator did not become ready in 60 s');
    }
    await new Promise((r) => setTimeout(r, 50));
    try {
      if (existsSync(readyFile)) {
        const { port } = JSON.parse(readFileSync(readyFile, 'utf8')) as { port: number };
        rmSync(dir, { recursive: true, force: true });
        return { address: `127.0.0.1:${port}`, child };
      }
    } catch {
      // Still being written.
    }
  }
}

export function trainerClient(address: string): TrainerServiceClient {
  return createClient(TrainerServiceClient, address, { deadlineMs: 30_000 });
}

const TERMINAL = new Set<number>([
  JobState.JOB_STATE_SUCCEEDED,
  JobState.JOB_STATE_FAILED,
  JobState.JOB_STATE_CANCELLED,
]);

/** Follows WatchExperiment until the experiment is terminal; returns the events and the experiment. */
export async function untilFinished(
  client: CoordinatorServiceClient,
  experimentId: string,
  fromSequence = 0,
): Promise<{ events: ExperimentEvent[]; experiment: Experiment }> {
  const events: ExperimentEvent[] = [];
  for await (const message of readStream(client, client.watchExperiment, { experimentId, fromSequence })) {
    if (message.event) events.push(message.event);
  }
  const { experiment } = await callUnary(client, client.getExperiment, { experimentId });
  if (!experiment || !TERMINAL.has(experiment.status?.state ?? 0))
    throw new Error(`experiment ${experimentId} is not finished after its watch ended`);
  return { events, experiment };
}

/** A Gaussian-mixture experiment that trains in a second or two per cell. */
export function tinySpec(
  overrides: Partial<ExperimentSpecJson> = {},
  epochs = 4,
  trainSize = 256,
): ExperimentSpecJson {
  return {
    name: 'tiny',
    base: {
      dataset: {
        gaussianMixture: { numClasses: 3, dimension: 8, trainSize, testSize: 128, separation: 4 },
        seed: 3,
      },
      run: {
        model: {
          inputShape: [8],
          numOutputs: 3,
          layers: [
            { dense: { units: 16 } },
            { activation: { activation: 'ACTIVATION_RELU' } },
            { dense: { units: 3 } },
          ],
        },
        optimizer: { kind: 'OPTIMIZER_KIND_SGD', learningRate: 0.1 },
        batchSize: 32,
        stop: { maxEpochs: epochs },
        threads: 1,
      },
    },
    ...overrides,
  };
}
