// Badger, depth and representation: reconstruct an input from one layer's embedding by gradient
// descent on the input; deeper layers of a trained network discard more of the input, and training
// changes what is kept. Linear probes per layer show what stays linearly decodable.
import { crossEntropy, type ExperimentSpecJson, MNIST_INPUT, mlp, mnist, sgd } from './blocks.ts';
import type { PresetDefinition } from './preset.ts';

function spec(size: 'quick' | 'full'): ExperimentSpecJson {
  const quick = size === 'quick';
  const depths = quick ? [3] : [1, 2, 4];
  return {
    name: `badger-inversion-${size}`,
    description: quick
      ? 'MNIST subset (1,000 / 1,000), MLP 784-256-256-256-10, before training (one step) and after 20 epochs; inputs reconstructed from every layer (200 Adam steps on the input, 4 images) and linear probes per layer.'
      : 'Full MNIST, MLPs with 1, 2 and 4 hidden layers of 512 units, untrained (one step) and trained for 30 epochs; reconstructions from every layer (500 steps, 8 images) and linear probes, 3 seeds.',
    base: {
      dataset: mnist(quick ? { train: 1000, test: 1000 } : {}),
      run: {
        model: mlp(MNIST_INPUT, [256, 256, 256], 10),
        loss: crossEntropy,
        optimizer: sgd(0.05, 0.9),
        batchSize: 64,
        stop: { maxEpochs: quick ? 20 : 30 },
        ...(quick ? { threads: 1 } : {}),
      },
    },
    sweeps: [
      {
        mode: 'SWEEP_MODE_ZIP',
        axes: [
          { path: 'label', name: 'training', values: ['untrained', 'trained'] },
          { path: 'run.stop', name: 'stop', values: [{ maxSteps: 1 }, { maxEpochs: quick ? 20 : 30 }] },
        ],
      },
      ...(quick
        ? []
        : [
            {
              mode: 'SWEEP_MODE_ZIP' as const,
              axes: [
                { path: 'label', name: 'depth', values: depths.map((d) => `${d} hidden`) },
                {
                  path: 'run.model',
                  name: 'model',
                  values: depths.map((d) =>
                    mlp(
                      MNIST_INPUT,
                      Array.from({ length: d }, () => 512),
                      10,
                    ),
                  ),
                },
              ],
            },
          ]),
    ],
    seeds: quick ? [0] : [0, 1, 2],
    analyses: [
      { spec: { inversion: { steps: quick ? 200 : 500, numImages: quick ? 4 : 8, learningRate: 0.05 } } },
      { spec: { linearProbe: { steps: quick ? 100 : 200 }, numExamples: quick ? 1000 : 10000 } },
    ],
  };
}

export const badgerInversion: PresetDefinition = {
  name: 'badger-inversion',
  title: 'Inverting layer embeddings: depth and representation',
  description:
    "Reconstructions of inputs from each layer's embedding (gradient descent on the input), before and after training and across depths, with the reconstruction error per layer and linear-probe accuracy per layer.",
  papers: ['B2', 'R'],
  build: spec,
  unsupported: [],
};
