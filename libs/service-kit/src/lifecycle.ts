// Process-level wiring for a service's main.ts: SIGTERM/SIGINT start a graceful shutdown; a second
// signal or an uncaught error exits at once with a log line.
import type { Logger } from 'pino';

export interface Stoppable {
  shutdown(): Promise<void>;
}

/**
 * Installs the handlers and returns `stop`: the same graceful shutdown for a reason other than a
 * signal (a trainer whose one run has ended), exiting with `exitCode` once it completes cleanly.
 */
export function installSignalHandlers(
  log: Logger,
  targets: Stoppable[],
  onStopped?: () => Promise<void>,
): (reason: string, exitCode: number) => void {
  let stopping = false;
  const stop = (signal: string, exitCode = 0) => {
    if (stopping) {
      log.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    stopping = true;
    log.info({ signal }, 'shutting down');
    Promise.all(targets.map((t) => t.shutdown()))
      .then(() => onStopped?.())
      .then(
        () => {
          log.flush?.();
          process.exit(exitCode);
        },
        (err) => {
          log.error({ err }, 'shutdown failed');
          process.exit(1);
        },
      );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('uncaughtException', (err) => {
    log.fatal({ err }, 'uncaught exception');
    log.flush?.();
    process.exit(70);
  });
  process.on('unhandledRejection', (err) => {
    log.fatal({ err }, 'unhandled rejection');
    log.flush?.();
    process.exit(70);
  });
  return stop;
}
