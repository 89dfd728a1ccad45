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
  /** Calls (unary and streams) one process handles at once; beyond, RESOURCE_EXHAUSTED at once. */
  GENGAP_MAX_INFLIGHT_CALLS: z.coerce.number().int().min(1).max(1_000_000).default(4096),
  /** Keepalive pings on outbound connections: a peer that stops answering (SIGSTOP, a cut cable) is
   * noticed within time + timeout, and its calls fail UNAVAILABLE. */
  GENGAP_KEEPALIVE_TIME_MS: z.coerce.number().int().min(1000).max(3_600_000).default(10_000),
  GENGAP_KEEPALIVE_TIMEOUT_MS: z.coerce.number().int().min(500).max(600_000).default(10_000),
  /** How long an outbound stream waits for a connection (TCP accepted but no HTTP/2 answer: a frozen
   * peer) before it fails UNAVAILABLE; grpc-js itself would wait forever. */
  GENGAP_CONNECT_TIMEOUT_MS: z.coerce.number().int().min(500).max(600_000).default(20_000),
  // Security (tls.ts, auth.ts). Off by default: the embedded stack listens on loopback only.
  /** PEM certificate chain and key of this service; both set: the server speaks TLS. */
  GENGAP_TLS_CERT: z.string().min(1).optional(),
  GENGAP_TLS_KEY: z.string().min(1).optional(),
  /** PEM CA bundle: verifies peers (outbound TLS on when set) and, with client auth, clients. */
  GENGAP_TLS_CA: z.string().min(1).optional(),
  /** "require": clients must present a certificate signed by GENGAP_TLS_CA (mutual TLS). */
  GENGAP_TLS_CLIENT_AUTH: z.enum(['none', 'require']).default('none'),
  /** Name checked in peers' certificates instead of the host of the address dialled. */
  GENGAP_TLS_SERVER_NAME: z.string().min(1).optional(),
  /** "role:token" entries (roles read, run), comma- or newline-separated, or "@/path/file". */
  GENGAP_AUTH_TOKENS: z.string().min(1).optional(),
  /** Bearer token this service presents on its own calls to other services. */
  GENGAP_OUTBOUND_TOKEN: z.string().min(16).optional(),
  /** Allows listening on a non-loopback host without authentication (e.g. behind a mesh). */
  GENGAP_ALLOW_INSECURE: z
    .enum(['true', 'false', '1', '0'])
    .default('false')
    .transform((v) => v === 'true' || v === '1'),
};

/** Variables whose values are secrets: never echoed in a configuration error. */
const SECRET_VARIABLE = /TOKEN|SECRET|PASSWORD|_KEY$/;

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
      const got = SECRET_VARIABLE.test(name) ? '' : ` (got ${JSON.stringify(raw)})`;
      throw new ConfigError(name, `${issue?.message ?? 'invalid value'}${got}`);
    }
    values[name] = result.data;
  }
  return values as { [K in keyof S]: z.output<S[K]> };
}

export type CommonConfig = ReturnType<typeof loadConfig<typeof commonConfigShape>>;
