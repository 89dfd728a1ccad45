// The analyses attached to a run (ExperimentSpec.analyses), started once the run has succeeded: on
// its final checkpoint, or on its permanent checkpoints every k epochs. A RESCALE analysis yields a
// new checkpoint (Dinh et al.); every other analysis attached to the run is repeated on it.
import type { AnalysisSpec } from '@gengap/proto/analysis/v1/analysis';
import { Split } from '@gengap/proto/common/v1/refs';
import {
  AnalysisTiming,
  type AttachedAnalysis,
  type ExperimentSpec,
} from '@gengap/proto/coordinator/v1/experiment';
import type { Run } from '@gengap/proto/trainer/v1/run';
import type { AnalysisRecord, CellRecord } from '../store/coordinator-store.ts';
import { type AnalysisRunner, analysisKindOf } from './analysis-runner.ts';

/** A readable name for the i-th attached analysis: its kind, numbered when the kind repeats. */
export function attachedAnalysisName(analyses: readonly AttachedAnalysis[], index: number): string {
  const kind = analyses[index]?.spec ? analysisKindOf(analyses[index].spec) : 'unknown';
  const same = analyses.filter((a) => a.spec && analysisKindOf(a.spec) === kind);
  if (same.length === 1) return kind;
  return `${kind}#${same.indexOf(analyses[index] as AttachedAnalysis) + 1}`;
}

interface Target {
  suffix: string;
  spec: AnalysisSpec;
}

function targetsOf(attached: AttachedAnalysis, cell: CellRecord, run: Run): Target[] {
  const base: AnalysisSpec = {
    ...(attached.spec as AnalysisSpec),
    dataset: attached.spec?.dataset?.datasetId ? attached.spec.dataset : { datasetId: cell.datasetId },
    split: attached.onTestSplit ? Split.SPLIT_TEST : (attached.spec?.split ?? Split.SPLIT_UNSPECIFIED),
  };
  const checkpoint = (step: number) => ({
    source: { $case: 'run' as const, value: { runId: run.runId, step } },
  });
  if (attached.timing !== AnalysisTiming.ANALYSIS_TIMING_EVERY_K_EPOCHS) {
    return [{ suffix: '', spec: { ...base, checkpoint: checkpoint(0) } }];
  }
  const k = Math.max(1, attached.everyEpochs);
  return run.checkpoints
    .filter((c) => c.permanent && c.epoch > 0 && Math.abs(c.epoch / k - Math.round(c.epoch / k)) < 1e-9)
    .map((c) => ({
      suffix: `@epoch${Math.round(c.epoch)}`,
      spec: { ...base, checkpoint: checkpoint(c.step) },
    }));
}

/** Runs the cell's attached analyses one after the other; returns their records. */
export async function runAttachedAnalyses(
  runner: AnalysisRunner,
  spec: ExperimentSpec,
  cell: CellRecord,
  run: Run,
  signal: AbortSignal,
): Promise<AnalysisRecord[]> {
  const out: AnalysisRecord[] = [];
  const rescales: { name: string; record: AnalysisRecord }[] = [];
  const reusable: { name: string; spec: AnalysisSpec }[] = [];
  for (const index of cell.analyses) {
    const attached = spec.analyses[index];
    if (!attached?.spec) continue;
    const name = attachedAnalysisName(spec.analyses, index);
    for (const target of targetsOf(attached, cell, run)) {
      const record = await runner.run(
        `${cell.cellId}/${name}${target.suffix}`,
        cell.cellId,
        target.spec,
        signal,
      );
      out.push(record);
      const kind = analysisKindOf(target.spec);
      if (kind === 'rescale' && record.state === 'SUCCEEDED' && record.analysisId)
        rescales.push({ name, record });
      else if (kind !== 'rescale' && target.suffix === '') reusable.push({ name, spec: target.spec });
    }
  }
  for (const rescale of rescales) {
    for (const other of reusable) {
      const onRescaled: AnalysisSpec = {
        ...other.spec,
        checkpoint: { source: { $case: 'analysisId', value: rescale.record.analysisId } },
      };
      out.push(
        await runner.run(`${cell.cellId}/${other.name}@${rescale.name}`, cell.cellId, onRescaled, signal),
      );
    }
  }
  return out;
}
