// The live experiment list at GET /: refreshes itself with a meta refresh (no scripts), one row per
// experiment with its state, progress, run counts and a link to its report once one is written.
import type { ExperimentSummary } from '../reports/experiment-summary.ts';
import { escapeHtml } from '../reports/html-page.ts';

export interface ListedExperiment {
  summary: ExperimentSummary;
  /** Link to the report, when its index.html exists. */
  reportHref: string | undefined;
}

function row({ summary: s, reportHref }: ListedExperiment): string {
  const pct = Math.round(Math.max(0, Math.min(1, s.progress)) * 100);
  const runs = [`${s.runsSucceeded}/${s.runs} done`];
  if (s.runsRunning > 0) runs.push(`${s.runsRunning} running`);
  if (s.runsFailed > 0) runs.push(`${s.runsFailed} failed`);
  const id = escapeHtml(s.experimentId);
  return `<tr class="state-${escapeHtml(s.state)}">
<td>${reportHref ? `<a href="${escapeHtml(reportHref)}">${id}</a>` : id}</td>
<td>${escapeHtml(s.name || s.preset)}</td>
<td>${escapeHtml(s.state)}${s.error ? `<div class="err">${escapeHtml(s.error)}</div>` : ''}</td>
<td><div class="bar"><div style="width:${pct}%"></div></div> ${pct}%${s.phase ? ` <span class="phase">${escapeHtml(s.phase)}</span>` : ''}</td>
<td>${escapeHtml(runs.join(', '))}</td>
<td>${escapeHtml(s.createdAt ? s.createdAt.replace('T', ' ').slice(0, 19) : '')}</td>
<td>${reportHref ? `<a href="${escapeHtml(reportHref)}">report</a>` : ''}</td>
</tr>`;
}

export function experimentListHtml(
  experiments: ListedExperiment[],
  refreshSeconds: number,
  now: Date,
): string {
  const body =
    experiments.length === 0
      ? '<p class="empty">No experiments yet. Start one with <code>gengap run zhang2017 --size quick</code>.</p>'
      : `<table><thead><tr><th>experiment</th><th>name</th><th>state</th><th>progress</th><th>runs</th><th>created (UTC)</th><th></th></tr></thead>
<tbody>${experiments.map(row).join('\n')}</tbody></table>`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<link rel="icon" href="data:,">
<meta http-equiv="refresh" content="${refreshSeconds}">
<title>GenGap experiments</title>
<style>
body { font: 14px/1.45 Helvetica, Arial, sans-serif; color: #222; margin: 0 auto; max-width: 1200px; padding: 0 24px; }
table { border-collapse: collapse; width: 100%; } th, td { text-align: left; padding: 5px 10px 5px 0; border-bottom: 1px solid #e4e4e4; vertical-align: top; }
.bar { display: inline-block; width: 120px; height: 8px; background: #eee; vertical-align: middle; } .bar div { height: 8px; background: #4c78a8; }
.state-failed td:nth-child(3) { color: #c62828; } .state-succeeded td:nth-child(3) { color: #2e7d32; }
.err { font-size: 12px; color: #c62828; } .phase, footer { color: #666; font-size: 12px; }
</style></head>
<body><h1>GenGap experiments</h1>
${body}
<footer>Updated ${escapeHtml(now.toISOString())}; refreshes every ${refreshSeconds} s. JSON: <a href="/api/experiments">/api/experiments</a>.</footer>
</body></html>
`;
}
