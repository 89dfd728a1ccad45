// Arpit et al. 2017, "A closer look at memorization in deep networks": networks learn simple
// patterns first; noise in labels (randY) or inputs (randX) is memorised later, and dropout or
// weight decay slow memorisation of noise more than learning of real data.
import { crossEntropy, type ExperimentSpecJson, MNIST_INPUT, mlp, mnist, sgd } from './blocks.ts';
import type { PresetDefinition } from './preset.ts';

function noiseSweep(fractions: number[]) {
  return {
    mode: 'SWEEP_MODE_ZIP' as const,
    axes: [
      {
        path: 'label',
        name: 'noise',
        values: [
          ...fractions.map((f) => `randY ${f}`),
          ...fractions.filter((f) => f > 0).map((f) => `randX ${f}`),
        ],
      },
      {
        path: 'dataset.corruptions[2]',
        name: 'corruption',
        values: [
          ...fractions.map((f) => ({ labelNoise: { fraction: f, exactAndAlwaysWrong: true } })),
          ...fractions.filter((f) => f > 0).map((f) => ({ randomInputs: { fraction: f } })),
        ],
      },
    ],
  };
}

const analyses = (examples: number) => [
  { spec: { firstLearned: {} } },
  { spec: { inputSensitivity: {}, numExamples: examples } },
  { spec: { criticalSampleRatio: { radius: 0.1, steps: 20 }, numExamples: examples, shuffleExamples: true } },
];

function quick(): ExperimentSpecJson {
  return {
    name: 'arpit2017-quick',
    description:
      'MNIST subset (1,000 / 1,000), MLP 784-256-256-10, 40 epochs; randY (exactly that fraction of labels made wrong) at 0, 0.4, 0.8 and randX at 0.4, 0.8, each without and with dropout 0.5. Per-example correctness gives the epoch each example is first learned.',
    base: {
      dataset: mnist({ train: 1000, test: 1000 }),
      run: {
        model: mlp(MNIST_INPUT, [256, 256], 10),
        loss: crossEntropy,
        optimizer: sgd(0.05, 0.9),
        batchSize: 64,
        stop: { maxEpochs: 40 },
        metrics: { perExampleCorrectness: true },
        threads: 1,
      },
    },
    sweeps: [
      noiseSweep([0, 0.4, 0.8]),
      {
        mode: 'SWEEP_MODE_ZIP',
        axes: [
          { path: 'label', name: 'regularization', values: ['no dropout', 'dropout 0.5'] },
          {
            path: 'run.model',
            name: 'model',
            values: [0, 0.5].map((d) => mlp(MNIST_INPUT, [256, 256], 10, { dropout: d })),
          },
        ],
      },
    ],
    analyses: analyses(300),
  };
}

function full(): ExperimentSpecJson {
  const models = [0, 0.2, 0.4, 0.6].map((d) => mlp(MNIST_INPUT, [4096, 4096], 10, { dropout: d }));
  return {
    name: 'arpit2017-full',
    description:
      'Full MNIST (CIFAR-10 is not available offline), MLP 784-4096-4096-10 as in the paper, randY and randX at 0 to 1 in steps of 0.2, dropout 0 to 0.6 and weight decay 0 or 1e-4, 3 seeds, 100 epochs.',
    base: {
      dataset: mnist({ extra: [] }),
      run: {
        model: models[0] as ReturnType<typeof mlp>,
        loss: crossEntropy,
        optimizer: sgd(0.01, 0.9),
        batchSize: 128,
        stop: { maxEpochs: 100 },
        metrics: { perExampleCorrectness: true, evalTrainSubset: 10000 },
      },
    },
    sweeps: [
      {
        mode: 'SWEEP_MODE_ZIP',
        axes: [
          {
            path: 'label',
            name: 'noise',
            values: [0, 0.2, 0.4, 0.6, 0.8, 1].flatMap((f) =>
              f === 0 ? ['clean'] : [`randY ${f}`, `randX ${f}`],
            ),
          },
          {
            path: 'dataset.corruptions',
            name: 'corruption',
            values: [0, 0.2, 0.4, 0.6, 0.8, 1].flatMap((f) =>
              f === 0
                ? [[]]
                : [
                    [{ labelNoise: { fraction: f, exactAndAlwaysWrong: true } }],
                    [{ randomInputs: { fraction: f } }],
                  ],
            ),
          },
        ],
      },
      {
        mode: 'SWEEP_MODE_ZIP',
        axes: [
          {
            path: 'label',
            name: 'dropout',
            values: ['dropout 0', 'dropout 0.2', 'dropout 0.4', 'dropout 0.6'],
          },
          { path: 'run.model', name: 'model', values: models },
        ],
      },
      { axes: [{ path: 'run.regularizers.weightDecay', name: 'weightDecay', values: [0, 1e-4] }] },
    ],
    seeds: [0, 1, 2],
    analyses: analyses(1000),
  };
}

export const arpit2017: PresetDefinition = {
  name: 'arpit2017',
  title: 'A closer look at memorization: noise is learned last',
  description:
    'Label noise (randY) and input noise (randX) at several fractions, with and without dropout and weight decay. Per-example "first learned" epochs show real examples learned before noisy ones; loss sensitivity (input-gradient norms) and the critical sample ratio grow with memorisation.',
  papers: ['A'],
  build: (size) => (size === 'quick' ? quick() : full()),
  unsupported: [],
};
