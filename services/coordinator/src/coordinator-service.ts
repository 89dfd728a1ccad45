// Wiring of the coordinator's parts, shared by main.ts and the tests: store, service clients,
// executor, coordinator, gRPC server, report HTTP server.
import { join, resolve } from 'node:path';
import { checkToken, type Logger, type ServerSettings, type ServiceParts } from '@gengap/service-kit';
import { analysisApi, dataApi, TrainerPool } from './clients/service-clients.ts';
import type { Executor } from './executors/executor.ts';
import { TrainerServiceExecutor } from './executors/trainer-service-executor.ts';
import { type ReportServer, reportPath, startReportServer } from './http/index.ts';
import { Coordinator, type ReportBuilder } from './orchestration/coordinator.ts';
import { createServer } from './server.ts';
import { CoordinatorStore } from './store/coordinator-store.ts';

export interface CoordinatorServiceOptions {
  settings: ServerSettings;
  log: Logger;
  stateDir: string;
  dataAddress: string;
  /** Trainer endpoints for the default executor (ignored when `executor` is given). */
  trainerAddresses: string[];
  analysisAddress?: string | undefined;
  executor?: Executor;
  maxConcurrentRuns: number;
  maxActiveExperiments?: number;
  retryBaseMs: number;
  retryMaxMs: number;
  unreachableBudgetMs: number;
  outboundDeadlineMs: number;
  maxMessageBytes: number;
  /** Default: <stateDir>/reports. */
  reportsDir?: string | undefined;
  /** -1: no HTTP server; 0: a free port. */
  httpPort: number;
  httpHost: string;
  buildReport: ReportBuilder | undefined;
}

export interface CoordinatorService extends ServiceParts {
  coordinator: Coordinator;
  store: CoordinatorStore;
  http: ReportServer | undefined;
  start(): Promise<void>;
  close(): Promise<void>;
}

/**
 * The report server asks for the same tokens as the gRPC API (a read token is enough): the check is
 * the server's own authenticator, applied to a read method.
 */
function authorizeHttp(
  beforeCall: ServerSettings['beforeCall'],
): { authorize: (token: string | undefined) => void } | undefined {
  if (!beforeCall) return undefined;
  return {
    authorize: (token) =>
      checkToken(beforeCall, '/gengap.coordinator.v1.CoordinatorService/GetExperiment', token),
  };
}

export async function buildCoordinatorService(
  options: CoordinatorServiceOptions,
): Promise<CoordinatorService> {
  const clientOptions = { deadlineMs: options.outboundDeadlineMs, maxMessageBytes: options.maxMessageBytes };
  const executor = options.executor ?? new TrainerServiceExecutor(options.trainerAddresses);
  const stateDir = resolve(options.stateDir);
  const store = new CoordinatorStore(join(stateDir, 'coordinator.sqlite'));
  const data = dataApi(options.dataAddress, clientOptions);
  const analysis = options.analysisAddress ? analysisApi(options.analysisAddress, clientOptions) : undefined;
  const trainers = new TrainerPool(clientOptions);
  const reportsDir = resolve(options.reportsDir ?? join(stateDir, 'reports'));
  let http: ReportServer | undefined;
  const coordinator: Coordinator = new Coordinator({
    store,
    executor,
    trainer: (address) => trainers.get(address),
    data,
    analysis,
    log: options.log,
    maxConcurrentRuns: options.maxConcurrentRuns,
    ...(options.maxActiveExperiments ? { maxActiveExperiments: options.maxActiveExperiments } : {}),
    backoff: { baseMs: options.retryBaseMs, maxMs: options.retryMaxMs },
    unreachableBudgetMs: options.unreachableBudgetMs,
    reportsDir,
    buildReport: options.buildReport,
    reportUrl: (experimentId) => (http ? `${http.url}${reportPath(experimentId)}` : ''),
  });
  if (options.httpPort >= 0) {
    http = await startReportServer({
      host: options.httpHost,
      port: options.httpPort,
      reportsDir,
      listExperiments: () =>
        coordinator.list({ page: { pageSize: 1000, pageToken: '' }, state: 0 }).experiments.reverse(),
      onError: (err) => options.log.error({ err }, 'http request failed'),
      ...(authorizeHttp(options.settings.beforeCall) ?? {}),
    });
    options.log.info({ url: http.url }, 'reports served');
  }
  const server = createServer({ settings: options.settings, coordinator });
  return {
    server,
    coordinator,
    store,
    http,
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
}
