// Networks for the defensive-distillation tests, trained in-process with the engine: a plain MLP at
// temperature 1, a teacher at temperature T on hard labels, and a student at T on the teacher's
// softmax(z / T) (Papernot et al. 2016). Adam, shuffled mini-batches, seeded.
import { compileModel } from '@gengap/engine';
import { LossKind, type ModelSpec, OptimizerKind, type OptimizerSpec } from '@gengap/proto/common/v1/model';
import { Rng } from '@gengap/random';
import type { NamedTensor } from '../../src/analyses/kind.ts';
import { namedParameters } from './train.ts';

export interface SoftTrainOptions {
  model: ModelSpec;
  x: Float32Array;
  /** Hard labels [N] or soft targets [N, C]. */
  targets: Int32Array | Float32Array;
  count: number;
  temperature: number;
  epochs: number;
  batchSize: number;
  learningRate: number;
  seed: number;
}

export async function trainAtTemperature(
  options: SoftTrainOptions,
): Promise<{ parameters: NamedTensor[]; logits: Float32Array | Float64Array }> {
  const model = await compileModel(options.model, {
    optimizer: { kind: OptimizerKind.OPTIMIZER_KIND_ADAM } as OptimizerSpec,
    loss: { kind: LossKind.LOSS_KIND_CROSS_ENTROPY, temperature: options.temperature },
    threads: 1,
  });
  model.initParameters(options.seed);
  const n = options.count;
  const row = options.x.length / n;
  const classes = options.model.numOutputs;
  const soft = options.targets instanceof Float32Array;
  const steps = Math.floor(n / options.batchSize);
  const used = steps * options.batchSize;
  const rng = new Rng(options.seed, 'distillation-shuffle');
  let step = 0;
  for (let epoch = 0; epoch < options.epochs; epoch++) {
    const order = rng.permutation(n);
    const x = new Float32Array(used * row);
    const y = soft ? new Float32Array(used * classes) : new Int32Array(used);
    for (let i = 0; i < used; i++) {
      const r = order[i]!;
      x.set(options.x.subarray(r * row, (r + 1) * row), i * row);
      if (soft)
        (y as Float32Array).set(
          (options.targets as Float32Array).subarray(r * classes, (r + 1) * classes),
          i * classes,
        );
      else y[i] = options.targets[r]!;
    }
    await model.trainSteps({
      x,
      y,
      learningRates: new Array(steps).fill(options.learningRate),
      firstStep: step,
    });
    step += steps;
  }
  const { logits } = await model.evaluate(options.x, new Int32Array(n));
  const parameters = namedParameters(model);
  await model.dispose();
  return { parameters, logits };
}

/** softmax(logits / T) row by row, as float32 soft targets. */
export function softLabels(
  logits: ArrayLike<number>,
  count: number,
  classes: number,
  temperature: number,
): Float32Array {
  const out = new Float32Array(count * classes);
  for (let i = 0; i < count; i++) {
    let max = Number.NEGATIVE_INFINITY;
    for (let c = 0; c < classes; c++) max = Math.max(max, logits[i * classes + c]! / temperature);
    let sum = 0;
    const e = new Float64Array(classes);
    for (let c = 0; c < classes; c++) {
      e[c] = Math.exp(logits[i * classes + c]! / temperature - max);
      sum += e[c]!;
    }
    for (let c = 0; c < classes; c++) out[i * classes + c] = e[c]! / sum;
  }
  return out;
}
