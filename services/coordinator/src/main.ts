// Composition root of the coordinator service: config, logger, dependencies, server, signals.
import { join, resolve } from 'node:path';
import { serviceNames } from '@gengap/proto';
import { ConfigError, EXIT_CONFIG, runServiceMain, serverSettingsFrom } from '@gengap/service-kit';
import { analysisApi, dataApi, TrainerPool } from './clients/service-clients.ts';
import { coordinatorConfigShape } from './config.ts';
import type { Executor } from './executors/executor.ts';
import { createKubernetesExecutor } from './executors/kubernetes-executor.ts';
import { TrainerServiceExecutor } from './executors/trainer-service-executor.ts';
import { type ReportServer, reportPath, startReportServer } from './http/index.ts';
import { Coordinator } from './orchestration/coordinator.ts';
import { buildReport } from './reports/index.ts';
import { createServer } from './server.ts';
import { CoordinatorStore } from './store/coordinator-store.ts';

await runServiceMain({
  name: 'coordinator',
  configShape: coordinatorConfigShape,
  async build(config, log) {
    const clientOptions = {
      deadlineMs: config.GENGAP_OUTBOUND_DEADLINE_MS,
      maxMessageBytes: config.GENGAP_MAX_MESSAGE_BYTES,
    };
    const trainerAddresses =
      config.GENGAP_TRAINER_ADDRESSES ??
      (config.GENGAP_TRAINER_ADDRESS ? [config.GENGAP_TRAINER_ADDRESS] : []);
    let executor: Executor;
    if (config.GENGAP_EXECUTOR === 'kubernetes') {
      executor = createKubernetesExecutor(config, log);
    } else {
      if (trainerAddresses.length === 0) {
        process.stderr.write(
          `coordinator: ${new ConfigError('GENGAP_TRAINER_ADDRESSES', 'at least one trainer address is required').message}\n`,
        );
        process.exit(EXIT_CONFIG);
      }
      executor = new TrainerServiceExecutor(trainerAddresses);
    }
    const stateDir = resolve(config.GENGAP_STATE_DIR);
    const store = new CoordinatorStore(join(stateDir, 'coordinator.sqlite'));
    const data = dataApi(config.GENGAP_DATA_ADDRESS, clientOptions);
    const analysis = config.GENGAP_ANALYSIS_ADDRESS
      ? analysisApi(config.GENGAP_ANALYSIS_ADDRESS, clientOptions)
      : undefined;
    const trainers = new TrainerPool(clientOptions);
    const reportsDir = resolve(config.GENGAP_REPORTS_DIR ?? join(stateDir, 'reports'));
    let http: ReportServer | undefined;
    const coordinator: Coordinator = new Coordinator({
      store,
      executor,
      trainer: (address) => trainers.get(address),
      data,
      analysis,
      log,
      maxConcurrentRuns: config.GENGAP_MAX_CONCURRENT_RUNS,
      backoff: { baseMs: config.GENGAP_RETRY_BASE_MS, maxMs: config.GENGAP_RETRY_MAX_MS },
      unreachableBudgetMs: config.GENGAP_UNREACHABLE_BUDGET_MS,
      reportsDir,
      buildReport,
      reportUrl: (experimentId) => (http ? `${http.url}${reportPath(experimentId)}` : ''),
    });
    if (config.GENGAP_HTTP_PORT >= 0) {
      http = await startReportServer({
        host: config.GENGAP_HTTP_HOST,
        port: config.GENGAP_HTTP_PORT,
        reportsDir,
        listExperiments: () =>
          coordinator.list({ page: { pageSize: 1000, pageToken: '' }, state: 0 }).experiments.reverse(),
        onError: (err) => log.error({ err }, 'http request failed'),
      });
      log.info({ url: http.url }, 'reports served');
    }
    const settings = serverSettingsFrom(config, log, [serviceNames.coordinator]);
    return {
      server: createServer({ settings, coordinator }),
      async start() {
        await coordinator.resumeAll();
      },
      async close() {
        await coordinator.shutdown();
        await http?.close();
        await executor.close();
        trainers.close();
        data.close();
        analysis?.close();
        store.close();
      },
    };
  },
});
