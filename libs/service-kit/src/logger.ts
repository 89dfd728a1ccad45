// One pino root logger per process: JSON lines to stdout, secrets redacted. Jobs and calls log through
// children ({runId}, {method}) so every line can be traced to its work.
import { type Logger, type LoggerOptions, pino } from 'pino';

/** Paths whose values never reach a log line. */
export const redactedPaths = [
  'authorization',
  'token',
  'password',
  'secret',
  '*.authorization',
  '*.token',
  '*.password',
  '*.secret',
  '*.bearerToken',
  'metadata.authorization',
  'headers.authorization',
  'config.GENGAP_AUTH_TOKENS',
  'config.GENGAP_TLS_KEY',
];

export interface LoggerSettings {
  service: string;
  level: string;
  /** Where to write; defaults to stdout. Tests pass a stream to read lines back. */
  destination?: NodeJS.WritableStream;
}

export function createRootLogger(settings: LoggerSettings): Logger {
  const options: LoggerOptions = {
    level: settings.level,
    base: { service: settings.service, pid: process.pid },
    redact: { paths: redactedPaths, censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
  };
  return settings.destination
    ? pino(options, settings.destination as pino.DestinationStream)
    : pino(options, pino.destination({ dest: 1, sync: false }));
}

export type { Logger };
