// Erhan et al. 2010, "Why does unsupervised pre-training help deep learning?": over many seeds,
// networks fine-tuned from greedy layer-wise (auto-encoder) pre-training reach lower test error
// than networks trained from a random initialisation, and their test errors vary less. Every seed's
// cell is trained from scratch (init = "scratch"); the pretrainFinetune experiment analysis trains,
// for the same seed and data, one auto-encoder stage per hidden layer and then fine-tunes the whole
// network from the stages (init = "pretrained"), so the report draws both arms' test-error histograms.
import { crossEntropy, type ExperimentSpecJson, MNIST_INPUT, mlp, mnist, seedsUpTo, sgd } from './blocks.ts';
import type { PresetDefinition } from './preset.ts';

function spec(size: 'quick' | 'full'): ExperimentSpecJson {
  const quick = size === 'quick';
  const init = { path: 'label', name: 'init', values: ['scratch'] };
  return {
    name: `erhan2010-${size}`,
    description: quick
      ? 'MNIST subset (1,000 / 1,000), MLP 784-256-256-10, 8 seeds: from a random initialisation (20 epochs of SGD with momentum) against greedy layer-wise denoising auto-encoder pre-training (25% of every stage input masked, 10 epochs per hidden layer, learning rate 1: the reconstruction error is a mean over 784 outputs) then fine-tuning (20 epochs); test-error histograms of both arms.'
      : 'Full MNIST, MLPs with 1 and 3 hidden layers of 1,000 units as in the paper, 20 seeds: from scratch against greedy layer-wise denoising auto-encoder pre-training (25% masking, 20 epochs per layer) then fine-tuning (50 epochs).',
    base: {
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
      ? [{ axes: [init] }]
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
          { axes: [init] },
        ],
    seeds: seedsUpTo(quick ? 8 : 20),
    analyses: [{ spec: { generalizationGap: {} } }],
    // Masking noise as in the paper's stacked denoising auto-encoders (Vincent et al. 2008).
    experimentAnalyses: [
      { pretrainFinetune: { pretrainEpochs: quick ? 10 : 20, pretrainLearningRate: 1, inputMasking: 0.25 } },
    ],
  };
}

export const erhan2010: PresetDefinition = {
  name: 'erhan2010',
  title: 'Unsupervised pre-training: test-error histograms over seeds',
  description:
    'Many seeds of the same network: the distribution of test errors from random initialisation, against greedy layer-wise denoising auto-encoder pre-training followed by fine-tuning.',
  papers: ['E', 'R'],
  build: spec,
  unsupported: [
    "RBMs (the paper's DBN arm): only auto-encoder stages are offered; they are denoising ones with masking noise, whose kept inputs are scaled by 1/(1 - p) as dropout does (the paper's masking does not scale), a linear decoder and mean squared error",
  ],
};
