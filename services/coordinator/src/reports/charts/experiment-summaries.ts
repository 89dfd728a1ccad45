// Sections for the experiment analyses the coordinator computes itself, from their summary_json
// (ExperimentAnalysisRef): Detectron's shift detection (power and false-positive rate of both tests,
// every trial's statistic and p-value) and greedy layer-wise pre-training (test error of the
// pre-trained and from-scratch arms, reconstruction error per layer).
import type { ExperimentAnalysisRef } from '@gengap/proto/coordinator/v1/experiment';
import { type ChartDraft, chartDraft, fileStem } from '../chart-draft.ts';
import type { Row } from '../csv.ts';
import type { ReportContext } from '../report-context.ts';
import { type ReportSection, section } from '../report-section.ts';
import type { ReportTable } from '../run-tables.ts';

interface ShiftTrial {
  query: string;
  trial: number;
  members: number;
  disagreementRate: number;
  meanEntropy: number;
  pValue: number;
  entropyPValue: number;
}

interface ShiftSummary {
  significance: number;
  ensembleSize: number;
  querySize: number;
  finetuneEpochs: number;
  disagreement: { power: number; falsePositiveRate: number; nulls: number[]; shifted: number[] };
  entropy: { power: number; falsePositiveRate: number };
  perTrial: ShiftTrial[];
}

interface ArmStatistics {
  n: number;
  mean: number;
  std: number;
}

interface PretrainSummary {
  arms: { group: Record<string, string>; scratch: ArmStatistics; pretrained: ArmStatistics }[];
  stages: {
    layer: number;
    state: string;
    finalTrainReconstructionMse: number | null;
    finalTestReconstructionMse: number | null;
  }[];
}

function shiftDetectionSection(ref: ExperimentAnalysisRef, s: ShiftSummary): ReportSection {
  const stem = fileStem(ref.name);
  const tests: ReportTable = {
    id: `${stem}-tests`,
    title: 'Detection power and false-positive rate',
    caption: `At significance ${s.significance}: power = shifted query sets rejected; false-positive rate = in-distribution query sets rejected when each is tested against the others.`,
    columns: [
      { field: 'test', header: 'test' },
      { field: 'power', header: 'power', format: 'fixed3' },
      { field: 'false_positive_rate', header: 'false-positive rate', format: 'fixed3' },
      { field: 'shifted_trials', header: 'shifted trials' },
      { field: 'null_trials', header: 'in-distribution trials' },
    ],
    rows: [
      {
        test: 'disagreement rate',
        power: s.disagreement.power,
        false_positive_rate: s.disagreement.falsePositiveRate,
      },
      { test: 'entropy (KS)', power: s.entropy.power, false_positive_rate: s.entropy.falsePositiveRate },
    ].map((r) => ({
      ...r,
      shifted_trials: s.disagreement.shifted.length,
      null_trials: s.disagreement.nulls.length,
    })),
  };
  const rows: Row[] = s.perTrial.map((t) => ({
    query: t.query,
    trial: t.trial + 1,
    members: t.members,
    disagreement_rate: t.disagreementRate,
    mean_entropy: t.meanEntropy,
    p_value: t.pValue,
    entropy_p_value: t.entropyPValue,
    rejected: t.pValue <= s.significance,
  }));
  const trials: ReportTable = {
    id: `${stem}-trials`,
    title: 'Trials',
    caption:
      'Each query set: the CDC ensemble trained on it, its disagreement rate with the base model, the mean entropy of its mean prediction, and the p-values against the in-distribution trials.',
    columns: [
      { field: 'query', header: 'query set' },
      { field: 'trial', header: 'trial' },
      { field: 'members', header: 'CDCs' },
      { field: 'disagreement_rate', header: 'disagreement', format: 'fixed3' },
      { field: 'mean_entropy', header: 'mean entropy', format: 'fixed3' },
      { field: 'p_value', header: 'p (disagreement)', format: 'fixed3' },
      { field: 'entropy_p_value', header: 'p (entropy)', format: 'fixed3' },
    ],
    rows,
  };
  const chart: ChartDraft = chartDraft(
    `${stem}-statistics`,
    'Disagreement rate per query set',
    `The CDC ensemble's disagreement with the base model on each query set of ${s.querySize} examples (${s.ensembleSize} CDCs, ${s.finetuneEpochs} epochs each); filled points were rejected at significance ${s.significance}.`,
    rows,
    {
      width: 560,
      height: 260,
      mark: { type: 'point', size: 70, opacity: 0.9, strokeWidth: 2 },
      encoding: {
        x: { field: 'trial', type: 'quantitative', title: 'trial', axis: { tickMinStep: 1 } },
        y: {
          field: 'disagreement_rate',
          type: 'quantitative',
          title: 'disagreement rate',
          scale: { domain: [0, 1] },
        },
        color: { field: 'query', type: 'nominal', title: 'query set', sort: ['in-distribution', 'shifted'] },
        fill: {
          field: 'rejected',
          type: 'nominal',
          title: 'rejected',
          scale: { domain: [true, false], range: ['#333', 'white'] },
        },
      },
    },
  );
  return section(`experiment-${stem}`, `Shift detection (Detectron): ${ref.name}`, {
    intro: ref.status?.phase ?? '',
    charts: [chart],
    tables: [tests, trials],
  });
}

function pretrainingSection(ref: ExperimentAnalysisRef, s: PretrainSummary): ReportSection {
  const stem = fileStem(ref.name);
  const arms: ReportTable = {
    id: `${stem}-arms`,
    title: 'Test error: pre-trained vs from scratch',
    caption:
      'Final test error over seeds of the fine-tuned networks and of the same cells trained from their random initialisation.',
    columns: [
      { field: 'group', header: 'cell' },
      { field: 'arm', header: 'initialisation' },
      { field: 'runs', header: 'runs' },
      { field: 'mean', header: 'mean test error', format: 'percent' },
      { field: 'std', header: 'std', format: 'percent' },
    ],
    rows: s.arms.flatMap((a) =>
      (['pretrained', 'scratch'] as const).map((arm) => ({
        group: Object.values(a.group).join(', ') || 'all',
        arm,
        runs: a[arm].n,
        mean: a[arm].mean,
        std: a[arm].std,
      })),
    ),
  };
  const layers = [...new Set(s.stages.map((st) => st.layer))].sort((a, b) => a - b);
  const meanOf = (xs: (number | null)[]) => {
    const v = xs.filter((x): x is number => typeof x === 'number' && Number.isFinite(x));
    return v.length ? v.reduce((a, b) => a + b, 0) / v.length : null;
  };
  const stages: ReportTable = {
    id: `${stem}-stages`,
    title: 'Auto-encoder stages',
    caption:
      "Mean over seeds of each stage's final reconstruction error (mean squared error of the layer's input).",
    columns: [
      { field: 'layer', header: 'hidden layer' },
      { field: 'runs', header: 'runs' },
      { field: 'train_mse', header: 'train MSE', format: 'fixed3' },
      { field: 'test_mse', header: 'test MSE', format: 'fixed3' },
    ],
    rows: layers.map((layer) => {
      const of = s.stages.filter((st) => st.layer === layer && st.state === 'SUCCEEDED');
      return {
        layer: layer + 1,
        runs: of.length,
        train_mse: meanOf(of.map((st) => st.finalTrainReconstructionMse)),
        test_mse: meanOf(of.map((st) => st.finalTestReconstructionMse)),
      };
    }),
  };
  return section(`experiment-${stem}`, `Greedy layer-wise pre-training: ${ref.name}`, {
    intro: ref.status?.phase ?? '',
    tables: [arms, stages],
  });
}

export function experimentSummarySections(ctx: ReportContext): ReportSection[] {
  const sections: ReportSection[] = [];
  for (const ref of ctx.input.experiment.experimentAnalyses) {
    if (!ref.summaryJson) continue;
    let summary: unknown;
    try {
      summary = JSON.parse(ref.summaryJson);
    } catch {
      continue;
    }
    if (ref.name.startsWith('shiftDetection') && (summary as ShiftSummary).perTrial)
      sections.push(shiftDetectionSection(ref, summary as ShiftSummary));
    else if (ref.name.startsWith('pretrainFinetune') && (summary as PretrainSummary).arms)
      sections.push(pretrainingSection(ref, summary as PretrainSummary));
  }
  return sections;
}
