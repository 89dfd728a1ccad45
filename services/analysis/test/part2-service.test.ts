// Part 2's analyses end to end against the real data service and trainer (in-process on 127.0.0.1:0),
// for the inputs only those services provide: y_clean of a label-noise dataset and the trainer's
// per-example correctness and trajectory events (FIRST_LEARNED, TRAJECTORY), the canonical spec of a
// tabular dataset (field width and names for ATTRIBUTION), and the hidden coordinates the data service
// draws for an online sparse-parity dataset (PARITY_PROGRESS over the trainer's permanent checkpoints).
// Asserted: 30% exact label noise gives 154 corrupted of 512 examples, learned later than the clean ones
// (seen: mean first-learned epoch 8.5 clean vs 24.2 corrupted);
// the trajectory statistics of a real run are finite; the field named in the label is the one
// attribution ranks first; parity progress reads the drawn hidden subset and follows every checkpoint.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { AttributionMethod } from '@gengap/proto/analysis/v1/analysis';
import {
  Activation,
  InitializerKind,
  LossKind,
  type ModelSpec,
  OptimizerKind,
} from '@gengap/proto/common/v1/model';
import { Split } from '@gengap/proto/common/v1/refs';
import type { DataServiceClient } from '@gengap/proto/data/v1/data_service';
import { type Run, RunSpec } from '@gengap/proto/trainer/v1/run';
import type { TrainerServiceClient } from '@gengap/proto/trainer/v1/trainer_service';
import { Rng } from '@gengap/random';
import { callUnary } from '@gengap/service-kit';
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
import { type AnalysisHandle, runCheckpoint, runOk, startAnalysis, tempDir } from './support/harness.ts';
import { detailsOf, resultOf } from './support/results.ts';

let dir: ReturnType<typeof tempDir>;
let data: Handle<DataServiceClient>;
let trainer: Handle<TrainerServiceClient>;
let analysis: AnalysisHandle;
let trainerSource: TrainerRunSource;
let noisyRun: Run;
let tableRun: Run;
let parityRun: Run;
let parityDataset: string;

const dense = (units: number) => ({
  name: '',
  kind: { $case: 'dense' as const, value: { units, noBias: false, initializer: undefined } },
});
const tableModel: ModelSpec = {
  inputShape: [18],
  numOutputs: 2,
  layers: [
    {
      name: '',
      kind: { $case: 'embedding', value: { vocabularySize: 256, dimension: 8, initializer: undefined } },
    },
    { name: '', kind: { $case: 'flatten', value: {} } },
    dense(32),
    { name: '', kind: { $case: 'activation', value: { activation: Activation.ACTIVATION_RELU } } },
    dense(2),
  ],
  defaultInitializer: { kind: InitializerKind.INITIALIZER_KIND_TORCH_DEFAULT, scale: 0 },
};

/** A CSV whose label is the "smoker" field; "age" and "city" are noise. */
function csv(rows: number): string {
  const rng = new Rng(3, 'csv');
  const lines = ['age,smoker,city,risk'];
  for (let r = 0; r < rows; r++) {
    const smoker = rng.uniform() < 0.5;
    lines.push(
      `${18 + rng.int(60)},${smoker ? 'yes' : 'no'},${['Oslo', 'Lima', 'Pune', 'Kyiv'][rng.int(4)]},${smoker ? 'high' : 'low'}`,
    );
  }
  return `${lines.join('\n')}\n`;
}

before(async () => {
  dir = tempDir('part2-service');
  data = await startDataService(`${dir.path}/data`);
  const runs = new DeferredRunSource();
  analysis = await startAnalysis({ stateDir: `${dir.path}/analysis`, runs, dataAddress: data.address });
  trainer = await startTrainer(`${dir.path}/trainer`, data.address, analysis.address);
  trainerSource = new TrainerRunSource(trainer.address);
  runs.target = trainerSource;

  const noisy = await createDataset(data, {
    source: {
      $case: 'gaussianMixture',
      value: { numClasses: 3, dimension: 8, trainSize: 512, testSize: 256, separation: 3, clusterStd: 1 },
    },
    corruptions: [
      { kind: { $case: 'labelNoise', value: { fraction: 0.3, splits: 0, exactAndAlwaysWrong: true } } },
    ],
    seed: 5,
  });
  noisyRun = await trainRun(
    trainer,
    mlpRun(noisy, 8, 3, {
      stop: {
        maxEpochs: 40,
        maxSteps: 0,
        targetTrainAccuracy: 0,
        targetTrainLoss: 0,
        maxWallSeconds: 0,
        patienceEpochs: 0,
      },
      optimizer: { kind: OptimizerKind.OPTIMIZER_KIND_ADAM, learningRate: 0.01 } as RunSpec['optimizer'],
      metrics: {
        stepEvery: 8,
        evalEveryEpochs: 1,
        evalTrainSubset: 0,
        perExampleCorrectness: true,
        trajectoryEvery: 2,
        trajectoryDimension: 16,
        trajectorySeed: 1,
        onlineEpochSteps: 0,
        fullGradientNorm: false,
      },
      checkpoints: { everySteps: 0, keepEpochs: [], keepEveryEpochs: 0 },
    }),
    'noisy',
  );

  const table = await createDataset(data, {
    source: {
      $case: 'tabular',
      value: {
        table: { $case: 'csvText', value: csv(400) },
        targetColumn: 'risk',
        fieldWidth: 6,
        targetBins: 0,
        testFraction: 0.25,
        dropColumns: [],
      },
    },
    seed: 1,
  });
  tableRun = await trainRun(
    trainer,
    RunSpec.fromPartial({
      model: tableModel,
      dataset: { datasetId: table },
      loss: { kind: LossKind.LOSS_KIND_CROSS_ENTROPY },
      optimizer: { kind: OptimizerKind.OPTIMIZER_KIND_ADAM, learningRate: 0.01 },
      batchSize: 30,
      stop: { maxEpochs: 15 },
      seed: 2,
      checkpoints: { keepEveryEpochs: 0 },
    }),
    'table',
  );

  parityDataset = await createDataset(data, {
    source: {
      $case: 'sparseParity',
      value: { numBits: 20, paritySize: 3, hiddenCoordinates: [], trainSize: 0, testSize: 500, online: true },
    },
    seed: 4,
  });
  parityRun = await trainRun(
    trainer,
    mlpRun(parityDataset, 20, 2, {
      batchSize: 32,
      stop: {
        maxEpochs: 4,
        maxSteps: 0,
        targetTrainAccuracy: 0,
        targetTrainLoss: 0,
        maxWallSeconds: 0,
        patienceEpochs: 0,
      },
      metrics: { stepEvery: 10, onlineEpochSteps: 50 } as RunSpec['metrics'],
      optimizer: { kind: OptimizerKind.OPTIMIZER_KIND_SGD, learningRate: 0.05 } as RunSpec['optimizer'],
    }),
    'parity',
  );
});

after(async () => {
  trainerSource?.close();
  await analysis?.close();
  await trainer?.close();
  await data?.close();
  dir?.remove();
});

test('FIRST_LEARNED separates clean from corrupted labels (y_clean from the data service)', async (t) => {
  const a = await runOk(analysis.client, {
    checkpoint: runCheckpoint(noisyRun.runId),
    kind: { $case: 'firstLearned', value: {} },
  });
  const details = await detailsOf(analysis.client, a);
  t.diagnostic(JSON.stringify(details));
  assert.equal(details.examples, 512);
  assert.equal(details.corrupted, Math.round(0.3 * 512));
  assert.equal(details.evaluations, 40);
  assert.ok(
    details.meanFirstLearnedEpochClean < details.meanFirstLearnedEpochCorrupted ||
      details.neverLearnedCorrupted > details.neverLearnedClean,
    'clean examples are learned first',
  );
  const result = resultOf(a, 'firstLearned');
  assert.ok(result.cleanCumulative!.y.at(-1)! > 0.8);
  assert.ok(result.corruptedCumulative!.y.at(-1)! < result.cleanCumulative!.y.at(-1)!);
});

test('TRAJECTORY on the trainer’s recorded projections', async (t) => {
  const a = await runOk(analysis.client, {
    checkpoint: runCheckpoint(noisyRun.runId),
    kind: { $case: 'trajectory', value: { runIds: [], startFraction: 0 } },
  });
  const [run] = resultOf(a, 'trajectory').runs;
  t.diagnostic(JSON.stringify(run));
  for (const value of [
    run!.hurstRescaledRange,
    run!.hurstVariogram,
    run!.tailIndex,
    run!.generalizationGap,
  ]) {
    assert.ok(Number.isFinite(value));
  }
  const details = await detailsOf(analysis.client, a);
  assert.equal(details.runs[noisyRun.runId].dimension, 16);
});

test('ATTRIBUTION per field of a tabular dataset: field width and names from its canonical spec', async (t) => {
  for (const method of [
    AttributionMethod.ATTRIBUTION_METHOD_GRADIENT_X_INPUT,
    AttributionMethod.ATTRIBUTION_METHOD_OCCLUSION,
  ]) {
    const a = await runOk(analysis.client, {
      checkpoint: runCheckpoint(tableRun.runId),
      split: Split.SPLIT_TEST,
      kind: {
        $case: 'attribution',
        value: { method, patchSize: 0, fieldWidth: 0, batchSize: 0, baseline: 0 },
      },
    });
    const result = resultOf(a, 'attribution');
    t.diagnostic(`${method}: ${JSON.stringify(result.perField)}`);
    assert.deepEqual(result.fieldNames, ['age', 'smoker', 'city']);
    assert.equal(result.perElement.length, 18);
    assert.equal(result.perField.indexOf(Math.max(...result.perField)), 1);
  }
});

test('PARITY_PROGRESS reads the hidden coordinates the data service drew and follows every checkpoint', async () => {
  const { dataset } = await callUnary(data.client, data.client.getDataset, { datasetId: parityDataset });
  const source = dataset?.manifest?.spec?.source;
  assert.equal(source?.$case, 'sparseParity');
  const hidden = source?.$case === 'sparseParity' ? source.value.hiddenCoordinates : [];
  assert.equal(hidden.length, 3);
  const a = await runOk(analysis.client, {
    checkpoint: runCheckpoint(parityRun.runId),
    kind: { $case: 'parityProgress', value: { coordinates: [], fourierSamples: 1024 } },
  });
  const details = await detailsOf(analysis.client, a);
  assert.deepEqual(
    details.coordinates,
    [...hidden].sort((x, y) => x - y),
  );
  const points = resultOf(a, 'parityProgress').points;
  const permanent = parityRun.checkpoints.filter((c) => c.permanent && c.step > 0).length;
  assert.equal(points.length, permanent + 1);
  assert.equal(points[0]!.step, 0);
  assert.ok(points.slice(1).every((p) => Number.isFinite(p.trainLoss) && Number.isFinite(p.testAccuracy)));
});
