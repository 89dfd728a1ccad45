// Papernot et al. 2016, "Distillation as a defense to adversarial perturbations": a teacher trained
// at softmax temperature T labels the training set with soft labels at T; a student trained on them
// (at T, evaluated at 1) has vanishing input gradients, so gradient attacks (FGSM, JSMA) mostly fail,
// while an attack on the logits (Carlini-Wagner style PGD) still succeeds.
import {
  cnn,
  crossEntropy,
  type ExperimentSpecJson,
  MNIST_INPUT,
  type ModelJson,
  mlp,
  mnist,
  sgd,
} from './blocks.ts';
import type { PresetDefinition } from './preset.ts';

const attacks = (examples: number) => [
  {
    attack: { method: 'ATTACK_METHOD_FGSM' as const, epsilon: 0.1 },
    numExamples: examples,
    split: 'SPLIT_TEST' as const,
  },
  {
    attack: { method: 'ATTACK_METHOD_JSMA' as const, featureBudget: 0.145, theta: 1 },
    numExamples: Math.min(examples, 100),
    split: 'SPLIT_TEST' as const,
  },
  {
    attack: { method: 'ATTACK_METHOD_LOGIT_PGD' as const, epsilon: 0.1, steps: 20 },
    numExamples: examples,
    split: 'SPLIT_TEST' as const,
  },
  { inputSensitivity: {}, numExamples: examples, split: 'SPLIT_TEST' as const },
];

function spec(size: 'quick' | 'full'): ExperimentSpecJson {
  const quick = size === 'quick';
  const model: ModelJson = quick ? mlp(MNIST_INPUT, [256, 256], 10) : cnn([32, 64], [200, 200], 10);
  const dataset = mnist(quick ? { train: 2000, test: 500 } : { flatten: false });
  const temperatures = quick ? [1, 20] : [1, 2, 5, 10, 20, 30, 50, 100];
  const run = {
    model,
    loss: crossEntropy,
    optimizer: sgd(0.05, 0.9),
    batchSize: 64,
    stop: { maxEpochs: quick ? 15 : 50 },
    ...(quick ? { threads: 1 } : {}),
  };
  return {
    name: `papernot2016-${size}`,
    description: quick
      ? 'MNIST subset (2,000 / 500), MLP 784-256-256-10: a model at T = 1 and a teacher at T = 20 whose soft labels train a student at T = 20; FGSM, JSMA and logit-PGD attacks and input-gradient norms on the test split for all three.'
      : "Full MNIST, the paper's CNN (conv 32-32-64-64 reduced to 32-64 here, dense 200-200), teachers at T = 1 to 100 and a distilled student per temperature above 1, 50 epochs.",
    base: { dataset, run },
    sweeps: [{ axes: [{ path: 'run.loss.temperature', name: 'temperature', values: temperatures }] }],
    // Teachers get the attacks through their teacher-student analysis; the T = 1 model here.
    analyses: attacks(quick ? 200 : 1000).map((spec) => ({ spec, cellFilter: 'temperature=1$' })),
    experimentAnalyses: temperatures
      .filter((t) => t > 1)
      .map((t) => ({
        teacherStudent: {
          teacherFilter: `temperature=${t}$`,
          temperature: t,
          student: { run: { ...run, loss: { kind: 'LOSS_KIND_CROSS_ENTROPY' as const, temperature: t } } },
          analyses: attacks(quick ? 200 : 1000),
        },
      })),
  };
}

export const papernot2016: PresetDefinition = {
  name: 'papernot2016',
  title: 'Defensive distillation against adversarial examples',
  description:
    'Teachers trained at softmax temperature T and students distilled on their soft labels at T: attack success rates (FGSM, JSMA, and a logit-space PGD that defeats the defence), input-gradient magnitudes and features changed, against T.',
  papers: ['X'],
  build: spec,
  unsupported: [],
};
