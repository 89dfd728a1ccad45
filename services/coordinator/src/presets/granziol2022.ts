// Granziol et al. 2022, "Learning rates as a function of batch size": the mini-batch Hessian's
// spectrum differs from the full-data Hessian's by a term that shrinks with the batch size, which
// predicts linear learning-rate scaling for SGD and square-root scaling for Adam.
import { crossEntropy, type ExperimentSpecJson, MNIST_INPUT, mlp, mnist } from './blocks.ts';
import type { PresetDefinition } from './preset.ts';

function scalingSweep(batches: number[], base: number) {
  const sgd = batches.map((b) => ({ kind: 'OPTIMIZER_KIND_SGD', learningRate: 0.01 * (b / base) }));
  const adam = batches.map((b) => ({
    kind: 'OPTIMIZER_KIND_ADAM',
    learningRate: 1e-3 * Math.sqrt(b / base),
  }));
  return {
    mode: 'SWEEP_MODE_ZIP' as const,
    axes: [
      {
        path: 'label',
        name: 'scaling',
        values: [...batches.map(() => 'SGD, linear'), ...batches.map(() => 'Adam, square root')],
      },
      { path: 'run.batchSize', values: [...batches, ...batches] },
      { path: 'run.optimizer', name: 'optimizer', values: [...sgd, ...adam] },
    ],
  };
}

function spec(size: 'quick' | 'full'): ExperimentSpecJson {
  const quick = size === 'quick';
  const batches = quick ? [16, 64, 256] : [32, 64, 128, 256, 512, 1024, 2048];
  const examples = quick ? 1000 : 10000;
  return {
    name: `granziol2022-${size}`,
    description: quick
      ? 'MNIST subset (2,000 / 1,000), MLP 784-128-10, batch 16, 64, 256 with SGD (learning rate linear in the batch) and Adam (square root), 15 epochs; top-5 Hessian eigenvalues of the full-data and of a 64-example mini-batch Hessian, and the spectral density.'
      : 'Full MNIST, MLP 784-512-512-10, batch 32 to 2,048 with linear (SGD) and square-root (Adam) learning-rate scaling, 50 epochs, 3 seeds; full-data vs mini-batch Hessian spectra at the batch sizes used.',
    base: {
      dataset: mnist(quick ? { train: 2000, test: 1000 } : {}),
      run: {
        model: mlp(MNIST_INPUT, quick ? [128] : [512, 512], 10),
        loss: crossEntropy,
        optimizer: { kind: 'OPTIMIZER_KIND_SGD', learningRate: 0.01 },
        batchSize: 64,
        stop: { maxEpochs: quick ? 15 : 50 },
        ...(quick ? { threads: 1 } : {}),
      },
    },
    sweeps: [scalingSweep(batches, quick ? 16 : 32)],
    seeds: quick ? [0] : [0, 1, 2],
    analyses: [
      { spec: { hessianEigen: { topK: 5 }, numExamples: examples } },
      ...(quick ? [64] : [32, 256, 2048]).map((m) => ({
        spec: { hessianEigen: { topK: 5, miniBatchSize: m }, numExamples: examples, seed: 1 },
      })),
      {
        spec: {
          spectralDensity: { numProbes: quick ? 3 : 10, lanczosSteps: quick ? 40 : 80 },
          numExamples: examples,
        },
      },
    ],
  };
}

export const granziol2022: PresetDefinition = {
  name: 'granziol2022',
  title: 'Batch Hessian spectra and learning-rate scaling with batch size',
  description:
    'Batch-size sweeps with the learning rate scaled linearly (SGD) or by the square root (Adam); Hessian top eigenvalues of mini-batch vs full-data Hessians and stochastic Lanczos spectral densities.',
  papers: ['G', 'O'],
  build: spec,
  unsupported: [],
};
