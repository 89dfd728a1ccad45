// The report's input, gathered from the coordinator's store (runs, metrics, analysis references)
// and from the services that hold the rest: analysis results (AnalysisService.GetAnalysis, PNG
// artifacts), dataset manifests and sample grids (DataService.GetDataset, SampleDataset). A service
// that does not answer leaves its part out and says so in the notes.
import type { Analysis } from '@gengap/proto/analysis/v1/analysis';
import { Split } from '@gengap/proto/common/v1/refs';
import type { StepMetrics } from '@gengap/proto/trainer/v1/run';
import { NotFoundError, toProtoState } from '@gengap/service-kit';
import type { AnalysisApi, DataApi } from '../clients/service-clients.ts';
import { NOT_IMPLEMENTED_NOTE } from '../orchestration/analysis-runner.ts';
import type { ExperimentOutcome } from '../orchestration/experiment-runner.ts';
import { experimentOf, experimentRunOf, localAnalysisName } from '../orchestration/views.ts';
import { type AnalysisRecord, AUXILIARY_ROLES, type CoordinatorStore } from '../store/coordinator-store.ts';
import type { AnalysisArtifactBytes, DatasetSample, ReportInput, RunRecord } from './report-input.ts';

/** Step metrics kept per run in a report (evenly thinned beyond this). */
export const MAX_STEPS_PER_RUN = 2000;
const MAX_ARTIFACT_BYTES = 8 * 1024 * 1024;

export interface GatherDeps {
  store: CoordinatorStore;
  data: DataApi | undefined;
  analysis: AnalysisApi | undefined;
  /** Notes of the experiment's preset (parts of the paper's protocol that cannot run yet). */
  presetNotes(preset: string): string[];
}

function thin(steps: StepMetrics[], max: number): StepMetrics[] {
  if (steps.length <= max) return steps;
  const every = Math.ceil(steps.length / max);
  return steps.filter((_, i) => i % every === 0 || i === steps.length - 1);
}

async function readArtifact(
  api: AnalysisApi,
  analysisId: string,
  name: string,
  signal: AbortSignal,
): Promise<AnalysisArtifactBytes | undefined> {
  const parts: Buffer[] = [];
  let size = 0;
  for await (const message of api.readArtifact(analysisId, name, signal)) {
    const data = message.chunk?.data;
    if (!data) continue;
    size += data.length;
    if (size > MAX_ARTIFACT_BYTES) return undefined;
    parts.push(Buffer.from(data));
  }
  return { analysisId, name, bytes: new Uint8Array(Buffer.concat(parts)) };
}

/**
 * A per-trial analysis of an experiment analysis the coordinator computes itself (named
 * "experiment/<analysis>/<part>"), e.g. one query set's ensemble disagreement in a shift detection.
 */
export function isSupportingAnalysis(record: Pick<AnalysisRecord, 'name' | 'cellId'>): boolean {
  return record.cellId === '' && localAnalysisName(record).includes('/');
}

export async function gatherReportInput(
  deps: GatherDeps,
  experimentId: string,
  signal: AbortSignal,
  /** The state the experiment is about to be given (its report is built just before). */
  outcome?: ExperimentOutcome,
): Promise<ReportInput> {
  const { store } = deps;
  const job = store.experiment(experimentId);
  if (!job) throw new NotFoundError('experiment', experimentId);
  const meta = store.meta(experimentId);
  const notes: string[] = [...deps.presetNotes(meta.preset), ...meta.notes];
  // Runs and analyses that only serve an experiment analysis (auto-encoder stages, Detectron's CDCs
  // and their per-trial ensemble analyses) are summarised by it, not drawn one by one.
  const records = store.analyses(experimentId).filter((r) => !isSupportingAnalysis(r));
  const cells = store.cells(experimentId);
  const shown = cells.filter((c) => !AUXILIARY_ROLES.has(c.role));
  const full = experimentOf(store, job);
  const shownIds = new Set(shown.map((c) => c.cellId));
  if (outcome && full.status) {
    full.status = {
      ...full.status,
      state: toProtoState(outcome.state),
      phase: outcome.phase,
      progress: 1,
      ...(outcome.error
        ? { error: { code: outcome.error.code, message: outcome.error.message, field: '', step: 0 } }
        : {}),
    };
  }
  const experiment = {
    ...full,
    runs: full.runs.filter((r) => shownIds.has(r.cellId)),
    experimentAnalyses: full.experimentAnalyses.filter((a) => !a.name.includes('/')),
  };
  const hidden = cells.length - shown.length;
  if (hidden > 0)
    notes.push(
      `${hidden} runs that serve experiment analyses (auto-encoder pre-training stages, Detectron's disagreement classifiers) are summarised by those analyses rather than drawn; GetExperiment lists them.`,
    );

  const runs: RunRecord[] = shown.map((cell) => ({
    run: experimentRunOf(cell, records),
    epochs: cell.runId ? store.epochs(experimentId, cell.cellId, cell.runId) : [],
    steps: cell.runId ? thin(store.steps(experimentId, cell.cellId, cell.runId), MAX_STEPS_PER_RUN) : [],
    timeToFit: cell.timeToFit ?? cell.summary?.timeToFit,
  }));

  const analyses: Analysis[] = [];
  const artifacts: AnalysisArtifactBytes[] = [];
  const unreadable: string[] = [];
  for (const record of records) {
    if (!record.analysisId || !deps.analysis) continue;
    try {
      const analysis = (await deps.analysis.getAnalysis(record.analysisId, signal)).analysis;
      if (!analysis) continue;
      analyses.push(analysis);
      for (const name of analysis.result?.artifacts ?? []) {
        if (!name.toLowerCase().endsWith('.png')) continue;
        const bytes = await readArtifact(deps.analysis, record.analysisId, name, signal).catch(
          () => undefined,
        );
        if (bytes) artifacts.push(bytes);
      }
    } catch (err) {
      if (signal.aborted) throw err;
      unreadable.push(localAnalysisName(record));
    }
  }
  if (unreadable.length > 0)
    notes.push(
      `The analysis service did not return ${unreadable.length} analyses (${unreadable.slice(0, 5).join(', ')}).`,
    );
  const notImplemented = new Map<string, number>();
  for (const r of records) {
    if (!r.note.startsWith(NOT_IMPLEMENTED_NOTE)) continue;
    notImplemented.set(r.note, (notImplemented.get(r.note) ?? 0) + 1);
  }
  for (const [note, count] of notImplemented) notes.push(`${count} analyses skipped: ${note}.`);
  for (const r of records)
    if (r.state === 'FAILED' && r.note && !r.note.startsWith(NOT_IMPLEMENTED_NOTE) && !r.analysisId)
      notes.push(`Analysis ${localAnalysisName(r)} did not run: ${r.note}.`);

  const datasets: DatasetSample[] = [];
  const datasetIds = [...new Set(runs.map((r) => r.run.datasetId).filter(Boolean))];
  for (const datasetId of datasetIds) {
    let sample: DatasetSample = { datasetId, manifest: undefined, png: undefined };
    if (deps.data) {
      try {
        const manifest = (await deps.data.getDataset(datasetId, signal)).dataset?.manifest;
        sample = { ...sample, manifest };
        const image =
          (manifest?.train?.inputShape.length ?? 0) === 3 ||
          manifest?.spec?.source?.$case === 'mnist' ||
          manifest?.spec?.source?.$case === 'fashionMnist';
        if (image) {
          const got = await deps.data.sampleDataset(
            { datasetId, split: Split.SPLIT_TRAIN, count: 32, renderPng: true, seed: 0 },
            signal,
          );
          if (got.png.length > 0) sample = { ...sample, png: got.png };
        }
      } catch (err) {
        if (signal.aborted) throw err;
        notes.push(`Dataset ${datasetId}: the data service did not answer (${(err as Error).message}).`);
      }
    }
    datasets.push(sample);
  }
  return { experiment, runs, analyses, datasets, notes, generatedAt: new Date(), artifacts };
}
