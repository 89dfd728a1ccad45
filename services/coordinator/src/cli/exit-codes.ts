// What `gengap` exit codes mean; scripts can rely on them (also printed by `gengap --help`).
export const EXIT = {
  /** The command did what was asked; for run/watch, the experiment and all its runs succeeded. */
  ok: 0,
  /** The work failed: the experiment (or one of its runs) failed, or the coordinator refused the call. */
  failed: 1,
  /** Usage error: bad arguments, or a spec the coordinator rejected as invalid (INVALID_ARGUMENT). */
  usage: 2,
  /** The stack or the coordinator is unreachable (UNAVAILABLE, DEADLINE_EXCEEDED, no stack running). */
  unavailable: 3,
  /** No such experiment or preset (NOT_FOUND). */
  notFound: 4,
  /** The experiment was cancelled. */
  cancelled: 5,
  /** Interrupted with Ctrl-C while following an experiment (it goes on in the coordinator). */
  interrupted: 130,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

export const exitCodeHelp = `
Exit codes:
  0    success (run/watch: the experiment and every run succeeded)
  1    the experiment or one of its runs failed, or the coordinator refused the call
  2    usage error: bad arguments, or an invalid spec (the message names the field)
  3    the stack or the coordinator is unreachable (start it with "gengap up")
  4    no such experiment or preset
  5    the experiment was cancelled
  130  interrupted (Ctrl-C) while following an experiment`;

/** An error the CLI reports as one line, with its exit code. */
export class CliError extends Error {
  readonly exitCode: ExitCode;
  constructor(message: string, exitCode: ExitCode) {
    super(message);
    this.exitCode = exitCode;
  }
}
