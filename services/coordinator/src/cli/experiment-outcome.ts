// The end of following an experiment: progress while it runs, then its outcome (runs table,
// report location) and the exit code its final state means.
import { JobState } from '@gengap/proto/common/v1/job';
import type { Experiment } from '@gengap/proto/coordinator/v1/experiment';
import { stateName } from '../reports/run-tables.ts';
import type { CommandContext } from './command-action.ts';
import type { Connection } from './coordinator-connection.ts';
import { EXIT, type ExitCode } from './exit-codes.ts';
import { runsTable } from './experiment-view.ts';
import { followExperiment } from './follow-experiment.ts';
import { describeError } from './grpc-errors.ts';
import { progressDisplay } from './progress-display.ts';
import { buildReport } from './report-command.ts';

export function exitCodeFor(e: Experiment): ExitCode {
  const state = e.status?.state;
  if (state === JobState.JOB_STATE_CANCELLED) return EXIT.cancelled;
  if (state === JobState.JOB_STATE_FAILED) return EXIT.failed;
  if (e.runs.some((r) => r.status?.state === JobState.JOB_STATE_FAILED)) return EXIT.failed;
  return EXIT.ok;
}

/** Follows the experiment to its final state, drawing progress (on stderr). */
export async function followWithProgress(
  conn: Connection,
  start: Experiment,
  signal: AbortSignal,
  fromSequence = 0,
): Promise<Experiment> {
  const display = progressDisplay({ quiet: false });
  display.start(start);
  try {
    const { experiment } = await followExperiment(conn, start.experimentId, {
      signal,
      fromSequence,
      onEvent: (e) => display.event(e),
      onReconnect: (next, err) => {
        if (err)
          display.log(
            `lost the watch stream (${describeError(err, conn.address).message}); resuming at event ${next}`,
          );
      },
    });
    return experiment;
  } finally {
    display.stop();
  }
}

export interface ReportLocation {
  path: string;
  url: string;
}

/** Where the report is: as the experiment says, else built now. Undefined (with a warning) if it cannot be. */
export async function reportLocation(
  conn: Connection,
  e: Experiment,
  signal?: AbortSignal,
): Promise<ReportLocation | undefined> {
  if (e.reportPath) return { path: e.reportPath, url: e.reportUrl };
  try {
    const res = await buildReport(conn, e.experimentId, signal);
    return { path: res.reportPath, url: res.reportUrl };
  } catch (err) {
    process.stderr.write(
      `gengap: no report for ${e.experimentId}: ${describeError(err, conn.address).message}\n`,
    );
    return undefined;
  }
}

export function printOutcome(
  ctx: CommandContext,
  e: Experiment,
  report: ReportLocation | undefined,
  showUrl: boolean,
): void {
  const ok = e.runs.filter((r) => r.status?.state === JobState.JOB_STATE_SUCCEEDED).length;
  const error = e.status?.error?.message;
  ctx.say('');
  ctx.say(
    `experiment ${e.experimentId} ${stateName(e.status?.state)}: ${ok}/${e.runs.length} runs succeeded${error ? ` (${error})` : ''}`,
  );
  if (e.runs.length > 0) ctx.say(runsTable(e));
  if (report) {
    ctx.say('');
    ctx.say(`report: ${report.path}`);
    if (showUrl && report.url) ctx.say(`        ${report.url}`);
  }
}
