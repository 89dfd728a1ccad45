// buildReport: an experiment's report folder from what the coordinator recorded (ReportInput).
//   index.html          the page: every chart inline as SVG, tables, notes (works offline)
//   charts/<id>.svg     each chart, and charts/<id>.vl.json its Vega-Lite spec with data inline
//   data/<id>.csv       the rows behind each chart and table; data/epochs.csv, data/steps.csv in full
//   datasets/<id>.png   sample grids of the datasets
//   report.json         the experiment, the run table and every analysis result as JSON
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { Analysis } from '@gengap/proto/analysis/v1/analysis';
import { Experiment } from '@gengap/proto/coordinator/v1/experiment';
import { type ChartDraft, fileStem } from './chart-draft.ts';
import { svgToPng } from './chart-png.ts';
import { analysisSections } from './charts/analysis-sections.ts';
import { experimentSummarySections } from './charts/experiment-summaries.ts';
import { learningCurveCharts } from './charts/learning-curves.ts';
import { testErrorHistograms } from './charts/outcome-histograms.ts';
import { sweepCharts } from './charts/sweep-charts.ts';
import { type Column, columnsOf, type Row, toCsv } from './csv.ts';
import { datasetSection } from './dataset-section.ts';
import { type ChartFiles, reportHtml } from './html-page.ts';
import { axisHeaders, type ReportContext, reportContext, runColumns } from './report-context.ts';
import type { ReportInput, ReportOutput } from './report-input.ts';
import { isEmpty, type ReportSection, section } from './report-section.ts';
import { cellsTable, runsTable, stateName } from './run-tables.ts';
import { renderSvg, scopeSvgIds } from './vega-render.ts';

export type { ReportInput, ReportOutput, RunRecord } from './report-input.ts';

function fullCurveRows(ctx: ReportContext): { epochs: Row[]; steps: Row[] } {
  const epochs: Row[] = [];
  const steps: Row[] = [];
  for (const view of ctx.runs) {
    const cols = runColumns(ctx, view);
    for (const e of view.record.epochs) epochs.push({ ...cols, ...e });
    for (const s of view.record.steps) steps.push({ ...cols, ...s });
  }
  return { epochs, steps };
}

function sectionsOf(ctx: ReportContext): ReportSection[] {
  const runs = runsTable(ctx);
  const cells = cellsTable(ctx, runs);
  const axes = ctx.axes.map((a) => `${a.name} (${a.kind}, ${a.values.length} values)`).join(', ');
  const datasets = datasetSection(ctx);
  const sections = [
    section('runs', 'Runs', {
      intro: ctx.axes.length > 0 ? `Swept: ${axes}.` : 'Nothing is swept: one cell.',
      tables: cells ? [cells, runs] : [runs],
    }),
    section('learning_curves', 'Learning curves', { charts: learningCurveCharts(ctx) }),
    section('sweep', 'Outcome against the swept fields', {
      intro:
        'Time to fit and final error of every run against each numeric swept field (or the first categorical one).',
      charts: [...sweepCharts(ctx), ...testErrorHistograms(ctx)],
    }),
    ...experimentSummarySections(ctx),
    ...analysisSections(ctx),
    section('datasets', 'Datasets', {
      tables: [datasets.table],
      images: datasets.images.map((d) => ({
        src: `datasets/${fileStem(d.datasetId)}.png`,
        alt: `training examples of dataset ${d.datasetId}`,
        caption: d.caption,
        bytes: d.png,
      })),
    }),
  ];
  const wanted = ctx.input.experiment.spec?.reportSections ?? [];
  return sections.filter(
    (s) =>
      !isEmpty(s) &&
      (wanted.length === 0 ||
        wanted.includes(s.id) ||
        ((s.id.startsWith('analysis-') || s.id.startsWith('experiment-')) && wanted.includes('analyses'))),
  );
}

/** Gives every chart a distinct id (file stem) within the report. */
function uniqueIds(sections: ReportSection[]): void {
  const seen = new Set<string>();
  for (const s of sections) {
    for (const chart of s.charts) {
      let id = chart.id;
      for (let n = 2; seen.has(id); n++) id = `${chart.id}-${n}`;
      chart.id = id;
      seen.add(id);
    }
  }
}

function csvColumns(rows: Row[], headers: Map<string, string>): Column[] {
  return columnsOf(rows).map((c) => ({ field: c.field, header: headers.get(c.field) ?? c.field }));
}

export async function buildReport(input: ReportInput, outDir: string): Promise<ReportOutput> {
  const root = resolve(outDir);
  await Promise.all(
    ['charts', 'data', 'datasets', 'analyses'].map((d) => mkdir(join(root, d), { recursive: true })),
  );
  const files: string[] = [];
  const write = async (rel: string, content: string | Uint8Array) => {
    const path = join(root, rel);
    await writeFile(path, content);
    files.push(path);
  };

  const ctx = reportContext(input);
  const headers = axisHeaders(ctx);
  const sections = sectionsOf(ctx);
  uniqueIds(sections);

  const problems: string[] = [];
  const charts = new Map<string, { svg: string; files: ChartFiles }>();
  const tableFiles = new Map<string, string>();
  for (const s of sections) {
    for (const chart of s.charts) {
      const svg = await renderChart(chart, problems);
      if (svg === undefined) continue;
      const rel: ChartFiles = {
        svg: `charts/${chart.id}.svg`,
        png: `charts/${chart.id}.png`,
        csv: `data/${chart.id}.csv`,
        spec: `charts/${chart.id}.vl.json`,
      };
      await write(rel.svg, svg);
      await write(rel.png, svgToPng(svg));
      await write(rel.spec, `${JSON.stringify(chart.spec, null, 2)}\n`);
      await write(rel.csv, toCsv(chart.rows, chart.columns ?? csvColumns(chart.rows, headers)));
      charts.set(chart.id, { svg: scopeSvgIds(svg, `c-${chart.id}`), files: rel });
    }
    for (const image of s.images) if (image.bytes) await write(image.src, image.bytes);
    for (const table of s.tables) {
      if (table.rows.length === 0) continue;
      const rel = `data/${table.id}.csv`;
      await write(rel, toCsv(table.rows, csvColumns(table.rows, headers)));
      tableFiles.set(table.id, rel);
    }
  }
  const curves = fullCurveRows(ctx);
  if (curves.epochs.length > 0)
    await write('data/epochs.csv', toCsv(curves.epochs, csvColumns(curves.epochs, headers)));
  if (curves.steps.length > 0)
    await write('data/steps.csv', toCsv(curves.steps, csvColumns(curves.steps, headers)));

  const experiment = input.experiment;
  await write(
    'report.json',
    `${JSON.stringify(
      {
        generatedAt: input.generatedAt.toISOString(),
        experiment: Experiment.toJSON(experiment),
        axes: ctx.axes,
        runs: runsTable(ctx).rows,
        analyses: input.analyses.map((a) => Analysis.toJSON(a)),
        notes: input.notes,
      },
      null,
      2,
    )}\n`,
  );

  const title = experiment.spec?.name || experiment.preset || experiment.experimentId;
  const html = reportHtml({
    title,
    description: experiment.spec?.description ?? '',
    facts: [
      ['experiment', experiment.experimentId],
      ...(experiment.preset ? [['preset', experiment.preset] as [string, string]] : []),
      [
        'status',
        `${stateName(experiment.status?.state)}${experiment.status?.phase ? ` (${experiment.status.phase})` : ''}`,
      ],
      ['runs', runCounts(input)],
      ['seeds', String(ctx.distinctSeeds)],
    ],
    notes: [...input.notes, ...problems],
    sections,
    charts,
    tableFiles,
    generatedAt: input.generatedAt,
  });
  // The page appears in one step, so the HTTP server never serves half a report.
  const htmlPath = join(root, 'index.html');
  await writeFile(`${htmlPath}.tmp`, html);
  await rename(`${htmlPath}.tmp`, htmlPath);
  files.push(htmlPath);
  return { htmlPath, files, problems };
}

/** "8 (7 succeeded, 1 failed)": the runs by state. */
function runCounts(input: ReportInput): string {
  const byState = new Map<string, number>();
  for (const r of input.runs) {
    const state = stateName(r.run.status?.state);
    byState.set(state, (byState.get(state) ?? 0) + 1);
  }
  const parts = [...byState].map(([state, n]) => `${n} ${state}`);
  return `${input.runs.length}${parts.length > 0 ? ` (${parts.join(', ')})` : ''}`;
}

/** Renders one chart; a chart that fails (e.g. a malformed service plot) is left out and reported. */
async function renderChart(chart: ChartDraft, problems: string[]): Promise<string | undefined> {
  try {
    return await renderSvg(chart.spec);
  } catch (err) {
    problems.push(`chart "${chart.title}" (${chart.id}) could not be drawn: ${(err as Error).message}`);
    return undefined;
  }
}
