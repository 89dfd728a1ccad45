// Which failures are worth another try. Transient: the trainer was unreachable, restarted, killed or
// overloaded; the next attempt may succeed. Deterministic: the same spec fails the same way again
// (an invalid spec, a loss that became NaN); retrying only wastes the cluster.

import type { JobFailure } from '@gengap/job-store';
import type { JobError } from '@gengap/proto/common/v1/job';

/** google.rpc.Code numbers (the coordinator's domain code reads them off errors without grpc-js). */
export const RpcCode = {
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
} as const;

const DETERMINISTIC_CODES: ReadonlySet<number> = new Set([
  RpcCode.INVALID_ARGUMENT,
  RpcCode.NOT_FOUND,
  RpcCode.ALREADY_EXISTS,
  RpcCode.PERMISSION_DENIED,
  RpcCode.FAILED_PRECONDITION,
  RpcCode.OUT_OF_RANGE,
  RpcCode.UNIMPLEMENTED,
  RpcCode.UNAUTHENTICATED,
]);

/** Calls that failed this way are repeated (same idempotency key) after a backoff. */
const TRANSIENT_CALL_CODES: ReadonlySet<number> = new Set([
  RpcCode.CANCELLED,
  RpcCode.UNKNOWN,
  RpcCode.DEADLINE_EXCEEDED,
  RpcCode.RESOURCE_EXHAUSTED,
  RpcCode.ABORTED,
  RpcCode.UNAVAILABLE,
]);

/**
 * How trainers before the contract's OUT_OF_RANGE code reported a diverged run: a message naming the
 * non-finite value (with code INVALID_ARGUMENT or INTERNAL). Read only when the code says nothing.
 */
const LEGACY_NON_FINITE_MESSAGE = /non-?finite|\bnan\b|infinit/i;

export type FailureKind = 'transient' | 'deterministic';

/** The gRPC status code of a failed call, if it is one. */
export function rpcCodeOf(err: unknown): number | undefined {
  const code = (err as { code?: unknown } | null | undefined)?.code;
  return typeof code === 'number' && code >= 0 && code <= 16 ? code : undefined;
}

export function isTransientCallError(err: unknown): boolean {
  const code = rpcCodeOf(err);
  return code !== undefined && TRANSIENT_CALL_CODES.has(code);
}

/**
 * How a run that ended FAILED should be treated, from its JobError code: a non-finite loss is
 * OUT_OF_RANGE (11), deterministic like an invalid spec. The message is read only as a fallback,
 * for older trainers that reported divergence under another code.
 */
export function classifyRunFailure(error: Pick<JobError, 'code' | 'message'> | undefined): FailureKind {
  if (!error) return 'transient';
  if (DETERMINISTIC_CODES.has(error.code)) return 'deterministic';
  return LEGACY_NON_FINITE_MESSAGE.test(error.message) ? 'deterministic' : 'transient';
}

export function failureOf(err: unknown, fallbackCode: number = RpcCode.INTERNAL): JobFailure {
  const e = err as { details?: unknown; message?: unknown; field?: unknown } | undefined;
  const message =
    typeof e?.details === 'string' && e.details
      ? e.details
      : typeof e?.message === 'string'
        ? e.message
        : String(err);
  const failure: JobFailure = { code: rpcCodeOf(err) ?? fallbackCode, message };
  // A GenGap service names the bad field in the gengap-field trailer of an INVALID_ARGUMENT.
  const trailer = (err as { metadata?: { get?(key: string): unknown[] } } | undefined)?.metadata?.get?.(
    'gengap-field',
  )?.[0];
  const field = typeof e?.field === 'string' ? e.field : typeof trailer === 'string' ? trailer : undefined;
  if (field) failure.field = field;
  return failure;
}

export interface BackoffPolicy {
  baseMs: number;
  maxMs: number;
}

/** Exponential backoff with jitter for the n-th retry (n >= 1). */
export function backoffMs(n: number, policy: BackoffPolicy, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.max(0, n - 1));
  return Math.round(ceiling * (0.5 + random() / 2));
}

/** Resolves after `ms`, or rejects with the signal's reason once it aborts. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
