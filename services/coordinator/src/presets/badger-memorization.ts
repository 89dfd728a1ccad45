// Badger, memorization of natural data: Gaussian noise added to the training images makes random
// labels easier to memorise (the noisy images are further apart and less correlated than the
// images themselves), time to fit grows with the training-set size, and the input-Jacobian norm at
// the solution says how input-stable the memorising function is. True labels are the control.
import {
  adam,
  type CorruptionJson,
  crossEntropy,
  type DatasetJson,
  type ExperimentSpecJson,
  MNIST_INPUT,
  mlp,
  mnist,
  seedsUpTo,
} from './blocks.ts';
import type { PresetDefinition } from './preset.ts';

/** corruptions[0] subsamples train, [1] test (mnist()), [2] is the label noise, [3] the input noise. */
const LABELS = 2;
const NOISE = 3;

const randomLabels: CorruptionJson = { labelNoise: { fraction: 1 } };
const trueLabels: CorruptionJson = { labelNoise: { fraction: 0 } };

/**
 * One zip sweep over (labels, input-noise sigma): random labels at every sigma of `random`, true
 * labels at every sigma of `control`. Labels name the arm (a categorical axis that colours the
 * charts); sigma is numeric, so it is the x axis of the time-to-fit and sensitivity charts.
 */
function labelsAndNoise(random: number[], control: number[]) {
  const arms = [
    ...random.map((sigma) => ({ name: 'random labels', labels: randomLabels, sigma })),
    ...control.map((sigma) => ({ name: 'true labels', labels: trueLabels, sigma })),
  ];
  return {
    mode: 'SWEEP_MODE_ZIP' as const,
    axes: [
      { path: 'label', name: 'labels', values: arms.map((a) => a.name) },
      { path: `dataset.corruptions[${LABELS}]`, name: 'labelCorruption', values: arms.map((a) => a.labels) },
      {
        path: `dataset.corruptions[${NOISE}].inputNoise.sigma`,
        name: 'inputNoiseSigma',
        values: arms.map((a) => a.sigma),
      },
    ],
  };
}

function trainSizes(sizes: number[]) {
  return { axes: [{ path: 'dataset.corruptions[0].subsample.size', name: 'trainSize', values: sizes }] };
}

/** Noise on the training images only: the test images stay clean, so test accuracy is on real digits. */
function noisyImages(train: number, test: number): DatasetJson {
  return mnist({
    train,
    test,
    extra: [randomLabels, { inputNoise: { sigma: 0, splits: 'SPLIT_SELECTION_TRAIN' } }],
  });
}

function quick(): ExperimentSpecJson {
  return {
    name: 'badger-memorization-quick',
    description:
      'MNIST subsets of 256 and 1,024 training images (1,000 test), MLP 784-32-10 trained with Adam until 100% train accuracy (at most 400 epochs). Random labels with Gaussian input noise sigma = 0, 0.1, 0.25, 0.5 added once to the training images (pixels in [0, 1]); true labels at sigma = 0 and 0.5 as the control. Input sensitivity (loss-gradient and input-Jacobian norms) on 256 training images at the solution.',
    base: {
      dataset: noisyImages(256, 1000),
      run: {
        model: mlp(MNIST_INPUT, [32], 10),
        loss: crossEntropy,
        optimizer: adam(0.002),
        batchSize: 64,
        stop: { maxEpochs: 400, targetTrainAccuracy: 1 },
        metrics: { stepEvery: 10, evalEveryEpochs: 1 },
        threads: 1,
      },
    },
    sweeps: [labelsAndNoise([0, 0.1, 0.25, 0.5], [0, 0.5]), trainSizes([256, 1024])],
    seeds: [0],
    analyses: [{ spec: { inputSensitivity: {}, numExamples: 256 } }, { spec: { generalizationGap: {} } }],
  };
}

function full(): ExperimentSpecJson {
  const sigmas = [0, 0.05, 0.1, 0.25, 0.5, 1];
  const mnistSource = { scaling: 'PIXEL_SCALING_UNIT' as const, flatten: true };
  return {
    name: 'badger-memorization-full',
    description:
      'MNIST and Fashion-MNIST, 1,000 to all 60,000 training images (full test split), MLP 784-512-10 trained with Adam until 100% train accuracy (at most 500 epochs); random and true labels at input-noise sigma = 0 to 1 on the training images, 3 seeds; input sensitivity on 1,000 training images at the solution.',
    base: {
      dataset: noisyImages(60000, 10000),
      run: {
        model: mlp(MNIST_INPUT, [512], 10),
        loss: crossEntropy,
        optimizer: adam(0.001),
        batchSize: 128,
        stop: { maxEpochs: 500, targetTrainAccuracy: 1 },
        metrics: { stepEvery: 50, evalEveryEpochs: 1, evalTrainSubset: 10000 },
      },
    },
    sweeps: [
      labelsAndNoise(sigmas, sigmas),
      trainSizes([1000, 4000, 16000, 60000]),
      {
        mode: 'SWEEP_MODE_ZIP',
        axes: [
          { path: 'label', name: 'images', values: ['MNIST', 'Fashion-MNIST'] },
          { path: 'dataset.mnist', name: 'mnist', values: [mnistSource, null] },
          { path: 'dataset.fashionMnist', name: 'fashionMnist', values: [null, mnistSource] },
        ],
      },
    ],
    seeds: seedsUpTo(3),
    analyses: [{ spec: { inputSensitivity: {}, numExamples: 1000 } }, { spec: { generalizationGap: {} } }],
  };
}

export const badgerMemorization: PresetDefinition = {
  name: 'badger-memorization',
  title: 'Memorising natural data: input noise, dataset size and input stability',
  description:
    'Random labels on natural images with Gaussian noise added to the training inputs, against true labels: time to 100% train accuracy falls as the noise grows (noise makes memorisation easier) and rises with the training-set size; the input-Jacobian norm at the solution measures how input-stable the memorising function is.',
  papers: ['B1'],
  build: (size) => (size === 'quick' ? quick() : full()),
  unsupported: [],
};
