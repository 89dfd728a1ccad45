// Dinh et al. 2017, "Sharp minima can generalize for deep nets": the layer rescaling
// T_alpha(W1, W2) = (alpha W1, W2 / alpha) leaves a ReLU network's function unchanged but makes its
// minimum arbitrarily sharp. Every analysis attached to a run is repeated on each rescaled model.
import { crossEntropy, type ExperimentSpecJson, MNIST_INPUT, mlp, mnist, sgd } from './blocks.ts';
import type { PresetDefinition } from './preset.ts';

function spec(size: 'quick' | 'full'): ExperimentSpecJson {
  const quick = size === 'quick';
  const alphas = quick ? [10] : [0.1, 5, 10, 100];
  const examples = quick ? 1000 : 10000;
  return {
    name: `dinh2017-${size}`,
    description: quick
      ? 'MNIST subset (1,000 / 1,000), MLP 784-256-256-10 trained 20 epochs; the first layer rescaled by alpha = 10 and the second by 1/10. The outputs stay identical (max logit difference) while the top Hessian eigenvalue and epsilon-sharpness change.'
      : 'Full MNIST, MLP 784-512-512-10, rescalings alpha = 0.1, 5, 10, 100 of the first and of the second layer pair; Hessian top-5 eigenvalues, trace and sharpness of each rescaled model, 3 seeds.',
    base: {
      label: 'trained MLP',
      dataset: mnist(quick ? { train: 1000, test: 1000 } : {}),
      run: {
        model: mlp(MNIST_INPUT, quick ? [256, 256] : [512, 512], 10),
        loss: crossEntropy,
        optimizer: sgd(0.05, 0.9),
        batchSize: 64,
        stop: { maxEpochs: quick ? 20 : 50 },
        ...(quick ? { threads: 1 } : {}),
      },
    },
    seeds: quick ? [0] : [0, 1, 2],
    analyses: [
      ...alphas.flatMap((alpha) =>
        (quick ? [0] : [0, 2]).map((firstLayer) => ({ spec: { rescale: { firstLayer, alpha } } })),
      ),
      { spec: { hessianEigen: { topK: quick ? 1 : 5 }, numExamples: examples } },
      { spec: { sharpness: { epsilon: 1e-3, maxIterations: 10 }, numExamples: examples } },
      ...(quick ? [] : [{ spec: { hessianTrace: { numQueries: 100 }, numExamples: examples } }]),
    ],
  };
}

export const dinh2017: PresetDefinition = {
  name: 'dinh2017',
  title: 'Sharp minima can generalize: function-preserving rescaling',
  description:
    "Rescaling one layer by alpha and the next by 1/alpha keeps a ReLU network's outputs identical while its Hessian spectrum and epsilon-sharpness change arbitrarily: sharpness alone does not determine generalization. Each rescaled checkpoint is analysed like the trained one.",
  papers: ['D'],
  build: spec,
  unsupported: [],
};
