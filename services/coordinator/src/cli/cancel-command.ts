// `gengap cancel <id>`: cancels an experiment's runs and analyses.
import { callUnary } from '@gengap/service-kit';
import type { Command } from 'commander';
import { stateName } from '../reports/run-tables.ts';
import { commandAction } from './command-action.ts';
import { connect, coordinatorAddress } from './coordinator-connection.ts';
import { EXIT } from './exit-codes.ts';

export function registerCancelCommand(program: Command): void {
  program
    .command('cancel')
    .description('cancel an experiment (its queued and running runs and analyses)')
    .argument('<experiment-id>')
    .action(
      commandAction(program, async (ctx, experimentId: string) => {
        ctx.address = coordinatorAddress(ctx.global);
        const conn = connect(ctx.address);
        try {
          // Cancelling waits for the runs in flight to stop: longer than the default deadline.
          const res = await callUnary(
            conn.client,
            conn.client.cancelExperiment,
            { experimentId },
            { deadlineMs: 120_000 },
          );
          const state = stateName(res.experiment?.status?.state);
          if (ctx.global.json) ctx.emit({ experimentId, status: state });
          else ctx.say(`experiment ${experimentId}: ${state}`);
          return EXIT.ok;
        } finally {
          conn.close();
        }
      }),
    );
}
