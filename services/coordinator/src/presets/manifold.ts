// Low-dimensional manifold data: points on a random k-dimensional linear subspace of R^d plus noise
// of standard deviation sigma in the d - k transverse directions, labelled by stripes across the
// first subspace coordinate (a frequency from one boundary to many). Without noise a network must
// learn the rule along the subspace; with noise, every example can be told apart by its transverse
// component, so memorising gets easy (time to fit falls) and, for the finer stripes, takes the place
// of learning (test accuracy falls to chance). The input-Jacobian norm at the end measures how much
// the learned function varies around the data, and its split along the subspace (||J U||, with U
// the dataset's stored basis) and across it (||J (I - U U^T)||) tells the learned function's
// variation across the subspace apart from its sensitivity to the transverse noise.
import { adam, crossEntropy, type DatasetJson, type ExperimentSpecJson, mlp, seedsUpTo } from './blocks.ts';
import type { PresetDefinition } from './preset.ts';

function subspace(options: { ambient: number; dimension: number; train: number; test: number }): DatasetJson {
  return {
    subspace: {
      ambientDimension: options.ambient,
      subspaceDimension: options.dimension,
      noiseSigma: 0,
      trainSize: options.train,
      testSize: options.test,
      label: 'SUBSPACE_LABEL_STRIPES',
      stripeFrequency: 1,
    },
    seed: 20240101,
  };
}

/**
 * Stripes across the first subspace coordinate, class = parity of floor(frequency * z_1): frequency
 * 0.25 leaves one boundary within the data (z_1 ~ N(0, 1); the sign of z_1 for |z_1| < 4), 1 draws
 * stripes of width 1, 2 of width 0.5: how much the labelling function varies along the subspace.
 */
function stripeFrequencies(values: number[]) {
  return { axes: [{ path: 'dataset.subspace.stripeFrequency', name: 'stripeFrequency', values }] };
}

function noiseSweep(sigmas: number[]) {
  return { axes: [{ path: 'dataset.subspace.noiseSigma', name: 'noiseSigma', values: sigmas }] };
}

function quick(): ExperimentSpecJson {
  const ambient = 100;
  return {
    name: 'manifold-quick',
    description:
      'A random 2-dimensional subspace of R^100, 512 training and 2,000 test points, transverse noise sigma = 0, 0.05, 0.1, 0.2, 0.5, 1 (in every one of the 98 transverse directions; the latent coordinates are N(0, 1)); labelled by stripes across the first subspace coordinate z_1 of frequency 0.25 (one boundary: the sign of z_1) and 1 (stripes of width 1). MLP 100-64-64-2, Adam, 200 epochs; time to fit, generalization gap, and input sensitivity on the 512 training points (loss-gradient and input-Jacobian norms, the Jacobian split along the stored subspace basis and across it).',
    base: {
      dataset: subspace({ ambient, dimension: 2, train: 512, test: 2000 }),
      run: {
        model: mlp(ambient, [64, 64], 2),
        loss: crossEntropy,
        optimizer: adam(0.002),
        batchSize: 64,
        stop: { maxEpochs: 200 },
        metrics: { stepEvery: 10, evalEveryEpochs: 1 },
        threads: 1,
      },
    },
    sweeps: [noiseSweep([0, 0.05, 0.1, 0.2, 0.5, 1]), stripeFrequencies([0.25, 1])],
    seeds: [0],
    analyses: [
      { spec: { inputSensitivity: { subspaceBasis: 'basis' }, numExamples: 512 } },
      { spec: { generalizationGap: {} } },
    ],
  };
}

function full(): ExperimentSpecJson {
  const ambient = 784;
  return {
    name: 'manifold-full',
    description:
      'Random 2- and 10-dimensional subspaces of R^784 (the size of an MNIST image), 1,000 and 10,000 training points (10,000 test), transverse noise sigma = 0 to 1, stripe labels of frequency 0.25, 1 and 2; MLP 784-512-512-2, Adam, 300 epochs, 3 seeds; time to fit, generalization gap and input sensitivity on 2,000 training points (the input Jacobian split along the stored subspace basis and across it).',
    base: {
      dataset: subspace({ ambient, dimension: 2, train: 1000, test: 10000 }),
      run: {
        model: mlp(ambient, [512, 512], 2),
        loss: crossEntropy,
        optimizer: adam(0.001),
        batchSize: 128,
        stop: { maxEpochs: 300 },
        metrics: { stepEvery: 50, evalEveryEpochs: 1 },
      },
    },
    sweeps: [
      noiseSweep([0, 0.02, 0.05, 0.1, 0.2, 0.5, 1]),
      stripeFrequencies([0.25, 1, 2]),
      { axes: [{ path: 'dataset.subspace.subspaceDimension', name: 'subspaceDimension', values: [2, 10] }] },
      { axes: [{ path: 'dataset.subspace.trainSize', name: 'trainSize', values: [1000, 10000] }] },
    ],
    seeds: seedsUpTo(3),
    analyses: [
      { spec: { inputSensitivity: { subspaceBasis: 'basis' }, numExamples: 2000 } },
      { spec: { generalizationGap: {} } },
    ],
  };
}

export const manifold: PresetDefinition = {
  name: 'manifold',
  title: 'Low-dimensional manifold data: transverse noise and the learned function',
  description:
    'Data on a random linear subspace plus transverse Gaussian noise, labelled by a function of the subspace coordinates: as the noise grows, examples become separable off the subspace, time to fit falls and a non-linear rule is memorised instead of learned. Reports time to fit, test error and the generalization gap against the noise, and the input-Jacobian norm of the learned function at the training points, split into its part along the subspace (how the function varies with the latent coordinates) and its part across it (its sensitivity to the transverse noise).',
  papers: ['M'],
  build: (size) => (size === 'quick' ? quick() : full()),
  unsupported: [],
};
