// gRPC server bootstrap shared by every service: health (NOT_SERVING until ready and while draining),
// reflection from the buf-built descriptor set, explicit message-size and stream limits, keepalive,
// and a graceful shutdown that drains before it cuts.

import { loadPackageDefinition } from '@gengap/proto';
import {
  ServerCredentials as Credentials,
  type Metadata,
  Server,
  type ServerCredentials,
  ServerInterceptingCall,
  type ServerInterceptor,
  type ServiceDefinition,
  status,
  type UntypedServiceImplementation,
} from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { ReflectionService } from '@grpc/reflection';
import { HealthImplementation, protoPath as healthProtoPath } from 'grpc-health-check';
import type { Logger } from 'pino';
import { toServiceError } from './errors.ts';
import { type CallContext, CallLimiter, type HandlerOptions, serverStream, unary } from './handlers.ts';

/** Streams beyond the per-connection call limit that HTTP/2 still admits, so that they get answered. */
const STREAM_HEADROOM = 64;

export interface ServerSettings {
  log: Logger;
  /** Fully qualified names of the services this process serves (health reports each). */
  serviceNames: readonly string[];
  maxMessageBytes: number;
  /** Calls one connection may have in flight; more are answered RESOURCE_EXHAUSTED at once. */
  maxConcurrentStreams: number;
  /** Calls the whole process may have in flight (default 4096); more are RESOURCE_EXHAUSTED. */
  maxInflightCalls?: number;
  maxUnaryDeadlineMs: number;
  shutdownGraceMs: number;
  drainDelayMs: number;
  credentials?: ServerCredentials;
  /** Authentication/authorisation hook (auth.ts createAuthenticator); health and reflection stay open. */
  beforeCall?: (method: string, metadata: Metadata) => CallContext['principal'] | undefined;
}

// Handlers as domain functions: unary ones return the response, streaming ones write to a sink.
// Missing methods answer UNIMPLEMENTED (grpc-js's default handler).
// biome-ignore lint/suspicious/noExplicitAny: handler maps are checked per service by their own types.
export type DomainHandlers = Record<string, (...args: any[]) => unknown>;

export class GenGapServer {
  readonly grpc: Server;
  readonly health: HealthImplementation;
  readonly log: Logger;
  private readonly settings: ServerSettings;
  private readonly abort = new AbortController();
  private readonly draining = new AbortController();
  readonly limiter: CallLimiter;
  private stopping: Promise<void> | undefined;
  /** Paths of the methods addService bound (GenGap's own; health and reflection are not among them). */
  private readonly guarded = new Set<string>();
  port = 0;

  constructor(settings: ServerSettings) {
    this.settings = settings;
    this.log = settings.log;
    this.limiter = new CallLimiter(settings.maxConcurrentStreams, settings.maxInflightCalls ?? 4096);
    this.grpc = new Server({
      'grpc.max_receive_message_length': settings.maxMessageBytes,
      'grpc.max_send_message_length': settings.maxMessageBytes,
      // A backstop only: the limiter answers calls over the limit (a client queues streams beyond
      // this setting without telling anyone).
      'grpc.max_concurrent_streams': settings.maxConcurrentStreams + STREAM_HEADROOM,
      // Detect dead peers on idle connections, and accept clients' keepalive pings.
      'grpc.keepalive_time_ms': 30_000,
      'grpc.keepalive_timeout_ms': 10_000,
      'grpc.keepalive_permit_without_calls': 1,
      'grpc.http2.min_ping_interval_without_data_ms': 5_000,
      interceptors: settings.beforeCall ? [this.authenticateFirst(settings.beforeCall)] : [],
    });
    const statuses = Object.fromEntries(
      ['', ...settings.serviceNames].map((n) => [n, 'NOT_SERVING' as const]),
    );
    this.health = new HealthImplementation(statuses);
    this.health.addToServer(this.grpc);
    // Reflection lists our services and grpc.health.v1, so generic clients can discover both.
    const healthRoot = healthProtoPath.slice(0, -'health/v1/health.proto'.length);
    const health = loadSync('health/v1/health.proto', { includeDirs: [healthRoot] });
    new ReflectionService({ ...loadPackageDefinition(), ...health }).addToServer(this.grpc);
  }

  /** Aborted when the server is forced to stop; long jobs can listen to it. */
  get signal(): AbortSignal {
    return this.abort.signal;
  }

  private handlerOptions(): HandlerOptions {
    const options: HandlerOptions = {
      log: this.log,
      maxUnaryDeadlineMs: this.settings.maxUnaryDeadlineMs,
      serverSignal: this.abort.signal,
      drainSignal: this.draining.signal,
      limiter: this.limiter,
    };
    if (this.settings.beforeCall) options.beforeCall = this.settings.beforeCall;
    return options;
  }

  /**
   * Checks a call's credentials on its metadata, before grpc-js reads its request: the handler
   * asks for the message only once the metadata has been passed on, so a refused call is answered
   * without its request ever being decoded (an unauthenticated peer cannot make the server parse
   * anything). The handler wrapper checks again to learn the caller (CallContext.principal).
   */
  private authenticateFirst(check: NonNullable<ServerSettings['beforeCall']>): ServerInterceptor {
    return (descriptor, call) =>
      new ServerInterceptingCall(call, {
        start: (next) =>
          next({
            onReceiveMetadata: (metadata, pass) => {
              if (!this.guarded.has(descriptor.path)) return pass(metadata);
              try {
                check(descriptor.path, metadata);
              } catch (err) {
                const refused = toServiceError(err, this.log);
                call.sendStatus({
                  code: refused.code ?? status.UNAUTHENTICATED,
                  details: refused.details ?? 'refused',
                  metadata: refused.metadata ?? null,
                });
                return;
              }
              pass(metadata);
            },
          }),
      });
  }

  /** Binds domain handlers to a generated service definition. */
  addService(definition: ServiceDefinition, handlers: DomainHandlers): this {
    const options = this.handlerOptions();
    const implementation: UntypedServiceImplementation = {};
    for (const [name, method] of Object.entries(definition)) {
      const fn = handlers[name];
      if (!fn) continue;
      if (method.requestStream) throw new Error(`client streaming is not supported (${method.path})`);
      this.guarded.add(method.path);
      implementation[name] = method.responseStream
        ? serverStream(method.path, fn as never, options)
        : unary(method.path, fn as never, options);
    }
    this.grpc.addService(definition, implementation);
    return this;
  }

  /** Binds to host:port (0 picks a free port) and returns the port. */
  async listen(host: string, port: number): Promise<number> {
    const credentials = this.settings.credentials ?? Credentials.createInsecure();
    const address = host.includes(':') && !host.startsWith('[') ? `[${host}]:${port}` : `${host}:${port}`;
    this.port = await new Promise<number>((resolve, reject) => {
      this.grpc.bindAsync(address, credentials, (err, bound) => (err ? reject(err) : resolve(bound)));
    });
    return this.port;
  }

  setServing(serving: boolean): void {
    const value = serving ? 'SERVING' : 'NOT_SERVING';
    for (const name of ['', ...this.settings.serviceNames]) this.health.setStatus(name, value);
  }

  /**
   * Graceful stop: report NOT_SERVING, wait `drainDelayMs` so clients and load balancers see it,
   * stop accepting calls and let in-flight ones finish for up to `shutdownGraceMs`, then abort
   * what is left (handlers see their signal fire) and force the transport closed.
   */
  shutdown(): Promise<void> {
    this.stopping ??= this.runShutdown();
    return this.stopping;
  }

  private async runShutdown(): Promise<void> {
    const { drainDelayMs, shutdownGraceMs } = this.settings;
    this.log.info({ drainDelayMs, shutdownGraceMs }, 'draining');
    this.setServing(false);
    await new Promise((r) => setTimeout(r, drainDelayMs));
    this.draining.abort();
    const graceful = new Promise<boolean>((resolve) => this.grpc.tryShutdown(() => resolve(true)));
    const timeout = new Promise<boolean>((resolve) =>
      setTimeout(() => resolve(false), shutdownGraceMs).unref(),
    );
    // Watch streams ended at the drain signal (UNAVAILABLE, resumable); what is left is finite work.
    const finished = await Promise.race([graceful, timeout]);
    if (!finished) {
      this.log.warn('grace period over; cancelling in-flight calls');
    }
    this.abort.abort();
    // One turn for the aborted calls to write their status before the transport goes.
    await new Promise((r) => setTimeout(r, 50));
    this.grpc.forceShutdown();
    this.log.info('stopped');
  }
}
