// `gengap ls`: the coordinator's experiments, newest as it orders them, optionally by state.
import { JobState, type JobState as JobStateType } from '@gengap/proto/common/v1/job';
import type { Experiment } from '@gengap/proto/coordinator/v1/experiment';
import { callUnary } from '@gengap/service-kit';
import type { Command } from 'commander';
import { experimentSummary } from '../reports/experiment-summary.ts';
import { commandAction } from './command-action.ts';
import { connect, coordinatorAddress } from './coordinator-connection.ts';
import { CliError, EXIT } from './exit-codes.ts';
import { percent, textTable } from './experiment-view.ts';

const states: Record<string, JobStateType> = {
  queued: JobState.JOB_STATE_QUEUED,
  running: JobState.JOB_STATE_RUNNING,
  succeeded: JobState.JOB_STATE_SUCCEEDED,
  failed: JobState.JOB_STATE_FAILED,
  cancelled: JobState.JOB_STATE_CANCELLED,
};

export function registerListCommand(program: Command): void {
  program
    .command('ls')
    .description('list experiments')
    .option('--state <state>', `only experiments in this state (${Object.keys(states).join(', ')})`)
    .option('--limit <n>', 'at most this many', '1000')
    .action(
      commandAction(program, async (ctx, opts: { state?: string; limit: string }) => {
        const state = opts.state === undefined ? JobState.JOB_STATE_UNSPECIFIED : states[opts.state];
        if (state === undefined)
          throw new CliError(`--state must be one of ${Object.keys(states).join(', ')}`, EXIT.usage);
        const limit = Number(opts.limit);
        if (!Number.isInteger(limit) || limit < 1)
          throw new CliError('--limit must be a positive integer', EXIT.usage);
        ctx.address = coordinatorAddress(ctx.global);
        const conn = connect(ctx.address);
        const experiments: Experiment[] = [];
        try {
          let pageToken = '';
          do {
            const res = await callUnary(conn.client, conn.client.listExperiments, {
              page: { pageSize: Math.min(limit - experiments.length, 1000), pageToken },
              state,
            });
            experiments.push(...res.experiments);
            pageToken = res.nextPageToken;
          } while (pageToken && experiments.length < limit);
        } finally {
          conn.close();
        }
        const summaries = experiments.slice(0, limit).map(experimentSummary);
        if (ctx.global.json) {
          ctx.emit({ experiments: summaries });
          return EXIT.ok;
        }
        if (summaries.length === 0) {
          ctx.say('no experiments');
          return EXIT.ok;
        }
        ctx.say(
          textTable(
            ['experiment', 'name', 'state', 'progress', 'runs', 'created'],
            summaries.map((s) => [
              s.experimentId,
              s.name || s.preset,
              s.state,
              percent(s.progress),
              `${s.runsSucceeded}/${s.runs}${s.runsFailed ? ` (${s.runsFailed} failed)` : ''}`,
              s.createdAt?.replace('T', ' ').slice(0, 19) ?? '',
            ]),
          ),
        );
        return EXIT.ok;
      }),
    );
}
