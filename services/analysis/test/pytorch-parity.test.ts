// The top Hessian eigenvalues of a PyTorch-trained MNIST MLP (784-32-10, first 1,000 training images)
// against PyTorch's own Lanczos on double-backward HVPs in float64 (fixture made by the committed
// script fixtures/make_mnist_mlp_fixture.py). GenGap runs HESSIAN_EIGEN through the service at both
// precisions. Tolerances: float64 top-5 within 1e-8 relative (seen 2e-15); float32 top eigenvalue
// within 1e-4 relative (the bound; seen 4e-7).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { Precision } from '@gengap/proto/common/v1/model';
import { Split } from '@gengap/proto/common/v1/refs';
import { decodeSafetensors, typedArrayOf } from '@gengap/tensor-io';
import type { NamedTensor } from '../src/analyses/kind.ts';
import { type AnalysisHandle, runCheckpoint, runOk, startAnalysis, tempDir } from './support/harness.ts';
import { LocalDatasets, LocalRuns } from './support/local-sources.ts';
import { loadMnist } from './support/mnist.ts';
import { mlp } from './support/train.ts';

const fixtureDir = new URL('./fixtures/', import.meta.url);
const reference = JSON.parse(readFileSync(new URL('mnist_mlp_hessian.json', fixtureDir), 'utf8')) as {
  examples: number;
  loss: number;
  top_eigenvalues: number[];
};

let dir: ReturnType<typeof tempDir>;
let service: AnalysisHandle;

before(async () => {
  dir = tempDir('pytorch-parity');
  const contents = decodeSafetensors(
    new Uint8Array(readFileSync(new URL('mnist_mlp_params.safetensors', fixtureDir))),
  );
  const parameters: NamedTensor[] = [...contents.tensors].map(([name, t]) => ({
    name,
    shape: t.shape,
    data: Float32Array.from(typedArrayOf(t as typeof t & { dtype: 'float32' })),
  }));
  const runs = new LocalRuns();
  runs.add('torch-mlp', { model: mlp(784, [32], 10), dataset: { datasetId: 'mnist-1000' } }, [
    { step: 200, epoch: 10, permanent: true, parameters },
  ]);
  const mnist = loadMnist('train', reference.examples);
  const datasets = new LocalDatasets();
  datasets.add('mnist-1000', Split.SPLIT_TRAIN, {
    x: mnist.x,
    y: mnist.y,
    inputShape: [784],
    numClasses: 10,
  });
  service = await startAnalysis({ stateDir: dir.path, runs, datasets });
});

after(async () => {
  await service?.close();
  dir?.remove();
});

async function topEigenvalues(precision: Precision, k: number): Promise<number[]> {
  const analysis = await runOk(service.client, {
    checkpoint: runCheckpoint('torch-mlp'),
    precision,
    seed: 1,
    kind: {
      $case: 'hessianEigen',
      value: {
        topK: k,
        maxIterations: 100,
        tolerance: 1e-9,
        miniBatchSize: 0,
        blocks: undefined,
        returnEigenvectors: false,
        hvpBatchSize: 0,
      },
    },
  });
  const result = analysis.result?.kind;
  if (result?.$case !== 'hessianEigen') throw new Error('no eigen result');
  return result.value.blocks[0]!.eigenvalues;
}

test('float64: top-5 Hessian eigenvalues match PyTorch to 1e-8 relative', async (t) => {
  const ours = await topEigenvalues(Precision.PRECISION_FLOAT64, 5);
  let worst = 0;
  for (let i = 0; i < 5; i++) {
    const err = Math.abs(ours[i]! - reference.top_eigenvalues[i]!) / reference.top_eigenvalues[i]!;
    worst = Math.max(worst, err);
    assert.ok(err < 1e-8, `eigenvalue ${i}: ${ours[i]} vs PyTorch ${reference.top_eigenvalues[i]}`);
  }
  t.diagnostic(`float64 worst relative difference ${worst.toExponential(2)} (lambda_max ${ours[0]})`);
});

test('float32: the top eigenvalue matches PyTorch (float64) to 1e-4 relative', async (t) => {
  const [top] = await topEigenvalues(Precision.PRECISION_FLOAT32, 1);
  const err = Math.abs(top! - reference.top_eigenvalues[0]!) / reference.top_eigenvalues[0]!;
  t.diagnostic(`float32 relative difference ${err.toExponential(2)}`);
  assert.ok(err < 1e-4, `${top} vs PyTorch ${reference.top_eigenvalues[0]}`);
});
