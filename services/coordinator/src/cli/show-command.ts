// `gengap show <id>`: one experiment, its runs and where its report is.
import type { Command } from 'commander';
import { stateName } from '../reports/run-tables.ts';
import { commandAction } from './command-action.ts';
import { connect, coordinatorAddress } from './coordinator-connection.ts';
import { EXIT } from './exit-codes.ts';
import { experimentSummaryJson, runsTable } from './experiment-view.ts';
import { getExperiment } from './follow-experiment.ts';

export function registerShowCommand(program: Command): void {
  program
    .command('show')
    .description('show an experiment: status, runs (final accuracy, loss, time to fit) and report')
    .argument('<experiment-id>')
    .action(
      commandAction(program, async (ctx, experimentId: string) => {
        ctx.address = coordinatorAddress(ctx.global);
        const conn = connect(ctx.address);
        try {
          const e = await getExperiment(conn, experimentId);
          if (ctx.global.json) {
            ctx.emit(experimentSummaryJson(e));
            return EXIT.ok;
          }
          const status = e.status;
          ctx.say(`experiment ${e.experimentId}${e.preset ? ` (preset ${e.preset})` : ''}`);
          if (e.spec?.name) ctx.say(`name       ${e.spec.name}`);
          ctx.say(`status     ${stateName(status?.state)}${status?.phase ? ` (${status.phase})` : ''}`);
          if (status?.error?.message) ctx.say(`error      ${status.error.message}`);
          if (e.reportPath) ctx.say(`report     ${e.reportPath}`);
          if (e.reportUrl) ctx.say(`           ${e.reportUrl}`);
          ctx.say('');
          ctx.say(runsTable(e));
          return EXIT.ok;
        } finally {
          conn.close();
        }
      }),
    );
}
