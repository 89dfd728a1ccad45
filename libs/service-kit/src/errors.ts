// Domain errors and the one place that maps them to gRPC status codes. Domain code throws these
// (it never imports @grpc/grpc-js); handlers let them propagate and the kit translates.
import { Metadata, type ServiceError, status } from '@grpc/grpc-js';
import type { Logger } from 'pino';

/** Base class: an error whose gRPC status is decided by its kind. */
export class GenGapError extends Error {
  readonly code: status;
  constructor(code: status, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** A request field is malformed or out of range. `field` is its path, e.g. "spec.optimizer.learning_rate". */
export class InvalidArgumentError extends GenGapError {
  readonly field: string;
  constructor(field: string, message: string) {
    super(status.INVALID_ARGUMENT, `${field}: ${message}`);
    this.field = field;
  }
}

export class NotFoundError extends GenGapError {
  constructor(what: string, id: string) {
    super(status.NOT_FOUND, `${what} ${JSON.stringify(id)} not found`);
  }
}

export class AlreadyExistsError extends GenGapError {
  constructor(message: string) {
    super(status.ALREADY_EXISTS, message);
  }
}

/** The system is not in the state the call needs (e.g. a run asks for CUDA where there is none). */
export class FailedPreconditionError extends GenGapError {
  constructor(message: string) {
    super(status.FAILED_PRECONDITION, message);
  }
}

/** Over a configured limit (capacity, size, rate). */
export class ResourceExhaustedError extends GenGapError {
  constructor(message: string) {
    super(status.RESOURCE_EXHAUSTED, message);
  }
}

/** A dependency is down or the service is draining; callers may retry. */
export class UnavailableError extends GenGapError {
  constructor(message: string, options?: ErrorOptions) {
    super(status.UNAVAILABLE, message, options);
  }
}

export class CancelledError extends GenGapError {
  constructor(message = 'cancelled') {
    super(status.CANCELLED, message);
  }
}

export class UnauthenticatedError extends GenGapError {
  constructor(message = 'missing or invalid credentials') {
    super(status.UNAUTHENTICATED, message);
  }
}

export class PermissionDeniedError extends GenGapError {
  constructor(message: string) {
    super(status.PERMISSION_DENIED, message);
  }
}

/**
 * Errors from GenGap libraries that must not depend on grpc-js (job store, tensor chunks...) are
 * recognised by name, so this stays the one place where statuses are decided.
 */
const errorNameToStatus: Record<string, status> = {
  IdempotencyConflictError: status.ALREADY_EXISTS,
  UnknownJobError: status.NOT_FOUND,
  StaleAttemptError: status.FAILED_PRECONDITION,
  ChunkIntegrityError: status.DATA_LOSS,
  DeviceUnavailableError: status.FAILED_PRECONDITION,
};

/** Trailing-metadata key carrying the offending field path of an INVALID_ARGUMENT. */
export const FIELD_METADATA_KEY = 'gengap-field';

/** Is this already a grpc-js ServiceError (e.g. from a downstream call)? */
function isServiceError(err: unknown): err is ServiceError {
  return (
    typeof err === 'object' &&
    err !== null &&
    'code' in err &&
    typeof (err as { code: unknown }).code === 'number' &&
    'metadata' in err
  );
}

/**
 * Longest status message sent. Messages often quote the request ("dataset \"<id>\" not found"); an
 * unbounded one becomes a trailer larger than the client accepts, which resets the stream (the
 * client sees INTERNAL "Protocol error", not our status) and destroys its whole connection.
 */
export const MAX_STATUS_DETAILS = 1024;

function boundedDetails(message: string): string {
  const cut =
    message.length <= MAX_STATUS_DETAILS ? message : `${message.slice(0, MAX_STATUS_DETAILS)}… (truncated)`;
  // A lone surrogate (a cut emoji, or one in the request) makes grpc-js's encodeURI throw while it
  // sends the status: an uncaught URIError that ends the process.
  return cut.toWellFormed();
}

/** A metadata value must be printable ASCII (and short): anything else is escaped or cut. */
function headerSafe(value: string): string {
  const escaped = value.replace(/[^\x20-\x7e]/gu, (c) => encodeURIComponent(c));
  return escaped.length <= 256 ? escaped : `${escaped.slice(0, 256)}...`;
}

/**
 * Translates anything thrown by a handler into a deliberate gRPC status. Known domain errors keep
 * their code and message; errors from downstream gRPC calls keep their code (a dependency that is
 * UNAVAILABLE stays UNAVAILABLE); everything else is a bug: INTERNAL, with details only in the log.
 */
export function toServiceError(err: unknown, log?: Logger): Partial<ServiceError> {
  if (err instanceof GenGapError) {
    const metadata = new Metadata();
    if (err instanceof InvalidArgumentError) metadata.set(FIELD_METADATA_KEY, headerSafe(err.field));
    if (err.code === status.INTERNAL) log?.error({ err }, 'internal error');
    return { code: err.code, details: boundedDetails(err.message), metadata };
  }
  const mapped = errorNameToStatus[(err as Error | undefined)?.name ?? ''];
  if (mapped !== undefined) {
    return { code: mapped, details: boundedDetails((err as Error).message), metadata: new Metadata() };
  }
  if (isServiceError(err)) {
    // Deadline and cancellation of downstream calls propagate as they are.
    const code = err.code === status.UNKNOWN ? status.INTERNAL : err.code;
    if (code === status.INTERNAL) log?.error({ err }, 'downstream internal error');
    return { code, details: boundedDetails(err.details || err.message), metadata: new Metadata() };
  }
  log?.error({ err }, 'unhandled error in handler');
  return { code: status.INTERNAL, details: 'internal error (see the service log)', metadata: new Metadata() };
}

/** Human name of a status code, for logs and CLI messages. */
export function statusName(code: number): string {
  return (status as unknown as Record<number, string>)[code] ?? `CODE_${code}`;
}
