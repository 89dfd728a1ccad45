// Composition root of the trainer service: config, logger, dependencies, server, signals.
import { serviceNames } from '@gengap/proto';
import { runServiceMain, serverSettingsFrom } from '@gengap/service-kit';
import { trainerConfigShape } from './config.ts';
import { buildTrainer } from './trainer.ts';

await runServiceMain({
  name: 'trainer',
  configShape: trainerConfigShape,
  build(config, log, control) {
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
        ? {
            graceMs: config.GENGAP_TRAINER_EXIT_GRACE_MS,
            // Drains and closes as on SIGTERM, then exits 0 (succeeded) or EXIT_RUN_FAILED.
            onEnded: (ended) => control.stop(`run ${ended.runId} ended ${ended.state}`, ended.exitCode),
          }
        : undefined,
    });
  },
});
