// `gengap watch <id>`: follows a running experiment (progress bars), then prints its outcome.
import type { Command } from 'commander';
import { commandAction } from './command-action.ts';
import { connect, coordinatorAddress } from './coordinator-connection.ts';
import { CliError, EXIT } from './exit-codes.ts';
import { exitCodeFor, followWithProgress, printOutcome, reportLocation } from './experiment-outcome.ts';
import { experimentSummaryJson } from './experiment-view.ts';
import { getExperiment } from './follow-experiment.ts';

export function registerWatchCommand(program: Command): void {
  program
    .command('watch')
    .description('follow an experiment until it ends (progress per run and overall), then print its outcome')
    .argument('<experiment-id>')
    .option('--from <sequence>', 'first event to read (0 replays the whole history)', '0')
    .action(
      commandAction(program, async (ctx, experimentId: string, opts: { from: string }) => {
        const from = Number(opts.from);
        if (!Number.isInteger(from) || from < 0)
          throw new CliError('--from must be a non-negative integer', EXIT.usage);
        ctx.address = coordinatorAddress(ctx.global);
        const conn = connect(ctx.address);
        const abort = new AbortController();
        const onSigint = () => abort.abort();
        process.once('SIGINT', onSigint);
        try {
          const start = await getExperiment(conn, experimentId);
          const final = await followWithProgress(conn, start, abort.signal, from);
          const report = await reportLocation(conn, final);
          if (ctx.global.json)
            ctx.emit({
              ...experimentSummaryJson(final),
              reportPath: report?.path ?? null,
              reportUrl: report?.url || null,
            });
          else printOutcome(ctx, final, report, true);
          return exitCodeFor(final);
        } catch (err) {
          if (abort.signal.aborted) {
            process.stderr.write(
              `\nstopped watching; experiment ${experimentId} goes on (gengap watch ${experimentId})\n`,
            );
            return EXIT.interrupted;
          }
          throw err;
        } finally {
          process.off('SIGINT', onSigint);
          conn.close();
        }
      }),
    );
}
