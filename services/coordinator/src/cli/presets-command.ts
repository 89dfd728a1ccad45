// `gengap presets`: the experiment families that `gengap run <preset>` knows.
import { callUnary } from '@gengap/service-kit';
import type { Command } from 'commander';
import { commandAction } from './command-action.ts';
import { connect, coordinatorAddress } from './coordinator-connection.ts';
import { EXIT } from './exit-codes.ts';
import { textTable } from './experiment-view.ts';

export function registerPresetsCommand(program: Command): void {
  program
    .command('presets')
    .description('list the presets (paper reproductions) and their sizes')
    .action(
      commandAction(program, async (ctx) => {
        ctx.address = coordinatorAddress(ctx.global);
        const conn = connect(ctx.address);
        try {
          const { presets } = await callUnary(conn.client, conn.client.listPresets, {});
          if (ctx.global.json) {
            ctx.emit({ presets });
            return EXIT.ok;
          }
          ctx.say(
            textTable(
              ['preset', 'sizes', 'papers', 'title'],
              presets.map((p) => [p.name, p.sizes.join(', '), p.papers.join(', '), p.title]),
            ),
          );
          const missing = presets.filter((p) => p.missingAnalyses.length > 0);
          if (missing.length > 0) {
            ctx.say('');
            for (const p of missing)
              ctx.say(`${p.name}: runs without ${p.missingAnalyses.join(', ')} (not implemented yet)`);
          }
          return EXIT.ok;
        } finally {
          conn.close();
        }
      }),
    );
}
