// `gengap run <preset|spec.yaml>`: starts an experiment and follows it to the end.
//   - Without --coordinator it uses the embedded stack under --home, starting it if it is not
//     running. A stack this command started is stopped at the end (so `npm run demo` returns),
//     unless --keep-stack; a stack that was already running is left running.
//   - StartExperiment carries an idempotency key (a new one per invocation unless given), so
//     retrying the call after a dropped connection never starts the experiment twice.
//   - Progress per run and overall while it runs; then the runs table and the report's path.
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type {
  StartExperimentRequest,
  StartExperimentResponse,
} from '@gengap/proto/coordinator/v1/coordinator_service';
import { callUnary } from '@gengap/service-kit';
import { status } from '@grpc/grpc-js';
import type { Command } from 'commander';
import { down, runningStack, up } from '../stack/local-stack.ts';
import { type CommandContext, commandAction } from './command-action.ts';
import { type Connection, connect } from './coordinator-connection.ts';
import { CliError, EXIT } from './exit-codes.ts';
import { exitCodeFor, followWithProgress, printOutcome, reportLocation } from './experiment-outcome.ts';
import { experimentSummaryJson } from './experiment-view.ts';
import { isGrpcError } from './grpc-errors.ts';

export interface RunOptions {
  size: string;
  label: string[];
  idempotencyKey?: string;
  keepStack?: boolean;
  detach?: boolean;
  stackTimeout: string;
}

const sizes = ['quick', 'full'];

/** A preset name, or the text of a spec file when the argument names one. */
export function experimentSource(arg: string, size: string): NonNullable<StartExperimentRequest['source']> {
  if (existsSync(arg) && statSync(arg).isFile())
    return { $case: 'specText', value: readFileSync(arg, 'utf8') };
  if (/\.(ya?ml|json)$/i.test(arg) || arg.includes('/'))
    throw new CliError(`spec file ${arg} not found`, EXIT.usage);
  if (!sizes.includes(size)) throw new CliError(`--size must be one of ${sizes.join(', ')}`, EXIT.usage);
  return { $case: 'preset', value: { name: arg, size } };
}

export function parseLabels(pairs: readonly string[]): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new CliError(`--label expects key=value, got ${JSON.stringify(pair)}`, EXIT.usage);
    labels[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return labels;
}

/** StartExperiment, retried while the coordinator is UNAVAILABLE (same key: at most one experiment). */
async function startExperiment(
  conn: Connection,
  request: StartExperimentRequest,
  signal: AbortSignal,
): Promise<StartExperimentResponse> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await callUnary(conn.client, conn.client.startExperiment, request, {
        deadlineMs: 120_000,
        signal,
      });
    } catch (err) {
      if (attempt >= 6 || signal.aborted || !isGrpcError(err) || err.code !== status.UNAVAILABLE) throw err;
      await sleep(250 * 2 ** attempt, undefined, { signal });
    }
  }
}

const note = (line: string) => process.stderr.write(`${line}\n`);

async function run(ctx: CommandContext, target: string, opts: RunOptions) {
  const source = experimentSource(target, opts.size);
  const labels = parseLabels(opts.label);
  const home = resolve(ctx.global.home);
  let startedStack = false;
  if (ctx.global.coordinator) ctx.address = ctx.global.coordinator;
  else {
    const running = runningStack(home);
    if (running) ctx.address = running.addresses.coordinator;
    else {
      note(`starting the embedded stack under ${home} ...`);
      try {
        const state = await up({ root: home, timeoutMs: Number(opts.stackTimeout) * 1000 });
        ctx.address = state.addresses.coordinator;
        startedStack = true;
      } catch (err) {
        throw new CliError(`could not start the stack: ${(err as Error).message}`, EXIT.unavailable);
      }
    }
  }
  const stopStack = startedStack && !opts.keepStack;
  const conn = connect(ctx.address);
  const abort = new AbortController();
  const onSigint = () => abort.abort();
  process.once('SIGINT', onSigint);
  let experimentId = '';
  try {
    const started = await startExperiment(
      conn,
      { source, idempotencyKey: opts.idempotencyKey ?? randomUUID(), labels },
      abort.signal,
    );
    const experiment = started.experiment;
    if (!experiment) throw new CliError('the coordinator returned no experiment', EXIT.failed);
    experimentId = experiment.experimentId;
    note(
      `experiment ${experimentId}: ${experiment.runs.length} runs (${started.created ? 'started' : 'already known'})`,
    );
    if (opts.detach) {
      if (ctx.global.json) ctx.emit({ experimentId, created: started.created });
      else ctx.say(experimentId);
      return EXIT.ok;
    }
    const final = await followWithProgress(conn, experiment, abort.signal);
    const report = await reportLocation(conn, final, abort.signal);
    if (ctx.global.json)
      ctx.emit({
        ...experimentSummaryJson(final),
        reportPath: report?.path ?? null,
        reportUrl: stopStack ? null : report?.url || null,
      });
    else printOutcome(ctx, final, report, !stopStack);
    return exitCodeFor(final);
  } catch (err) {
    if (abort.signal.aborted) {
      note(
        experimentId
          ? `\ninterrupted; experiment ${experimentId} ${stopStack ? 'resumes when the stack starts again (gengap up, then gengap watch' : 'goes on (gengap watch'} ${experimentId})`
          : '\ninterrupted',
      );
      return EXIT.interrupted;
    }
    throw err;
  } finally {
    process.off('SIGINT', onSigint);
    conn.close();
    if (stopStack) {
      const { stopped } = await down(home);
      if (stopped.length > 0)
        note(`stopped the embedded stack this command started ("gengap up" to start it again)`);
    }
  }
}

export function registerRunCommand(program: Command): void {
  program
    .command('run')
    .description(
      'start an experiment from a preset or a spec file and follow it to the end; starts the embedded stack if needed (and stops it afterwards unless --keep-stack)',
    )
    .argument('<preset|spec.yaml>', 'a preset name (see "gengap presets") or a YAML/JSON spec file')
    .option('--size <size>', 'preset size: quick (minutes on a laptop) or full', 'quick')
    .option(
      '--label <key=value>',
      'label the experiment (repeatable)',
      (v: string, acc: string[]) => [...acc, v],
      [],
    )
    .option(
      '--idempotency-key <key>',
      'a repeated key returns the experiment it started instead of a new one',
    )
    .option('--keep-stack', 'leave an embedded stack started by this command running')
    .option('--detach', 'print the experiment id and return without following it')
    .option('--stack-timeout <seconds>', 'give up starting the embedded stack after this long', '120')
    .action(commandAction(program, (ctx, target: string, opts: RunOptions) => run(ctx, target, opts)));
}
