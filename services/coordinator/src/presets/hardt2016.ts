// Hardt et al. 2016, "Train faster, generalize better: stability of stochastic gradient descent":
// two runs on datasets that differ in one example, with the same seed and example order, drift
// apart slowly; the parameter distance bounds the generalization gap and grows with steps and the
// learning rate. Also the statistical view of stability (late-training loss statistics across seeds
// and neighbours) and trajectory statistics against the generalization gap.
import { crossEntropy, type ExperimentSpecJson, MNIST_INPUT, mlp, mnist, seedsUpTo, sgd } from './blocks.ts';
import type { PresetDefinition } from './preset.ts';

function spec(size: 'quick' | 'full'): ExperimentSpecJson {
  const quick = size === 'quick';
  return {
    name: `hardt2016-${size}`,
    description: quick
      ? 'MNIST subset (500 / 1,000), MLP 784-128-10, plain SGD at learning rates 0.01 and 0.05, 15 epochs, on the dataset and its neighbour with training example 0 replaced; parameter distance per epoch between the pair.'
      : 'MNIST subset of 10,000 (so single examples matter), MLP 784-512-10, SGD at 0.01, 0.05, 0.1, 50 epochs, 5 seeds, neighbours replacing example 0 and example 1; late-training loss statistics and trajectory statistics across all runs.',
    base: {
      dataset: mnist({ train: quick ? 500 : 10000, test: quick ? 1000 : 10000 }),
      run: {
        model: mlp(MNIST_INPUT, [quick ? 128 : 512], 10),
        loss: crossEntropy,
        optimizer: sgd(0.05),
        batchSize: 32,
        stop: { maxEpochs: quick ? 15 : 50 },
        checkpoints: { keepEveryEpochs: 1 },
        metrics: { trajectoryEvery: quick ? 10 : 50, trajectoryDimension: 64, trajectorySeed: 7 },
        ...(quick ? { threads: 1 } : {}),
      },
    },
    sweeps: [
      {
        mode: 'SWEEP_MODE_ZIP',
        axes: [
          {
            path: 'label',
            name: 'dataset',
            values: quick ? ['original', 'neighbour'] : ['original', 'neighbour', 'neighbour 2'],
          },
          {
            path: 'dataset.corruptions[2]',
            name: 'replaced',
            values: quick
              ? [null, { replaceOne: { index: 0, replacement: 0 } }]
              : [
                  null,
                  { replaceOne: { index: 0, replacement: 0 } },
                  { replaceOne: { index: 1, replacement: 1 } },
                ],
          },
        ],
      },
      { axes: [{ path: 'run.optimizer.learningRate', values: quick ? [0.01, 0.05] : [0.01, 0.05, 0.1] }] },
    ],
    seeds: quick ? [0] : seedsUpTo(5),
    analyses: [{ spec: { generalizationGap: {} } }],
    experimentAnalyses: [
      { pairedRuns: { axis: 'dataset', first: 'original', second: 'neighbour', spec: { stability: {} } } },
      ...(quick
        ? []
        : [
            {
              pairedRuns: {
                axis: 'dataset',
                first: 'original',
                second: 'neighbour 2',
                spec: { stability: {} },
              },
            },
          ]),
      { acrossRuns: { spec: { lateTrainingStatistics: { windowFraction: 0.5 } } } },
      { acrossRuns: { spec: { trajectory: { startFraction: 0.2 } } } },
    ],
  };
}

export const hardt2016: PresetDefinition = {
  name: 'hardt2016',
  title: 'Stability of SGD: runs on neighbouring datasets',
  description:
    'Paired runs on datasets that differ in one training example (same seed, same example order): parameter distance and generalization gap per epoch, for several learning rates; late-training loss statistics and trajectory statistics across the runs.',
  papers: ['H', 'S', 'F'],
  build: spec,
  unsupported: [],
};
