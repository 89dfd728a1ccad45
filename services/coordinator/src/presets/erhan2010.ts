// Erhan et al. 2010, "Why does unsupervised pre-training help deep learning?": over many seeds,
// networks fine-tuned from greedy layer-wise (auto-encoder) pre-training reach lower test error
// than networks trained from a random initialisation, and their test errors vary less.
import { crossEntropy, type ExperimentSpecJson, MNIST_INPUT, mlp, mnist, seedsUpTo, sgd } from './blocks.ts';
import type { PresetDefinition } from './preset.ts';

function spec(size: 'quick' | 'full'): ExperimentSpecJson {
  const quick = size === 'quick';
  return {
    name: `erhan2010-${size}`,
    description: quick
      ? 'MNIST subset (1,000 / 1,000), MLP 784-256-256-10 from random initialisations, 8 seeds, 20 epochs: the test-error histogram of the from-scratch arm.'
      : 'Full MNIST, MLP 784-1000-1000-1000-10 as in the paper, 20 seeds, 50 epochs, with 1 and 3 hidden layers.',
    base: {
      label: 'from scratch',
      dataset: mnist(quick ? { train: 1000, test: 1000 } : {}),
      run: {
        model: mlp(MNIST_INPUT, quick ? [256, 256] : [1000, 1000, 1000], 10),
        loss: crossEntropy,
        optimizer: sgd(0.05, 0.9),
        batchSize: 32,
        stop: { maxEpochs: quick ? 20 : 50 },
        ...(quick ? { threads: 1 } : {}),
      },
    },
    sweeps: quick
      ? []
      : [
          {
            mode: 'SWEEP_MODE_ZIP',
            axes: [
              { path: 'label', name: 'depth', values: ['1 hidden layer', '3 hidden layers'] },
              {
                path: 'run.model',
                name: 'model',
                values: [mlp(MNIST_INPUT, [1000], 10), mlp(MNIST_INPUT, [1000, 1000, 1000], 10)],
              },
            ],
          },
        ],
    seeds: seedsUpTo(quick ? 8 : 20),
    analyses: [{ spec: { generalizationGap: {} } }],
    experimentAnalyses: [
      { pretrainFinetune: { pretrainEpochs: quick ? 5 : 20, pretrainLearningRate: 0.01 } },
    ],
  };
}

export const erhan2010: PresetDefinition = {
  name: 'erhan2010',
  title: 'Unsupervised pre-training: test-error histograms over seeds',
  description:
    'Many seeds of the same network: the distribution of test errors from random initialisation, against greedy layer-wise auto-encoder pre-training followed by fine-tuning.',
  papers: ['E', 'R'],
  build: spec,
  unsupported: [
    'pretrainFinetune: greedy layer-wise auto-encoder pre-training needs a reconstruction loss (targets = inputs) that RunSpec cannot express yet; only the from-scratch arm runs',
  ],
};
