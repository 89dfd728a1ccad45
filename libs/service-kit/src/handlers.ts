// Wrappers that turn domain functions into grpc-js handlers. They own the cross-cutting rules, so
// service handlers stay thin: a logger child per call, an AbortSignal that fires on cancellation or
// deadline, deadlines clamped to the configured maximum, streams that honour backpressure, every
// failure mapped to a deliberate status (never UNKNOWN), and never an unhandled stream error.
import { randomUUID } from 'node:crypto';
import {
  type Metadata,
  type ServerUnaryCall,
  type ServerWritableStream,
  type sendUnaryData,
  status,
} from '@grpc/grpc-js';
import type { Logger } from 'pino';
import {
  CancelledError,
  GenGapError,
  ResourceExhaustedError,
  toServiceError,
  UnavailableError,
} from './errors.ts';

export interface CallContext {
  /** Child logger tagged with the method and a call id. */
  log: Logger;
  /** Aborted when the client cancels, the deadline passes, or the server force-stops. */
  signal: AbortSignal;
  metadata: Metadata;
  method: string;
  /** Principal established by authentication, when enabled (see auth.ts). */
  principal?: { subject: string; roles: readonly string[] };
}

export type UnaryFn<Req, Res> = (request: Req, ctx: CallContext) => Promise<Res> | Res;

/** Sink for a server stream: `write` resolves once the message is accepted by the transport. */
export interface StreamSink<Res> {
  write(message: Res): Promise<void>;
  readonly signal: AbortSignal;
}

export type ServerStreamFn<Req, Res> = (
  request: Req,
  ctx: CallContext,
  sink: StreamSink<Res>,
) => Promise<void>;

export interface HandlerOptions {
  log: Logger;
  /** Deadline applied to unary calls without one, and cap on any unary deadline. */
  maxUnaryDeadlineMs: number;
  /** Abort signal of the whole server: fires when it is forced to stop. */
  serverSignal: AbortSignal;
  /**
   * Fires when the server starts draining. Watch streams (methods named Watch*) end then with
   * UNAVAILABLE: they follow jobs that can outlive any process and resume from a sequence number,
   * so holding them through the grace period would only delay the stop, and cutting them at its end
   * would reach clients as a broken transport rather than a status they know to retry.
   */
  drainSignal?: AbortSignal;
  /** Hook run before every handler (authentication, authorisation); throw a GenGapError to refuse. */
  beforeCall?: (method: string, metadata: Metadata) => CallContext['principal'] | undefined;
  /** Admission of calls against the in-flight limits; absent: no limits. */
  limiter?: CallLimiter;
}

/**
 * Counts calls in flight, per connection (peer address) and for the whole process, and refuses one
 * beyond either limit with RESOURCE_EXHAUSTED at once. HTTP/2's own SETTINGS_MAX_CONCURRENT_STREAMS
 * cannot do this: a grpc-js client queues streams beyond it silently until their deadline (or
 * forever), so the server keeps that setting above `perConnection` as a backstop and answers here.
 */
export class CallLimiter {
  readonly perConnection: number;
  readonly total: number;
  private readonly byPeer = new Map<string, number>();
  private inflight = 0;

  constructor(perConnection: number, total: number) {
    this.perConnection = perConnection;
    this.total = total;
  }

  private handlers = 0;

  /** Calls holding a slot (a cancelled call gives its slot back at once). */
  get size(): number {
    return this.inflight;
  }

  /** Handler functions that have not returned yet (a cancelled stream's handler must stop). */
  get running(): number {
    return this.handlers;
  }

  /** Counts a handler function from its start until its promise settles. */
  track<T>(work: Promise<T>): Promise<T> {
    this.handlers++;
    return work.finally(() => {
      this.handlers--;
    });
  }

  /** Takes a slot for a call from `peer`; the returned function (idempotent) gives it back. */
  admit(peer: string): () => void {
    const held = this.byPeer.get(peer) ?? 0;
    if (held >= this.perConnection) {
      throw new ResourceExhaustedError(
        `too many concurrent calls on this connection (limit ${this.perConnection}, GENGAP_MAX_CONCURRENT_STREAMS)`,
      );
    }
    if (this.inflight >= this.total) {
      throw new ResourceExhaustedError(
        `the server is handling too many calls (limit ${this.total}, GENGAP_MAX_INFLIGHT_CALLS); retry later`,
      );
    }
    this.byPeer.set(peer, held + 1);
    this.inflight++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.inflight--;
      const left = (this.byPeer.get(peer) ?? 1) - 1;
      if (left <= 0) this.byPeer.delete(peer);
      else this.byPeer.set(peer, left);
    };
  }
}

function deadlineMsFrom(deadline: Date | number, cap: number): number {
  const remaining = deadline instanceof Date ? deadline.getTime() - Date.now() : deadline - Date.now();
  if (!Number.isFinite(remaining)) return cap;
  return Math.max(0, Math.min(cap, remaining));
}

/** Whether a method path (/package.Service/Method) names a resumable watch stream. */
function isWatch(method: string): boolean {
  return method.slice(method.lastIndexOf('/') + 1).startsWith('Watch');
}

function makeContext(
  method: string,
  call: ServerUnaryCall<unknown, unknown> | ServerWritableStream<unknown, unknown>,
  options: HandlerOptions,
  deadlineCapMs: number | undefined,
): { ctx: CallContext; dispose: () => void } {
  // Authentication first: a refused call holds nothing (no slot, listener or timer).
  const principal = options.beforeCall?.(method, call.metadata);
  const release = options.limiter?.admit(call.getPeer()) ?? (() => {});
  const controller = new AbortController();
  const log = options.log.child({ method, callId: randomUUID().slice(0, 8) });
  const onCancel = () => {
    release();
    controller.abort(new CancelledError('client cancelled the call'));
  };
  // UNAVAILABLE, not CANCELLED: the caller did nothing wrong and may retry (elsewhere or later).
  const onServerAbort = () =>
    controller.abort(
      new UnavailableError('the server is stopping; retry (watches resume from their last sequence)'),
    );
  const stopSignal =
    options.drainSignal && isWatch(method)
      ? AbortSignal.any([options.serverSignal, options.drainSignal])
      : options.serverSignal;
  call.on('cancelled', onCancel);
  stopSignal.addEventListener('abort', onServerAbort, { once: true });
  let timer: NodeJS.Timeout | undefined;
  if (deadlineCapMs !== undefined) {
    const ms = deadlineMsFrom(call.getDeadline(), deadlineCapMs);
    timer = setTimeout(
      () => controller.abort(new GenGapError(status.DEADLINE_EXCEEDED, `deadline of ${ms} ms exceeded`)),
      ms,
    );
    timer.unref();
  }
  const ctx: CallContext = {
    log: principal ? log.child({ subject: principal.subject }) : log,
    signal: controller.signal,
    metadata: call.metadata,
    method,
  };
  if (principal) ctx.principal = principal;
  const dispose = () => {
    release();
    if (timer) clearTimeout(timer);
    call.removeListener('cancelled', onCancel);
    stopSignal.removeEventListener('abort', onServerAbort);
  };
  return { ctx, dispose };
}

/** Wraps a unary domain function. */
export function unary<Req, Res>(method: string, fn: UnaryFn<Req, Res>, options: HandlerOptions) {
  return (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>): void => {
    let settled = false;
    const reply = (err: unknown, res?: Res) => {
      if (settled) return;
      settled = true;
      dispose?.();
      if (err === undefined) callback(null, res as Res);
      else callback(toServiceError(err, options.log.child({ method })));
    };
    let dispose: (() => void) | undefined;
    try {
      const made = makeContext(
        method,
        call as ServerUnaryCall<unknown, unknown>,
        options,
        options.maxUnaryDeadlineMs,
      );
      dispose = made.dispose;
      const { ctx } = made;
      // A handler that ignores its signal still gets its caller answered at the deadline.
      ctx.signal.addEventListener('abort', () => reply(ctx.signal.reason), { once: true });
      const work = Promise.resolve().then(() => fn(call.request, ctx));
      (options.limiter ? options.limiter.track(work) : work).then(
        (res) => reply(undefined, res),
        (err) => reply(err),
      );
    } catch (err) {
      reply(err);
    }
  };
}

/** Wraps a server-streaming domain function. */
export function serverStream<Req, Res>(
  method: string,
  fn: ServerStreamFn<Req, Res>,
  options: HandlerOptions,
) {
  return (call: ServerWritableStream<Req, Res>): void => {
    // A stream without an 'error' listener crashes the process when the transport fails.
    call.on('error', () => {});
    let made: { ctx: CallContext; dispose: () => void };
    try {
      made = makeContext(method, call as ServerWritableStream<unknown, unknown>, options, undefined);
    } catch (err) {
      call.emit('error', toServiceError(err, options.log.child({ method })));
      return;
    }
    const { ctx, dispose } = made;
    const sink: StreamSink<Res> = {
      signal: ctx.signal,
      write: (message) => writeWithBackpressure(call, message, ctx.signal),
    };
    // A handler that throws synchronously must not escape as an uncaught exception.
    const work = Promise.resolve().then(() => fn(call.request, ctx, sink));
    (options.limiter ? options.limiter.track(work) : work).then(
      () => {
        dispose();
        if (call.cancelled || call.writableEnded) return;
        // A stream the server stopped is not complete: its reader gets the reason, not OK.
        if (ctx.signal.aborted) call.emit('error', toServiceError(ctx.signal.reason, ctx.log));
        else call.end();
      },
      (err) => {
        dispose();
        if (call.cancelled || call.writableEnded) return;
        call.emit('error', toServiceError(err, ctx.log));
      },
    );
  };
}

/**
 * Writes one message and waits while the transport's buffer is full: `write()` returning false means
 * "wait for drain". Rejects with the signal's reason when the call is cancelled meanwhile, so a slow
 * or vanished reader never makes the server buffer without bound.
 */
export function writeWithBackpressure<Res>(
  call: ServerWritableStream<unknown, Res>,
  message: Res,
  signal: AbortSignal,
): Promise<void> {
  if (signal.aborted) return Promise.reject(signal.reason);
  if (call.cancelled || call.writableEnded) return Promise.reject(new CancelledError('stream closed'));
  if (call.write(message)) return Promise.resolve();
  return new Promise<void>((resolve, reject) => {
    const cleanup = () => {
      call.removeListener('drain', onDrain);
      call.removeListener('close', onClose);
      signal.removeEventListener('abort', onAbort);
    };
    const onDrain = () => {
      cleanup();
      resolve();
    };
    const onClose = () => {
      cleanup();
      reject(new CancelledError('stream closed'));
    };
    const onAbort = () => {
      cleanup();
      reject(signal.reason);
    };
    call.once('drain', onDrain);
    call.once('close', onClose);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
