// Bearer-token authentication with two roles, checked once per call before any handler runs:
//   read  Get*, List*, Watch*, Read*, Sample*, Validate* (looking at work and results)
//   run   everything else (Start*, Create*, Cancel*, Delete*, BuildReport...) plus what read allows
// Health and reflection are not GenGap services and stay open (probes and discovery need no token).
// Tokens come from GENGAP_AUTH_TOKENS ("role:token" entries, or "@/path/to/file" holding one entry
// per line). Presented tokens are compared in constant time against every configured token (their
// SHA-256 digests, so lengths leak nothing either); a token is never logged, only its role and a
// short fingerprint (the first 8 hex digits of its digest) as the caller's subject.
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Metadata as GrpcMetadata, type Metadata } from '@grpc/grpc-js';
import { ConfigError } from './config.ts';
import { PermissionDeniedError, UnauthenticatedError } from './errors.ts';
import type { CallContext } from './handlers.ts';

export const ROLES = ['read', 'run'] as const;
export type Role = (typeof ROLES)[number];

export type Principal = NonNullable<CallContext['principal']>;

/** Method-name prefixes that only read; any other method needs the `run` role (fail closed). */
const READ_PREFIXES = ['Get', 'List', 'Watch', 'Read', 'Sample', 'Validate'];

/** The role a method needs, from its path ("/gengap.trainer.v1.TrainerService/GetRun") or name. */
export function requiredRole(method: string): Role {
  const name = method.slice(method.lastIndexOf('/') + 1);
  return READ_PREFIXES.some((p) => name.startsWith(p) && name.length > p.length) ? 'read' : 'run';
}

/** Roles a token of `role` holds: run includes read. */
export function rolesOf(role: Role): readonly Role[] {
  return role === 'run' ? ['read', 'run'] : ['read'];
}

export interface TokenEntry {
  role: Role;
  token: string;
}

/** Parses "role:token" entries separated by commas or newlines; '#' starts a comment line. */
export function parseAuthTokens(text: string, variable = 'GENGAP_AUTH_TOKENS'): TokenEntry[] {
  const entries: TokenEntry[] = [];
  for (const raw of text.split(/[,\n]/)) {
    const entry = raw.trim();
    if (!entry || entry.startsWith('#')) continue;
    const colon = entry.indexOf(':');
    const role = entry.slice(0, colon) as Role;
    const token = entry.slice(colon + 1);
    if (colon < 0 || !ROLES.includes(role)) {
      // The entry itself may be a secret: say where, never what.
      throw new ConfigError(variable, `entry ${entries.length + 1} must be "read:<token>" or "run:<token>"`);
    }
    if (token.length < 16) {
      throw new ConfigError(variable, `entry ${entries.length + 1}: tokens must have at least 16 characters`);
    }
    entries.push({ role, token });
  }
  if (entries.length === 0) throw new ConfigError(variable, 'no tokens given');
  return entries;
}

/** GENGAP_AUTH_TOKENS: inline entries, or "@<path>" to read them from a file (a mounted Secret). */
export function loadAuthTokens(value: string | undefined): TokenEntry[] | undefined {
  if (!value) return undefined;
  if (!value.startsWith('@')) return parseAuthTokens(value);
  let text: string;
  try {
    text = readFileSync(value.slice(1), 'utf8');
  } catch (err) {
    throw new ConfigError('GENGAP_AUTH_TOKENS', `cannot read ${value.slice(1)}: ${(err as Error).message}`);
  }
  return parseAuthTokens(text);
}

function digest(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

/** The subject a token is logged as: its role and a short fingerprint. */
export function subjectOf(role: Role, token: string): string {
  return `${role}:${digest(token).toString('hex').slice(0, 8)}`;
}

/** Reads the bearer token of a call's metadata, if any. */
export function bearerTokenOf(metadata: Metadata): string | undefined {
  const value = metadata.get('authorization')[0];
  if (typeof value !== 'string') return undefined;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(value);
  return match?.[1];
}

export type Authenticator = (method: string, metadata: Metadata) => Principal;

/**
 * The check run before every handler: UNAUTHENTICATED without a known token, PERMISSION_DENIED
 * when the token's role does not allow the method.
 */
export function createAuthenticator(entries: readonly TokenEntry[]): Authenticator {
  const known = entries.map((e) => ({
    digest: digest(e.token),
    roles: rolesOf(e.role),
    subject: subjectOf(e.role, e.token),
  }));
  return (method, metadata) => {
    const token = bearerTokenOf(metadata);
    if (token === undefined)
      throw new UnauthenticatedError('a bearer token is required (authorization metadata)');
    const presented = digest(token);
    let match: (typeof known)[number] | undefined;
    // Compare against every token, without stopping at the first match.
    for (const k of known) if (timingSafeEqual(k.digest, presented) && !match) match = k;
    if (!match) throw new UnauthenticatedError('unknown bearer token');
    const role = requiredRole(method);
    if (!match.roles.includes(role)) {
      throw new PermissionDeniedError(
        `${method} needs the "${role}" role; this token has "${match.roles.at(-1)}"`,
      );
    }
    return { subject: match.subject, roles: match.roles };
  };
}

/**
 * Runs a server's token check (ServerSettings.beforeCall) for a request that did not come over gRPC
 * (the coordinator's report pages): throws UNAUTHENTICATED / PERMISSION_DENIED like a call would.
 */
export function checkToken(
  check: (method: string, metadata: Metadata) => unknown,
  method: string,
  token: string | undefined,
): void {
  const metadata = new GrpcMetadata();
  if (token) metadata.set('authorization', `Bearer ${token}`);
  check(method, metadata);
}
