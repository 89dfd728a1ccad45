// A realistic ReportInput for tests, built without training: a Zhang et al. style sweep of the
// label-noise fraction (0..1) over two seeds on a 10-class dataset, where train accuracy reaches
// 100% later as the fraction grows and test accuracy falls to chance, plus one result of every
// analysis kind the report draws.
import { crc32, deflateSync } from 'node:zlib';
import { type Analysis, AnalysisResult, AnalysisSpec } from '@gengap/proto/analysis/v1/analysis';
import { JobState, type JobStatus } from '@gengap/proto/common/v1/job';
import {
  Experiment,
  type ExperimentAnalysisRef,
  ExperimentRun,
  ExperimentSpec,
  SweepAxis,
  SweepMode,
} from '@gengap/proto/coordinator/v1/experiment';
import { DatasetManifest, DatasetSpec, SplitStatistics } from '@gengap/proto/data/v1/dataset';
import {
  type EpochMetrics,
  RunSummary,
  type StepMetrics,
  type TimeToFit,
} from '@gengap/proto/trainer/v1/run';
import type { DatasetSample, ReportInput, RunRecord } from '../src/reports/report-input.ts';

export const fractions = [0, 0.2, 0.4, 0.6, 0.8, 1];
export const seeds = [0, 1];
export const numClasses = 10;
export const maxEpochs = 60;

/** Grey-scale PNG of `width` x `height` from a pixel function (0..255). */
export function grayPng(width: number, height: number, pixel: (x: number, y: number) => number): Uint8Array {
  const raw = Buffer.alloc((width + 1) * height);
  for (let y = 0; y < height; y++) {
    raw[y * (width + 1)] = 0;
    for (let x = 0; x < width; x++) raw[y * (width + 1) + 1 + x] = pixel(x, y) & 255;
  }
  const chunk = (type: string, data: Buffer) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    return Buffer.concat([len, body, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8;
  ihdr[9] = 0;
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(raw)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

function status(state: JobState): JobStatus {
  return {
    state,
    progress: state === JobState.JOB_STATE_SUCCEEDED ? 1 : 0.5,
    phase: '',
    error: undefined,
    createdAt: new Date('2026-11-02T10:00:00Z'),
    startedAt: new Date('2026-11-02T10:00:01Z'),
    finishedAt: state === JobState.JOB_STATE_SUCCEEDED ? new Date('2026-11-02T10:05:00Z') : undefined,
    attempt: 1,
  };
}

/** Epoch of 100% train accuracy: true labels fit fast, random labels take several times longer. */
export function expectedTimeToFit(fraction: number, seed: number): number {
  return Math.round(6 + 34 * fraction) + seed;
}

/** Final test accuracy: 0.97 on true labels, chance (0.1) on random labels. */
export function expectedTestAccuracy(fraction: number, seed: number): number {
  return 0.97 * (1 - fraction) + 0.1 * fraction - 0.003 * seed;
}

function runRecord(fraction: number, seed: number, index: number): RunRecord {
  const fit = expectedTimeToFit(fraction, seed);
  const finalTest = expectedTestAccuracy(fraction, seed);
  const stopEpoch = fit + 2;
  const epochs: EpochMetrics[] = [];
  const steps: StepMetrics[] = [];
  const stepsPerEpoch = 40;
  for (let e = 1; e <= stopEpoch; e++) {
    const progress = Math.min(1, e / fit);
    const trainAccuracy = e >= fit ? 1 : 0.1 + 0.88 * progress ** (1 + 2 * fraction);
    const trainLoss = Math.max(1e-3, 2.3 * (1 - progress) ** 2 + 0.002);
    const testAccuracy = 0.1 + (finalTest - 0.1) * Math.min(1, (e / Math.max(1, fit * 0.6)) ** 0.5);
    epochs.push({
      step: e * stepsPerEpoch,
      epoch: e,
      trainLoss,
      trainAccuracy,
      testLoss: 2.3 - 1.9 * (testAccuracy - 0.1) + fraction * 0.05 * e,
      testAccuracy,
      parameterNorm: 20 + e * (0.2 + fraction),
      wallSeconds: e * 1.5,
      fullGradientNormSquared: 0,
    });
    for (let s = 0; s < stepsPerEpoch; s += 10) {
      steps.push({
        step: (e - 1) * stepsPerEpoch + s,
        epoch: e - 1 + s / stepsPerEpoch,
        loss: trainLoss * (1 + 0.1 * Math.sin(s + e)),
        learningRate: 0.01,
        gradientNorm: 1,
        batchAccuracy: trainAccuracy,
      });
    }
  }
  const timeToFit: TimeToFit = {
    reached: true,
    step: fit * stepsPerEpoch,
    epoch: fit,
    wallSeconds: fit * 1.5,
  };
  const last = epochs[epochs.length - 1] as EpochMetrics;
  const run = ExperimentRun.fromPartial({
    cellId: `cell${index.toString().padStart(2, '0')}`,
    label: `fraction=${fraction}`,
    parameters: { fraction: JSON.stringify(fraction) },
    seed,
    datasetId: `ds-fraction-${fraction}`,
    runId: `run-${index}`,
    status: status(JobState.JOB_STATE_SUCCEEDED),
    summary: RunSummary.fromPartial({
      steps: last.step,
      epochs: last.epoch,
      finalTrainLoss: last.trainLoss,
      finalTrainAccuracy: 1,
      finalTestLoss: last.testLoss,
      finalTestAccuracy: finalTest,
      timeToFit,
      wallSeconds: last.wallSeconds,
      numParameters: 1_707_274,
      samplesPerSecond: 50_000,
      stopReason: 'target_train_accuracy',
    }),
    analyses: [
      { name: 'hessian', analysisId: `an-hess-${index}`, status: status(JobState.JOB_STATE_SUCCEEDED) },
      { name: 'sharpness', analysisId: `an-sharp-${index}`, status: status(JobState.JOB_STATE_SUCCEEDED) },
      { name: 'density', analysisId: `an-dens-${index}`, status: status(JobState.JOB_STATE_SUCCEEDED) },
    ],
    attempts: 1,
  });
  return { run, epochs, steps, timeToFit };
}

function analysis(id: string, spec: Partial<AnalysisSpec>, result: Partial<AnalysisResult>): Analysis {
  return {
    analysisId: id,
    spec: AnalysisSpec.fromPartial(spec),
    status: status(JobState.JOB_STATE_SUCCEEDED),
    labels: {},
    result: AnalysisResult.fromPartial(result),
  };
}

function analysesFor(records: RunRecord[]): Analysis[] {
  const out: Analysis[] = [];
  records.forEach((r, i) => {
    const p = JSON.parse(r.run.parameters.fraction as string) as number;
    out.push(
      analysis(
        `an-hess-${i}`,
        { kind: { $case: 'hessianEigen', value: { topK: 5 } as never } },
        {
          kind: {
            $case: 'hessianEigen',
            value: {
              blocks: [
                {
                  block: '',
                  eigenvalues: [40 + 80 * p, 22 + 30 * p, 15 + 9 * p, 11, 8.5].map((v) => v + i * 0.1),
                  residualNorms: [1e-6, 1e-6, 2e-6, 3e-6, 5e-6],
                  iterations: 30,
                  hvpCalls: 30,
                  eigenvectorArtifacts: [],
                  converged: true,
                },
              ],
            },
          },
        },
      ),
      analysis(
        `an-sharp-${i}`,
        { kind: { $case: 'sharpness', value: { epsilon: 1e-3 } as never } },
        {
          kind: {
            $case: 'sharpness',
            value: {
              sharpness: 3 + 40 * p,
              baseLoss: 0.002,
              maxLoss: 0.05 + p,
              iterations: 20,
              subspaceDimension: 0,
              restartMaxLosses: [],
              fractionAtBound: 0,
            },
          },
        },
      ),
    );
    const grid = Array.from({ length: 60 }, (_, k) => -5 + k * 2.5);
    out.push(
      analysis(
        `an-dens-${i}`,
        { kind: { $case: 'spectralDensity', value: {} as never } },
        {
          kind: {
            $case: 'spectralDensity',
            value: {
              blocks: [
                {
                  block: '',
                  grid,
                  density: grid.map(
                    (x) => Math.exp(-(x * x) / 4) + 0.01 * Math.exp(-((x - 40 - 60 * p) ** 2) / 30),
                  ),
                  nodes: [],
                  weights: [],
                  firstMoment: 0.1,
                  secondMoment: 10,
                  firstMomentStandardError: 0.01,
                  secondMomentStandardError: 1,
                },
              ],
            },
          },
        },
      ),
    );
  });
  // Experiment-level: 1-D interpolation between the true-label and the random-label solution.
  const alphas = Array.from({ length: 25 }, (_, k) => -0.5 + (2 * k) / 24);
  out.push(
    analysis(
      'an-interp',
      { kind: { $case: 'interpolation', value: { numPoints: 25 } as never } },
      {
        kind: {
          $case: 'landscape',
          value: {
            points: alphas.map((alpha) => ({
              alpha,
              beta: 0,
              trainLoss:
                0.05 +
                2 * Math.sin(Math.PI * Math.min(1, Math.max(0, alpha))) ** 2 +
                Math.abs(Math.min(0, alpha)),
              trainAccuracy: 1 - 0.8 * Math.sin(Math.PI * Math.min(1, Math.max(0, alpha))) ** 2,
              testLoss: 0.2 + 2 * alpha ** 2,
              testAccuracy: 0.97 - 0.85 * Math.min(1, Math.abs(alpha)),
            })),
          },
        },
      },
    ),
  );
  return out;
}

const ok = (
  id: string,
  name: string,
  kind: Partial<AnalysisSpec>['kind'],
  result: Partial<AnalysisResult>,
): { ref: ExperimentAnalysisRef; analysis: Analysis } => ({
  ref: { name, analysisId: id, status: status(JobState.JOB_STATE_SUCCEEDED), summaryJson: '' },
  analysis: analysis(id, { kind }, result),
});

/**
 * One result of every other analysis kind, attached to the first runs, plus a Hessian trace measured
 * at several checkpoints, a result drawn only from the service's plot spec, and a failed analysis.
 */
export function withEveryAnalysisKind(input: ReportInput): ReportInput {
  const runs = input.runs;
  const r0 = runs[0] as RunRecord;
  const r1 = runs[runs.length - 1] as RunRecord;
  const series = (name: string, n: number, f: (i: number) => number) => ({
    name,
    x: Array.from({ length: n }, (_, i) => i),
    y: Array.from({ length: n }, (_, i) => f(i)),
  });
  const perRun: [RunRecord, ReturnType<typeof ok>][] = [];
  for (const [k, r] of [r0, r1].entries()) {
    const p = k;
    perRun.push(
      [
        r,
        ok(
          `x-trace-${k}`,
          'trace',
          { $case: 'hessianTrace', value: {} as never },
          {
            kind: {
              $case: 'hessianTrace',
              value: {
                blocks: [
                  { block: '', trace: 300 + 900 * p, standardError: 12, queries: 100, sketchRank: 33 },
                ],
              },
            },
          },
        ),
      ],
      [
        r,
        ok(
          `x-gap-${k}`,
          'gap',
          { $case: 'generalizationGap', value: {} },
          {
            kind: {
              $case: 'generalizationGap',
              value: {
                trainLoss: 0.01,
                trainAccuracy: 1,
                testLoss: 0.2 + 4 * p,
                testAccuracy: 0.97 - 0.87 * p,
                lossGap: 0.19 + 4 * p,
                accuracyGap: 0.03 + 0.87 * p,
              },
            },
          },
        ),
      ],
      [
        r,
        ok(
          `x-inv-${k}`,
          'inversion',
          { $case: 'inversion', value: {} as never },
          {
            kind: {
              $case: 'inversion',
              value: {
                layers: [0, 1, 2].map((l) => ({
                  layer: l,
                  layerName: `dense${l}`,
                  reconstructionMse: 0.01 * (l + 1) * (1 + p),
                  embeddingLoss: 1e-4,
                  pngArtifact: `inversion-layer${l}.png`,
                })),
                initialLayers: [],
              },
            },
            artifacts: ['inversion-layer0.png'],
          },
        ),
      ],
      [
        r,
        ok(
          `x-sens-${k}`,
          'sensitivity',
          { $case: 'inputSensitivity', value: {} as never },
          {
            kind: {
              $case: 'inputSensitivity',
              value: {
                lossGradientNorms: [0.1, 0.2],
                jacobianNorms: [1, 2],
                meanLossGradientNorm: 0.15 + p,
                meanJacobianNorm: 1.5 + 3 * p,
                histogram: series('h', 40, (i) => Math.exp(-((i - 10 - 15 * p) ** 2) / 20) * 100),
                // No subspace basis asked for: no along/transverse split.
                alongJacobianNorms: [],
                transverseJacobianNorms: [],
                meanAlongJacobianNorm: 0,
                meanTransverseJacobianNorm: 0,
              },
            },
          },
        ),
      ],
      [
        r,
        ok(
          `x-fgsm-${k}`,
          'fgsm',
          { $case: 'attack', value: {} as never },
          {
            kind: {
              $case: 'attack',
              value: {
                successRate: 0.3 + 0.5 * p,
                cleanAccuracy: 0.97,
                adversarialAccuracy: 0.6,
                meanPerturbationLinf: 0.1,
                meanPerturbationL2: 2,
                meanFeaturesChanged: 300,
                meanInputGradientNorm: 0.5,
                medianInputGradientNorm: 0.4,
                meanLossIncrease: 1.2,
              },
            },
          },
        ),
      ],
      [
        r,
        ok(
          `x-csr-${k}`,
          'csr',
          { $case: 'criticalSampleRatio', value: {} as never },
          {
            kind: {
              $case: 'criticalSampleRatio',
              value: { ratio: 0.05 + 0.3 * p, critical: 5 + 30 * p, examined: 100 },
            },
          },
        ),
      ],
      [
        r,
        ok(
          `x-attr-${k}`,
          'occlusion',
          { $case: 'attribution', value: {} as never },
          {
            kind: {
              $case: 'attribution',
              value: {
                perElement: Array.from({ length: 784 }, (_, i) =>
                  Math.exp(-(((i % 28) - 14) ** 2 + (Math.floor(i / 28) - 14) ** 2) / 40),
                ),
                perField: [],
                fieldNames: [],
              },
            },
          },
        ),
      ],
      [
        r,
        ok(
          `x-tab-${k}`,
          'tabular-attribution',
          { $case: 'attribution', value: {} as never },
          {
            kind: {
              $case: 'attribution',
              value: {
                perElement: [],
                perField: [0.5, 0.2, 0.1 + p],
                fieldNames: ['education', 'age', 'sex'],
              },
            },
          },
        ),
      ],
      [
        r,
        ok(
          `x-parity-${k}`,
          'parity',
          { $case: 'parityProgress', value: {} as never },
          {
            kind: {
              $case: 'parityProgress',
              value: {
                points: Array.from({ length: 30 }, (_, i) => ({
                  step: i * 100,
                  relevantWeightMass: i / 30,
                  irrelevantWeightMass: 1 - i / 30,
                  fourierCoefficient: i > 20 ? 0.9 : 0.01 * i,
                  trainLoss: i > 20 ? 0.05 : 0.69,
                  testAccuracy: i > 20 ? 1 : 0.5,
                })),
              },
            },
          },
        ),
      ],
      [
        r,
        ok(
          `x-first-${k}`,
          'first-learned',
          { $case: 'firstLearned', value: {} },
          {
            kind: {
              $case: 'firstLearned',
              value: {
                firstLearnedEpoch: [1, 2, 3, -1],
                cleanCumulative: series('clean', 20, (i) => 1 - Math.exp(-i / 2)),
                corruptedCumulative: series('corrupted', 20, (i) => 1 - Math.exp(-i / 10)),
              },
            },
          },
        ),
      ],
      [
        r,
        ok(
          `x-probe-${k}`,
          'probe',
          { $case: 'linearProbe', value: {} as never },
          {
            kind: {
              $case: 'linearProbe',
              value: {
                layers: [0, 1, 2].map((l) => ({
                  layer: l,
                  trainAccuracy: 0.8 + 0.05 * l,
                  testAccuracy: 0.75 + 0.05 * l - 0.3 * p,
                })),
              },
            },
          },
        ),
      ],
      [
        r,
        ok(
          `x-ens-${k}`,
          'ensemble',
          { $case: 'ensembleDisagreement', value: {} as never },
          {
            kind: {
              $case: 'ensembleDisagreement',
              value: {
                disagreementRate: 0.1 + 0.4 * p,
                meanEntropy: 0.3,
                perExampleEntropy: [0.1, 0.5],
                rejectedIndices: [1],
              },
            },
          },
        ),
      ],
      [
        r,
        ok(
          `x-rescale-${k}`,
          'rescale',
          { $case: 'rescale', value: {} as never },
          {
            kind: {
              $case: 'rescale',
              value: { maxOutputDifference: 3e-7, artifact: 'rescaled.safetensors' },
            },
          },
        ),
      ],
      [
        r,
        ok(
          `x-slice-${k}`,
          'slice2d',
          { $case: 'randomSlice', value: {} as never },
          {
            kind: {
              $case: 'landscape',
              value: {
                points: Array.from({ length: 49 }, (_, i) => ({
                  alpha: -1 + (i % 7) / 3,
                  beta: -1 + Math.floor(i / 7) / 3,
                  trainLoss: 0.01 + ((i % 7) / 3 - 1) ** 2 + (Math.floor(i / 7) / 3 - 1) ** 2,
                  trainAccuracy: 1,
                  testLoss: 1,
                  testAccuracy: 0.9,
                })),
              },
            },
          },
        ),
      ],
    );
  }
  // Measured at three checkpoints of two runs (timing EVERY_K_EPOCHS).
  for (const [k, r] of [r0, r1].entries())
    for (const step of [100, 200, 300]) {
      const a = analysis(
        `x-sharp-t-${k}-${step}`,
        {
          checkpoint: { source: { $case: 'run', value: { runId: r.run.runId, step } } },
          kind: { $case: 'sharpness', value: {} as never },
        },
        {
          kind: {
            $case: 'sharpness',
            value: {
              sharpness: step / 10 + 20 * k,
              baseLoss: 0.1,
              maxLoss: 0.3,
              iterations: 20,
              subspaceDimension: 10,
              restartMaxLosses: [],
              fractionAtBound: 0,
            },
          },
        },
      );
      perRun.push([
        r,
        {
          ref: {
            name: 'sharpness-during-training',
            analysisId: a.analysisId,
            status: a.status,
            summaryJson: '',
          },
          analysis: a,
        },
      ]);
    }
  const experimentLevel = [
    ok(
      'x-stab',
      'stability',
      { $case: 'stability', value: {} as never },
      {
        kind: {
          $case: 'stability',
          value: {
            points: Array.from({ length: 10 }, (_, i) => ({
              step: i * 40,
              epoch: i,
              parameterDistance: 0.1 * i,
              normalizedDistance: 0.01 * i,
              trainLossGap: 0.001 * i,
              testLossGap: 0.002 * i,
            })),
          },
        },
      },
    ),
    ok(
      'x-late',
      'late',
      { $case: 'lateTrainingStatistics', value: {} as never },
      {
        kind: {
          $case: 'lateTrainingStatistics',
          value: {
            runs: runs.slice(0, 4).map((r, i) => ({
              runId: r.run.runId,
              meanLoss: 0.1 + 0.01 * i,
              lossVariance: 1e-4,
              meanTestLoss: 0.3,
            })),
            meanAcrossRuns: 0.115,
            varianceAcrossRuns: 2e-5,
          },
        },
      },
    ),
    ok(
      'x-traj',
      'trajectory',
      { $case: 'trajectory', value: {} as never },
      {
        kind: {
          $case: 'trajectory',
          value: {
            runs: runs.map((r, i) => ({
              runId: r.run.runId,
              hurstRescaledRange: 0.5 + 0.02 * i,
              hurstVariogram: 0.48 + 0.02 * i,
              tailIndex: 1.9 - 0.05 * i,
              generalizationGap: 0.02 + 0.07 * i,
            })),
            correlationHurstGap: 0.93,
            correlationTailIndexGap: -0.9,
            correlationVariogramGap: 0.7,
          },
        },
      },
    ),
    ok('x-plot', 'service-plot', undefined, {
      plotSpecJson: JSON.stringify({
        title: 'A service chart',
        data: {
          values: [
            { a: 1, b: 2 },
            { a: 2, b: 3 },
          ],
        },
        mark: 'bar',
        encoding: { x: { field: 'a', type: 'ordinal' }, y: { field: 'b', type: 'quantitative' } },
      }),
    }),
  ];
  const failed: Analysis = {
    analysisId: 'x-failed',
    spec: AnalysisSpec.fromPartial({ kind: { $case: 'hessianEigen', value: {} as never } }),
    status: {
      ...status(JobState.JOB_STATE_FAILED),
      error: { code: 13, message: 'Lanczos did not converge', field: '', step: 0 },
    },
    labels: {},
    result: undefined,
  };
  for (const [r, { ref }] of perRun) r.run.analyses.push(ref);
  r0.run.analyses.push({
    name: 'broken',
    analysisId: failed.analysisId,
    status: failed.status,
    summaryJson: '',
  });
  input.experiment.experimentAnalyses.push(...experimentLevel.map((e) => e.ref));
  return {
    ...input,
    experiment: { ...input.experiment, runs: runs.map((r) => r.run) },
    analyses: [
      ...input.analyses,
      ...perRun.map(([, a]) => a.analysis),
      ...experimentLevel.map((e) => e.analysis),
      failed,
    ],
    artifacts: [
      {
        analysisId: 'x-inv-0',
        name: 'inversion-layer0.png',
        bytes: grayPng(8 * 28, 2 * 28, (x, y) => (x * 3 + y * 5) % 256),
      },
    ],
  };
}

function datasetSample(fraction: number): DatasetSample {
  const spec = DatasetSpec.fromPartial({
    source: { $case: 'mnist', value: { scaling: 1, flatten: true } },
    corruptions:
      fraction > 0
        ? [{ kind: { $case: 'labelNoise', value: { fraction, splits: 0, exactAndAlwaysWrong: false } } }]
        : [],
    seed: 7,
  });
  const split = (n: number, corrupted: number) =>
    SplitStatistics.fromPartial({
      numExamples: n,
      inputShape: [784],
      classCounts: Array(10).fill(n / 10),
      inputMean: 0.13,
      inputStd: 0.31,
      labelCorruptionFraction: corrupted,
    });
  return {
    datasetId: `ds-fraction-${fraction}`,
    manifest: DatasetManifest.fromPartial({
      datasetId: `ds-fraction-${fraction}`,
      spec,
      numClasses,
      train: split(5000, fraction * 0.9),
      test: split(1000, 0),
    }),
    png: grayPng(
      8 * 28,
      2 * 28,
      (x, y) => ((Math.floor(x / 4) + Math.floor(y / 4)) % 2) * 200 + fraction * 50,
    ),
  };
}

export function syntheticReportInput(): ReportInput {
  const runs: RunRecord[] = [];
  let index = 0;
  for (const fraction of fractions) for (const seed of seeds) runs.push(runRecord(fraction, seed, index++));
  const spec = ExperimentSpec.fromPartial({
    name: 'zhang2017',
    description: 'Fitting random labels: label-noise fraction swept from 0 to 1.',
    sweeps: [
      {
        mode: SweepMode.SWEEP_MODE_GRID,
        axes: [
          SweepAxis.fromPartial({ path: 'dataset.corruptions[0].labelNoise.fraction', values: fractions }),
        ],
      },
    ],
    seeds,
  });
  const experiment = Experiment.fromPartial({
    experimentId: 'exp-zhang2017-synthetic',
    spec,
    status: status(JobState.JOB_STATE_SUCCEEDED),
    runs: runs.map((r) => r.run),
    experimentAnalyses: [
      { name: 'interpolation', analysisId: 'an-interp', status: status(JobState.JOB_STATE_SUCCEEDED) },
    ],
    preset: 'zhang2017/quick',
  });
  return {
    experiment,
    runs,
    analyses: analysesFor(runs),
    datasets: fractions.map(datasetSample),
    notes: ['analysis "critical_sample_ratio" is not implemented yet; the preset runs without it'],
    generatedAt: new Date('2026-11-02T10:06:00Z'),
  };
}
