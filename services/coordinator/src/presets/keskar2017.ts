// Keskar et al. 2017, "On large-batch training for deep learning: generalization gap and sharp
// minima": large batches converge to sharper minima (epsilon-sharpness, top Hessian eigenvalue) and
// generalize worse; the 1-D interpolation between a small- and a large-batch solution shows it.
import { adam, crossEntropy, type ExperimentSpecJson, MNIST_INPUT, mlp, mnist } from './blocks.ts';
import type { PresetDefinition } from './preset.ts';

function spec(size: 'quick' | 'full'): ExperimentSpecJson {
  const quick = size === 'quick';
  const train = quick ? 2048 : 0;
  const batches = quick ? [32, 1024] : [256, 6000];
  return {
    name: `keskar2017-${size}`,
    description: quick
      ? 'MNIST subset (2,048 / 1,000), MLP 784-256-256-10, Adam, batch 32 (small) vs 1,024 (large), 30 epochs. Sharpness in the full space and a 100-dimensional random subspace, the top Hessian eigenvalue, and the interpolation between the two solutions.'
      : "Full MNIST with the paper's F1 network (784-512x5-10; no batch normalisation), Adam, batch 256 vs 6,000 (10% of the data), 100 epochs, 3 seeds; sharpness at epsilon 1e-3 and 5e-4, full space and 100-d subspace.",
    base: {
      dataset: mnist(quick ? { train, test: 1000 } : {}),
      run: {
        model: mlp(MNIST_INPUT, quick ? [256, 256] : [512, 512, 512, 512, 512], 10),
        loss: crossEntropy,
        optimizer: adam(1e-3),
        batchSize: batches[0] as number,
        stop: { maxEpochs: quick ? 30 : 100 },
        metrics: { evalTrainSubset: quick ? 0 : 10000 },
        ...(quick ? { threads: 1 } : {}),
      },
    },
    sweeps: [{ axes: [{ path: 'run.batchSize', values: batches }] }],
    seeds: quick ? [0] : [0, 1, 2],
    analyses: [
      ...(quick ? [1e-3] : [1e-3, 5e-4]).flatMap((epsilon) => [
        {
          spec: { sharpness: { epsilon, maxIterations: quick ? 10 : 20 }, numExamples: quick ? 1000 : 10000 },
        },
        {
          spec: {
            sharpness: { epsilon, subspaceDimension: 100, maxIterations: quick ? 10 : 20 },
            numExamples: quick ? 1000 : 10000,
          },
        },
      ]),
      { spec: { hessianEigen: { topK: 1 }, numExamples: quick ? 1000 : 10000 } },
      { spec: { generalizationGap: {} } },
    ],
    experimentAnalyses: [
      {
        pairedRuns: {
          axis: 'batchSize',
          first: batches[0],
          second: batches[1],
          spec: {
            interpolation: { alphaMin: -1, alphaMax: 2, numPoints: quick ? 13 : 25 },
            numExamples: quick ? 1000 : 10000,
          },
        },
      },
    ],
  };
}

export const keskar2017: PresetDefinition = {
  name: 'keskar2017',
  title: 'Large-batch training and sharp minima',
  description:
    'Small- vs large-batch training of the same network: the large-batch solution generalizes worse and is sharper (epsilon-sharpness in the full space and a random subspace, top Hessian eigenvalue); the loss along the line between the two solutions shows the sharp and flat minima.',
  papers: ['K'],
  build: spec,
  unsupported: [],
};
