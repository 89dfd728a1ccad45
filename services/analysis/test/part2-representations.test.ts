// Representation and data analyses on small models trained in-process: linear probes, ensemble
// disagreement, attribution (MNIST MLPs; a character-coded table whose label is one field), and
// first-learned epochs from crafted correctness records with corrupted labels.
// Asserted: probes read the classes from every hidden layer; the ensemble statistics equal a direct
// computation; gradient x input is exactly 0 on MNIST's empty border pixels and occlusion does not
// depend on the batch size (1e-5 relative); on the table both methods put the label field first and
// name the fields from the CSV header; first-learned epochs and the clean / corrupted curves match the
// records exactly.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { compileModel } from '@gengap/engine';
import { AttributionMethod } from '@gengap/proto/analysis/v1/analysis';
import { type ModelSpec, OptimizerKind, type OptimizerSpec } from '@gengap/proto/common/v1/model';
import { Split } from '@gengap/proto/common/v1/refs';
import { DatasetSpec } from '@gengap/proto/data/v1/dataset';
import type { RunEvent } from '@gengap/proto/trainer/v1/run';
import { Rng } from '@gengap/random';
import { type AnalysisHandle, runCheckpoint, runOk, startAnalysis, tempDir } from './support/harness.ts';
import { LocalDatasets, LocalRuns } from './support/local-sources.ts';
import { loadMnist } from './support/mnist.ts';
import { detailsOf, renderedPlot, resultOf } from './support/results.ts';
import { mlp, namedParameters, train } from './support/train.ts';

let dir: ReturnType<typeof tempDir>;
let service: AnalysisHandle;
const mnistTest = loadMnist('test', 300);
const parameters: Record<string, Awaited<ReturnType<typeof train>>['parameters']> = {};
const mnistModel = mlp(784, [64, 32], 10);

/** A table of 3 fields of width 4: a number, "yes"/"no" (the label), and letters. */
function table(rng: Rng, rows: number): { x: Int32Array; y: Int32Array } {
  const x = new Int32Array(rows * 12);
  const y = new Int32Array(rows);
  const put = (row: number, field: number, text: string) => {
    for (let c = 0; c < Math.min(4, text.length); c++) x[row * 12 + field * 4 + c] = text.charCodeAt(c);
  };
  for (let r = 0; r < rows; r++) {
    y[r] = rng.uniform() < 0.5 ? 1 : 0;
    put(r, 0, String(rng.int(1000)));
    put(r, 1, y[r] ? 'yes' : 'no');
    put(r, 2, String.fromCharCode(97 + rng.int(26), 97 + rng.int(26), 97 + rng.int(26)));
  }
  return { x, y };
}

const tableModel: ModelSpec = {
  inputShape: [12],
  numOutputs: 2,
  layers: [
    {
      name: '',
      kind: { $case: 'embedding', value: { vocabularySize: 256, dimension: 8, initializer: undefined } },
    },
    { name: '', kind: { $case: 'flatten', value: {} } },
    { name: '', kind: { $case: 'dense', value: { units: 32, noBias: false, initializer: undefined } } },
    { name: '', kind: { $case: 'activation', value: { activation: 1 } } },
    { name: '', kind: { $case: 'dense', value: { units: 2, noBias: false, initializer: undefined } } },
  ],
  defaultInitializer: undefined,
};

async function trainTable(x: Int32Array, y: Int32Array) {
  const model = await compileModel(tableModel, {
    optimizer: { kind: OptimizerKind.OPTIMIZER_KIND_ADAM } as OptimizerSpec,
    threads: 1,
  });
  model.initParameters(4);
  await model.trainSteps({ x, y, learningRates: new Array(300).fill(1e-2), sameBatch: true });
  const accuracy = (await model.evaluate(x, y)).accuracy;
  const trained = namedParameters(model);
  await model.dispose();
  return { parameters: trained, accuracy };
}

function correctness(step: number, epoch: number, bits: number[]): RunEvent {
  const bitmap = new Uint8Array(Math.ceil(bits.length / 8));
  for (const [i, b] of bits.entries()) if (b) bitmap[i >> 3]! |= 1 << (i & 7);
  return {
    sequence: 0,
    event: {
      $case: 'exampleCorrectness',
      value: { step, epoch, correctBitmap: Buffer.from(bitmap), numExamples: bits.length },
    },
  };
}

before(async () => {
  dir = tempDir('part2-representations');
  const mnist = loadMnist('train', 1000);
  const runs = new LocalRuns();
  const datasets = new LocalDatasets();
  const mnistSpec = DatasetSpec.fromPartial({ source: { $case: 'mnist', value: { flatten: true } } });
  datasets.add('mnist', Split.SPLIT_TRAIN, {
    ...mnist,
    inputShape: [784],
    numClasses: 10,
    datasetSpec: mnistSpec,
  });
  datasets.add('mnist', Split.SPLIT_TEST, {
    ...mnistTest,
    inputShape: [784],
    numClasses: 10,
    datasetSpec: mnistSpec,
  });
  for (const [name, seed] of [
    ['mlp', 1],
    ['member-2', 2],
    ['member-3', 3],
  ] as const) {
    const trained = await train({
      model: mnistModel,
      x: mnist.x,
      y: mnist.y,
      batchSize: 50,
      epochs: 8,
      learningRate: 1e-3,
      optimizer: { kind: OptimizerKind.OPTIMIZER_KIND_ADAM } as OptimizerSpec,
      seed,
    });
    parameters[name] = trained.parameters;
    runs.add(name, { model: mnistModel, dataset: { datasetId: 'mnist' }, seed }, [
      { step: 160, epoch: 8, permanent: true, parameters: trained.parameters },
    ]);
  }

  const rows = table(new Rng(9, 'table'), 600);
  const held = table(new Rng(10, 'table'), 200);
  const tabular = await trainTable(rows.x, rows.y);
  assert.ok(tabular.accuracy > 0.99, `table model accuracy ${tabular.accuracy}`);
  runs.add('table', { model: tableModel, dataset: { datasetId: 'table' }, seed: 4 }, [
    { step: 300, epoch: 300, permanent: true, parameters: tabular.parameters },
  ]);
  const tableSpec = DatasetSpec.fromPartial({
    source: {
      $case: 'tabular',
      value: { table: { $case: 'csvText', value: 'a,b,target,c\n' }, targetColumn: 'target', fieldWidth: 4 },
    },
  });
  datasets.add('table', Split.SPLIT_TRAIN, {
    x: Float32Array.from(rows.x),
    y: rows.y,
    inputShape: [12],
    numClasses: 2,
    datasetSpec: tableSpec,
  });
  datasets.add('table', Split.SPLIT_TEST, {
    x: Float32Array.from(held.x),
    y: held.y,
    inputShape: [12],
    numClasses: 2,
    datasetSpec: tableSpec,
  });

  // First-learned: six examples, four evaluations; examples 3 and 5 have corrupted labels.
  const records = [
    [1, 0, 1, 0, 1, 0],
    [1, 1, 0, 0, 1, 0],
    [1, 1, 1, 0, 1, 0],
    [1, 1, 1, 1, 0, 0],
  ].map((bits, e) => correctness(10 * (e + 1), e + 1, bits));
  const tiny = [
    { name: '0.dense.weight', shape: [2, 2], data: new Float32Array(4) },
    { name: '0.dense.bias', shape: [2], data: new Float32Array(2) },
  ];
  runs.add(
    'history',
    { model: mlp(2, [], 2), dataset: { datasetId: 'noisy' } },
    [{ step: 40, epoch: 4, permanent: true, parameters: tiny }],
    records,
  );
  datasets.add('noisy', Split.SPLIT_TRAIN, {
    x: new Float32Array(12),
    y: Int32Array.of(0, 1, 0, 0, 1, 0),
    yClean: Int32Array.of(0, 1, 0, 1, 1, 1),
    inputShape: [2],
    numClasses: 2,
  });
  service = await startAnalysis({ stateDir: dir.path, runs, datasets });
});

after(async () => {
  await service?.close();
  dir?.remove();
});

test('linear probes read the classes from every hidden layer', async (t) => {
  const analysis = await runOk(service.client, {
    checkpoint: runCheckpoint('mlp'),
    numExamples: 1000,
    kind: { $case: 'linearProbe', value: { layers: [], steps: 0 } },
  });
  await renderedPlot(analysis);
  const layers = resultOf(analysis, 'linearProbe').layers;
  for (const l of layers)
    t.diagnostic(`layer ${l.layer}: train ${l.trainAccuracy.toFixed(3)}, test ${l.testAccuracy.toFixed(3)}`);
  assert.deepEqual(
    layers.map((l) => l.layer),
    [0, 1, 2, 3, 4],
  );
  for (const l of layers) {
    assert.ok(l.testAccuracy > 0.8, `layer ${l.layer} test accuracy ${l.testAccuracy}`);
    assert.ok(l.trainAccuracy >= l.testAccuracy - 0.02, `layer ${l.layer} train ${l.trainAccuracy}`);
  }
});

test('ensemble disagreement and entropy equal a direct computation', async () => {
  const analysis = await runOk(service.client, {
    checkpoint: runCheckpoint('mlp'),
    split: Split.SPLIT_TEST,
    kind: {
      $case: 'ensembleDisagreement',
      value: { members: [runCheckpoint('member-2'), runCheckpoint('member-3')] },
    },
  });
  await renderedPlot(analysis);
  const result = resultOf(analysis, 'ensembleDisagreement');
  const model = await compileModel(mnistModel, { threads: 1 });
  const flat = (name: string) => {
    const out = new Float32Array(model.numParameters);
    let offset = 0;
    for (const p of parameters[name]!) {
      out.set(p.data, offset);
      offset += p.data.length;
    }
    return out;
  };
  const probs: Float64Array[] = [];
  const predictions: number[][] = [];
  for (const name of ['mlp', 'member-2', 'member-3']) {
    const { logits } = await model.evaluate(mnistTest.x, mnistTest.y, { parameters: flat(name) });
    const p = new Float64Array(logits.length);
    const predicted: number[] = [];
    for (let i = 0; i < mnistTest.count; i++) {
      const row = Array.from(logits.subarray(i * 10, i * 10 + 10));
      const max = Math.max(...row);
      const e = row.map((z) => Math.exp(z - max));
      const s = e.reduce((a, b) => a + b, 0);
      for (let c = 0; c < 10; c++) p[i * 10 + c] = e[c]! / s;
      predicted.push(row.indexOf(max));
    }
    probs.push(p);
    predictions.push(predicted);
  }
  await model.dispose();
  let disagree = 0;
  for (let i = 0; i < mnistTest.count; i++) {
    if (predictions[1]![i] !== predictions[0]![i] || predictions[2]![i] !== predictions[0]![i]) disagree++;
    let h = 0;
    for (let c = 0; c < 10; c++) {
      const q = (probs[0]![i * 10 + c]! + probs[1]![i * 10 + c]! + probs[2]![i * 10 + c]!) / 3;
      if (q > 0) h -= q * Math.log(q);
    }
    assert.ok(Math.abs(result.perExampleEntropy[i]! - h) < 1e-5, `entropy ${i}`);
  }
  assert.equal(result.disagreementRate, disagree / mnistTest.count);
  assert.ok(result.disagreementRate > 0 && result.disagreementRate < 0.3);
});

test('attribution on MNIST: gradient x input vanishes on the empty border; occlusion is batch-size independent', async () => {
  const run = async (method: AttributionMethod, batchSize: number) =>
    resultOf(
      await runOk(service.client, {
        checkpoint: runCheckpoint('mlp'),
        split: Split.SPLIT_TEST,
        numExamples: 100,
        kind: {
          $case: 'attribution',
          value: { method, patchSize: 4, fieldWidth: 0, batchSize, baseline: 0 },
        },
      }),
      'attribution',
    );
  const gradient = await run(AttributionMethod.ATTRIBUTION_METHOD_GRADIENT_X_INPUT, 0);
  assert.equal(gradient.perElement.length, 784);
  assert.equal(gradient.perElement[0], 0);
  assert.ok(gradient.perElement[14 * 28 + 14]! > 0);
  assert.deepEqual(gradient.perField, []);
  const large = await run(AttributionMethod.ATTRIBUTION_METHOD_OCCLUSION, 256);
  const small = await run(AttributionMethod.ATTRIBUTION_METHOD_OCCLUSION, 7);
  for (let j = 0; j < 784; j++) {
    assert.ok(
      Math.abs(large.perElement[j]! - small.perElement[j]!) <= 1e-5 * (1 + Math.abs(large.perElement[j]!)),
      `element ${j}`,
    );
  }
  // A 4x4 patch shares one value; the corner patch of empty pixels changes nothing.
  assert.equal(large.perElement[0], 0);
  assert.equal(large.perElement[13 * 28 + 12], large.perElement[15 * 28 + 15]);
});

test('attribution on a character-coded table finds the label field, named from the CSV header', async (t) => {
  for (const method of [
    AttributionMethod.ATTRIBUTION_METHOD_GRADIENT_X_INPUT,
    AttributionMethod.ATTRIBUTION_METHOD_OCCLUSION,
  ]) {
    const analysis = await runOk(service.client, {
      checkpoint: runCheckpoint('table'),
      split: Split.SPLIT_TEST,
      kind: {
        $case: 'attribution',
        value: { method, patchSize: 0, fieldWidth: 0, batchSize: 64, baseline: 0 },
      },
    });
    await renderedPlot(analysis);
    const result = resultOf(analysis, 'attribution');
    t.diagnostic(
      `${method === AttributionMethod.ATTRIBUTION_METHOD_OCCLUSION ? 'occlusion' : 'gradient x input'}: ${JSON.stringify(result.perField)}`,
    );
    assert.deepEqual(result.fieldNames, ['a', 'b', 'c']);
    assert.equal(result.perElement.length, 12);
    assert.equal(result.perField.indexOf(Math.max(...result.perField)), 1);
    assert.equal((await detailsOf(service.client, analysis)).fieldWidth, 4);
  }
});

test('first-learned epochs and the clean / corrupted curves follow the correctness records', async () => {
  const analysis = await runOk(service.client, {
    checkpoint: runCheckpoint('history'),
    kind: { $case: 'firstLearned', value: {} },
  });
  await renderedPlot(analysis);
  const result = resultOf(analysis, 'firstLearned');
  assert.deepEqual(result.firstLearnedEpoch, [1, 2, 3, 4, -1, -1]);
  assert.deepEqual(result.cleanCumulative!.x, [1, 2, 3, 4]);
  assert.deepEqual(result.cleanCumulative!.y, [0.25, 0.5, 0.75, 0.75]);
  assert.deepEqual(result.corruptedCumulative!.y, [0, 0, 0, 0.5]);
  const details = await detailsOf(service.client, analysis);
  assert.equal(details.corrupted, 2);
  assert.equal(details.meanFirstLearnedEpochCorrupted, 4);
});
