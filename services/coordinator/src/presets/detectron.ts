// Ginsberg et al. 2023 (Detectron), harmful covariate shift: an ensemble's disagreement on a small
// unlabelled query set, compared with its null distribution on in-distribution query sets, detects
// shifts that hurt accuracy. GenGap runs an ensemble of independently seeded models and the
// disagreement statistic; Detectron's disagreement fine-tuning is not available (see unsupported).
import { crossEntropy, type ExperimentSpecJson, MNIST_INPUT, mlp, mnist, seedsUpTo, sgd } from './blocks.ts';
import type { PresetDefinition } from './preset.ts';

function spec(size: 'quick' | 'full'): ExperimentSpecJson {
  const quick = size === 'quick';
  const ensemble = quick ? 4 : 10;
  return {
    name: `detectron-${size}`,
    description: quick
      ? 'MNIST subset (1,000 / 1,000), MLP 784-128-10, an ensemble of 4 seeds (10 epochs); query sets of 50 test images, clean (null distribution) and with Gaussian noise of std 0.5 (shifted), 10 trials; power at 5% significance.'
      : 'Full MNIST, MLP 784-512-512-10, an ensemble of 10 seeds; query sizes 10 to 100, noise and rotation shifts, 50 trials.',
    base: {
      label: 'ensemble member',
      dataset: mnist(quick ? { train: 1000, test: 1000 } : {}),
      run: {
        model: mlp(MNIST_INPUT, quick ? [128] : [512, 512], 10),
        loss: crossEntropy,
        optimizer: sgd(0.05, 0.9),
        batchSize: 64,
        stop: { maxEpochs: quick ? 10 : 30 },
        ...(quick ? { threads: 1 } : {}),
      },
    },
    seeds: seedsUpTo(ensemble),
    experimentAnalyses: [
      {
        shiftDetection: {
          shift: { kind: 'SHIFT_KIND_NOISE', severity: 0.5 },
          ensembleSize: ensemble,
          querySize: 50,
          trials: quick ? 10 : 50,
          significance: 0.05,
        },
      },
      ...(quick
        ? []
        : [
            {
              shiftDetection: {
                shift: { kind: 'SHIFT_KIND_ROTATION' as const, severity: 30 },
                ensembleSize: ensemble,
                querySize: 20,
                trials: 50,
                significance: 0.05,
              },
            },
          ]),
    ],
  };
}

export const detectron: PresetDefinition = {
  name: 'detectron',
  title: 'Detecting harmful covariate shift with ensemble disagreement',
  description:
    'An ensemble of independently trained models; its disagreement on small query sets from shifted data is tested against the null distribution from clean query sets, giving the detection power at a significance level.',
  papers: ['C'],
  build: spec,
  unsupported: [
    "Detectron's disagreement fine-tuning (an ensemble trained to agree on training data and disagree on the query set) needs a training objective RunSpec cannot express yet; the ensemble here is independently seeded models",
  ],
};
