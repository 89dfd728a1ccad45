// Outbound calls: clients with explicit message limits and keepalive, every unary call with a
// deadline, and cancellation flowing from an AbortSignal (the caller's own call) to the downstream call.
// A service's composition root (runServiceMain) sets the process's outbound defaults once from its
// config (TLS credentials, its bearer token, keepalive), so every client any module creates uses them
// without each service threading them through; a client's own settings take precedence.
import {
  type CallOptions,
  type ChannelCredentials,
  type Client,
  type ClientOptions,
  type ClientReadableStream,
  type ClientUnaryCall,
  connectivityState,
  credentials as grpcCredentials,
  Metadata,
  type ServiceError,
  status,
} from '@grpc/grpc-js';

export interface ClientSettings {
  maxMessageBytes?: number;
  credentials?: ChannelCredentials;
  /** Added to every call (e.g. a bearer token). */
  metadata?: Record<string, string>;
  /** Default deadline for unary calls made with this client. */
  deadlineMs?: number;
  /** Bearer token sent as `authorization: Bearer <token>` on every call. */
  token?: string;
  /** Name checked in the server's certificate instead of the address's host. */
  serverNameOverride?: string;
  keepaliveTimeMs?: number;
  keepaliveTimeoutMs?: number;
  /** How long a stream waits for its channel to connect before failing UNAVAILABLE (default 20 s). */
  connectTimeoutMs?: number;
  /** Extra grpc-js channel options, e.g. `'grpc.use_local_subchannel_pool': 1` for a connection of its own. */
  channelOptions?: Partial<ClientOptions>;
}

/** What createClient uses where a client's settings say nothing (see configureOutbound). */
export type OutboundDefaults = Pick<
  ClientSettings,
  | 'credentials'
  | 'token'
  | 'serverNameOverride'
  | 'keepaliveTimeMs'
  | 'keepaliveTimeoutMs'
  | 'connectTimeoutMs'
>;

const DEFAULT_CONNECT_TIMEOUT_MS = 20_000;

let outbound: OutboundDefaults = {};

/** Sets the process's outbound defaults (called by runServiceMain, the CLI, tests). */
export function configureOutbound(defaults: OutboundDefaults): void {
  outbound = { ...defaults };
}

export function outboundDefaults(): Readonly<OutboundDefaults> {
  return outbound;
}

export const defaultClientSettings = { maxMessageBytes: 16 * 1024 * 1024, deadlineMs: 30_000 };

export type ClientConstructor<C> = new (
  address: string,
  credentials: ChannelCredentials,
  options?: Partial<ClientOptions>,
) => C;

const settingsOf = new WeakMap<object, ClientSettings>();

export function createClient<C extends object>(
  ctor: ClientConstructor<C>,
  address: string,
  settings: ClientSettings = {},
): C {
  const max = settings.maxMessageBytes ?? defaultClientSettings.maxMessageBytes;
  const merged: ClientSettings = { ...outbound, ...settings };
  const options: Partial<ClientOptions> = {
    'grpc.max_receive_message_length': max,
    'grpc.max_send_message_length': max,
    // Notice a dead server (or a SIGSTOPped one) on a quiet connection within time + timeout.
    'grpc.keepalive_time_ms': merged.keepaliveTimeMs ?? 10_000,
    'grpc.keepalive_timeout_ms': merged.keepaliveTimeoutMs ?? 10_000,
    'grpc.keepalive_permit_without_calls': 1,
    'grpc.initial_reconnect_backoff_ms': 200,
    'grpc.max_reconnect_backoff_ms': 5_000,
    // grpc-js's default 64 KiB HTTP/2 window makes bulk streams (ReadDataset, ReadParameters) wait a
    // round trip every 64 KiB: 2-3x slower on loopback. 16 MiB lets a few 1-4 MiB chunks be in flight.
    'grpc-node.flow_control_window': 16 * 1024 * 1024,
    ...settings.channelOptions,
  };
  const credentials = merged.credentials ?? grpcCredentials.createInsecure();
  if (merged.serverNameOverride && credentials._isSecure()) {
    options['grpc.ssl_target_name_override'] = merged.serverNameOverride;
    options['grpc.default_authority'] = merged.serverNameOverride;
  }
  const client = new ctor(address, credentials, options);
  const metadata = { ...settings.metadata };
  if (merged.token && !Object.keys(metadata).some((k) => k.toLowerCase() === 'authorization')) {
    metadata.authorization = `Bearer ${merged.token}`;
  }
  settingsOf.set(client, { ...settings, metadata });
  return client;
}

export interface CallSettings {
  deadlineMs?: number;
  signal?: AbortSignal;
  metadata?: Metadata;
}

function metadataFor(client: object, extra?: Metadata): Metadata {
  const md = new Metadata();
  for (const [k, v] of Object.entries(settingsOf.get(client)?.metadata ?? {})) md.set(k, v);
  if (extra) md.merge(extra);
  return md;
}

type UnaryMethod<Req, Res> = (
  request: Req,
  metadata: Metadata,
  options: Partial<CallOptions>,
  callback: (error: ServiceError | null, response: Res) => void,
) => ClientUnaryCall;

/** Calls a unary method with a deadline; aborting `signal` cancels the call. */
export function callUnary<C extends object, Req, Res>(
  client: C,
  method: UnaryMethod<Req, Res>,
  request: Req,
  settings: CallSettings = {},
): Promise<Res> {
  const deadlineMs =
    settings.deadlineMs ?? settingsOf.get(client)?.deadlineMs ?? defaultClientSettings.deadlineMs;
  return new Promise<Res>((resolve, reject) => {
    if (settings.signal?.aborted) {
      reject(settings.signal.reason);
      return;
    }
    const call = method.call(
      client,
      request,
      metadataFor(client, settings.metadata),
      { deadline: Date.now() + deadlineMs },
      (err, res) => {
        settings.signal?.removeEventListener('abort', onAbort);
        if (err) reject(err);
        else resolve(res);
      },
    );
    const onAbort = () => call.cancel();
    settings.signal?.addEventListener('abort', onAbort, { once: true });
  });
}

type StreamMethod<Req, Res> = (
  request: Req,
  metadata?: Metadata,
  options?: Partial<CallOptions>,
) => ClientReadableStream<Res>;

/** A call that could not even be sent: UNAVAILABLE, like a refused connection. */
function unavailable(details: string): ServiceError {
  return Object.assign(new Error(`14 UNAVAILABLE: ${details}`), {
    code: status.UNAVAILABLE,
    details,
    metadata: new Metadata(),
  });
}

/**
 * Waits while the client's channel is connecting, up to `timeoutMs`. grpc-js waits for the server's
 * HTTP/2 SETTINGS without any timeout of its own, so a call without a deadline to a server that
 * accepts TCP but never answers (SIGSTOPped, wedged) would wait forever; keepalive only guards
 * connections already established. Returns at once when the channel is READY, and when it is in
 * TRANSIENT_FAILURE (the call then fails fast as usual).
 */
export async function waitConnected(client: object, timeoutMs: number, signal?: AbortSignal): Promise<void> {
  const channel = (client as Partial<Client>).getChannel?.();
  if (!channel) return;
  const deadline = Date.now() + timeoutMs;
  let state = channel.getConnectivityState(true);
  while (state === connectivityState.IDLE || state === connectivityState.CONNECTING) {
    if (signal?.aborted) throw signal.reason;
    if (Date.now() >= deadline) {
      throw unavailable(
        `no connection to ${channel.getTarget()} within ${timeoutMs} ms (the server does not answer)`,
      );
    }
    const current = state;
    await new Promise<void>((resolve) => {
      const onAbort = () => resolve();
      signal?.addEventListener('abort', onAbort, { once: true });
      channel.watchConnectivityState(current, deadline, () => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      });
    });
    state = channel.getConnectivityState(true);
  }
}

/**
 * Reads a server stream as an async iterable. Breaking out of the loop or aborting `signal`
 * cancels the call. A stream has no deadline unless `deadlineMs` is given; it is not sent before
 * the channel has connected, and fails UNAVAILABLE when that takes longer than the client's
 * `connectTimeoutMs` (waitConnected); once connected, keepalive notices a server that goes silent.
 */
export async function* readStream<C extends object, Req, Res>(
  client: C,
  method: StreamMethod<Req, Res>,
  request: Req,
  settings: CallSettings = {},
): AsyncGenerator<Res> {
  await waitConnected(
    client,
    settingsOf.get(client)?.connectTimeoutMs ?? outbound.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
    settings.signal,
  );
  const options: Partial<CallOptions> = {};
  if (settings.deadlineMs !== undefined) options.deadline = Date.now() + settings.deadlineMs;
  const call = method.call(client, request, metadataFor(client, settings.metadata), options);
  const onAbort = () => call.cancel();
  settings.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    for await (const message of call as AsyncIterable<Res>) yield message;
  } finally {
    settings.signal?.removeEventListener('abort', onAbort);
    call.cancel();
  }
}

/** Closes a generated client's channel. */
export function closeClient(client: object): void {
  (client as { close?: () => void }).close?.();
}
