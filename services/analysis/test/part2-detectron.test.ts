// Detectron's pieces (src/detectron): the disagreement objective as soft targets, and the hypothesis
// tests over the EnsembleDisagreement kind's statistics. MNIST MLPs (784-64-10, Adam, 2,000 images)
// trained in-process; the shifted distribution is the test images plus N(0, 0.5^2) noise, clipped.
// Asserted:
//  - DCE equals cross-entropy against the (1 - onehot) / (C - 1) target (1e-6 relative);
//  - a constrained disagreement classifier fine-tuned from the base model on P (base pseudo-labels) and
//    a query set Q (disagreement targets, weight 1 / (|Q| + 1)) keeps agreeing on P (>= 98%) and
//    disagrees on far more of a shifted Q than of an in-distribution Q (seen 0.74-0.76 vs
//    0.06-0.08);
//  - with the ensemble's statistics on 50-example query sets (200 null trials for calibration), the
//    false-positive rate on 500 in-distribution queries is at most alpha + 3 binomial standard errors
//    (alpha = 0.05), for the disagreement test and the entropy test, and both detect the shift (seen:
//    false-positive rates 0.016 and 0.066 against a tolerance of 0.079, power 1 and 1).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { compileModel } from '@gengap/engine';
import { OptimizerKind, type OptimizerSpec } from '@gengap/proto/common/v1/model';
import { Split } from '@gengap/proto/common/v1/refs';
import { DatasetSpec } from '@gengap/proto/data/v1/dataset';
import { Rng } from '@gengap/random';
import { argmaxRows } from '../src/adversarial/input-oracle.ts';
import {
  cdcTrainingSet,
  disagreementCrossEntropy,
  disagreementTargets,
} from '../src/detectron/disagreement-objective.ts';
import { disagreementTest, entropyTest, falsePositiveTolerance } from '../src/detectron/hypothesis-test.ts';
import { trainAtTemperature } from './support/distillation.ts';
import {
  type AnalysisHandle,
  readArtifact,
  runCheckpoint,
  runOk,
  startAnalysis,
  tempDir,
} from './support/harness.ts';
import { LocalDatasets, LocalRuns } from './support/local-sources.ts';
import { loadMnist } from './support/mnist.ts';
import { resultOf } from './support/results.ts';
import { mlp } from './support/train.ts';

const SIGNIFICANCE = 0.05;
const QUERY = 50;
const model = mlp(784, [64], 10);
const train = loadMnist('train', 2000);
const testSplit = loadMnist('test', 2000);
const flats: Record<string, Float32Array> = {};
let dir: ReturnType<typeof tempDir>;
let service: AnalysisHandle;

function shifted(x: Float32Array, seed: number): Float32Array {
  const rng = new Rng(seed, 'covariate-shift');
  return x.map((v) => Math.min(1, Math.max(0, v + 0.5 * rng.normal())));
}

before(async () => {
  dir = tempDir('part2-detectron');
  const runs = new LocalRuns();
  for (const seed of [1, 2, 3]) {
    const trained = await trainAtTemperature({
      model,
      x: train.x,
      targets: train.y,
      count: train.count,
      temperature: 1,
      epochs: 10,
      batchSize: 50,
      learningRate: 1e-3,
      seed,
    });
    const flat = new Float32Array(trained.parameters.reduce((a, p) => a + p.data.length, 0));
    let offset = 0;
    for (const p of trained.parameters) {
      flat.set(p.data, offset);
      offset += p.data.length;
    }
    flats[`model-${seed}`] = flat;
    runs.add(`model-${seed}`, { model, dataset: { datasetId: 'mnist' }, seed }, [
      { step: 400, epoch: 10, permanent: true, parameters: trained.parameters },
    ]);
  }
  const datasets = new LocalDatasets();
  const spec = DatasetSpec.fromPartial({ source: { $case: 'mnist', value: { flatten: true } } });
  const common = { inputShape: [784], numClasses: 10, datasetSpec: spec };
  datasets.add('mnist', Split.SPLIT_TRAIN, { ...train, ...common });
  datasets.add('mnist', Split.SPLIT_TEST, { ...testSplit, ...common });
  datasets.add('mnist-noise', Split.SPLIT_TEST, { ...testSplit, x: shifted(testSplit.x, 7), ...common });
  service = await startAnalysis({ stateDir: dir.path, runs, datasets });
});

after(async () => {
  await service?.close();
  dir?.remove();
});

test('the DCE loss is cross-entropy against the disagreement target', () => {
  const rng = new Rng(1, 'logits');
  for (let trial = 0; trial < 20; trial++) {
    const logits = Array.from({ length: 10 }, () => 5 * rng.normal());
    const y = rng.int(10);
    const target = disagreementTargets([y], 10, 1);
    const max = Math.max(...logits);
    const logSum = max + Math.log(logits.reduce((a, z) => a + Math.exp(z - max), 0));
    const crossEntropy = -logits.reduce((a, z, c) => a + target[c]! * (z - logSum), 0);
    assert.ok(Math.abs(crossEntropy - disagreementCrossEntropy(logits, y)) < 1e-6 * (1 + crossEntropy));
  }
});

test('a CDC trained on the soft-target objective disagrees on shifted queries, not on in-distribution ones', async (t) => {
  const base = flats['model-1']!;
  const engine = await compileModel(model, {
    optimizer: { kind: OptimizerKind.OPTIMIZER_KIND_ADAM } as OptimizerSpec,
    threads: 1,
  });
  const p = 1000;
  const trainX = train.x.subarray(0, p * 784);
  const predict = async (x: Float32Array, n: number, parameters?: Float32Array) =>
    argmaxRows((await engine.evaluate(x, new Int32Array(n), parameters ? { parameters } : {})).logits, n, 10);
  const pseudo = await predict(trainX, p, base);
  const rates: Record<string, number[]> = { 'in-distribution': [], shifted: [] };
  const rng = new Rng(5, 'queries');
  for (let trial = 0; trial < 2; trial++) {
    const rows = rng.permutation(testSplit.count).subarray(0, QUERY);
    const clean = new Float32Array(QUERY * 784);
    for (const [k, r] of rows.entries()) clean.set(testSplit.x.subarray(r * 784, (r + 1) * 784), k * 784);
    for (const [name, queryX] of [
      ['in-distribution', clean],
      ['shifted', shifted(clean, 100 + trial)],
    ] as const) {
      const queryPredictions = await predict(queryX, QUERY, base);
      const set = cdcTrainingSet({ trainX, trainLabels: pseudo, queryX, queryPredictions, classes: 10 });
      engine.parameters.load(base);
      engine.resetOptimizerState();
      const n = p + QUERY;
      const batch = 50;
      const steps = Math.floor(n / batch);
      const order = new Rng(trial, 'cdc-order');
      for (let epoch = 0; epoch < 10; epoch++) {
        const perm = order.permutation(n);
        const x = new Float32Array(steps * batch * 784);
        const y = new Float32Array(steps * batch * 10);
        for (let i = 0; i < steps * batch; i++) {
          x.set(set.x.subarray(perm[i]! * 784, (perm[i]! + 1) * 784), i * 784);
          y.set(set.targets.subarray(perm[i]! * 10, (perm[i]! + 1) * 10), i * 10);
        }
        await engine.trainSteps({
          x,
          y,
          learningRates: new Array(steps).fill(1e-3),
          firstStep: epoch * steps,
        });
      }
      const onQuery = await predict(queryX, QUERY);
      const onTrain = await predict(trainX, p);
      const rejection = onQuery.filter((c, i) => c !== queryPredictions[i]).length / QUERY;
      const agreement = onTrain.filter((c, i) => c === pseudo[i]).length / p;
      t.diagnostic(`trial ${trial} ${name}: rejection rate ${rejection}, agreement on P ${agreement}`);
      assert.ok(agreement >= 0.98, `agreement on P ${agreement}`);
      rates[name]!.push(rejection);
    }
  }
  await engine.dispose();
  assert.ok(Math.min(...rates.shifted!) >= 0.5, `shifted rejection ${rates.shifted}`);
  assert.ok(
    Math.max(...rates['in-distribution']!) <= 0.15,
    `in-distribution rejection ${rates['in-distribution']}`,
  );
});

/** Per-example rejection flags and entropies of the ensemble on a whole split (the pool queries are drawn from). */
async function pool(datasetId: string): Promise<{ rejected: boolean[]; entropy: number[] }> {
  const analysis = await runOk(service.client, {
    checkpoint: runCheckpoint('model-1'),
    dataset: { datasetId },
    split: Split.SPLIT_TEST,
    kind: {
      $case: 'ensembleDisagreement',
      value: { members: [runCheckpoint('model-2'), runCheckpoint('model-3')] },
    },
  });
  const csv = new TextDecoder().decode(
    (await readArtifact(service.client, analysis.analysisId, 'result.csv')).tensors[0]!.data,
  );
  const lines = csv.trim().split('\n');
  const column = lines[0]!.split(',').indexOf('rejected');
  return {
    rejected: lines.slice(1).map((line) => line.split(',')[column] === 'true'),
    entropy: resultOf(analysis, 'ensembleDisagreement').perExampleEntropy,
  };
}

test('the shift tests keep their false-positive rate on in-distribution queries and detect the shift', async (t) => {
  const inDistribution = await pool('mnist');
  const noisy = await pool('mnist-noise');
  const rng = new Rng(11, 'query-sets');
  const draw = (from: typeof inDistribution, trials: number) =>
    Array.from({ length: trials }, () => {
      const rows = rng.permutation(from.rejected.length).subarray(0, QUERY);
      return {
        rate: [...rows].filter((r) => from.rejected[r]).length / QUERY,
        entropies: [...rows].map((r) => from.entropy[r]!),
      };
    });
  const nulls = draw(inDistribution, 200);
  const queries = draw(inDistribution, 500);
  const shiftedQueries = draw(noisy, 100);
  const tolerance = falsePositiveTolerance(SIGNIFICANCE, queries.length);
  const rate = (qs: typeof nulls) => qs.map((q) => q.rate);
  const entropies = (qs: typeof nulls) => qs.map((q) => q.entropies);
  const disagreementFpr = disagreementTest(rate(nulls), rate(queries), SIGNIFICANCE).rejectionRate;
  const disagreementPower = disagreementTest(rate(nulls), rate(shiftedQueries), SIGNIFICANCE).rejectionRate;
  const entropyFpr = entropyTest(entropies(nulls), entropies(queries), SIGNIFICANCE).rejectionRate;
  const entropyPower = entropyTest(entropies(nulls), entropies(shiftedQueries), SIGNIFICANCE).rejectionRate;
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  t.diagnostic(
    `pool disagreement: in-distribution ${mean(inDistribution.rejected.map(Number))}, shifted ${mean(noisy.rejected.map(Number))}`,
  );
  t.diagnostic(
    `disagreement test: false-positive rate ${disagreementFpr} (tolerance ${tolerance.toFixed(4)}), power ${disagreementPower}`,
  );
  t.diagnostic(`entropy test: false-positive rate ${entropyFpr}, power ${entropyPower}`);
  assert.ok(disagreementFpr <= tolerance, `disagreement false-positive rate ${disagreementFpr}`);
  assert.ok(entropyFpr <= tolerance, `entropy false-positive rate ${entropyFpr}`);
  assert.ok(disagreementPower >= 0.8, `disagreement power ${disagreementPower}`);
  assert.ok(entropyPower >= 0.8, `entropy power ${entropyPower}`);
});
