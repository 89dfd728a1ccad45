// Zhang et al. 2017, "Understanding deep learning requires rethinking generalization": the same
// network fits true labels, partially and fully random labels, shuffled pixels, random pixels and
// Gaussian inputs; time to fit grows with the corruption and test error follows it to chance.
import {
  adam,
  type CorruptionJson,
  cnn,
  crossEntropy,
  type ExperimentSpecJson,
  MNIST_INPUT,
  mlp,
  mnist,
  sgd,
} from './blocks.ts';
import type { PresetDefinition } from './preset.ts';

/** One zip sweep: the label-corruption fraction (a number, for time-to-fit plots) and the input corruption. */
function corruptionSweep(fractions: number[], labelIndex: number) {
  // Input corruptions apply to both splits, as in the paper: the test images of a shuffled-pixels
  // dataset carry the same permutation (so a network can still generalize), random pixels and
  // Gaussian inputs leave nothing to generalize from.
  const both = 'SPLIT_SELECTION_BOTH' as const;
  const inputCorruptions: (CorruptionJson | null)[] = [
    { shufflePixels: { splits: both } },
    { randomPixels: { splits: both } },
    { gaussianInputs: { splits: both } },
  ];
  return {
    mode: 'SWEEP_MODE_ZIP' as const,
    axes: [
      {
        path: `dataset.corruptions[${labelIndex}].labelNoise.fraction`,
        name: 'labelCorruption',
        values: [...fractions, ...inputCorruptions.map(() => 0)],
      },
      {
        path: `dataset.corruptions[${labelIndex + 1}]`,
        name: 'inputs',
        values: [...fractions.map(() => null), ...inputCorruptions],
      },
    ],
  };
}

function quick(): ExperimentSpecJson {
  return {
    name: 'zhang2017-quick',
    description:
      'MNIST subset (2,000 train / 1,000 test), MLP 784-32-10 trained with Adam until 100% train accuracy (at most 600 epochs) on true labels, label noise 0.2 to 0.8, random labels, shuffled pixels, random pixels and Gaussian inputs. The hidden layer is narrow so that memorising more noise visibly costs more time on a small subset (wide MLPs memorise a few thousand examples at a rate that hardly depends on how many labels are noisy).',
    base: {
      dataset: mnist({ train: 2000, test: 1000, extra: [{ labelNoise: { fraction: 0 } }] }),
      run: {
        model: mlp(MNIST_INPUT, [32], 10),
        loss: crossEntropy,
        optimizer: adam(0.002),
        batchSize: 64,
        stop: { maxEpochs: 600, targetTrainAccuracy: 1 },
        metrics: { stepEvery: 10, evalEveryEpochs: 1 },
        threads: 1,
      },
    },
    sweeps: [corruptionSweep([0, 0.2, 0.4, 0.6, 0.8, 1], 2)],
    seeds: [0],
    analyses: [{ spec: { generalizationGap: {} } }],
  };
}

function full(): ExperimentSpecJson {
  const images = { ...mnist({ flatten: false, extra: [{ labelNoise: { fraction: 0 } }] }) };
  return {
    name: 'zhang2017-full',
    description:
      'Full MNIST (CIFAR-10 and ImageNet are not available offline): MLP 1x512, MLP 3x512 and a small CNN, SGD with momentum 0.9 and learning-rate decay 0.95 per epoch, label noise 0 to 1 in steps of 0.2, shuffled pixels, random pixels, Gaussian inputs, with and without explicit regularization (weight decay 5e-4 and random shifts), 3 seeds.',
    base: {
      dataset: images,
      run: {
        model: cnn([32, 64], [384, 192], 10),
        loss: crossEntropy,
        optimizer: sgd(0.01, 0.9),
        schedule: { kind: 'SCHEDULE_KIND_STEP', stepSize: 469, gamma: 0.95 },
        batchSize: 128,
        stop: { maxEpochs: 200, targetTrainAccuracy: 1 },
        metrics: { stepEvery: 50, evalEveryEpochs: 1, evalTrainSubset: 10000 },
      },
    },
    sweeps: [
      {
        mode: 'SWEEP_MODE_ZIP',
        axes: [
          { path: 'label', name: 'model', values: ['CNN', 'MLP 1x512', 'MLP 3x512'] },
          {
            path: 'run.model',
            name: 'architecture',
            values: [
              cnn([32, 64], [384, 192], 10),
              flatModel(mlp(MNIST_INPUT, [512], 10)),
              flatModel(mlp(MNIST_INPUT, [512, 512, 512], 10)),
            ],
          },
        ],
      },
      corruptionSweep([0, 0.2, 0.4, 0.6, 0.8, 1], 0),
      {
        mode: 'SWEEP_MODE_ZIP',
        axes: [
          { path: 'label', name: 'regularization', values: ['no regularization', 'weight decay + shifts'] },
          {
            path: 'run.regularizers',
            name: 'regularizers',
            values: [{}, { weightDecay: 5e-4, augmentRandomShift: 2 }],
          },
        ],
      },
    ],
    seeds: [0, 1, 2],
    analyses: [{ spec: { generalizationGap: {} } }],
  };
}

/** An MLP on the 1x28x28 images: a flatten layer first. */
function flatModel(model: ReturnType<typeof mlp>): ReturnType<typeof mlp> {
  return { ...model, inputShape: [1, 28, 28], layers: [{ flatten: {} }, ...model.layers] };
}

export const zhang2017: PresetDefinition = {
  name: 'zhang2017',
  title: 'Rethinking generalization: fitting random labels and random inputs',
  description:
    'Networks fit true labels, partially and fully random labels, shuffled pixels, random pixels and Gaussian inputs to 100% training accuracy; time to fit grows with the corruption while test accuracy falls to chance. Reports loss curves, time-to-fit and test error against the label-corruption fraction.',
  papers: ['Z'],
  build: (size) => (size === 'quick' ? quick() : full()),
  unsupported: [],
};
