// Barrett & Dherin 2021, "Implicit gradient regularization": gradient descent with a finite step h
// follows a modified loss L + (h/4) ||grad L||^2, so larger learning rates find solutions with
// smaller gradient norms (flatter regions); an explicit penalty mu ||grad L||^2 has a similar effect.
import { crossEntropy, type ExperimentSpecJson, MNIST_INPUT, mlp, mnist, sgd } from './blocks.ts';
import type { PresetDefinition } from './preset.ts';

function spec(size: 'quick' | 'full'): ExperimentSpecJson {
  const quick = size === 'quick';
  return {
    name: `barrett2021-${size}`,
    description: quick
      ? 'MNIST subset (500 / 1,000), MLP 784-128-10, full-batch gradient descent for 300 steps at learning rates 0.05, 0.2, 0.8 without and with an explicit gradient-norm penalty 0.01; the squared full-batch gradient norm at every evaluation.'
      : 'MNIST subset of 5,000, MLP 784-512-512-10, full-batch gradient descent for 5,000 steps at learning rates 0.005 to 0.2 and explicit penalties 0, 1e-3, 1e-2, 3 seeds.',
    base: {
      dataset: mnist({ train: quick ? 500 : 5000, test: quick ? 1000 : 10000 }),
      run: {
        model: mlp(MNIST_INPUT, quick ? [128] : [512, 512], 10),
        loss: crossEntropy,
        optimizer: sgd(0.1),
        batchSize: 0,
        stop: { maxEpochs: quick ? 300 : 5000 },
        metrics: { fullGradientNorm: true, evalEveryEpochs: quick ? 5 : 25 },
        ...(quick ? { threads: 1 } : {}),
      },
    },
    sweeps: [
      {
        axes: [
          {
            path: 'run.optimizer.learningRate',
            values: quick ? [0.05, 0.2, 0.8] : [0.005, 0.01, 0.02, 0.05, 0.1, 0.2],
          },
        ],
      },
      {
        axes: [
          {
            path: 'run.regularizers.gradientNormPenalty',
            name: 'penalty',
            values: quick ? [0, 0.01] : [0, 0.001, 0.01],
          },
        ],
      },
    ],
    seeds: quick ? [0] : [0, 1, 2],
    analyses: [
      { spec: { hessianEigen: { topK: 1 }, numExamples: quick ? 500 : 5000 } },
      { spec: { generalizationGap: {} } },
    ],
  };
}

export const barrett2021: PresetDefinition = {
  name: 'barrett2021',
  title: 'Implicit gradient regularization of gradient descent',
  description:
    'Full-batch gradient descent over a learning-rate sweep, with and without an explicit gradient-norm penalty: the squared gradient norm during training, the top Hessian eigenvalue and the test accuracy at the end.',
  papers: ['I'],
  build: spec,
  unsupported: [],
};
