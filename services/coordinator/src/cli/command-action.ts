// Every command's action runs through here: it gets the global options and a place to note the
// coordinator's address, and any error becomes one line on stderr (and, with --json, a JSON error
// on stdout) plus the matching exit code.
import type { Command } from 'commander';
import type { GlobalOptions } from './coordinator-connection.ts';
import { EXIT, type ExitCode } from './exit-codes.ts';
import { describeError, invalidField, isGrpcError } from './grpc-errors.ts';

export interface CommandContext {
  global: GlobalOptions;
  /** Set once the command knows which coordinator it talks to (for error messages). */
  address?: string;
  /** Human output (suppressed with --json). */
  say(line: string): void;
  /** Machine output: one JSON document on stdout. */
  emit(value: unknown): void;
}

export type CommandBody<A extends unknown[]> = (
  ctx: CommandContext,
  ...args: A
) => Promise<ExitCode | undefined>;

export function commandAction<A extends unknown[]>(
  program: Command,
  body: CommandBody<A>,
): (...args: A) => Promise<void> {
  return async (...args: A) => {
    const global = program.opts<GlobalOptions>();
    const ctx: CommandContext = {
      global,
      say: (line) => {
        if (!global.json) process.stdout.write(`${line}\n`);
      },
      emit: (value) => process.stdout.write(`${JSON.stringify(value, null, 2)}\n`),
    };
    try {
      process.exitCode = (await body(ctx, ...args)) ?? EXIT.ok;
    } catch (err) {
      const { message, exitCode } = describeError(err, ctx.address);
      process.stderr.write(`gengap: ${message}\n`);
      if (global.json) {
        const field = isGrpcError(err) ? invalidField(err) : undefined;
        ctx.emit({ error: { message, exitCode, ...(field ? { field } : {}) } });
      }
      process.exitCode = exitCode;
    }
  };
}
