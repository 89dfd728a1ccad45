// `gengap report <id>`: (re)builds the experiment's report in the coordinator and says where it is.
import { callUnary } from '@gengap/service-kit';
import type { Command } from 'commander';
import { commandAction } from './command-action.ts';
import { type Connection, connect, coordinatorAddress } from './coordinator-connection.ts';
import { EXIT } from './exit-codes.ts';

/** Building a report renders every chart: give it longer than the default deadline. */
export const buildReportDeadlineMs = 180_000;

export async function buildReport(conn: Connection, experimentId: string, signal?: AbortSignal) {
  return callUnary(
    conn.client,
    conn.client.buildReport,
    { experimentId },
    { deadlineMs: buildReportDeadlineMs, ...(signal ? { signal } : {}) },
  );
}

export function registerReportCommand(program: Command): void {
  program
    .command('report')
    .description("build an experiment's report (HTML, SVG charts, CSV data) and print where it is")
    .argument('<experiment-id>')
    .action(
      commandAction(program, async (ctx, experimentId: string) => {
        ctx.address = coordinatorAddress(ctx.global);
        const conn = connect(ctx.address);
        try {
          const res = await buildReport(conn, experimentId);
          if (ctx.global.json)
            ctx.emit({ experimentId, reportPath: res.reportPath, reportUrl: res.reportUrl || null });
          else {
            ctx.say(`report: ${res.reportPath}`);
            if (res.reportUrl) ctx.say(`        ${res.reportUrl}`);
          }
          return EXIT.ok;
        } finally {
          conn.close();
        }
      }),
    );
}
