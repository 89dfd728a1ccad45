// A realistic ReportInput for tests, built without training: a Zhang et al. style sweep of the
// label-noise fraction (0..1) over two seeds on a 10-class dataset, where train accuracy reaches
// 100% later as the fraction grows and test accuracy falls to chance, plus one result of every
// analysis kind the report draws.
import { crc32, deflateSync } from 'node:zlib';
import { type Analysis, AnalysisResult, AnalysisSpec } from '@gengap/proto/analysis/v1/analysis';
import { JobState, type JobStatus } from '@gengap/proto/common/v1/job';
import {
  Experiment,
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
