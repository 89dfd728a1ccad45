// Wiring of the trainer's parts, shared by main.ts and the tests: job store, dataset reader (data
// service + cache), checkpoint resolver, run service, gRPC server.
import { join } from 'node:path';
import { JobStore } from '@gengap/job-store';
import type { Logger, ServerSettings, ServiceParts } from '@gengap/service-kit';
import { AnalysisServiceCheckpoints } from './clients/analysis-client.ts';
import { DataServiceReader } from './clients/data-client.ts';
import { CachedDatasetReader } from './datasets/dataset-cache.ts';
import { CheckpointResolver } from './runs/checkpoint-refs.ts';
import { type RunEnded, untilFirstRunEnds } from './runs/exit-after-run.ts';
import { RunRecords } from './runs/run-records.ts';
import { RunService } from './runs/run-service.ts';
import { createServer } from './server.ts';

export interface TrainerOptions {
  settings: ServerSettings;
  log: Logger;
  stateDir: string;
  dataAddress: string;
  analysisAddress?: string | undefined;
  maxConcurrentRuns: number;
  maxQueuedRuns: number;
  threadsPerRun: number;
  checkpointEverySteps: number;
  datasetCacheBytes: number;
  outboundDeadlineMs: number;
  cancelWaitMs?: number;
  shutdownWaitMs?: number;
  /** Set: once the first run has ended and `graceMs` more have passed, `onEnded` (which stops the process). */
  exitAfterRun?: { graceMs: number; pollMs?: number; onEnded(ended: RunEnded): void } | undefined;
}

export interface Trainer extends ServiceParts {
  runs: RunService;
  start(): void;
  close(): Promise<void>;
}

export function buildTrainer(options: TrainerOptions): Trainer {
  const store = new JobStore(join(options.stateDir, 'trainer.sqlite'));
  const records = new RunRecords(store, options.stateDir);
  const dataReader = new DataServiceReader(options.dataAddress, { deadlineMs: options.outboundDeadlineMs });
  const analyses = options.analysisAddress
    ? new AnalysisServiceCheckpoints(options.analysisAddress, { deadlineMs: options.outboundDeadlineMs })
    : undefined;
  const runs = new RunService({
    records,
    datasets: new CachedDatasetReader(dataReader, options.datasetCacheBytes),
    checkpoints: new CheckpointResolver(records, analyses),
    log: options.log,
    settings: {
      maxConcurrentRuns: options.maxConcurrentRuns,
      maxQueuedRuns: options.maxQueuedRuns,
      defaultThreads: options.threadsPerRun,
      checkpointCapSteps: options.checkpointEverySteps,
      ...(options.cancelWaitMs !== undefined ? { cancelWaitMs: options.cancelWaitMs } : {}),
      ...(options.shutdownWaitMs !== undefined ? { shutdownWaitMs: options.shutdownWaitMs } : {}),
    },
  });
  const server = createServer({ settings: options.settings, runs });
  const stopping = new AbortController();
  const exitAfterRun = async (exit: NonNullable<TrainerOptions['exitAfterRun']>) => {
    const ended = await untilFirstRunEnds(store, { pollMs: exit.pollMs ?? 250, signal: stopping.signal });
    options.log.info({ ...ended, graceMs: exit.graceMs }, 'the run ended; exiting after the grace period');
    await new Promise((resolve) => setTimeout(resolve, exit.graceMs));
    if (!stopping.signal.aborted) exit.onEnded(ended);
  };
  return {
    server,
    runs,
    start() {
      runs.resumeInterrupted();
      if (options.exitAfterRun)
        exitAfterRun(options.exitAfterRun).catch((err) => {
          if (!stopping.signal.aborted) options.log.error({ err }, 'exit after run: watching the run failed');
        });
    },
    async close() {
      stopping.abort();
      await runs.shutdown();
      dataReader.close();
      analyses?.close();
      store.close();
    },
  };
}
