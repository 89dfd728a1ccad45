// Hidden progress on (n = 20, k = 3)-sparse parity (Barak et al. 2022): an MLP 20-128-2 (ReLU, torch
// default init, seed 1) trained in-process by online SGD (fresh batches of 32, learning rate 0.03) for
// up to 4,000 steps, with a permanent checkpoint and an evaluation (train loss on 1,000 fresh
// examples, test accuracy on 1,000 more) every 100 steps.
// Asserted: the loss sits on its plateau (ln 2) and then drops; the parity metric (weight mass of the
// first layer on the hidden coordinates over the rest) rises by 3% before the loss falls below 90%
// of its initial value, while the Fourier coefficient on S is still within its noise floor; by the end
// both metrics are large (ratio > 1.3, coefficient > 0.5).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { compileModel } from '@gengap/engine';
import { OptimizerKind, type OptimizerSpec } from '@gengap/proto/common/v1/model';
import { Split } from '@gengap/proto/common/v1/refs';
import { DatasetSpec } from '@gengap/proto/data/v1/dataset';
import type { RunEvent } from '@gengap/proto/trainer/v1/run';
import { Rng } from '@gengap/random';
import { type AnalysisHandle, runCheckpoint, runOk, startAnalysis, tempDir } from './support/harness.ts';
import { type LocalCheckpoint, LocalDatasets, LocalRuns } from './support/local-sources.ts';
import { detailsOf, renderedPlot, resultOf } from './support/results.ts';
import { mlp, namedParameters } from './support/train.ts';

const N = 20;
const HIDDEN = [2, 7, 13];
let dir: ReturnType<typeof tempDir>;
let service: AnalysisHandle;

function parityBatch(rng: Rng, count: number): { x: Float32Array; y: Int32Array } {
  const x = new Float32Array(count * N);
  const y = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    let product = 1;
    for (let j = 0; j < N; j++) x[i * N + j] = rng.uniform() < 0.5 ? -1 : 1;
    for (const h of HIDDEN) product *= x[i * N + h]!;
    y[i] = product < 0 ? 1 : 0;
  }
  return { x, y };
}

before(async () => {
  dir = tempDir('part2-parity');
  const model = mlp(N, [128], 2);
  const compiled = await compileModel(model, {
    optimizer: { kind: OptimizerKind.OPTIMIZER_KIND_SGD } as OptimizerSpec,
    threads: 1,
  });
  compiled.initParameters(1);
  const rng = new Rng(1, 'parity-stream');
  const trainEval = parityBatch(new Rng(2, 'parity-train-eval'), 1000);
  const testSplit = parityBatch(new Rng(3, 'parity-test'), 1000);
  const checkpoints: LocalCheckpoint[] = [];
  const events: RunEvent[] = [];
  for (let step = 0; step < 4000; ) {
    const { x, y } = parityBatch(rng, 100 * 32);
    await compiled.trainSteps({ x, y, learningRates: new Array(100).fill(0.03), firstStep: step });
    step += 100;
    const train = await compiled.evaluate(trainEval.x, trainEval.y);
    const testEval = await compiled.evaluate(testSplit.x, testSplit.y);
    checkpoints.push({ step, epoch: step / 100, permanent: true, parameters: namedParameters(compiled) });
    events.push({
      sequence: events.length,
      event: {
        $case: 'epoch',
        value: {
          step,
          epoch: step / 100,
          trainLoss: train.loss,
          trainAccuracy: train.accuracy,
          testLoss: testEval.loss,
          testAccuracy: testEval.accuracy,
          parameterNorm: 0,
          wallSeconds: 0,
          fullGradientNormSquared: 0,
        },
      },
    });
    if (testEval.accuracy >= 0.99) break;
  }
  await compiled.dispose();
  const runs = new LocalRuns();
  runs.add('parity', { model, dataset: { datasetId: 'parity' }, seed: 1 }, checkpoints, events);
  const datasets = new LocalDatasets();
  datasets.add('parity', Split.SPLIT_TEST, {
    ...testSplit,
    inputShape: [N],
    numClasses: 2,
    datasetSpec: DatasetSpec.fromPartial({
      source: {
        $case: 'sparseParity',
        value: { numBits: N, paritySize: 3, hiddenCoordinates: HIDDEN, online: true, testSize: 1000 },
      },
    }),
  });
  service = await startAnalysis({ stateDir: dir.path, runs, datasets });
});

after(async () => {
  await service?.close();
  dir?.remove();
});

test('the parity metric rises before the loss drops on an (n = 20, k = 3) run', async (t) => {
  const analysis = await runOk(service.client, {
    checkpoint: runCheckpoint('parity'),
    kind: { $case: 'parityProgress', value: { coordinates: [], fourierSamples: 0 } },
  });
  await renderedPlot(analysis);
  const points = resultOf(analysis, 'parityProgress').points;
  const details = await detailsOf(service.client, analysis);
  assert.deepEqual(details.coordinates, HIDDEN);
  assert.equal(points[0]!.step, 0);
  const ratio = points.map((p) => p.relevantWeightMass / p.irrelevantWeightMass);
  for (const [i, p] of points.entries()) {
    if (i % 2 === 0 || i === points.length - 1) {
      t.diagnostic(
        `step ${p.step}: mass ratio ${ratio[i]!.toFixed(4)}, Fourier ${p.fourierCoefficient.toFixed(4)} (floor ${details.fourierNoiseFloor[i].toFixed(4)}), train loss ${p.trainLoss.toFixed(4)}, test accuracy ${p.testAccuracy.toFixed(3)}`,
      );
    }
  }
  const initialLoss = points[1]!.trainLoss;
  const rise = points.findIndex((_, i) => ratio[i]! >= 1.03 * ratio[0]!);
  const drop = points.findIndex((p, i) => i > 0 && p.trainLoss <= 0.9 * initialLoss);
  t.diagnostic(
    `metric rises (+3%) at step ${points[rise]?.step}, loss drops (-10%) at step ${points[drop]?.step}`,
  );
  assert.ok(Math.abs(initialLoss - Math.LN2) < 0.03, `initial loss ${initialLoss}`);
  assert.ok(rise > 0 && drop > 0, `rise ${rise}, drop ${drop}`);
  assert.ok(points[rise]!.step < points[drop]!.step, 'the weight-mass metric should rise first');
  assert.ok(
    Math.abs(points[rise]!.fourierCoefficient) < 3 * details.fourierNoiseFloor[rise] + 0.02,
    'the Fourier coefficient is still at noise level when the weight mass rises',
  );
  const last = points[points.length - 1]!;
  assert.ok(ratio[ratio.length - 1]! > 1.3, `final ratio ${ratio[ratio.length - 1]}`);
  assert.ok(last.fourierCoefficient > 0.5, `final Fourier coefficient ${last.fourierCoefficient}`);
});
