// Configuration from environment variables, validated with zod. A bad value stops the process at
// start-up with a message that names the variable.
import { z } from 'zod';

export class ConfigError extends Error {
  readonly variable: string;
  constructor(variable: string, message: string) {
    super(`invalid configuration: ${variable}: ${message}`);
    this.variable = variable;
    this.name = 'ConfigError';
  }
}

/** Settings every GenGap service has. */
export const commonConfigShape = {
  GENGAP_HOST: z.string().min(1).default('127.0.0.1'),
  GENGAP_PORT: z.coerce.number().int().min(0).max(65535).default(0),
  GENGAP_LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** Root folder of this service's files (its SQLite database, datasets, checkpoints...). */
  GENGAP_STATE_DIR: z.string().min(1).default('.gengap/state'),
  /** Largest gRPC message accepted or sent, in bytes (grpc-js defaults to 4 MiB receive). */
  GENGAP_MAX_MESSAGE_BYTES: z.coerce
    .number()
    .int()
    .min(64 * 1024)
    .max(512 * 1024 * 1024)
    .default(16 * 1024 * 1024),
  /** HTTP/2 streams one client connection may have open at once. */
  GENGAP_MAX_CONCURRENT_STREAMS: z.coerce.number().int().min(1).max(100_000).default(1000),
  /** Time allowed for in-flight calls to finish on SIGTERM before they are cut. */
  GENGAP_SHUTDOWN_GRACE_MS: z.coerce.number().int().min(0).max(600_000).default(10_000),
  /** Time between reporting NOT_SERVING and closing the listener, so that load balancers notice. */
  GENGAP_DRAIN_DELAY_MS: z.coerce.number().int().min(0).max(60_000).default(200),
  /** Deadline applied to unary calls that arrive without one, and the cap on any unary deadline. */
  GENGAP_MAX_UNARY_DEADLINE_MS: z.coerce.number().int().min(100).max(3_600_000).default(60_000),
  /** Deadline of this service's own outbound unary calls. */
  GENGAP_OUTBOUND_DEADLINE_MS: z.coerce.number().int().min(100).max(3_600_000).default(30_000),
};

export type ConfigShape = Record<string, z.ZodType>;

/**
 * Parses `env` against `shape`. Unknown variables are ignored; the first invalid one throws a
 * ConfigError naming it.
 */
export function loadConfig<S extends ConfigShape>(
  shape: S,
  env: Record<string, string | undefined> = process.env,
): { [K in keyof S]: z.output<S[K]> } {
  const values: Record<string, unknown> = {};
  for (const [name, schema] of Object.entries(shape)) {
    const raw = env[name];
    const result = schema.safeParse(raw === '' ? undefined : raw);
    if (!result.success) {
      const issue = result.error.issues[0];
      throw new ConfigError(name, `${issue?.message ?? 'invalid value'} (got ${JSON.stringify(raw)})`);
    }
    values[name] = result.data;
  }
  return values as { [K in keyof S]: z.output<S[K]> };
}

export type CommonConfig = ReturnType<typeof loadConfig<typeof commonConfigShape>>;
