// The four services in this process (each through its own composition code, as its main.ts wires it),
// for tests that need to look inside the servers: their call limiter (calls in flight, handlers still
// running) and the process's active handles.
import { join } from 'node:path';
import { JobStore } from '@gengap/job-store';
import { serviceNames } from '@gengap/proto';
import { createRootLogger, type GenGapServer, type ServerSettings } from '@gengap/service-kit';
import { buildAnalysisService } from '../../../services/analysis/src/analysis-service.ts';
import { buildCoordinatorService } from '../../../services/coordinator/src/coordinator-service.ts';
import { runInWorker } from '../../../services/data/src/generation/runner.ts';
import { DatasetJobs } from '../../../services/data/src/jobs/dataset-jobs.ts';
import { createServer as createDataServer } from '../../../services/data/src/server.ts';
import { LocalDatasetStorage } from '../../../services/data/src/storage/local-storage.ts';
import { defaultLimits } from '../../../services/data/src/validation/limits.ts';
import { buildTrainer } from '../../../services/trainer/src/trainer.ts';

export interface InProcessService {
  address: string;
  server: GenGapServer;
  close(): Promise<void>;
}

export interface InProcessStack {
  data: InProcessService;
  trainer: InProcessService;
  analysis: InProcessService;
  coordinator: InProcessService;
  close(): Promise<void>;
}

const log = createRootLogger({ service: 'hardening', level: process.env.GENGAP_TEST_LOG ?? 'silent' });

function settings(service: keyof typeof serviceNames): ServerSettings {
  return {
    log,
    serviceNames: [serviceNames[service]],
    maxMessageBytes: 64 * 1024 * 1024,
    maxConcurrentStreams: 1000,
    maxUnaryDeadlineMs: 60_000,
    shutdownGraceMs: 1000,
    drainDelayMs: 0,
  };
}

export async function startInProcessStack(root: string): Promise<InProcessStack> {
  // Data.
  const dataStore = new JobStore(join(root, 'data', 'data.sqlite'));
  const storage = new LocalDatasetStorage(join(root, 'data', 'datasets'));
  const jobs = new DatasetJobs({
    store: dataStore,
    storage,
    limits: { ...defaultLimits, maxMessageBytes: 64 * 1024 * 1024 },
    cacheDir: join(root, 'data', 'cache'),
    concurrency: 2,
    runner: runInWorker,
    log,
  });
  const dataServer = createDataServer({ settings: settings('data'), jobs, storage });
  const dataAddress = `127.0.0.1:${await dataServer.listen('127.0.0.1', 0)}`;
  jobs.resume();
  dataServer.setServing(true);
  const data: InProcessService = {
    address: dataAddress,
    server: dataServer,
    async close() {
      await dataServer.shutdown();
      await jobs.close();
      dataStore.close();
    },
  };
  // Trainer.
  const built = buildTrainer({
    settings: settings('trainer'),
    log,
    stateDir: join(root, 'trainer'),
    dataAddress,
    maxConcurrentRuns: 2,
    maxQueuedRuns: 16,
    threadsPerRun: 1,
    checkpointEverySteps: 1000,
    datasetCacheBytes: 256 * 1024 * 1024,
    outboundDeadlineMs: 30_000,
    shutdownWaitMs: 5_000,
  });
  const trainerAddress = `127.0.0.1:${await built.server.listen('127.0.0.1', 0)}`;
  built.start();
  built.server.setServing(true);
  const trainer: InProcessService = {
    address: trainerAddress,
    server: built.server,
    async close() {
      await built.server.shutdown();
      await built.close();
    },
  };
  // Analysis.
  const service = buildAnalysisService({
    settings: settings('analysis'),
    log,
    stateDir: join(root, 'analysis'),
    trainerAddress,
    dataAddress,
    maxConcurrentAnalyses: 1,
    maxQueuedAnalyses: 16,
    defaultThreads: 1,
    datasetCacheBytes: 128 * 1024 * 1024,
    checkpointCacheBytes: 128 * 1024 * 1024,
    outboundDeadlineMs: 30_000,
  });
  const analysisAddress = `127.0.0.1:${await service.server.listen('127.0.0.1', 0)}`;
  await service.start?.();
  service.server.setServing(true);
  const analysis: InProcessService = {
    address: analysisAddress,
    server: service.server,
    async close() {
      await service.server.shutdown();
      await service.close?.();
    },
  };
  // Coordinator.
  const c = await buildCoordinatorService({
    settings: settings('coordinator'),
    log,
    stateDir: join(root, 'coordinator'),
    dataAddress,
    trainerAddresses: [trainerAddress],
    analysisAddress,
    maxConcurrentRuns: 2,
    retryBaseMs: 100,
    retryMaxMs: 1000,
    unreachableBudgetMs: 20_000,
    outboundDeadlineMs: 30_000,
    maxMessageBytes: 64 * 1024 * 1024,
    httpPort: -1,
    httpHost: '127.0.0.1',
    buildReport: undefined,
  });
  const coordinatorAddress = `127.0.0.1:${await c.server.listen('127.0.0.1', 0)}`;
  await c.start();
  c.server.setServing(true);
  const coordinator: InProcessService = {
    address: coordinatorAddress,
    server: c.server,
    async close() {
      await c.server.shutdown();
      await c.close();
    },
  };
  return {
    data,
    trainer,
    analysis,
    coordinator,
    async close() {
      for (const s of [coordinator, analysis, trainer, data]) await s.close().catch(() => {});
    },
  };
}

/** Active handles of this process by type (process.getActiveResourcesInfo()). */
export function activeResources(): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const name of process.getActiveResourcesInfo()) counts[name] = (counts[name] ?? 0) + 1;
  return counts;
}
