// LINEAR_PROBE (Alain & Bengio; Bengio et al. 2013): for each requested layer (default: every layer),
// softmax regression on the layer's activations. Trained on the analysed examples of the TRAIN split
// and scored on as many of the TEST split (the spec's num_examples, seed and shuffle apply to both):
// features standardised with the training mean and standard deviation (constant features become 0),
// a zero-initialised dense layer trained by `steps` full-batch Adam steps (learning rate 0.01) with the
// engine, in float32. The probe's training loss is in details.
import { compileModel } from '@gengap/engine';
import type { LayerProbe } from '@gengap/proto/analysis/v1/analysis';
import { InitializerKind, OptimizerKind, type OptimizerSpec } from '@gengap/proto/common/v1/model';
import { Split } from '@gengap/proto/common/v1/refs';
import { InvalidArgumentError, ResourceExhaustedError } from '@gengap/service-kit';
import { requireAtMost } from './checks.ts';
import { deployedModel, nativeParameters } from './input-space.ts';
import { defineKind } from './kind.ts';
import { lineChart } from './plots.ts';

const FIELD = 'spec.linear_probe';
const PROBE_LEARNING_RATE = 0.01;
/** Largest features x examples a probe trains on at once (float32: 1 GiB). */
export const MAX_PROBE_VALUES = 2 ** 28;

/** Standardises train and test features [n, d] in place with the train columns' mean and std. */
export function standardize(train: Float32Array, test: Float32Array, d: number): void {
  const n = train.length / d;
  for (let j = 0; j < d; j++) {
    let mean = 0;
    for (let i = 0; i < n; i++) mean += train[i * d + j]!;
    mean /= n;
    let variance = 0;
    for (let i = 0; i < n; i++) variance += (train[i * d + j]! - mean) ** 2;
    const std = Math.sqrt(variance / n);
    const scale = std > 1e-12 ? 1 / std : 0;
    for (let i = 0; i < n; i++) train[i * d + j] = (train[i * d + j]! - mean) * scale;
    for (let i = 0; i < test.length / d; i++) test[i * d + j] = (test[i * d + j]! - mean) * scale;
  }
}

/** Trains a softmax-regression probe on standardised features; returns train and test accuracy. */
export async function trainProbe(
  features: { train: Float32Array; test: Float32Array; d: number },
  labels: { train: Int32Array; test: Int32Array },
  classes: number,
  steps: number,
  threads: number,
): Promise<{ trainAccuracy: number; testAccuracy: number; trainLoss: number }> {
  const probe = await compileModel(
    {
      inputShape: [features.d],
      numOutputs: classes,
      layers: [
        {
          name: 'probe',
          kind: {
            $case: 'dense',
            value: {
              units: classes,
              noBias: false,
              initializer: { kind: InitializerKind.INITIALIZER_KIND_ZEROS, scale: 0 },
            },
          },
        },
      ],
      defaultInitializer: undefined,
    },
    {
      optimizer: { kind: OptimizerKind.OPTIMIZER_KIND_ADAM } as OptimizerSpec,
      precision: 'float32',
      threads,
    },
  );
  try {
    probe.initParameters(0);
    await probe.trainSteps({
      x: features.train,
      y: labels.train,
      learningRates: new Array(steps).fill(PROBE_LEARNING_RATE),
      sameBatch: true,
    });
    const train = await probe.evaluate(features.train, labels.train);
    const test = labels.test.length ? await probe.evaluate(features.test, labels.test) : undefined;
    return {
      trainAccuracy: train.accuracy,
      testAccuracy: test?.accuracy ?? Number.NaN,
      trainLoss: train.loss,
    };
  } finally {
    await probe.dispose();
  }
}

export const linearProbeKind = defineKind({
  name: 'linearProbe',
  validate(v) {
    requireAtMost(`${FIELD}.steps`, v.steps, 100_000);
  },
  async run(ctx, v) {
    const steps = v.steps || 200;
    const model = await deployedModel(ctx);
    const layers = model.engine.layers;
    for (const [i, layer] of v.layers.entries()) {
      if (layer >= layers.length) {
        throw new InvalidArgumentError(
          `${FIELD}.layers[${i}]`,
          `the model has layers 0..${layers.length - 1}, not ${layer}`,
        );
      }
    }
    const probed = v.layers.length ? [...new Set(v.layers)] : layers.map((l) => l.index);
    const train = await ctx.inputs.examples({ split: Split.SPLIT_TRAIN });
    const test = await ctx.inputs.examples({ split: Split.SPLIT_TEST });
    const parameters = nativeParameters(model);
    const results: LayerProbe[] = [];
    const losses: Record<number, number> = {};
    for (const [k, layer] of probed.entries()) {
      await ctx.progress.report(k / probed.length, `layer ${layer} (${layers[layer]!.kind})`);
      const d = layers[layer]!.outShape.reduce((a, b) => a * b, 1);
      if (d * train.count > MAX_PROBE_VALUES) {
        throw new ResourceExhaustedError(
          `layer ${layer} has ${d} features; ${train.count} examples exceed ${MAX_PROBE_VALUES} values (lower spec.num_examples to ${Math.floor(MAX_PROBE_VALUES / d)})`,
        );
      }
      const featuresTrain = Float32Array.from(
        (await model.engine.embed(layer, train.x, { parameters })).data,
      );
      const featuresTest = Float32Array.from((await model.engine.embed(layer, test.x, { parameters })).data);
      standardize(featuresTrain, featuresTest, d);
      const probe = await trainProbe(
        { train: featuresTrain, test: featuresTest, d },
        { train: train.y, test: test.y },
        train.numClasses || model.engine.numOutputs,
        steps,
        ctx.threads,
      );
      results.push({ layer, trainAccuracy: probe.trainAccuracy, testAccuracy: probe.testAccuracy });
      losses[layer] = probe.trainLoss;
    }
    return {
      result: { $case: 'linearProbe', value: { layers: results } },
      plot: lineChart({
        title: `Linear probe accuracy by layer (${train.count} train, ${test.count} test examples)`,
        rows: results.flatMap((r) => [
          { layer: r.layer, split: 'train', accuracy: r.trainAccuracy },
          { layer: r.layer, split: 'test', accuracy: r.testAccuracy },
        ]),
        x: { field: 'layer', title: 'layer' },
        y: { field: 'accuracy', title: 'probe accuracy' },
        color: { field: 'split', title: '' },
        points: true,
      }),
      table: {
        columns: ['layer', 'layer_name', 'features', 'train_accuracy', 'test_accuracy', 'probe_train_loss'],
        rows: results.map((r) => [
          r.layer,
          layers[r.layer]!.name,
          layers[r.layer]!.outShape.reduce((a, b) => a * b, 1),
          r.trainAccuracy,
          r.testAccuracy,
          losses[r.layer]!,
        ]),
      },
      details: {
        steps,
        learningRate: PROBE_LEARNING_RATE,
        trainExamples: train.count,
        testExamples: test.count,
        probeTrainLoss: losses,
      },
    };
  },
});
