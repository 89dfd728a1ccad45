// Part 1's analyses end to end against the real data service and trainer (started in-process on
// 127.0.0.1:0): two runs of the same MLP, seed and data order on a Gaussian-mixture dataset and on its
// neighbour that differs in one training example (ReplaceOne), with permanent checkpoints every epoch.
// Inputs travel over gRPC (GetRun, WatchRun, ReadParameters, GetDataset, ReadDataset); results come
// back through GetAnalysis and ReadAnalysisArtifact, and the trainer itself reads a rescaled checkpoint
// back through ReadAnalysisArtifact (init_from an analysis id).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { JobState } from '@gengap/proto/common/v1/job';
import type { DataServiceClient } from '@gengap/proto/data/v1/data_service';
import type { Run } from '@gengap/proto/trainer/v1/run';
import type { TrainerServiceClient } from '@gengap/proto/trainer/v1/trainer_service';
import { TrainerRunSource } from '../src/clients/trainer-client.ts';
import {
  createDataset,
  DeferredRunSource,
  type Handle,
  mlpRun,
  startDataService,
  startTrainer,
  trainRun,
} from './support/cluster.ts';
import {
  type AnalysisHandle,
  readArtifact,
  runCheckpoint,
  runOk,
  startAnalysis,
  tempDir,
} from './support/harness.ts';

let dir: ReturnType<typeof tempDir>;
let data: Handle<DataServiceClient>;
let trainer: Handle<TrainerServiceClient>;
let analysis: AnalysisHandle;
let trainerSource: TrainerRunSource;
let runA: Run;
let runB: Run;

before(async () => {
  dir = tempDir('analysis-e2e');
  data = await startDataService(`${dir.path}/data`);
  const runs = new DeferredRunSource();
  analysis = await startAnalysis({ stateDir: `${dir.path}/analysis`, runs, dataAddress: data.address });
  trainer = await startTrainer(`${dir.path}/trainer`, data.address, analysis.address);
  trainerSource = new TrainerRunSource(trainer.address);
  runs.target = trainerSource;
  const source = {
    $case: 'gaussianMixture' as const,
    value: { numClasses: 3, dimension: 8, trainSize: 512, testSize: 256, separation: 3, clusterStd: 1 },
  };
  const base = await createDataset(data, { source, seed: 5 });
  const neighbour = await createDataset(data, {
    source,
    seed: 5,
    corruptions: [{ kind: { $case: 'replaceOne', value: { index: 0, replacement: 0 } } }],
  });
  runA = await trainRun(trainer, mlpRun(base, 8, 3), 'run-a');
  runB = await trainRun(trainer, mlpRun(neighbour, 8, 3), 'run-b');
});

after(async () => {
  trainerSource?.close();
  await analysis?.close();
  await trainer?.close();
  await data?.close();
  dir?.remove();
});

test('HESSIAN_EIGEN on a trainer checkpoint: converged Ritz pairs, eigenvectors in checksummed chunks, exports', async () => {
  const a = await runOk(analysis.client, {
    checkpoint: runCheckpoint(runA.runId),
    seed: 3,
    kind: {
      $case: 'hessianEigen',
      value: {
        topK: 3,
        maxIterations: 0,
        tolerance: 0,
        miniBatchSize: 0,
        blocks: { names: ['0.dense.weight'], perParameter: false },
        returnEigenvectors: true,
        hvpBatchSize: 100,
      },
    },
  });
  const result = a.result?.kind;
  if (result?.$case !== 'hessianEigen') throw new Error('no eigen result');
  const block = result.value.blocks[0]!;
  assert.equal(block.block, '0.dense.weight');
  assert.ok(block.eigenvalues[0]! > block.eigenvalues[1]! && block.eigenvalues[1]! >= block.eigenvalues[2]!);
  for (const [i, r] of block.residualNorms.entries())
    assert.ok(r <= 1e-6 * Math.abs(block.eigenvalues[i]!) + 1e-12);
  const vector = await readArtifact(analysis.client, a.analysisId, block.eigenvectorArtifacts[0]!);
  const v = new Float64Array(vector.tensors[0]!.data.slice().buffer);
  assert.equal(v.length, 8 * 32);
  assert.ok(Math.abs(Math.hypot(...v) - 1) < 1e-9);
  assert.ok(a.result!.artifacts.includes('result.csv') && a.result!.artifacts.includes('plot.vl.json'));
  const plot = JSON.parse(a.result!.plotSpecJson);
  assert.equal(plot.data.values.length, 3);
  assert.equal(a.labels['gengap/run-id'], runA.runId);
});

test("GENERALIZATION_GAP agrees with the trainer's own final evaluation", async () => {
  const a = await runOk(analysis.client, {
    checkpoint: runCheckpoint(runA.runId),
    kind: { $case: 'generalizationGap', value: {} },
  });
  const result = a.result?.kind;
  if (result?.$case !== 'generalizationGap') throw new Error('no gap result');
  const summary = runA.summary!;
  assert.ok(
    Math.abs(result.value.trainLoss - summary.finalTrainLoss) <= 1e-5 * Math.max(1, summary.finalTrainLoss),
  );
  assert.ok(
    Math.abs(result.value.testLoss - summary.finalTestLoss) <= 1e-5 * Math.max(1, summary.finalTestLoss),
  );
  assert.equal(result.value.trainAccuracy, summary.finalTrainAccuracy);
  assert.equal(result.value.testAccuracy, summary.finalTestAccuracy);
  assert.ok(Math.abs(result.value.lossGap - (result.value.testLoss - result.value.trainLoss)) < 1e-12);
});

test('STABILITY of neighbouring runs: one point per shared permanent checkpoint, distance growing', async () => {
  const a = await runOk(analysis.client, {
    checkpoint: runCheckpoint(runA.runId),
    kind: { $case: 'stability', value: { otherRunId: runB.runId } },
  });
  const result = a.result?.kind;
  if (result?.$case !== 'stability') throw new Error('no stability result');
  const points = result.value.points;
  assert.deepEqual(
    points.map((p) => p.epoch),
    [1, 2, 3, 4],
  );
  for (const p of points) {
    assert.ok(p.parameterDistance > 0);
    assert.ok(p.normalizedDistance > 0 && p.normalizedDistance < 1);
    assert.ok(p.trainLossGap >= 0 && p.testLossGap >= 0);
  }
  assert.ok(points.at(-1)!.parameterDistance > points[0]!.parameterDistance);
});

test('LATE_TRAINING_STATISTICS across the two runs from their event logs', async () => {
  const a = await runOk(analysis.client, {
    checkpoint: runCheckpoint(runA.runId),
    kind: {
      $case: 'lateTrainingStatistics',
      value: { runIds: [runA.runId, runB.runId], windowFraction: 0.5 },
    },
  });
  const result = a.result?.kind;
  if (result?.$case !== 'lateTrainingStatistics') throw new Error('no statistics result');
  assert.deepEqual(
    result.value.runs.map((r) => r.runId),
    [runA.runId, runB.runId],
  );
  for (const r of result.value.runs)
    assert.ok(Number.isFinite(r.meanLoss) && r.lossVariance >= 0 && r.meanTestLoss > 0);
  const means = result.value.runs.map((r) => r.meanLoss);
  assert.ok(Math.abs(result.value.meanAcrossRuns - (means[0]! + means[1]!) / 2) < 1e-12);
});

test('INTERPOLATION and a 2-D RANDOM_SLICE give train and test metrics at every point', async () => {
  const interp = await runOk(analysis.client, {
    checkpoint: runCheckpoint(runA.runId),
    kind: {
      $case: 'interpolation',
      value: { other: runCheckpoint(runB.runId), alphaMin: 0, alphaMax: 1, numPoints: 5 },
    },
  });
  if (interp.result?.kind?.$case !== 'landscape') throw new Error('no landscape');
  const line = interp.result.kind.value.points;
  assert.deepEqual(
    line.map((p) => p.alpha),
    [0, 0.25, 0.5, 0.75, 1],
  );
  assert.ok(Math.abs(line[0]!.trainLoss - runA.summary!.finalTrainLoss) <= 1e-5);
  // (alpha = 1 is run B's parameters on run A's training data, which differs from B's in one example.)
  assert.ok(line.every((p) => Number.isFinite(p.testLoss) && p.testAccuracy > 0));
  const slice = await runOk(analysis.client, {
    checkpoint: runCheckpoint(runA.runId),
    seed: 4,
    kind: { $case: 'randomSlice', value: { dimensions: 2, filterNormalize: true, extent: 1, numPoints: 3 } },
  });
  if (slice.result?.kind?.$case !== 'landscape') throw new Error('no landscape');
  const grid = slice.result.kind.value.points;
  assert.equal(grid.length, 9);
  const centre = grid.find((p) => p.alpha === 0 && p.beta === 0)!;
  assert.ok(Math.abs(centre.trainLoss - runA.summary!.finalTrainLoss) <= 1e-5);
  assert.ok(grid.every((p) => p.trainLoss >= centre.trainLoss - 1e-6 || p === centre));
});

test('RESCALE: the derived checkpoint is analysed like any other and the trainer can start from it', async () => {
  const rescale = await runOk(analysis.client, {
    checkpoint: runCheckpoint(runA.runId),
    kind: { $case: 'rescale', value: { firstLayer: 0, alpha: 4 } },
  });
  if (rescale.result?.kind?.$case !== 'rescale') throw new Error('no rescale result');
  assert.ok(rescale.result.kind.value.maxOutputDifference < 1e-5);
  const gap = await runOk(analysis.client, {
    checkpoint: { source: { $case: 'analysisId', value: rescale.analysisId } },
    kind: { $case: 'generalizationGap', value: {} },
  });
  if (gap.result?.kind?.$case !== 'generalizationGap') throw new Error('no gap');
  assert.ok(Math.abs(gap.result.kind.value.trainLoss - runA.summary!.finalTrainLoss) <= 1e-5);
  // The trainer resolves init_from through GetAnalysis + ReadAnalysisArtifact.
  const fineTuned = await trainRun(
    trainer,
    mlpRun(runA.spec!.dataset!.datasetId, 8, 3, {
      initFrom: { source: { $case: 'analysisId', value: rescale.analysisId } },
      stop: {
        maxEpochs: 1,
        maxSteps: 0,
        targetTrainAccuracy: 0,
        targetTrainLoss: 0,
        maxWallSeconds: 0,
        patienceEpochs: 0,
      },
    }),
    'fine-tune',
  );
  assert.equal(fineTuned.status?.state, JobState.JOB_STATE_SUCCEEDED);
});
