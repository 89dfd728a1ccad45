// Run objectives beyond "cross-entropy against the labels", through the real trainer and data service:
//  - auto-encoder stages (RunSpec.reconstruction, greedy layer-wise pre-training): a stage's MSE falls;
//    the stage after it keeps the fixed layers bitwise and is trained against exactly the activation
//    those layers compute (its reported loss equals the MSE recomputed here with the engine, 1e-5
//    relative); the spec is refused with the offending field's path when it cannot mean that;
//  - Detectron's disagreement training (RunSpec.disagreement): fine-tuned from a base model on its
//    training split plus a covariate-shifted query set (a 64-dimensional Gaussian mixture, test inputs
//    plus N(0, 2^2) noise, 50 queries), the model disagrees with the base on the query set far more
//    than on held-out in-distribution data (seen: 0.88 vs 0.006), and keeps its train accuracy (1.0);
//    refusals name the field.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { compileModel } from '@gengap/engine';
import { JobState } from '@gengap/proto/common/v1/job';
import { LossKind, ModelSpec, OptimizerKind } from '@gengap/proto/common/v1/model';
import { Split } from '@gengap/proto/common/v1/refs';
import { ShiftKind, SplitSelection } from '@gengap/proto/data/v1/dataset';
import type { Run, RunEvent } from '@gengap/proto/trainer/v1/run';
import { querySelection } from '@gengap/shift-detection';
import { DataServiceReader } from '../src/clients/data-client.ts';
import {
  createDataset,
  type DataService,
  Dense,
  mlpSpec,
  Relu,
  readParameters,
  type SpecFields,
  startDataService,
  startRun,
  startTrainer,
  type TrainerHandle,
  tempDir,
  waitForRun,
  watchAll,
} from './support/cluster.ts';

const FEATURES = 64;
const CLASSES = 4;
let dir: ReturnType<typeof tempDir>;
let data: DataService;
let trainer: TrainerHandle;
let reader: DataServiceReader;
let datasetId: string;
let shiftedId: string;

const mixture = {
  $case: 'gaussianMixture' as const,
  value: {
    numClasses: CLASSES,
    dimension: FEATURES,
    trainSize: 1000,
    testSize: 400,
    separation: 6,
    clusterStd: 1,
  },
};

before(async () => {
  dir = tempDir('objectives');
  data = await startDataService(`${dir.path}/data`);
  trainer = await startTrainer({ stateDir: `${dir.path}/trainer`, dataAddress: data.address });
  reader = new DataServiceReader(data.address);
  datasetId = await createDataset(data, { source: mixture, seed: 5 });
  // The same data with N(0, 2^2) noise added to the test inputs: the covariate-shifted query pool.
  shiftedId = await createDataset(data, {
    source: mixture,
    seed: 5,
    corruptions: [
      {
        kind: {
          $case: 'covariateShift',
          value: {
            kind: ShiftKind.SHIFT_KIND_NOISE,
            severity: 2,
            classes: [],
            splits: SplitSelection.SPLIT_SELECTION_TEST,
          },
        },
      },
    ],
  });
});

after(async () => {
  await trainer?.close();
  await data?.close();
  dir?.remove();
});

function fieldOf(err: unknown): string | undefined {
  return (err as { metadata?: { get(k: string): unknown[] } }).metadata?.get('gengap-field')[0] as
    | string
    | undefined;
}

async function succeeded(spec: ReturnType<typeof mlpSpec>, key: string): Promise<Run> {
  const { run } = await startRun(trainer.client, spec, key);
  const done = await waitForRun(trainer.client, run?.runId as string);
  assert.equal(done.status?.state, JobState.JOB_STATE_SUCCEEDED, done.status?.error?.message);
  return done;
}

const epochsOf = (events: RunEvent[]) =>
  events.flatMap((e) => (e.event?.$case === 'epoch' ? [e.event.value] : []));

const runRef = (runId: string) => ({ source: { $case: 'run' as const, value: { runId, step: 0 } } });

async function parameters(runId: string): Promise<Map<string, Float32Array>> {
  const { tensors } = await readParameters(trainer.client, runId);
  return new Map(
    [...tensors].map(([name, t]) => [name, new Float32Array(t.data.slice().buffer as ArrayBuffer)]),
  );
}

describe('auto-encoder stages (reconstruction)', () => {
  const decoder = (name: string, units: number) => ({ ...Dense(units), name });
  // Stage 0: 64 -> 8 (encoder, ReLU) -> 64 (decoder); stage 1: the frozen encoder, 8 -> 4 -> 8.
  const stage = (fields: SpecFields) =>
    mlpSpec(datasetId, FEATURES, FEATURES, {
      loss: { kind: LossKind.LOSS_KIND_UNSPECIFIED, temperature: 0 },
      optimizer: { kind: OptimizerKind.OPTIMIZER_KIND_ADAM, learningRate: 0.01 },
      stop: { maxEpochs: 8 },
      threads: 1,
      ...fields,
    });
  const stage0 = () =>
    stage({
      model: {
        inputShape: [FEATURES],
        numOutputs: FEATURES,
        layers: [Dense(8), Relu, decoder('decoder0', FEATURES)],
      },
      reconstruction: { layer: 0 },
    });
  const stage1 = (initFrom: string, fields: SpecFields = {}) =>
    stage({
      model: {
        inputShape: [FEATURES],
        numOutputs: 8,
        layers: [Dense(8), Relu, Dense(4), Relu, decoder('decoder1', 8)],
      },
      reconstruction: { layer: 2 },
      frozenParameters: ['0.dense.weight', '0.dense.bias'],
      initFrom: runRef(initFrom),
      ...fields,
    });
  let first: Run;

  test('a stage on the input: its reconstruction MSE falls, on train and test, with no accuracy', async () => {
    first = await succeeded(stage0(), 'ae-stage-0');
    const epochs = epochsOf(await watchAll(trainer.client, first.runId));
    assert.equal(epochs.length, 8);
    const [start, end] = [epochs[0], epochs.at(-1)];
    assert.ok(
      (end?.trainLoss ?? 1) < 0.85 * (start?.trainLoss ?? 0),
      `train MSE ${start?.trainLoss} -> ${end?.trainLoss}`,
    );
    assert.ok(
      (end?.testLoss ?? 1) < 0.85 * (start?.testLoss ?? 0),
      `test MSE ${start?.testLoss} -> ${end?.testLoss}`,
    );
    assert.ok(Number.isNaN(end?.trainAccuracy), 'an auto-encoder stage has no accuracy');
  });

  test('the next stage keeps the fixed layers and reproduces exactly what they compute', async () => {
    const second = await succeeded(stage1(first.runId), 'ae-stage-1');
    const encoder = await parameters(first.runId);
    const trained = await parameters(second.runId);
    for (const name of ['0.dense.weight', '0.dense.bias'])
      assert.deepEqual(trained.get(name), encoder.get(name), `${name} stays frozen`);
    const epochs = epochsOf(await watchAll(trainer.client, second.runId));
    assert.ok((epochs.at(-1)?.trainLoss ?? 1) < 0.85 * (epochs[0]?.trainLoss ?? 0), 'stage 1 MSE falls');

    // The target of stage 1 is relu(W0 x + b0) of the stage-0 encoder: recompute the loss from it.
    const train = await reader.readSplit(datasetId, 'train');
    const n = train.y.length;
    const prefix = await compileModel(
      ModelSpec.fromPartial({ inputShape: [FEATURES], numOutputs: 8, layers: [Dense(8), Relu] }),
      { threads: 1 },
    );
    const model = await compileModel(second.spec?.model as ModelSpec, { threads: 1 });
    try {
      for (const view of prefix.parameters.views)
        prefix.parameters.view(view.name).set(encoder.get(view.name) as Float32Array);
      for (const view of model.parameters.views)
        model.parameters.view(view.name).set(trained.get(view.name) as Float32Array);
      const target = (await prefix.embed(1, train.x)).data;
      const { logits } = await model.evaluate(train.x, new Int32Array(n));
      let sum = 0;
      for (let i = 0; i < logits.length; i++) sum += ((logits[i] as number) - (target[i] as number)) ** 2;
      const mse = sum / logits.length;
      const reported = second.summary?.finalTrainLoss ?? Number.NaN;
      assert.ok(Math.abs(reported - mse) <= 1e-5 * mse, `reported ${reported}, recomputed ${mse}`);
    } finally {
      await prefix.dispose();
      await model.dispose();
    }
  });

  test('refusals name the field: target size, loss, unfrozen layers, layer, accuracy', async () => {
    const cases: [string, SpecFields | (() => ReturnType<typeof mlpSpec>)][] = [
      [
        'spec.model.num_outputs',
        () =>
          stage1(first.runId, {
            model: {
              inputShape: [FEATURES],
              numOutputs: 16,
              layers: [Dense(8), Relu, Dense(4), Relu, decoder('d', 16)],
            },
          }),
      ],
      [
        'spec.loss.kind',
        () => stage1(first.runId, { loss: { kind: LossKind.LOSS_KIND_HINGE, temperature: 0 } }),
      ],
      ['spec.frozen_parameters', () => stage1(first.runId, { frozenParameters: ['0.dense.weight'] })],
      ['spec.reconstruction.layer', () => stage1(first.runId, { reconstruction: { layer: 5 } })],
      [
        'spec.stop.target_train_accuracy',
        () => stage1(first.runId, { stop: { maxEpochs: 1, targetTrainAccuracy: 1 } }),
      ],
    ];
    for (const [field, make] of cases) {
      const spec = (make as () => ReturnType<typeof mlpSpec>)();
      await assert.rejects(startRun(trainer.client, spec, `refused-${field}`), (err) => {
        assert.equal((err as { code?: number }).code, 3, `${field}: ${(err as Error).message}`);
        assert.equal(fieldOf(err), field, (err as Error).message);
        return true;
      });
    }
  });
});

describe("Detectron's disagreement training", () => {
  const QUERY = 50;
  let base: Run;
  const disagreement = (query: string, fields: SpecFields = {}) =>
    mlpSpec(datasetId, FEATURES, CLASSES, {
      model: { inputShape: [FEATURES], numOutputs: CLASSES, layers: [Dense(32), Relu, Dense(CLASSES)] },
      optimizer: { kind: OptimizerKind.OPTIMIZER_KIND_ADAM, learningRate: 0.003 },
      initFrom: runRef(base.runId),
      disagreement: {
        base: runRef(base.runId),
        query: { datasetId: query },
        querySplit: Split.SPLIT_TEST,
        weight: 0,
        querySize: QUERY,
      },
      stop: { maxEpochs: 20 },
      threads: 1,
      seed: 7,
      ...fields,
    });

  before(async () => {
    base = await succeeded(
      mlpSpec(datasetId, FEATURES, CLASSES, {
        optimizer: { kind: OptimizerKind.OPTIMIZER_KIND_ADAM, learningRate: 0.003 },
        stop: { maxEpochs: 10 },
        threads: 1,
      }),
      'detectron-base',
    );
  });

  const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);

  /** Fraction of the given test rows of a dataset on which two parameter sets predict differently. */
  async function disagreementRate(
    a: Map<string, Float32Array>,
    b: Map<string, Float32Array>,
    id: string,
    rows: readonly number[],
  ) {
    const split = await reader.readSplit(id, 'test');
    const n = rows.length;
    const x = new Float32Array(n * FEATURES);
    rows.forEach((r, i) => {
      x.set(split.x.subarray(r * FEATURES, (r + 1) * FEATURES), i * FEATURES);
    });
    const model = await compileModel(base.spec?.model as ModelSpec, { threads: 1 });
    try {
      const predict = async (p: Map<string, Float32Array>) => {
        for (const view of model.parameters.views)
          model.parameters.view(view.name).set(p.get(view.name) as Float32Array);
        const { logits } = await model.evaluate(x, new Int32Array(n));
        return Array.from({ length: n }, (_, i) => {
          const row = Array.from(logits.subarray(i * CLASSES, (i + 1) * CLASSES));
          return row.indexOf(Math.max(...row));
        });
      };
      const [pa, pb] = [await predict(a), await predict(b)];
      return pa.filter((c, i) => c !== pb[i]).length / n;
    } finally {
      await model.dispose();
    }
  }

  test('the fine-tuned model disagrees with the base on the shifted query set, not on held-out data, and keeps its train accuracy', async (t) => {
    const cdc = await succeeded(disagreement(shiftedId), 'cdc-shifted');
    const baseParameters = await parameters(base.runId);
    const cdcParameters = await parameters(cdc.runId);
    const onQuery = await disagreementRate(baseParameters, cdcParameters, shiftedId, range(0, QUERY));
    // Held-out in-distribution data: clean test examples that were not in the query set.
    const heldOut = await disagreementRate(baseParameters, cdcParameters, datasetId, range(QUERY, 400));
    const trainAccuracy = cdc.summary?.finalTrainAccuracy ?? 0;
    t.diagnostic(
      `disagreement on the query set ${onQuery}, on held-out data ${heldOut}, train accuracy ${trainAccuracy}`,
    );
    assert.ok(onQuery >= 0.5, `disagreement on the shifted query set ${onQuery}`);
    assert.ok(heldOut <= 0.1, `disagreement on held-out in-distribution data ${heldOut}`);
    assert.ok(onQuery >= 5 * Math.max(heldOut, 0.02), 'far more disagreement on the query set');
    assert.ok(
      trainAccuracy >= (base.summary?.finalTrainAccuracy ?? 1) - 0.03,
      `train accuracy ${trainAccuracy}`,
    );
    // An epoch goes through the training split and the query set: 1,050 rows in batches of 50.
    assert.equal(cdc.summary?.steps, 20 * Math.ceil(1050 / 50));
  });

  test("a shuffled query set with exclusions: the analysis service's seeded rows, less the excluded ones", async (t) => {
    const selected = [
      ...querySelection({ count: 400, size: 60, shuffle: true, seed: 11, split: Split.SPLIT_TEST }),
    ];
    const excluded = selected.slice(0, 20);
    const cdc = await succeeded(
      disagreement(shiftedId, {
        disagreement: {
          base: runRef(base.runId),
          query: { datasetId: shiftedId },
          querySize: 60,
          shuffleQuery: true,
          querySeed: 11,
          excludedQueryIndices: excluded,
        },
      }),
      'cdc-shuffled',
    );
    const rate = await disagreementRate(
      await parameters(base.runId),
      await parameters(cdc.runId),
      shiftedId,
      selected.slice(20),
    );
    t.diagnostic(`disagreement on the 40 queries left in the objective ${rate}`);
    assert.ok(rate >= 0.5, `disagreement on the queries ${rate}`);
    assert.equal(cdc.summary?.samples, 20 * (1000 + 40), 'an epoch is the training split and 40 queries');
  });

  test('refusals name the field: query dataset, query size, loss, base', async () => {
    const cases: [string, ReturnType<typeof mlpSpec>][] = [
      ['spec.disagreement.query.dataset_id', disagreement('no-such-dataset')],
      [
        'spec.disagreement.query_size',
        disagreement(shiftedId, {
          disagreement: { base: runRef(base.runId), query: { datasetId: shiftedId }, querySize: 401 },
        }),
      ],
      ['spec.loss.kind', disagreement(shiftedId, { loss: { kind: LossKind.LOSS_KIND_MSE, temperature: 0 } })],
      [
        'spec.disagreement.base',
        disagreement(shiftedId, { disagreement: { query: { datasetId: shiftedId }, querySize: 10 } }),
      ],
      [
        'spec.disagreement.excluded_query_indices[1]',
        disagreement(shiftedId, {
          disagreement: {
            base: runRef(base.runId),
            query: { datasetId: shiftedId },
            excludedQueryIndices: [3, 400],
          },
        }),
      ],
    ];
    for (const [field, spec] of cases) {
      await assert.rejects(startRun(trainer.client, spec, `refused-${field}`), (err) => {
        assert.equal((err as { code?: number }).code, 3, `${field}: ${(err as Error).message}`);
        assert.equal(fieldOf(err), field, (err as Error).message);
        return true;
      });
    }
  });
});
