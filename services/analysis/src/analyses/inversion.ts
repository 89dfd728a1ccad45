// INVERSION (Badger, depth and representation): reconstruct inputs from a layer's embedding by gradient
// descent on the input. For the first `num_images` analysed examples x and every requested layer k,
// x' starts from noise with the analysed inputs' mean and standard deviation (stream
// "inversion-init"), zeros, or the next example, and takes `steps` Adam steps (beta 0.9 / 0.999,
// eps 1e-8, unclipped) on sum_i ||embed_k(x'_i) - embed_k(x_i)||^2. Reported per layer: the mean
// squared error between x and x', the relative embedding error sum ||e(x') - e(x)||^2 / sum ||e(x)||^2,
// and, for image inputs, a PNG grid (originals above, reconstructions below, on the originals' value
// range). Every layer is also inverted at the run's initial parameters ("before training": the seeded
// initialisation the trainer used, or the run's init_from checkpoint), in details.initialization and
// the plot; its PNGs are named inversion-init-layer-<k>.png.
import { InversionInit, type LayerInversion } from '@gengap/proto/analysis/v1/analysis';
import { InvalidArgumentError } from '@gengap/service-kit';
import { renderImageRows } from '@gengap/tensor-io';
import type { FloatArray } from '../adversarial/input-oracle.ts';
import type { AnalysisModel } from '../inputs/analysis-model.ts';
import { requireAtMost, requireFinite } from './checks.ts';
import { initialParameters } from './initial-parameters.ts';
import {
  deployedModel,
  floatInputs,
  imageGeometry,
  nativeParameters,
  requireContinuousInputs,
} from './input-space.ts';
import { type AnalysisContext, defineKind, type ProgressReporter } from './kind.ts';
import { finiteOrNull, lineChart } from './plots.ts';

const FIELD = 'spec.inversion';
const INITS = new Set<number>([
  InversionInit.INVERSION_INIT_UNSPECIFIED,
  InversionInit.INVERSION_INIT_NOISE,
  InversionInit.INVERSION_INIT_ZEROS,
  InversionInit.INVERSION_INIT_OTHER_EXAMPLE,
]);

export interface AdamOptions {
  steps: number;
  learningRate: number;
}

/** Minimises sum_i ||embed_layer(x'_i) - target_i||^2 over x' from `start` by Adam; returns x' and the final per-example losses. */
export async function invertLayer(
  model: AnalysisModel,
  parameters: FloatArray,
  layer: number,
  target: FloatArray,
  start: Float64Array,
  options: AdamOptions,
  progress: ProgressReporter,
): Promise<{ reconstruction: Float64Array; losses: Float64Array }> {
  const engine = model.engine;
  const x = Float64Array.from(start);
  const fed = model.precision === 'float32' ? new Float32Array(x.length) : new Float64Array(x.length);
  const m = new Float64Array(x.length);
  const v = new Float64Array(x.length);
  const [beta1, beta2, eps] = [0.9, 0.999, 1e-8];
  for (let step = 1; step <= options.steps; step++) {
    fed.set(x);
    const { gradient } = await engine.inversionStep(layer, fed, target, { parameters });
    const c1 = 1 - beta1 ** step;
    const c2 = 1 - beta2 ** step;
    for (let j = 0; j < x.length; j++) {
      const g = gradient[j]!;
      m[j] = beta1 * m[j]! + (1 - beta1) * g;
      v[j] = beta2 * v[j]! + (1 - beta2) * g * g;
      x[j] = x[j]! - (options.learningRate * (m[j]! / c1)) / (Math.sqrt(v[j]! / c2) + eps);
    }
    if (step % 10 === 0 || step === options.steps) await progress.report(step / options.steps);
  }
  fed.set(x);
  const { perExampleLoss } = await engine.inversionStep(layer, fed, target, { parameters });
  return { reconstruction: x, losses: perExampleLoss };
}

function startingPoint(
  ctx: AnalysisContext,
  init: InversionInit,
  images: Float64Array,
  all: FloatArray,
  count: number,
  row: number,
): Float64Array {
  const start = new Float64Array(images.length);
  if (init === InversionInit.INVERSION_INIT_ZEROS) return start;
  if (init === InversionInit.INVERSION_INIT_OTHER_EXAMPLE) {
    const n = images.length / row;
    for (let i = 0; i < n; i++) {
      const other = (i + 1) % count;
      start.set(all.subarray(other * row, (other + 1) * row), i * row);
    }
    return start;
  }
  const sample = all.subarray(0, Math.min(count, 1000) * row);
  let mean = 0;
  for (const v of sample) mean += v;
  mean /= sample.length;
  let variance = 0;
  for (const v of sample) variance += (v - mean) ** 2;
  const std = Math.sqrt(variance / sample.length);
  const rng = ctx.rng('inversion-init');
  for (let j = 0; j < start.length; j++) start[j] = mean + std * rng.normal();
  return start;
}

export const inversionKind = defineKind({
  name: 'inversion',
  validate(v) {
    requireAtMost(`${FIELD}.steps`, v.steps, 100_000);
    requireFinite(`${FIELD}.learning_rate`, v.learningRate);
    if (v.learningRate < 0) throw new InvalidArgumentError(`${FIELD}.learning_rate`, 'must not be negative');
    if (!INITS.has(v.init)) throw new InvalidArgumentError(`${FIELD}.init`, `unknown init ${v.init}`);
    requireAtMost(`${FIELD}.num_images`, v.numImages, 256);
  },
  async run(ctx, v) {
    const steps = v.steps || 500;
    const learningRate = v.learningRate || 0.05;
    const model = await deployedModel(ctx);
    requireContinuousInputs(model, 'inversion');
    const engineLayers = model.engine.layers;
    for (const [i, layer] of v.layers.entries()) {
      if (layer >= engineLayers.length) {
        throw new InvalidArgumentError(
          `${FIELD}.layers[${i}]`,
          `the model has layers 0..${engineLayers.length - 1}, not ${layer}`,
        );
      }
    }
    const layers = v.layers.length ? [...new Set(v.layers)] : engineLayers.map((l) => l.index);
    const examples = await ctx.inputs.examples();
    const all = floatInputs(examples, model);
    const row = examples.rowSize;
    const count = Math.min(v.numImages || 8, examples.count);
    const images = Float64Array.from(all.subarray(0, count * row));
    const start = startingPoint(ctx, v.init, images, all, examples.count, row);
    const geometry = imageGeometry(examples);
    let lo = Number.POSITIVE_INFINITY;
    let hi = Number.NEGATIVE_INFINITY;
    for (const value of images) {
      lo = Math.min(lo, value);
      hi = Math.max(hi, value);
    }
    const initial = await initialParameters(ctx, model);
    const sets = [
      { name: 'trained', parameters: nativeParameters(model), prefix: 'inversion-layer' },
      { name: 'initialization', parameters: initial.parameters, prefix: 'inversion-init-layer' },
    ];
    const fed = model.precision === 'float32' ? Float32Array.from(images) : images;
    const results: Record<string, LayerInversion[]> = { trained: [], initialization: [] };
    const jobs = sets.length * layers.length;
    for (const [s, set] of sets.entries()) {
      for (const [l, layer] of layers.entries()) {
        const index = s * layers.length + l;
        const info = engineLayers[layer]!;
        const progress = ctx.progress.span(
          index / jobs,
          (index + 1) / jobs,
          `${set.name}: layer ${layer} (${info.kind})`,
        );
        const { data: target } = await model.engine.embed(layer, fed, { parameters: set.parameters });
        const { reconstruction, losses } = await invertLayer(
          model,
          set.parameters,
          layer,
          target,
          start,
          { steps, learningRate },
          progress,
        );
        let squared = 0;
        for (let j = 0; j < images.length; j++) squared += (reconstruction[j]! - images[j]!) ** 2;
        let targetNorm = 0;
        for (const t of target) targetNorm += t * t;
        const embeddingError = losses.reduce((a, b) => a + b, 0);
        let pngArtifact = '';
        if (geometry) {
          const png = renderImageRows([images, reconstruction], count, { geometry, lo, hi });
          pngArtifact = await ctx.artifacts.writeBytes(`${set.prefix}-${layer}.png`, 'image/png', png);
        }
        results[set.name]!.push({
          layer,
          layerName: info.name,
          reconstructionMse: squared / images.length,
          embeddingLoss: targetNorm > 0 ? embeddingError / targetNorm : embeddingError,
          pngArtifact,
        });
      }
    }
    const rows = sets.flatMap((set) =>
      results[set.name]!.map((r) => ({
        layer: r.layer,
        parameters: set.name,
        reconstruction_mse: finiteOrNull(r.reconstructionMse),
      })),
    );
    return {
      result: {
        $case: 'inversion',
        value: { layers: results.trained!, initialLayers: results.initialization! },
      },
      plot: lineChart({
        title: `Input reconstruction error from each layer's embedding (${count} images, ${steps} Adam steps)`,
        rows,
        x: { field: 'layer', title: 'layer' },
        y: { field: 'reconstruction_mse', title: 'reconstruction MSE' },
        color: { field: 'parameters', title: 'parameters' },
        points: true,
      }),
      table: {
        columns: [
          'parameters',
          'layer',
          'layer_name',
          'reconstruction_mse',
          'relative_embedding_error',
          'png',
        ],
        rows: sets.flatMap((set) =>
          results[set.name]!.map((r) => [
            set.name,
            r.layer,
            r.layerName,
            r.reconstructionMse,
            r.embeddingLoss,
            r.pngArtifact,
          ]),
        ),
      },
      details: {
        images: count,
        steps,
        learningRate,
        init: v.init,
        initialParameters: initial.origin,
        initialization: results.initialization,
        valueRange: [lo, hi],
      },
    };
  },
});
