// Composition root of the trainer service: config, logger, dependencies, server, signals.
import { serviceNames } from '@gengap/proto';
import { runServiceMain, serverSettingsFrom } from '@gengap/service-kit';
import { trainerConfigShape } from './config.ts';
import type { RunEnded } from './runs/exit-after-run.ts';
import { buildTrainer } from './trainer.ts';

/**
 * Stops the process the way SIGTERM does (drain the server, stop the runs, close the store), then
 * exits with the run's code. runServiceMain's signal handler ends with exit status 0 after a clean
 * shutdown; an 'exit' listener replaces that 0 with the run's code (a failed shutdown keeps its own).
 */
function exitWith(ended: RunEnded): void {
  process.once('exit', (code) => {
    if (code === 0) process.exitCode = ended.exitCode;
  });
  process.kill(process.pid, 'SIGTERM');
}

await runServiceMain({
  name: 'trainer',
  configShape: trainerConfigShape,
  build(config, log) {
    return buildTrainer({
      settings: serverSettingsFrom(config, log, [serviceNames.trainer]),
      log,
      stateDir: config.GENGAP_STATE_DIR,
      dataAddress: config.GENGAP_DATA_ADDRESS,
      analysisAddress: config.GENGAP_ANALYSIS_ADDRESS,
      maxConcurrentRuns: config.GENGAP_MAX_CONCURRENT_RUNS,
      maxQueuedRuns: config.GENGAP_MAX_QUEUED_RUNS,
      threadsPerRun: config.GENGAP_THREADS_PER_RUN,
      checkpointEverySteps: config.GENGAP_CHECKPOINT_EVERY_STEPS,
      datasetCacheBytes: config.GENGAP_DATASET_CACHE_BYTES,
      outboundDeadlineMs: config.GENGAP_OUTBOUND_DEADLINE_MS,
      exitAfterRun: config.GENGAP_TRAINER_EXIT_AFTER_RUN
        ? { graceMs: config.GENGAP_TRAINER_EXIT_GRACE_MS, onEnded: exitWith }
        : undefined,
    });
  },
});
