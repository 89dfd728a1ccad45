// TLS from configuration, for both directions of a service:
//   server   GENGAP_TLS_CERT + GENGAP_TLS_KEY (PEM files) serve TLS; GENGAP_TLS_CLIENT_AUTH=require also
//            demands a client certificate signed by GENGAP_TLS_CA (mutual TLS).
//   outbound GENGAP_TLS_CA set: calls to other services use TLS and verify them against that CA,
//            presenting GENGAP_TLS_CERT/KEY as the client certificate when they are set (mutual TLS).
//            GENGAP_TLS_SERVER_NAME overrides the name checked in the peer's certificate (for
//            addresses that are not in it, e.g. a dev certificate for "localhost" reached as 127.0.0.1).
// scripts/dev-ca.sh makes a development CA and certificates usable both ways.
import { readFileSync } from 'node:fs';
import { type ChannelCredentials, credentials, ServerCredentials } from '@grpc/grpc-js';
import type { OutboundDefaults } from './client.ts';
import { ConfigError } from './config.ts';

export interface TlsConfig {
  GENGAP_TLS_CERT?: string | undefined;
  GENGAP_TLS_KEY?: string | undefined;
  GENGAP_TLS_CA?: string | undefined;
  GENGAP_TLS_CLIENT_AUTH?: 'none' | 'require' | undefined;
  GENGAP_TLS_SERVER_NAME?: string | undefined;
}

function readPem(variable: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new ConfigError(variable, `cannot read ${path}: ${(err as Error).message}`);
  }
}

/** Server credentials, or undefined when no certificate is configured (plaintext). */
export function serverCredentialsFrom(config: TlsConfig): ServerCredentials | undefined {
  const { GENGAP_TLS_CERT: cert, GENGAP_TLS_KEY: key, GENGAP_TLS_CA: ca } = config;
  const requireClient = config.GENGAP_TLS_CLIENT_AUTH === 'require';
  if (!cert && !key) {
    if (requireClient)
      throw new ConfigError('GENGAP_TLS_CLIENT_AUTH', 'require needs GENGAP_TLS_CERT and GENGAP_TLS_KEY');
    return undefined;
  }
  if (!cert) throw new ConfigError('GENGAP_TLS_CERT', 'is required with GENGAP_TLS_KEY');
  if (!key) throw new ConfigError('GENGAP_TLS_KEY', 'is required with GENGAP_TLS_CERT');
  if (requireClient && !ca)
    throw new ConfigError('GENGAP_TLS_CA', 'is required with GENGAP_TLS_CLIENT_AUTH=require');
  return ServerCredentials.createSsl(
    ca ? readPem('GENGAP_TLS_CA', ca) : null,
    [{ cert_chain: readPem('GENGAP_TLS_CERT', cert), private_key: readPem('GENGAP_TLS_KEY', key) }],
    requireClient,
  );
}

/** Credentials of outbound calls, or undefined when no CA is configured (plaintext). */
export function channelCredentialsFrom(config: TlsConfig): ChannelCredentials | undefined {
  const { GENGAP_TLS_CERT: cert, GENGAP_TLS_KEY: key, GENGAP_TLS_CA: ca } = config;
  if (!ca) return undefined;
  const withClientCert = Boolean(cert && key);
  return credentials.createSsl(
    readPem('GENGAP_TLS_CA', ca),
    withClientCert ? readPem('GENGAP_TLS_KEY', key as string) : null,
    withClientCert ? readPem('GENGAP_TLS_CERT', cert as string) : null,
  );
}

/** Client-side settings for tools (the CLI, tests, benchmarks): files by path, token inline. */
export interface ClientSecurityOptions {
  token?: string | undefined;
  tlsCa?: string | undefined;
  tlsCert?: string | undefined;
  tlsKey?: string | undefined;
  tlsServerName?: string | undefined;
}

/** Outbound defaults for a tool from its flags; plaintext without a CA, no token without one. */
export function clientSecurityFrom(options: ClientSecurityOptions): OutboundDefaults {
  const defaults: OutboundDefaults = {};
  const credentials = channelCredentialsFrom({
    GENGAP_TLS_CA: options.tlsCa,
    GENGAP_TLS_CERT: options.tlsCert,
    GENGAP_TLS_KEY: options.tlsKey,
  });
  if (credentials) defaults.credentials = credentials;
  if (options.token) defaults.token = options.token;
  if (options.tlsServerName) defaults.serverNameOverride = options.tlsServerName;
  return defaults;
}
