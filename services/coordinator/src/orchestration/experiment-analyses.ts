// Analyses over several runs (ExperimentSpec.experiment_analyses), once the cells have finished:
// paired runs (stability, interpolation), analyses across all runs (late-training statistics,
// trajectories), teacher-student chains (defensive distillation), Detectron's shift detection
// (shift-detection.ts) and greedy layer-wise pre-training then fine-tuning (pretrain-finetune.ts).
import type { AnalysisSpec } from '@gengap/proto/analysis/v1/analysis';
import type { CheckpointRef } from '@gengap/proto/common/v1/refs';
import type {
  ExperimentAnalysis,
  ExperimentSpec,
  PairedRuns,
  TeacherStudent,
} from '@gengap/proto/coordinator/v1/experiment';
import { Cell, SweepMode } from '@gengap/proto/coordinator/v1/experiment';
import type { Logger } from '@gengap/service-kit';
import type { AnalysisApi } from '../clients/service-clients.ts';
import { canonicalJson, hashJson } from '../spec/canonical.ts';
import type { CellRecord, CoordinatorStore, NewCell } from '../store/coordinator-store.ts';
import { type AnalysisRunner, analysisKindOf } from './analysis-runner.ts';
import type { DatasetProvider } from './datasets.ts';
import { RpcCode } from './failures.ts';
import { pretrainFinetune } from './pretrain-finetune.ts';
import { shiftDetection } from './shift-detection.ts';

export interface ExperimentAnalysisDeps {
  experimentId: string;
  spec: ExperimentSpec;
  store: CoordinatorStore;
  runner: AnalysisRunner;
  analysis: AnalysisApi | undefined;
  datasets: DatasetProvider;
  log: Logger;
  /** Stores new (student) cells and runs them like the experiment's own; returns them finished. */
  runCells(cells: NewCell[], signal: AbortSignal): Promise<CellRecord[]>;
}

const runCheckpoint = (runId: string): CheckpointRef => ({
  source: { $case: 'run', value: { runId, step: 0 } },
});

const succeeded = (cells: readonly CellRecord[]) => cells.filter((c) => c.state === 'SUCCEEDED' && c.runId);

function parseParameter(text: string | undefined): unknown {
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** The analysis spec for a pair: the second run goes where the kind expects "the other" model. */
function pairSpec(template: AnalysisSpec, first: CellRecord, second: CellRecord): AnalysisSpec {
  const spec: AnalysisSpec = {
    ...template,
    checkpoint: runCheckpoint(first.runId),
    dataset: template.dataset?.datasetId ? template.dataset : { datasetId: first.datasetId },
  };
  const kind = template.kind;
  if (kind?.$case === 'stability') spec.kind = { $case: 'stability', value: { otherRunId: second.runId } };
  if (kind?.$case === 'interpolation')
    spec.kind = { $case: 'interpolation', value: { ...kind.value, other: runCheckpoint(second.runId) } };
  return spec;
}

async function pairedRuns(
  deps: ExperimentAnalysisDeps,
  index: number,
  paired: PairedRuns,
  signal: AbortSignal,
) {
  const cells = succeeded(deps.store.cells(deps.experimentId).filter((c) => c.role === 'cell'));
  const first = canonicalJson(paired.first);
  const second = canonicalJson(paired.second);
  // Axes zipped with the pairing axis advance with it (a "neighbour" label and its replaceOne
  // corruption): they are part of what differs within a pair, not of what must match.
  const zipped = new Set([paired.axis]);
  for (const sweep of deps.spec.sweeps)
    if (sweep.mode === SweepMode.SWEEP_MODE_ZIP && sweep.axes.some((a) => a.name === paired.axis))
      for (const a of sweep.axes) zipped.add(a.name);
  const rest = (c: CellRecord) =>
    canonicalJson({
      seed: c.seed,
      p: Object.entries(c.parameters)
        .filter(([k]) => !zipped.has(k))
        .sort(),
    });
  const kind = paired.spec ? analysisKindOf(paired.spec) : 'unknown';
  let pairs = 0;
  for (const a of cells.filter((c) => canonicalJson(parseParameter(c.parameters[paired.axis])) === first)) {
    const b = cells.find(
      (c) => rest(c) === rest(a) && canonicalJson(parseParameter(c.parameters[paired.axis])) === second,
    );
    if (!b || !paired.spec) continue;
    pairs++;
    await deps.runner.run(
      `experiment/paired${index}:${kind}:${a.cellId}:${b.cellId}`,
      '',
      pairSpec(paired.spec, a, b),
      signal,
    );
  }
  if (pairs === 0)
    deps.runner.skip(
      `experiment/paired${index}:${kind}`,
      '',
      `no succeeded pair of runs differs only in ${paired.axis}`,
      RpcCode.FAILED_PRECONDITION,
    );
}

async function acrossRuns(
  deps: ExperimentAnalysisDeps,
  index: number,
  template: AnalysisSpec,
  signal: AbortSignal,
) {
  const cells = succeeded(deps.store.cells(deps.experimentId).filter((c) => c.role === 'cell'));
  const kind = analysisKindOf(template);
  const name = `experiment/across${index}:${kind}`;
  const [first] = cells;
  if (!first) {
    deps.runner.skip(name, '', 'no run succeeded', RpcCode.FAILED_PRECONDITION);
    return;
  }
  const runIds = cells.map((c) => c.runId);
  const spec: AnalysisSpec = {
    ...template,
    checkpoint: runCheckpoint(first.runId),
    dataset: template.dataset?.datasetId ? template.dataset : { datasetId: first.datasetId },
  };
  const k = template.kind;
  if (k?.$case === 'lateTrainingStatistics' && k.value.runIds.length === 0)
    spec.kind = { $case: 'lateTrainingStatistics', value: { ...k.value, runIds } };
  if (k?.$case === 'trajectory' && k.value.runIds.length === 0)
    spec.kind = { $case: 'trajectory', value: { ...k.value, runIds } };
  await deps.runner.run(name, '', spec, signal);
}

async function teacherStudent(
  deps: ExperimentAnalysisDeps,
  index: number,
  ts: TeacherStudent,
  signal: AbortSignal,
) {
  const filter = ts.teacherFilter ? new RegExp(ts.teacherFilter) : undefined;
  const teachers = succeeded(deps.store.cells(deps.experimentId).filter((c) => c.role === 'cell')).filter(
    (c) => !filter || filter.test(c.label),
  );
  if (teachers.length === 0) {
    deps.runner.skip(
      `experiment/teacherStudent${index}`,
      '',
      'no teacher run succeeded',
      RpcCode.FAILED_PRECONDITION,
    );
    return;
  }
  const all = deps.store.cells(deps.experimentId);
  const students: NewCell[] = teachers.map((teacher, i) => {
    const student = ts.student as Cell;
    const runSpec = {
      ...(student.run as NonNullable<Cell['run']>),
      seed: teacher.seed,
      teacher: { checkpoint: runCheckpoint(teacher.runId), temperature: ts.temperature },
    };
    const datasetSpec = student.dataset;
    if (!datasetSpec) runSpec.dataset = { datasetId: teacher.datasetId };
    const cellId = hashJson({ teacher: teacher.cellId, index, student: Cell.toJSON(student) }, 16);
    return {
      cellId,
      index: all.length + index * 1000 + i,
      role: 'student',
      parentCellId: teacher.cellId,
      label: `student (T=${ts.temperature}) of ${teacher.label || teacher.cellId}`,
      parameters: { ...teacher.parameters, role: JSON.stringify('student') },
      seed: teacher.seed,
      datasetSpec,
      runSpec,
      analyses: [],
    };
  });
  const finished = await deps.runCells(students, signal);
  for (const [j, template] of ts.analyses.entries()) {
    const kind = analysisKindOf(template);
    for (const student of finished) {
      const teacher = teachers.find((t) => t.cellId === student.parentCellId);
      for (const member of [teacher, student]) {
        if (member?.state !== 'SUCCEEDED') continue;
        const spec: AnalysisSpec = {
          ...template,
          checkpoint: runCheckpoint(member.runId),
          dataset: template.dataset?.datasetId ? template.dataset : { datasetId: member.datasetId },
        };
        await deps.runner.run(
          `${member.cellId}/teacherStudent${index}:${kind}#${j + 1}`,
          member.cellId,
          spec,
          signal,
        );
      }
    }
  }
}

export async function runExperimentAnalyses(
  deps: ExperimentAnalysisDeps,
  signal: AbortSignal,
): Promise<void> {
  for (const [index, ea] of deps.spec.experimentAnalyses.entries()) {
    const kind = (ea as ExperimentAnalysis).kind;
    try {
      switch (kind?.$case) {
        case 'pairedRuns':
          await pairedRuns(deps, index, kind.value, signal);
          break;
        case 'acrossRuns':
          if (kind.value.spec) await acrossRuns(deps, index, kind.value.spec, signal);
          break;
        case 'teacherStudent':
          await teacherStudent(deps, index, kind.value, signal);
          break;
        case 'shiftDetection':
          await shiftDetection(deps, index, kind.value, signal);
          break;
        case 'pretrainFinetune':
          await pretrainFinetune(deps, index, kind.value, signal);
          break;
        default:
          break;
      }
    } catch (err) {
      if (signal.aborted) throw err;
      deps.log.error({ err, index }, 'experiment analysis failed');
      deps.store.addNote(
        deps.experimentId,
        `Experiment analysis ${index + 1} (${kind?.$case}) failed: ${(err as Error).message}`,
      );
    }
  }
}
