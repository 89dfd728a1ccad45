// Detectron (Ginsberg et al. 2023) as an experiment analysis (experiment_analyses[].shift_detection):
// is a covariate shift harmful? The experiment's first succeeded cell is the base model f. Each trial
// draws a query set of `query_size` test examples (a seeded shuffle: RunSpec.disagreement.query_seed,
// the same rows the EnsembleDisagreement analysis scores with that seed), from the clean test split
// (in-distribution trials: the null distribution) or from the test split with the CovariateShift
// corruption, made by the data service (shifted trials). For each trial, `ensemble_size` constrained
// disagreement classifiers (CDCs) are fine-tuned from f, one after the other, each on f's training
// split (agree) plus the query examples that no earlier CDC rejected (disagree: Detectron's
// refinement, RunSpec.disagreement.excluded_query_indices); after each, EnsembleDisagreement (analysis
// service) of f and the CDCs so far on the query set gives the rejected examples. The trial's
// statistic is the final ensemble's disagreement rate (and, for the entropy test, the entropies of its
// mean prediction). @gengap/shift-detection turns them into permutation p-values against the null
// trials, the power over the shifted trials and the false-positive rate over the null trials (each
// against the others) at the significance level. CDCs are cells (role "cdc") and their analyses have
// names derived from (trial, member), so a restarted coordinator resumes rather than repeats them.
import type { AnalysisSpec, EnsembleDisagreementResult } from '@gengap/proto/analysis/v1/analysis';
import { type CheckpointRef, Split } from '@gengap/proto/common/v1/refs';
import type { ShiftDetection } from '@gengap/proto/coordinator/v1/experiment';
import type { DatasetSpec } from '@gengap/proto/data/v1/dataset';
import { RunSpec } from '@gengap/proto/trainer/v1/run';
import {
  disagreementFalsePositives,
  disagreementTest,
  entropyFalsePositives,
  entropyTest,
  querySelection,
  smallestPValue,
} from '@gengap/shift-detection';
import { hashJson } from '../spec/canonical.ts';
import type { CellRecord, NewCell } from '../store/coordinator-store.ts';
import { NOT_IMPLEMENTED_NOTE } from './analysis-runner.ts';
import type { ExperimentAnalysisDeps } from './experiment-analyses.ts';
import { RpcCode } from './failures.ts';

type QueryKind = 'in-distribution' | 'shifted';

export interface TrialOutcome {
  query: QueryKind;
  trial: number;
  querySeed: number;
  datasetId: string;
  /** CDCs trained (fewer than the ensemble size when every query was rejected early). */
  members: number;
  disagreementRate: number;
  meanEntropy: number;
  perExampleEntropy: number[];
  analysisId: string;
}

type Trial = TrialOutcome | { failed: string } | { notImplemented: string };

const runCheckpoint = (runId: string): CheckpointRef => ({
  source: { $case: 'run', value: { runId, step: 0 } },
});

/** The seed of a trial's query set: distinct for every (kind, trial). */
export function querySeedOf(kind: QueryKind, trial: number): number {
  return (kind === 'shifted' ? 100_000 : 0) + trial + 1;
}

/** CDC k of a trial: the base run's spec, initialised from it, with the disagreement objective. */
export function cdcRunSpec(
  base: CellRecord,
  options: {
    queryDatasetId: string;
    querySize: number;
    querySeed: number;
    excluded: readonly number[];
    member: number;
    epochs: number;
  },
): RunSpec {
  const parent = base.runSpec;
  return RunSpec.fromPartial({
    ...parent,
    dataset: { datasetId: base.datasetId },
    seed: parent.seed + 1 + options.member,
    initFrom: runCheckpoint(base.runId),
    disagreement: {
      base: runCheckpoint(base.runId),
      query: { datasetId: options.queryDatasetId },
      querySplit: Split.SPLIT_TEST,
      querySize: options.querySize,
      shuffleQuery: true,
      querySeed: options.querySeed,
      excludedQueryIndices: [...options.excluded],
    },
    stop: { maxEpochs: options.epochs },
    metrics: { ...parent.metrics, perExampleCorrectness: false, fullGradientNorm: false, trajectoryEvery: 0 },
    checkpoints: undefined,
    teacher: undefined,
    reconstruction: undefined,
  });
}

const mean = (xs: readonly number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : Number.NaN);

export async function shiftDetection(
  deps: ExperimentAnalysisDeps,
  index: number,
  shift: ShiftDetection,
  signal: AbortSignal,
): Promise<void> {
  const name = `experiment/shiftDetection${index}`;
  const [base] = deps.store
    .cells(deps.experimentId)
    .filter((c) => c.role === 'cell' && c.state === 'SUCCEEDED' && c.runId);
  if (!base) {
    deps.runner.skip(name, '', 'shift detection needs a succeeded base run', RpcCode.FAILED_PRECONDITION);
    return;
  }
  if (!base.datasetSpec) {
    deps.runner.skip(
      name,
      '',
      'shift detection needs a generated dataset (not a stored one) to shift',
      RpcCode.FAILED_PRECONDITION,
    );
    return;
  }
  const api = deps.analysis;
  if (!api) {
    deps.runner.skip(
      name,
      '',
      'no analysis service configured (GENGAP_ANALYSIS_ADDRESS)',
      RpcCode.UNAVAILABLE,
    );
    return;
  }
  const shiftedSpec: DatasetSpec = {
    ...base.datasetSpec,
    corruptions: [
      ...base.datasetSpec.corruptions,
      {
        kind: {
          $case: 'covariateShift',
          value: shift.shift ?? { kind: 0, severity: 0, classes: [], splits: 0 },
        },
      },
    ],
  };
  const shiftedId = await deps.datasets.ensure(shiftedSpec, signal);
  const testSize = async (datasetId: string) =>
    Number((await deps.datasets.manifest(datasetId, signal)).test?.numExamples ?? 0);
  const sizes: Record<QueryKind, number> = {
    'in-distribution': await testSize(base.datasetId),
    shifted: await testSize(shiftedId),
  };
  const trials = shift.trials || 10;
  const significance = shift.significance || 0.05;
  const ensembleSize = Math.max(1, shift.ensembleSize);
  const epochs = shift.finetuneEpochs || base.runSpec.stop?.maxEpochs || 1;
  const querySize = shift.querySize;
  const tooSmall = (Object.entries(sizes) as [QueryKind, number][]).find(([, n]) => n < querySize);
  if (tooSmall) {
    deps.runner.skip(
      name,
      '',
      `the ${tooSmall[0]} test split has ${tooSmall[1]} examples, fewer than query_size ${querySize}`,
      RpcCode.FAILED_PRECONDITION,
    );
    return;
  }

  const runTrial = async (kind: QueryKind, t: number): Promise<Trial> => {
    const datasetId = kind === 'shifted' ? shiftedId : base.datasetId;
    const querySeed = querySeedOf(kind, t);
    const selection = querySelection({
      count: sizes[kind],
      size: querySize,
      shuffle: true,
      seed: querySeed,
      split: Split.SPLIT_TEST,
    });
    const members: CheckpointRef[] = [];
    let excluded: number[] = [];
    let last: { result: EnsembleDisagreementResult; analysisId: string } | undefined;
    for (let k = 0; k < ensembleSize && excluded.length < selection.length; k++) {
      const cell: NewCell = {
        cellId: hashJson({ base: base.cellId, shiftDetection: index, query: kind, trial: t, member: k }, 16),
        index: (index + 1) * 1_000_000 + (kind === 'shifted' ? 500_000 : 0) + t * 100 + k,
        role: 'cdc',
        parentCellId: base.cellId,
        label: `CDC ${k + 1} on ${kind} query set ${t + 1}`,
        parameters: {
          ...base.parameters,
          query: JSON.stringify(kind),
          trial: String(t),
          member: String(k),
        },
        seed: base.seed,
        datasetSpec: undefined,
        runSpec: cdcRunSpec(base, {
          queryDatasetId: datasetId,
          querySize,
          querySeed,
          excluded,
          member: k,
          epochs,
        }),
        analyses: [],
      };
      const [cdc] = await deps.runCells([cell], signal);
      if (cdc?.state !== 'SUCCEEDED') return { failed: `CDC ${k + 1} ${cdc?.state.toLowerCase()}` };
      members.push(runCheckpoint(cdc.runId));
      const spec: AnalysisSpec = {
        checkpoint: runCheckpoint(base.runId),
        dataset: { datasetId },
        split: Split.SPLIT_TEST,
        numExamples: querySize,
        shuffleExamples: true,
        seed: querySeed,
        threads: 0,
        precision: 0,
        device: 0,
        kind: { $case: 'ensembleDisagreement', value: { members: [...members] } },
      };
      const record = await deps.runner.run(`${name}/${kind}/${t}/cdc${k + 1}`, '', spec, signal);
      if (record.note.startsWith(NOT_IMPLEMENTED_NOTE)) return { notImplemented: record.note };
      if (record.state !== 'SUCCEEDED')
        return { failed: `ensemble disagreement: ${record.note || record.state}` };
      const kindOf = (await api.getAnalysis(record.analysisId, signal)).analysis?.result?.kind;
      if (kindOf?.$case !== 'ensembleDisagreement')
        return { failed: 'ensemble disagreement without a result' };
      last = { result: kindOf.value, analysisId: record.analysisId };
      // Positions in the analysed (shuffled) order -> indices into the split, for the next CDC.
      excluded = kindOf.value.rejectedIndices.map((position) => selection[position] as number);
    }
    if (!last) return { failed: 'no CDC was trained' };
    return {
      query: kind,
      trial: t,
      querySeed,
      datasetId,
      members: members.length,
      disagreementRate: last.result.disagreementRate,
      meanEntropy: last.result.meanEntropy,
      perExampleEntropy: last.result.perExampleEntropy,
      analysisId: last.analysisId,
    };
  };

  const kinds: QueryKind[] = ['in-distribution', 'shifted'];
  const outcomes = await Promise.all(
    kinds.flatMap((kind) => Array.from({ length: trials }, (_, t) => runTrial(kind, t))),
  );
  const notImplemented = outcomes.find((o): o is { notImplemented: string } => 'notImplemented' in o);
  if (notImplemented) {
    deps.runner.skip(name, '', notImplemented.notImplemented);
    return;
  }
  const failures = outcomes.filter((o): o is { failed: string } => 'failed' in o).map((o) => o.failed);
  const done = outcomes.filter((o): o is TrialOutcome => 'disagreementRate' in o);
  const nulls = done.filter((o) => o.query === 'in-distribution');
  const shifted = done.filter((o) => o.query === 'shifted');
  const rates = (os: TrialOutcome[]) => os.map((o) => o.disagreementRate);
  const entropies = (os: TrialOutcome[]) => os.map((o) => o.perExampleEntropy);
  const power = disagreementTest(rates(nulls), rates(shifted), significance);
  const falsePositives = disagreementFalsePositives(rates(nulls), significance);
  const entropyPower = entropyTest(entropies(nulls), entropies(shifted), significance);
  const entropyFalsePositive = entropyFalsePositives(entropies(nulls), significance);
  const pValueOf = (o: TrialOutcome) =>
    o.query === 'shifted' ? power.pValues[shifted.indexOf(o)] : falsePositives.pValues[nulls.indexOf(o)];
  const entropyPValueOf = (o: TrialOutcome) =>
    o.query === 'shifted'
      ? entropyPower.pValues[shifted.indexOf(o)]
      : entropyFalsePositive.pValues[nulls.indexOf(o)];
  const resolution = smallestPValue(Math.max(0, nulls.length - 1));
  const fixed = (x: number) => (Number.isFinite(x) ? x.toFixed(2) : 'n/a');
  const note =
    `Detectron, ${ensembleSize} CDCs per query set of ${querySize} (${epochs} epochs each): ` +
    `disagreement test power ${fixed(power.rejectionRate)} over ${shifted.length} shifted trials, ` +
    `false-positive rate ${fixed(falsePositives.rejectionRate)} over ${nulls.length} in-distribution trials at significance ${significance}; ` +
    `entropy test power ${fixed(entropyPower.rejectionRate)}, false-positive rate ${fixed(entropyFalsePositive.rejectionRate)}; ` +
    `mean disagreement ${mean(rates(nulls)).toFixed(3)} in distribution, ${mean(rates(shifted)).toFixed(3)} shifted` +
    (resolution > significance
      ? ` (with ${nulls.length} null trials no leave-one-out p-value is below ${resolution.toFixed(3)} > ${significance}: run more trials)`
      : '') +
    (failures.length ? `; ${failures.length} trials failed (${failures.slice(0, 3).join('; ')})` : '');
  deps.runner.record(name, {
    cellId: '',
    state: nulls.length > 1 && shifted.length > 0 ? 'SUCCEEDED' : 'FAILED',
    note,
    resultJson: JSON.stringify({
      statistic: 'disagreementRate',
      significance,
      ensembleSize,
      querySize,
      trials,
      finetuneEpochs: epochs,
      baseRunId: base.runId,
      shiftedDatasetId: shiftedId,
      disagreement: {
        nulls: rates(nulls),
        shifted: rates(shifted),
        pValues: power.pValues,
        power: power.rejectionRate,
        nullPValues: falsePositives.pValues,
        falsePositiveRate: falsePositives.rejectionRate,
      },
      entropy: {
        pValues: entropyPower.pValues,
        power: entropyPower.rejectionRate,
        nullPValues: entropyFalsePositive.pValues,
        falsePositiveRate: entropyFalsePositive.rejectionRate,
      },
      perTrial: done.map((o) => ({
        query: o.query,
        trial: o.trial,
        querySeed: o.querySeed,
        datasetId: o.datasetId,
        members: o.members,
        disagreementRate: o.disagreementRate,
        meanEntropy: o.meanEntropy,
        pValue: pValueOf(o),
        entropyPValue: entropyPValueOf(o),
        analysisId: o.analysisId,
      })),
      failures,
    }),
  });
  deps.store.addNote(deps.experimentId, `Shift detection ${index + 1}: ${note}.`);
}
