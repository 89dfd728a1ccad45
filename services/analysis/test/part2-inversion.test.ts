// Inversion (Badger): an MNIST MLP 784-256-256-256-10 (ReLU), briefly trained in-process (seed 7, so
// the analysis can rebuild its initial parameters), each layer's embedding of 8 test images inverted
// by 300 Adam steps on the input from noise.
// Asserted: at initialisation the reconstruction error grows with depth (strictly, over the ReLU
// outputs of layers 1, 3 and 5, and over all seven layers up to 5% noise between neighbours), the
// optimisation itself succeeds at the first layer (relative embedding error below 1e-3), and the PNG
// grids are PNGs of 2 rows x 8 images at scale 2.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { InversionInit } from '@gengap/proto/analysis/v1/analysis';
import { Split } from '@gengap/proto/common/v1/refs';
import { DatasetSpec } from '@gengap/proto/data/v1/dataset';
import { PNG } from 'pngjs';
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
import { detailsOf, renderedPlot, resultOf } from './support/results.ts';
import { mlp, train } from './support/train.ts';

let dir: ReturnType<typeof tempDir>;
let service: AnalysisHandle;

before(async () => {
  dir = tempDir('part2-inversion');
  const mnist = loadMnist('train', 1000);
  const testSplit = loadMnist('test', 100);
  const model = mlp(784, [256, 256, 256], 10);
  const trained = await train({
    model,
    x: mnist.x,
    y: mnist.y,
    batchSize: 50,
    epochs: 3,
    learningRate: 0.1,
    seed: 7,
  });
  const runs = new LocalRuns();
  runs.add('mlp', { model, dataset: { datasetId: 'mnist' }, seed: 7 }, [
    { step: 60, epoch: 3, permanent: true, parameters: trained.parameters },
  ]);
  const datasets = new LocalDatasets();
  const datasetSpec = DatasetSpec.fromPartial({ source: { $case: 'mnist', value: { flatten: true } } });
  datasets.add('mnist', Split.SPLIT_TRAIN, {
    x: mnist.x,
    y: mnist.y,
    inputShape: [784],
    numClasses: 10,
    datasetSpec,
  });
  datasets.add('mnist', Split.SPLIT_TEST, {
    x: testSplit.x,
    y: testSplit.y,
    inputShape: [784],
    numClasses: 10,
    datasetSpec,
  });
  service = await startAnalysis({ stateDir: dir.path, runs, datasets });
});

after(async () => {
  await service?.close();
  dir?.remove();
});

test('inversion error at initialisation grows with depth', async (t) => {
  const analysis = await runOk(service.client, {
    checkpoint: runCheckpoint('mlp'),
    split: Split.SPLIT_TEST,
    seed: 1,
    kind: {
      $case: 'inversion',
      value: {
        layers: [],
        steps: 300,
        learningRate: 0,
        init: InversionInit.INVERSION_INIT_NOISE,
        numImages: 8,
      },
    },
  });
  await renderedPlot(analysis);
  const trained = resultOf(analysis, 'inversion').layers;
  const details = await detailsOf(service.client, analysis);
  const initial = details.initialization as typeof trained;
  for (const [i, r] of initial.entries()) {
    t.diagnostic(
      `layer ${r.layer} ${r.layerName}: MSE at init ${r.reconstructionMse.toFixed(5)} (embedding ${r.embeddingLoss.toExponential(2)}), trained ${trained[i]!.reconstructionMse.toFixed(5)} (embedding ${trained[i]!.embeddingLoss.toExponential(2)})`,
    );
  }
  assert.equal(initial.length, 7);
  assert.match(details.initialParameters, /initialization\(seed 7\)/);
  const relu = [1, 3, 5].map((k) => initial[k]!.reconstructionMse);
  assert.ok(relu[0]! < relu[1]! && relu[1]! < relu[2]!, `ReLU-layer errors ${relu}`);
  for (let k = 1; k < initial.length; k++) {
    assert.ok(
      initial[k]!.reconstructionMse >= 0.95 * initial[k - 1]!.reconstructionMse,
      `layer ${k} error ${initial[k]!.reconstructionMse} < layer ${k - 1} error ${initial[k - 1]!.reconstructionMse}`,
    );
  }
  assert.ok(initial[0]!.embeddingLoss < 1e-3, `layer 0 embedding error ${initial[0]!.embeddingLoss}`);

  const grid = await readArtifact(service.client, analysis.analysisId, trained[1]!.pngArtifact);
  assert.equal(grid.mediaType, 'image/png');
  const png = PNG.sync.read(Buffer.from(grid.tensors[0]!.data));
  assert.equal(png.width, 8 * 56 + 9 * 2);
  assert.equal(png.height, 2 * 56 + 3 * 2);
  assert.ok(analysis.result!.artifacts.includes('inversion-init-layer-5.png'));
});
