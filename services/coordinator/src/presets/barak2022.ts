// Barak et al. 2022, "Hidden progress in deep learning: SGD learns parities near the computational
// limit": on (n, k)-sparse parity the loss plateaus, then drops suddenly; measures of hidden
// progress (weight mass on the relevant coordinates, the Fourier coefficient) rise steadily before.
import type { ExperimentSpecJson } from './blocks.ts';
import type { PresetDefinition } from './preset.ts';

function spec(size: 'quick' | 'full'): ExperimentSpecJson {
  const quick = size === 'quick';
  const bits = quick ? 20 : 50;
  const widths = quick ? [128] : [100, 1000];
  return {
    name: `barak2022-${size}`,
    description: quick
      ? '(20, 3)-sparse parity with fresh batches every step (online), MLP 20-128-2, hinge loss, SGD 0.1, batch 32, up to 8,000 steps (epochs of 100 steps), permanent checkpoints every 5 epochs for the hidden-progress measures.'
      : '(50, 3)-sparse parity online, MLP widths 100 and 1,000 as in the paper, hinge loss, SGD at 0.05 and 0.1, batch 32, up to 200,000 steps, 5 seeds.',
    base: {
      label: `(${bits}, 3)-parity`,
      dataset: { sparseParity: { numBits: bits, paritySize: 3, testSize: 1000, online: true }, seed: 2022 },
      run: {
        model: {
          inputShape: [bits],
          numOutputs: 2,
          layers: [
            { dense: { units: widths[0] as number } },
            { activation: { activation: 'ACTIVATION_RELU' } },
            { dense: { units: 2 } },
          ],
        },
        loss: { kind: 'LOSS_KIND_HINGE' },
        optimizer: { kind: 'OPTIMIZER_KIND_SGD', learningRate: 0.1 },
        batchSize: 32,
        stop: { maxEpochs: quick ? 80 : 2000, targetTrainAccuracy: 1, patienceEpochs: quick ? 5 : 20 },
        metrics: { onlineEpochSteps: 100 },
        checkpoints: { keepEveryEpochs: 5 },
        ...(quick ? { threads: 1 } : {}),
      },
    },
    sweeps: quick
      ? []
      : [
          {
            axes: [
              {
                path: 'run.model.layers[0].dense.units',
                name: 'width',
                values: widths,
              },
              { path: 'run.optimizer.learningRate', values: [0.05, 0.1] },
            ],
          },
        ],
    seeds: quick ? [0] : [0, 1, 2, 3, 4],
    analyses: [{ spec: { parityProgress: {} } }],
  };
}

export const barak2022: PresetDefinition = {
  name: 'barak2022',
  title: 'Hidden progress on sparse parity',
  description:
    'An MLP learns (n, 3)-sparse parity from fresh samples: the loss plateaus, then drops suddenly, while hidden-progress measures (weight mass on the relevant coordinates, Fourier coefficient of the parity) grow steadily through the plateau.',
  papers: ['P'],
  build: spec,
  unsupported: [],
};
