// Wiring of the analysis service's parts, shared by main.ts and by tests that start it in-process:
// the job store and artifact folder under the state directory, clients of the trainer and the data
// service, input caches, the model compiler, the kind registry, the jobs, and the gRPC server.
import { join } from 'node:path';
import { JobStore } from '@gengap/job-store';
import type { GenGapServer, ServerSettings, ServiceParts } from '@gengap/service-kit';
import type { Logger } from 'pino';
import { defaultRegistry, type KindRegistry } from './analyses/registry.ts';
import { DataServiceDatasets } from './clients/data-client.ts';
import { TrainerRunSource } from './clients/trainer-client.ts';
import { ModelCompiler } from './inputs/analysis-model.ts';
import { ByteLruCache } from './inputs/byte-cache.ts';
import { checkpointBytes, splitBytes } from './inputs/job-inputs.ts';
import type { DatasetSource, RunSource } from './inputs/sources.ts';
import { AnalysisJobs } from './jobs/analysis-jobs.ts';
import { ArtifactStore } from './jobs/artifact-store.ts';
import { createServer } from './server.ts';

export interface AnalysisServiceOptions {
  settings: ServerSettings;
  log: Logger;
  stateDir: string;
  trainerAddress?: string | undefined;
  dataAddress?: string | undefined;
  /** In-process sources instead of addresses (benchmarks, tests of other services). */
  runs?: RunSource;
  datasets?: DatasetSource;
  maxConcurrentAnalyses: number;
  maxQueuedAnalyses: number;
  defaultThreads: number;
  datasetCacheBytes: number;
  checkpointCacheBytes: number;
  outboundDeadlineMs: number;
  registry?: KindRegistry;
}

export interface AnalysisService extends ServiceParts {
  server: GenGapServer;
  analyses: AnalysisJobs;
}

export function buildAnalysisService(options: AnalysisServiceOptions): AnalysisService {
  const store = new JobStore(join(options.stateDir, 'analyses.sqlite'));
  const trainer = options.trainerAddress
    ? new TrainerRunSource(options.trainerAddress, { deadlineMs: options.outboundDeadlineMs })
    : undefined;
  const data = options.dataAddress
    ? new DataServiceDatasets(options.dataAddress, { deadlineMs: options.outboundDeadlineMs })
    : undefined;
  const compiler = new ModelCompiler();
  const analyses = new AnalysisJobs({
    store,
    artifacts: new ArtifactStore(join(options.stateDir, 'artifacts')),
    registry: options.registry ?? defaultRegistry(),
    inputs: {
      runs: options.runs ?? trainer,
      datasets: options.datasets ?? data,
      compiler,
      checkpointCache: new ByteLruCache(options.checkpointCacheBytes, checkpointBytes),
      datasetCache: new ByteLruCache(options.datasetCacheBytes, splitBytes),
    },
    log: options.log,
    maxConcurrent: options.maxConcurrentAnalyses,
    maxQueued: options.maxQueuedAnalyses,
    defaultThreads: options.defaultThreads,
  });
  const server = createServer({ settings: options.settings, analyses });
  return {
    server,
    analyses,
    start: () => analyses.resume(),
    close: async () => {
      await analyses.close();
      await compiler.close();
      trainer?.close();
      data?.close();
      store.close();
    },
  };
}
