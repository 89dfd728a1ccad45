// Composition root of the analysis service: config, logger, dependencies, server, signals.
import { serviceNames } from '@gengap/proto';
import { runServiceMain, serverSettingsFrom } from '@gengap/service-kit';
import { buildAnalysisService } from './analysis-service.ts';
import { analysisConfigShape } from './config.ts';

await runServiceMain({
  name: 'analysis',
  configShape: analysisConfigShape,
  build(config, log) {
    return buildAnalysisService({
      settings: serverSettingsFrom(config, log, [serviceNames.analysis]),
      log,
      stateDir: config.GENGAP_STATE_DIR,
      trainerAddress: config.GENGAP_TRAINER_ADDRESS,
      dataAddress: config.GENGAP_DATA_ADDRESS,
      maxConcurrentAnalyses: config.GENGAP_MAX_CONCURRENT_ANALYSES,
      maxQueuedAnalyses: config.GENGAP_MAX_QUEUED_ANALYSES,
      defaultThreads: config.GENGAP_ANALYSIS_THREADS,
      datasetCacheBytes: config.GENGAP_DATASET_CACHE_BYTES,
      checkpointCacheBytes: config.GENGAP_CHECKPOINT_CACHE_BYTES,
      outboundDeadlineMs: config.GENGAP_OUTBOUND_DEADLINE_MS,
    });
  },
});
