// gRPC failures as one clear line and an exit code. INVALID_ARGUMENT names the offending field
// (trailing metadata "gengap-field", also the prefix of the message).

import { FIELD_METADATA_KEY, statusName } from '@gengap/service-kit';
import { status } from '@grpc/grpc-js';
import { CliError, EXIT, type ExitCode } from './exit-codes.ts';

interface GrpcLikeError {
  code: number;
  details?: string;
  message: string;
  metadata?: { get(key: string): unknown[] };
}

export function isGrpcError(err: unknown): err is GrpcLikeError {
  return (
    typeof err === 'object' &&
    err !== null &&
    typeof (err as { code?: unknown }).code === 'number' &&
    'metadata' in err
  );
}

const exitByStatus: Partial<Record<number, ExitCode>> = {
  [status.INVALID_ARGUMENT]: EXIT.usage,
  [status.NOT_FOUND]: EXIT.notFound,
  [status.UNAVAILABLE]: EXIT.unavailable,
  [status.DEADLINE_EXCEEDED]: EXIT.unavailable,
  [status.CANCELLED]: EXIT.interrupted,
};

export interface DescribedError {
  message: string;
  exitCode: ExitCode;
}

/** The field path of an INVALID_ARGUMENT, from the trailing metadata or the message prefix. */
export function invalidField(err: GrpcLikeError): string | undefined {
  const fromMetadata = err.metadata?.get(FIELD_METADATA_KEY)?.[0];
  if (fromMetadata !== undefined && String(fromMetadata) !== '') return String(fromMetadata);
  const match = /^([\w.[\]-]+): /.exec(err.details ?? '');
  return match?.[1];
}

/** Describes any error the CLI meets; `address` names the coordinator in unreachable messages. */
export function describeError(err: unknown, address?: string): DescribedError {
  if (err instanceof CliError) return { message: err.message, exitCode: err.exitCode };
  if (isGrpcError(err)) {
    // grpc-js's connection failures carry a long preamble; keep the cause.
    const details = (err.details || err.message)
      .replace(/^No connection established\. Last error: (Error: )?/, '')
      .replace(/\s*Resolution note:.*$/, '');
    const exitCode = exitByStatus[err.code] ?? EXIT.failed;
    switch (err.code) {
      case status.INVALID_ARGUMENT: {
        const field = invalidField(err);
        const text = field && details.startsWith(`${field}: `) ? details.slice(field.length + 2) : details;
        return { message: field ? `invalid ${field}: ${text}` : `invalid argument: ${text}`, exitCode };
      }
      case status.UNAVAILABLE:
      case status.DEADLINE_EXCEEDED:
        return {
          message: `coordinator${address ? ` at ${address}` : ''} unreachable (${statusName(err.code)}: ${details}); is the stack up? try "gengap up"`,
          exitCode,
        };
      case status.NOT_FOUND:
        return { message: details, exitCode };
      case status.UNIMPLEMENTED:
        return { message: `the coordinator does not implement this yet (${details})`, exitCode };
      default:
        return { message: `${statusName(err.code)}: ${details}`, exitCode };
    }
  }
  return { message: (err as Error)?.message ?? String(err), exitCode: EXIT.failed };
}
