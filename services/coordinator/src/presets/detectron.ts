// Ginsberg et al. 2023 (Detectron), harmful covariate shift: a base model is trained; for each
// small unlabelled query set, an ensemble of constrained disagreement classifiers (CDCs) is
// fine-tuned from it to agree with it on its training data and disagree on the query set
// (RunSpec.disagreement, with Detectron's sequential refinement); the ensemble's disagreement rate on
// shifted query sets is tested against its null distribution on in-distribution query sets, giving
// the detection power and the false-positive rate at a significance level (shiftDetection).
import { adam, crossEntropy, type ExperimentSpecJson, MNIST_INPUT, mlp, mnist } from './blocks.ts';
import type { PresetDefinition } from './preset.ts';

function spec(size: 'quick' | 'full'): ExperimentSpecJson {
  const quick = size === 'quick';
  return {
    name: `detectron-${size}`,
    description: quick
      ? "MNIST subset (1,000 / 1,000), base MLP 784-128-10 (Adam, 10 epochs); 20 in-distribution and 20 shifted query sets of 50 test images (Gaussian noise of std 0.5), up to 3 CDCs per query set (5 epochs each, Detectron's refinement); power and false-positive rate at 5% significance."
      : 'Full MNIST, base MLP 784-512-512-10; 5 CDCs per query set, 50 trials each of in-distribution and shifted query sets: Gaussian noise (50 images) and 30 degree rotations (20 images).',
    base: {
      label: 'base model',
      dataset: mnist(quick ? { train: 1000, test: 1000 } : {}),
      run: {
        model: mlp(MNIST_INPUT, quick ? [128] : [512, 512], 10),
        loss: crossEntropy,
        // Adam: a CDC's query examples weigh 1 / (|Q| + 1) each, and once the training split is fitted
        // its gradient is small; Adam's normalised steps let a few epochs of fine-tuning act on it.
        optimizer: adam(0.001),
        batchSize: 64,
        stop: { maxEpochs: quick ? 10 : 30 },
        ...(quick ? { threads: 1 } : {}),
      },
    },
    seeds: [0],
    experimentAnalyses: [
      {
        shiftDetection: {
          shift: { kind: 'SHIFT_KIND_NOISE', severity: 0.5 },
          ensembleSize: quick ? 3 : 5,
          querySize: 50,
          trials: quick ? 20 : 50,
          significance: 0.05,
          finetuneEpochs: 5,
        },
      },
      ...(quick
        ? []
        : [
            {
              shiftDetection: {
                shift: { kind: 'SHIFT_KIND_ROTATION' as const, severity: 30 },
                ensembleSize: 5,
                querySize: 20,
                trials: 50,
                significance: 0.05,
                finetuneEpochs: 5,
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
    'Detectron: classifiers fine-tuned to agree with a base model on its training data and disagree on a small query set; their disagreement on shifted query sets is tested against the null distribution from clean query sets, giving the detection power and the false-positive rate at a significance level.',
  papers: ['C'],
  build: spec,
  unsupported: [],
};
