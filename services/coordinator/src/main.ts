// Composition root of the coordinator service: config, logger, dependencies, server, signals.
import { serviceNames } from '@gengap/proto';
import { ConfigError, EXIT_CONFIG, runServiceMain, serverSettingsFrom } from '@gengap/service-kit';
import { coordinatorConfigShape } from './config.ts';
import { buildCoordinatorService } from './coordinator-service.ts';
import { createKubernetesExecutor } from './executors/kubernetes-executor.ts';
import { buildReport } from './reports/index.ts';

await runServiceMain({
  name: 'coordinator',
  configShape: coordinatorConfigShape,
  build(config, log) {
    const trainerAddresses =
      config.GENGAP_TRAINER_ADDRESSES ??
      (config.GENGAP_TRAINER_ADDRESS ? [config.GENGAP_TRAINER_ADDRESS] : []);
    const kubernetes = config.GENGAP_EXECUTOR === 'kubernetes';
    if (!kubernetes && trainerAddresses.length === 0) {
      const err = new ConfigError('GENGAP_TRAINER_ADDRESSES', 'at least one trainer address is required');
      process.stderr.write(`coordinator: ${err.message}\n`);
      process.exit(EXIT_CONFIG);
    }
    return buildCoordinatorService({
      settings: serverSettingsFrom(config, log, [serviceNames.coordinator]),
      log,
      stateDir: config.GENGAP_STATE_DIR,
      dataAddress: config.GENGAP_DATA_ADDRESS,
      trainerAddresses,
      analysisAddress: config.GENGAP_ANALYSIS_ADDRESS,
      ...(kubernetes ? { executor: createKubernetesExecutor(config, log) } : {}),
      maxConcurrentRuns: config.GENGAP_MAX_CONCURRENT_RUNS,
      maxActiveExperiments: config.GENGAP_MAX_ACTIVE_EXPERIMENTS,
      retryBaseMs: config.GENGAP_RETRY_BASE_MS,
      retryMaxMs: config.GENGAP_RETRY_MAX_MS,
      unreachableBudgetMs: config.GENGAP_UNREACHABLE_BUDGET_MS,
      outboundDeadlineMs: config.GENGAP_OUTBOUND_DEADLINE_MS,
      maxMessageBytes: config.GENGAP_MAX_MESSAGE_BYTES,
      reportsDir: config.GENGAP_REPORTS_DIR,
      httpPort: config.GENGAP_HTTP_PORT,
      httpHost: config.GENGAP_HTTP_HOST,
      buildReport,
    });
  },
});
