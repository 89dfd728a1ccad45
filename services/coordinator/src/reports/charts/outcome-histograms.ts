// The distribution of final test error over seeds, one histogram per group of runs that share their
// swept values (Erhan et al. 2010's figure: pre-trained vs from-scratch networks over many seeds),
// overlaid in the groups' colours with a rule at each group's mean. Drawn when every group has
// several seeds; otherwise the outcome charts' points say as much.
import { type ChartDraft, chartDraft } from '../chart-draft.ts';
import type { Row } from '../csv.ts';
import { type ReportContext, runColumns } from '../report-context.ts';
import { groupLabel } from '../sweep-axes.ts';

/** Fewest runs per group for a histogram to say something. */
export const MIN_RUNS_PER_HISTOGRAM = 4;

export function testErrorHistograms(ctx: ReportContext): ChartDraft[] {
  const rows: Row[] = [];
  for (const view of ctx.runs) {
    const run = view.record.run;
    const accuracy = run.summary ? run.summary.finalTestAccuracy : view.record.epochs.at(-1)?.testAccuracy;
    if (accuracy === undefined || !Number.isFinite(accuracy)) continue;
    rows.push({
      ...runColumns(ctx, view),
      group: ctx.axes.length > 0 ? groupLabel(run, ctx.axes) : 'all runs',
      seed: run.seed,
      test_error: 1 - accuracy,
    });
  }
  const counts = new Map<string, number>();
  for (const r of rows) counts.set(r.group as string, (counts.get(r.group as string) ?? 0) + 1);
  if (counts.size === 0 || [...counts.values()].some((n) => n < MIN_RUNS_PER_HISTOGRAM)) return [];
  const domain = [...counts.keys()];
  const color = {
    field: 'group',
    type: 'nominal',
    title: ctx.axes.map((a) => a.name).join(', ') || 'runs',
    scale: { domain },
  };
  const x = { field: 'test_error', type: 'quantitative', title: 'final test error (1 - accuracy)' };
  const summary = domain.map((g) => {
    const errors = rows.filter((r) => r.group === g).map((r) => r.test_error as number);
    const mean = errors.reduce((a, b) => a + b, 0) / errors.length;
    const std = Math.sqrt(errors.reduce((a, e) => a + (e - mean) ** 2, 0) / Math.max(1, errors.length - 1));
    return `${g}: ${(100 * mean).toFixed(2)}% ± ${(100 * std).toFixed(2)} over ${errors.length} runs`;
  });
  return [
    chartDraft(
      'test-error-histogram',
      'Test error over seeds',
      `Histogram of the final test error of every run, one colour per group of runs with the same swept values (overlaid); the vertical rules are the groups' means. Mean ± standard deviation: ${summary.join('; ')}.`,
      rows,
      {
        width: 560,
        height: 260,
        layer: [
          {
            mark: { type: 'bar', opacity: 0.55, binSpacing: 1 },
            encoding: {
              x: { ...x, bin: { maxbins: 12 } },
              y: {
                aggregate: 'count',
                type: 'quantitative',
                title: 'runs',
                stack: null,
                axis: { tickMinStep: 1, format: 'd' },
              },
              color,
            },
          },
          {
            mark: { type: 'rule', strokeWidth: 2, strokeDash: [5, 3] },
            encoding: { x: { ...x, aggregate: 'mean' }, color },
          },
        ],
      },
    ),
  ];
}
