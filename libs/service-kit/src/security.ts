// A service's security settings assembled once from its config: server TLS (tls.ts), the token check
// (auth.ts), and the outbound defaults every client of the process uses (TLS, its own token,
// keepalive). Also the rule that a service reachable from other machines must not run without
// authentication unless the operator says so (GENGAP_ALLOW_INSECURE=true).
import { isIP } from 'node:net';
import type { ServerCredentials } from '@grpc/grpc-js';
import { type Authenticator, createAuthenticator, loadAuthTokens, type Role } from './auth.ts';
import type { OutboundDefaults } from './client.ts';
import { type CommonConfig, ConfigError } from './config.ts';
import { channelCredentialsFrom, serverCredentialsFrom } from './tls.ts';

export interface Security {
  serverCredentials: ServerCredentials | undefined;
  authenticator: Authenticator | undefined;
  outbound: OutboundDefaults;
  /** What is on, for the start-up log line (no secrets). */
  summary: {
    tls: boolean;
    mutualTls: boolean;
    auth: boolean;
    tokens: Record<Role, number>;
    outboundTls: boolean;
    outboundToken: boolean;
  };
}

type SecurityConfig = Pick<
  CommonConfig,
  | 'GENGAP_TLS_CERT'
  | 'GENGAP_TLS_KEY'
  | 'GENGAP_TLS_CA'
  | 'GENGAP_TLS_CLIENT_AUTH'
  | 'GENGAP_TLS_SERVER_NAME'
  | 'GENGAP_AUTH_TOKENS'
  | 'GENGAP_OUTBOUND_TOKEN'
  | 'GENGAP_KEEPALIVE_TIME_MS'
  | 'GENGAP_KEEPALIVE_TIMEOUT_MS'
  | 'GENGAP_CONNECT_TIMEOUT_MS'
>;

const cache = new WeakMap<object, Security>();

/** Reads certificates and tokens named by the config (once per config object); throws ConfigError. */
export function securityFrom(config: SecurityConfig): Security {
  const cached = cache.get(config);
  if (cached) return cached;
  const serverCredentials = serverCredentialsFrom(config);
  const tokens = loadAuthTokens(config.GENGAP_AUTH_TOKENS);
  const channelCredentials = channelCredentialsFrom(config);
  const outbound: OutboundDefaults = {
    keepaliveTimeMs: config.GENGAP_KEEPALIVE_TIME_MS,
    keepaliveTimeoutMs: config.GENGAP_KEEPALIVE_TIMEOUT_MS,
    connectTimeoutMs: config.GENGAP_CONNECT_TIMEOUT_MS,
  };
  if (channelCredentials) outbound.credentials = channelCredentials;
  if (config.GENGAP_OUTBOUND_TOKEN) outbound.token = config.GENGAP_OUTBOUND_TOKEN;
  if (config.GENGAP_TLS_SERVER_NAME) outbound.serverNameOverride = config.GENGAP_TLS_SERVER_NAME;
  const security: Security = {
    serverCredentials,
    authenticator: tokens ? createAuthenticator(tokens) : undefined,
    outbound,
    summary: {
      tls: serverCredentials !== undefined,
      mutualTls: serverCredentials !== undefined && config.GENGAP_TLS_CLIENT_AUTH === 'require',
      auth: tokens !== undefined,
      tokens: {
        read: tokens?.filter((t) => t.role === 'read').length ?? 0,
        run: tokens?.filter((t) => t.role === 'run').length ?? 0,
      },
      outboundTls: channelCredentials !== undefined,
      outboundToken: Boolean(config.GENGAP_OUTBOUND_TOKEN),
    },
  };
  cache.set(config, security);
  return security;
}

/** 127.0.0.0/8, ::1 and "localhost". */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost' || h === '::1') return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  if (h.startsWith('::ffff:')) return h.slice(7).startsWith('127.');
  return false;
}

/**
 * Refuses a listener other machines can reach without authentication, unless GENGAP_ALLOW_INSECURE
 * is true (a trusted network, a mesh that authenticates for us). Returns warnings to log.
 */
export function checkExposure(
  config: Pick<CommonConfig, 'GENGAP_HOST' | 'GENGAP_ALLOW_INSECURE'>,
  security: Security,
): string[] {
  if (isLoopbackHost(config.GENGAP_HOST)) return [];
  const warnings: string[] = [];
  if (!security.summary.auth) {
    if (!config.GENGAP_ALLOW_INSECURE) {
      throw new ConfigError(
        'GENGAP_AUTH_TOKENS',
        `GENGAP_HOST=${config.GENGAP_HOST} is reachable from other machines: set GENGAP_AUTH_TOKENS (and TLS), or GENGAP_ALLOW_INSECURE=true to serve without authentication`,
      );
    }
    warnings.push('serving on a non-loopback address without authentication (GENGAP_ALLOW_INSECURE=true)');
  } else if (!security.summary.tls) {
    warnings.push('bearer tokens travel in plaintext: set GENGAP_TLS_CERT and GENGAP_TLS_KEY');
  }
  return warnings;
}
