// The common start-up of a service's main.ts: validated config, root logger, dependencies, server on
// host:port, SERVING once ready, signals wired to a draining shutdown. A bad config value exits with
// status 78 (EX_CONFIG) and a message naming the variable. Security (TLS, tokens, the outbound
// defaults of every client) comes from the same config (security.ts).
import { writeFileSync } from 'node:fs';
import type { Logger } from 'pino';
import { z } from 'zod';
import { configureOutbound } from './client.ts';
import { type CommonConfig, ConfigError, type ConfigShape, commonConfigShape, loadConfig } from './config.ts';
import { installSignalHandlers } from './lifecycle.ts';
import { createRootLogger } from './logger.ts';
import { checkExposure, securityFrom } from './security.ts';
import type { GenGapServer, ServerSettings } from './server.ts';

export const EXIT_CONFIG = 78;
/**
 * Exit code of a one-run trainer (GENGAP_TRAINER_EXIT_AFTER_RUN) whose run failed or was cancelled.
 * Here so the trainer that exits with it and the coordinator's Kubernetes executor that fails the
 * Job on it (a new pod would find the same ended run) share one definition.
 */
export const EXIT_RUN_FAILED = 3;

const launcherShape = {
  /** When set, the service writes {"port": N, "pid": P} here once it is SERVING (used by `gengap up`). */
  GENGAP_READY_FILE: z.string().optional(),
};

export interface ServiceParts {
  /** The server with its handlers bound (from the service's createServer). */
  server: GenGapServer;
  /** Work to do once the server listens (resume jobs...). */
  start?(): Promise<void> | void;
  /** Closes stores and clients after the server stopped. */
  close?(): Promise<void> | void;
}

/** What a service may do to its own process. */
export interface ProcessControl {
  /** Shuts down as on SIGTERM (drain, close), then exits with `exitCode`. */
  stop(reason: string, exitCode: number): void;
}

export interface ServiceMain<S extends ConfigShape> {
  name: string;
  configShape: S;
  build(
    config: CommonConfig & { [K in keyof S]: z.output<S[K]> },
    log: Logger,
    control: ProcessControl,
  ): Promise<ServiceParts> | ServiceParts;
}

/** Builds the server settings every service shares from its config (limits, TLS, token check). */
export function serverSettingsFrom(
  config: CommonConfig,
  log: Logger,
  serviceNames: readonly string[],
): ServerSettings {
  const security = securityFrom(config);
  const settings: ServerSettings = {
    log,
    serviceNames,
    maxMessageBytes: config.GENGAP_MAX_MESSAGE_BYTES,
    maxConcurrentStreams: config.GENGAP_MAX_CONCURRENT_STREAMS,
    maxInflightCalls: config.GENGAP_MAX_INFLIGHT_CALLS,
    maxUnaryDeadlineMs: config.GENGAP_MAX_UNARY_DEADLINE_MS,
    shutdownGraceMs: config.GENGAP_SHUTDOWN_GRACE_MS,
    drainDelayMs: config.GENGAP_DRAIN_DELAY_MS,
  };
  if (security.serverCredentials) settings.credentials = security.serverCredentials;
  if (security.authenticator) settings.beforeCall = security.authenticator;
  return settings;
}

export async function runServiceMain<S extends ConfigShape>(main: ServiceMain<S>): Promise<void> {
  let config: CommonConfig & { [K in keyof S]: z.output<S[K]> } & { GENGAP_READY_FILE?: string | undefined };
  let warnings: string[];
  try {
    config = loadConfig({ ...commonConfigShape, ...launcherShape, ...main.configShape }) as typeof config;
    const security = securityFrom(config);
    warnings = checkExposure(config, security);
    configureOutbound(security.outbound);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${main.name}: ${err.message}\n`);
      process.exit(EXIT_CONFIG);
    }
    throw err;
  }
  const log = createRootLogger({ service: main.name, level: config.GENGAP_LOG_LEVEL });
  log.info(securityFrom(config).summary, 'security');
  for (const warning of warnings) log.warn(warning);
  // The signal handlers (and so the shutdown) exist once the server listens; a stop asked for
  // before then waits for them.
  let stop: ((reason: string, exitCode: number) => void) | undefined;
  const early: [string, number][] = [];
  const control: ProcessControl = {
    stop: (reason, exitCode) => (stop ? stop(reason, exitCode) : early.push([reason, exitCode])),
  };
  const parts = await main.build(config, log, control);
  const { server } = parts;
  const port = await server.listen(config.GENGAP_HOST, config.GENGAP_PORT);
  await parts.start?.();
  server.setServing(true);
  log.info({ host: config.GENGAP_HOST, port }, 'serving');
  if (config.GENGAP_READY_FILE) {
    writeFileSync(config.GENGAP_READY_FILE, JSON.stringify({ port, pid: process.pid }));
  }
  stop = installSignalHandlers(log, [server], async () => {
    await parts.close?.();
  });
  for (const [reason, exitCode] of early.splice(0)) stop(reason, exitCode);
}
