// Training with the engine in-process (seeded shuffles, K steps per onnxruntime call), for tests that
// need trained networks quickly.
import { compileModel } from '@gengap/engine';
import {
  Activation,
  type LossSpec,
  type ModelSpec,
  OptimizerKind,
  type OptimizerSpec,
} from '@gengap/proto/common/v1/model';
import { Rng } from '@gengap/random';
import type { NamedTensor } from '../../src/analyses/kind.ts';

export function mlp(
  inputs: number,
  hidden: number[],
  outputs: number,
  activation: Activation = Activation.ACTIVATION_RELU,
): ModelSpec {
  const layers: ModelSpec['layers'] = [];
  for (const units of hidden) {
    layers.push({
      name: '',
      kind: { $case: 'dense', value: { units, noBias: false, initializer: undefined } },
    });
    layers.push({ name: '', kind: { $case: 'activation', value: { activation } } });
  }
  layers.push({
    name: '',
    kind: { $case: 'dense', value: { units: outputs, noBias: false, initializer: undefined } },
  });
  return { inputShape: [inputs], numOutputs: outputs, layers, defaultInitializer: undefined };
}

export interface TrainOptions {
  model: ModelSpec;
  x: Float32Array | Float64Array;
  y: Int32Array;
  batchSize: number;
  epochs: number;
  learningRate: number;
  optimizer?: OptimizerSpec;
  loss?: LossSpec;
  seed: number;
  precision?: 'float32' | 'float64';
  /** Stop after the first epoch whose full training loss is at most this. */
  targetLoss?: number;
  /** Called after each epoch with the epoch number (1-based) and the current parameters. */
  onEpoch?: (epoch: number, parameters: NamedTensor[]) => void;
}

export function namedParameters(compiled: Awaited<ReturnType<typeof compileModel>>): NamedTensor[] {
  return compiled.parameters.views.map((v) => ({
    name: v.name,
    shape: [...v.shape],
    data: compiled.parameters.data.slice(v.offset, v.offset + v.length),
  }));
}

/** Trains with shuffled mini-batches (a ragged last batch is dropped) and returns the parameters. */
export async function train(
  options: TrainOptions,
): Promise<{ parameters: NamedTensor[]; losses: number[]; epochs: number; trainLoss: number }> {
  const compiled = await compileModel(options.model, {
    optimizer: options.optimizer ?? ({ kind: OptimizerKind.OPTIMIZER_KIND_SGD } as OptimizerSpec),
    ...(options.loss ? { loss: options.loss } : {}),
    precision: options.precision ?? 'float32',
    threads: 1,
  });
  compiled.initParameters(options.seed);
  const n = options.y.length;
  const row = options.x.length / n;
  const batches = Math.floor(n / options.batchSize);
  const rng = new Rng(options.seed, 'test-shuffle');
  const losses: number[] = [];
  const stepsPerCall = Math.max(1, Math.min(batches, Math.floor(8192 / options.batchSize)));
  let step = 0;
  let epochs = 0;
  let trainLoss = Number.NaN;
  for (let epoch = 1; epoch <= options.epochs; epoch++) {
    epochs = epoch;
    const order = rng.permutation(n);
    for (let b = 0; b < batches; b += stepsPerCall) {
      const k = Math.min(stepsPerCall, batches - b);
      const x = new Float32Array(k * options.batchSize * row);
      const y = new Int32Array(k * options.batchSize);
      for (let i = 0; i < k * options.batchSize; i++) {
        const r = order[b * options.batchSize + i]!;
        x.set(options.x.subarray(r * row, (r + 1) * row), i * row);
        y[i] = options.y[r]!;
      }
      const metrics = await compiled.trainSteps({
        x,
        y,
        learningRates: new Array(k).fill(options.learningRate),
        firstStep: step,
      });
      step += k;
      losses.push(...metrics.losses);
    }
    options.onEpoch?.(epoch, namedParameters(compiled));
    if (options.targetLoss !== undefined) {
      trainLoss = (await compiled.evaluate(options.x, options.y)).loss;
      if (trainLoss <= options.targetLoss) break;
    }
  }
  const parameters = namedParameters(compiled);
  await compiled.dispose();
  return { parameters, losses, epochs, trainLoss };
}
