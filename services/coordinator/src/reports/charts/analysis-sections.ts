// One report section per attached analysis: its results gathered across runs and drawn by the
// rule for their kind (the AnalysisResult oneof). A plot spec supplied by the analysis service is
// drawn as well; analyses that have no result yet are listed with their state.
import type { Analysis } from '@gengap/proto/analysis/v1/analysis';
import { type ChartDraft, chartDraft, fileStem } from '../chart-draft.ts';
import type { Row } from '../csv.ts';
import type { ReportContext, RunView } from '../report-context.ts';
import { type ReportSection, section } from '../report-section.ts';
import { type ReportTable, stateName } from '../run-tables.ts';
import type { AnalysisCharts, AnalysisItem, ResultCase } from './analysis-items.ts';
import {
  hessianEigenCharts,
  hessianTraceCharts,
  landscapeCharts,
  rescaleCharts,
  sharpnessCharts,
  spectralDensityCharts,
} from './curvature-charts.ts';
import {
  firstLearnedCharts,
  generalizationGapCharts,
  lateTrainingCharts,
  parityProgressCharts,
  stabilityCharts,
  trajectoryCharts,
} from './dynamics-charts.ts';
import {
  attackCharts,
  attributionCharts,
  criticalSampleCharts,
  ensembleDisagreementCharts,
  inputSensitivityCharts,
  inversionCharts,
  linearProbeCharts,
} from './probe-charts.ts';

interface ChartRule<C extends ResultCase> {
  title: string;
  draw: (ctx: ReportContext, items: AnalysisItem<C>[], name: string) => AnalysisCharts;
}

/** How each kind of result is drawn: one entry per AnalysisResult oneof case. */
export const analysisChartRules: { [C in ResultCase]: ChartRule<C> } = {
  hessianEigen: { title: 'Hessian spectrum (top eigenvalues)', draw: hessianEigenCharts },
  hessianTrace: { title: 'Hessian trace', draw: hessianTraceCharts },
  spectralDensity: { title: 'Hessian spectral density', draw: spectralDensityCharts },
  sharpness: { title: 'Sharpness', draw: sharpnessCharts },
  landscape: { title: 'Loss landscape', draw: landscapeCharts },
  rescale: { title: 'Rescaling', draw: rescaleCharts },
  stability: { title: 'Stability of paired runs', draw: stabilityCharts },
  generalizationGap: { title: 'Generalization gap', draw: generalizationGapCharts },
  lateTrainingStatistics: { title: 'Late-training statistics', draw: lateTrainingCharts },
  inversion: { title: 'Inversion of layer embeddings', draw: inversionCharts },
  inputSensitivity: { title: 'Input sensitivity', draw: inputSensitivityCharts },
  attack: { title: 'Adversarial attack', draw: attackCharts },
  criticalSampleRatio: { title: 'Critical sample ratio', draw: criticalSampleCharts },
  attribution: { title: 'Attribution', draw: attributionCharts },
  trajectory: { title: 'Trajectory statistics', draw: trajectoryCharts },
  parityProgress: { title: 'Hidden progress', draw: parityProgressCharts },
  firstLearned: { title: 'First-learned epochs', draw: firstLearnedCharts },
  linearProbe: { title: 'Linear probes', draw: linearProbeCharts },
  ensembleDisagreement: { title: 'Ensemble disagreement', draw: ensembleDisagreementCharts },
};

const maxServicePlots = 6;

interface AnalysisRef {
  name: string;
  run: RunView | undefined;
}

/** Names and runs of analyses, from the experiment's references (run-level and experiment-level). */
function analysisRefs(ctx: ReportContext): Map<string, AnalysisRef> {
  const refs = new Map<string, AnalysisRef>();
  // References without an analysis id never reached the service (skipped, or computed by the
  // coordinator itself): the notes and the experiment summaries cover them.
  for (const view of ctx.runs)
    for (const ref of view.record.run.analyses)
      if (ref.analysisId) refs.set(ref.analysisId, { name: ref.name, run: view });
  for (const ref of ctx.input.experiment.experimentAnalyses)
    if (ref.analysisId && !refs.has(ref.analysisId))
      refs.set(ref.analysisId, { name: ref.name, run: undefined });
  return refs;
}

function describe(
  ctx: ReportContext,
  analysis: Analysis,
  ref: AnalysisRef | undefined,
): Omit<AnalysisItem, 'result'> {
  const checkpoint = analysis.spec?.checkpoint?.source;
  const run =
    ref?.run ?? (checkpoint?.$case === 'run' ? ctx.runsByRunId.get(checkpoint.value.runId) : undefined);
  const step = checkpoint?.$case === 'run' ? checkpoint.value.step : 0;
  const name = ref?.name || analysis.spec?.kind?.$case || analysis.result?.kind?.$case || 'analysis';
  const base =
    run?.label ??
    (checkpoint?.$case === 'analysisId'
      ? `checkpoint of analysis ${checkpoint.value.slice(0, 12)}`
      : analysis.analysisId);
  return { analysis, name, run, step, label: step > 0 ? `${base} @ step ${step}` : base };
}

function servicePlots(items: AnalysisItem[], name: string): ChartDraft[] {
  const charts: ChartDraft[] = [];
  for (const item of items) {
    const text = item.analysis.result?.plotSpecJson;
    if (!text || charts.length >= maxServicePlots) continue;
    let spec: Record<string, unknown>;
    try {
      spec = JSON.parse(text) as Record<string, unknown>;
    } catch {
      continue;
    }
    const values = (spec.data as { values?: unknown } | undefined)?.values;
    const rows = Array.isArray(values) ? (values as Row[]) : [];
    const { data: _data, title: _title, $schema: _schema, ...body } = spec;
    const title = typeof spec.title === 'string' ? spec.title : `${name}: ${item.label}`;
    charts.push(
      chartDraft(
        `${name}-service-plot-${charts.length + 1}`,
        title,
        `Chart supplied by the analysis service for ${item.label}.`,
        rows,
        body,
      ),
    );
  }
  return charts;
}

function statusTable(
  pending: { name: string; label: string; analysis?: Analysis; state: string; error: string }[],
): ReportTable {
  return {
    id: 'analysis-status',
    title: 'Analyses without results',
    caption: 'Queued, running, failed or cancelled analyses; their sections appear once they succeed.',
    columns: [
      { field: 'name', header: 'analysis' },
      { field: 'label', header: 'run' },
      { field: 'state', header: 'state' },
      { field: 'error', header: 'error', format: 'text' },
      { field: 'analysis_id', header: 'id' },
    ],
    rows: pending.map((p) => ({
      name: p.name,
      label: p.label,
      state: p.state,
      error: p.error,
      analysis_id: p.analysis?.analysisId ?? '',
    })),
  };
}

export function analysisSections(ctx: ReportContext): ReportSection[] {
  const refs = analysisRefs(ctx);
  const groups = new Map<string, { name: string; kind: ResultCase | undefined; items: AnalysisItem[] }>();
  const pending: Parameters<typeof statusTable>[0] = [];
  const seen = new Set<string>();
  for (const analysis of ctx.input.analyses) {
    seen.add(analysis.analysisId);
    const info = describe(ctx, analysis, refs.get(analysis.analysisId));
    const kind = analysis.result?.kind;
    if (!analysis.result || (!kind && !analysis.result.plotSpecJson)) {
      pending.push({
        ...info,
        state: stateName(analysis.status?.state),
        error: analysis.status?.error?.message ?? '',
      });
      continue;
    }
    const key = `${info.name}\u0000${kind?.$case ?? ''}`;
    const group = groups.get(key) ?? { name: info.name, kind: kind?.$case, items: [] };
    group.items.push({ ...info, result: kind?.value } as AnalysisItem);
    groups.set(key, group);
  }
  for (const [id, ref] of refs) {
    if (seen.has(id)) continue;
    pending.push({ name: ref.name, label: ref.run?.label ?? '', state: 'unknown (no record)', error: '' });
  }
  const sections: ReportSection[] = [];
  for (const group of groups.values()) {
    const stem = fileStem(group.name);
    const drawn: AnalysisCharts = group.kind
      ? (analysisChartRules[group.kind].draw as ChartRule<ResultCase>['draw'])(ctx, group.items, stem)
      : { charts: [], tables: [] };
    const images = (drawn.images ?? []).flatMap((img) => {
      const file = ctx.input.artifacts?.find(
        (a) => a.analysisId === img.analysisId && a.name === img.artifact,
      );
      return file ? [{ ...img, bytes: file.bytes }] : [];
    });
    const kindTitle = group.kind ? analysisChartRules[group.kind].title : 'Analysis';
    sections.push(
      section(`analysis-${stem}`, group.name === group.kind ? kindTitle : `${kindTitle}: ${group.name}`, {
        intro: `${group.items.length} result(s) of the "${group.name}" analysis.`,
        // The service's own plots stand in where GenGap has no chart of its own for the result.
        charts: drawn.charts.length > 0 ? drawn.charts : servicePlots(group.items, stem),
        tables: drawn.tables,
        images: images.map((img, k) => ({
          src: `analyses/${fileStem(`${img.analysisId}-${k}-${img.artifact}`)}.png`,
          alt: img.caption,
          caption: img.caption,
          bytes: img.bytes,
        })),
      }),
    );
  }
  if (pending.length > 0)
    sections.push(section('analysis-status', 'Analyses without results', { tables: [statusTable(pending)] }));
  return sections;
}
