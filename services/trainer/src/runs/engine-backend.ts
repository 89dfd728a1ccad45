// The TrainingBackend on @gengap/engine: a CompiledModel (ONNX graphs on onnxruntime-node) holding the
// flat parameters and optimizer state. Also the engine-side checks of a spec at StartRun, and the
// mapping of engine errors to a run's JobError.

import { type CompiledModel, compileModel, DeviceUnavailableError, EngineSpecError } from '@gengap/engine';
import type { JobFailure } from '@gengap/job-store';
import { Device, type ModelSpec } from '@gengap/proto/common/v1/model';
import type { RunSpec } from '@gengap/proto/trainer/v1/run';
import { InvalidArgumentError } from '@gengap/service-kit';
import { effectiveLoss } from './objective-spec.ts';
import type { RunPlan } from './run-spec.ts';
import type {
  ChunkBatches,
  ChunkMetrics,
  Evaluation,
  FloatArray,
  FrozenNetwork,
  TrainingBackend,
} from './training-backend.ts';
import type { NamedArray } from './worker-protocol.ts';

/** Engine fields are camelCase paths below the spec ("loss.temperature", "frozenParameters"). */
function specField(field: string): string {
  return `spec.${field.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)}`;
}

function compileOptions(spec: RunSpec, threads: number, device?: Device) {
  const loss = effectiveLoss(spec);
  return {
    ...(loss ? { loss } : {}),
    ...(spec.optimizer ? { optimizer: spec.optimizer } : {}),
    ...(spec.regularizers ? { regularizers: spec.regularizers } : {}),
    precision: spec.precision,
    device: device ?? spec.device,
    threads,
    frozenParameters: spec.frozenParameters,
  };
}

/**
 * What only the engine can check (layer shapes, optimizer settings, frozen parameter names, an
 * auto-encoder stage's target), without building graphs: throws InvalidArgumentError with the field
 * path.
 */
export async function validateWithEngine(spec: RunSpec): Promise<void> {
  let model: CompiledModel | undefined;
  try {
    model = await compileModel(spec.model as ModelSpec, compileOptions(spec, 1, Device.DEVICE_CPU));
    if (spec.reconstruction) checkReconstruction(spec, model);
  } catch (err) {
    if (err instanceof EngineSpecError) {
      throw new InvalidArgumentError(specField(err.field), err.message.slice(err.field.length + 2));
    }
    throw err;
  } finally {
    await model?.dispose();
  }
}

/** Values per example of the activation entering layer `layer` (0: the flattened input). */
function targetSize(model: CompiledModel, layer: number): number {
  const shape = layer === 0 ? model.inputShape : (model.layers[layer - 1]?.outShape ?? []);
  return shape.reduce((a, d) => a * d, 1);
}

/**
 * An auto-encoder stage reproduces the activation entering layer k: its output must have that size,
 * that activation must be real-valued, and the layers before k must stay fixed (frozen), so that the
 * target computed once from them is the target all along.
 */
function checkReconstruction(spec: RunSpec, model: CompiledModel): void {
  const layer = spec.reconstruction?.layer ?? 0;
  if (layer === 0 && model.model.inputKind === 'codes') {
    throw new InvalidArgumentError(
      'spec.reconstruction.layer',
      'is 0 but the model takes integer codes (its first layer is an embedding): reconstruct a later layer',
    );
  }
  const size = targetSize(model, layer);
  if (model.numOutputs !== size) {
    throw new InvalidArgumentError(
      'spec.model.num_outputs',
      `is ${model.numOutputs} but reconstruction.layer ${layer} needs ${size} outputs (the size of the activation entering layer ${layer})`,
    );
  }
  const frozen = new Set(spec.frozenParameters);
  const missing = model.model.parameters
    .filter((p) => p.layerIndex < layer && !frozen.has(p.name))
    .map((p) => p.name);
  if (missing.length > 0) {
    throw new InvalidArgumentError(
      'spec.frozen_parameters',
      `reconstruction.layer ${layer} trains an auto-encoder over fixed layers 0..${layer - 1}; freeze ${missing.join(', ')}`,
    );
  }
}

/** A failure inside the worker as the run's JobError. */
export function engineFailure(err: unknown): JobFailure {
  if (err instanceof EngineSpecError) return { code: 3, message: err.message, field: specField(err.field) };
  if (err instanceof DeviceUnavailableError) return { code: 9, message: err.message };
  const code = (err as { code?: unknown })?.code;
  const failure: JobFailure = {
    code: typeof code === 'number' && code > 0 && code < 17 ? code : 13,
    message: (err as Error)?.message ?? String(err),
  };
  const field = (err as { field?: unknown })?.field;
  if (typeof field === 'string') failure.field = field;
  return failure;
}

function namedArrays(model: CompiledModel, store: CompiledModel['parameters']): NamedArray[] {
  return store.views.map((v) => ({
    name: v.name,
    shape: [...v.shape],
    dtype: model.dtype,
    data: store.view(v.name),
  }));
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** Copies tensors into a store by name (converting float32 <-> float64 as needed). */
function loadInto(
  store: CompiledModel['parameters'],
  tensors: readonly NamedArray[],
  what: string,
  partial: boolean,
): { copied: string[]; skipped: string[] } {
  const byName = new Map(tensors.map((t) => [t.name, t]));
  const copied: string[] = [];
  const skipped: string[] = [];
  for (const view of store.views) {
    const tensor = byName.get(view.name);
    if (tensor && sameShape(tensor.shape, view.shape)) {
      store.view(view.name).set(tensor.data);
      copied.push(view.name);
    } else {
      skipped.push(view.name);
    }
  }
  if (!partial && skipped.length > 0) {
    throw new Error(`${what} does not match the model: missing or reshaped ${skipped.join(', ')}`);
  }
  return { copied, skipped };
}

class EngineBackend implements TrainingBackend {
  private readonly model: CompiledModel;
  private readonly seed: number;

  constructor(model: CompiledModel, seed: number) {
    this.model = model;
    this.seed = seed;
  }

  get numParameters(): number {
    return this.model.numParameters;
  }

  get parameterNames(): readonly string[] {
    return this.model.parameters.views.map((v) => v.name);
  }

  flatParameters(): FloatArray {
    return this.model.parameters.data;
  }

  parameterTensors(): NamedArray[] {
    return namedArrays(this.model, this.model.parameters);
  }

  optimizerTensors(): NamedArray[] {
    return namedArrays(this.model, this.model.optimizerState);
  }

  loadParameters(tensors: readonly NamedArray[], options: { partial?: boolean } = {}) {
    return loadInto(this.model.parameters, tensors, 'checkpoint parameters', options.partial ?? false);
  }

  loadOptimizerState(tensors: readonly NamedArray[]): void {
    loadInto(this.model.optimizerState, tensors, 'checkpoint optimizer state', false);
  }

  async train(batches: ChunkBatches, learningRates: Float64Array, firstStep: number): Promise<ChunkMetrics> {
    const metrics = await this.model.trainSteps({
      x: batches.x,
      y: batches.soft ?? batches.labels,
      learningRates,
      seed: this.seed,
      firstStep,
      sameBatch: batches.sameBatch ?? false,
    });
    return { loss: metrics.losses, gradientNorm: metrics.gradientNorms, batchAccuracy: metrics.accuracies };
  }

  async evaluate(x: Float32Array, labels: Int32Array, _n: number, perExample: boolean): Promise<Evaluation> {
    const result = await this.model.evaluate(x, labels);
    const out: Evaluation = { loss: result.loss, accuracy: result.accuracy };
    if (perExample) out.correct = result.correct;
    return out;
  }

  async evaluateTargets(x: Float32Array, targets: Float32Array, n: number): Promise<Evaluation> {
    const { logits } = await this.model.evaluate(x, new Int32Array(n));
    return { loss: meanSquaredError(logits, targets, n), accuracy: Number.NaN };
  }

  async gradientNormSquared(x: Float32Array, labels: Int32Array): Promise<number> {
    const { gradient } = await this.model.gradient(x, labels);
    let sum = 0;
    for (let i = 0; i < gradient.length; i++) sum += (gradient[i] as number) ** 2;
    return sum;
  }

  dispose(): Promise<void> {
    return this.model.dispose();
  }
}

/** Compiles the run's network with seeded initial parameters. */
export async function createEngineBackend(options: {
  spec: RunSpec;
  plan: RunPlan;
  threads: number;
}): Promise<TrainingBackend> {
  const { spec, threads } = options;
  const model = await compileModel(spec.model as ModelSpec, compileOptions(spec, threads));
  model.initParameters(spec.seed);
  return new EngineBackend(model, spec.seed);
}

/**
 * Mean over n examples of the mean over outputs of (output - target)^2, accumulated in float64: the
 * engine's MSE loss (per example, a mean over outputs) against any targets.
 */
export function meanSquaredError(outputs: FloatArray, targets: ArrayLike<number>, n: number): number {
  const width = outputs.length / n;
  let sum = 0;
  for (let i = 0; i < outputs.length; i++) sum += ((outputs[i] as number) - (targets[i] as number)) ** 2;
  return sum / (n * width);
}

/**
 * A network that is only evaluated: a teacher (soft labels), a disagreement run's base model (its
 * predictions on the query set), or the fixed layers an auto-encoder stage reconstructs. `partial`:
 * parameters missing from `parameters` keep the seeded initialisation of `seed` (as in a run).
 */
export async function createFrozenNetwork(
  modelSpec: ModelSpec,
  parameters: readonly NamedArray[],
  options: { threads: number; precision: 'float32' | 'float64'; partial?: { seed: number } },
): Promise<FrozenNetwork> {
  const model = await compileModel(modelSpec, { threads: options.threads, precision: options.precision });
  if (options.partial) model.initParameters(options.partial.seed);
  loadInto(model.parameters, parameters, 'frozen network parameters', options.partial !== undefined);
  const classes = model.numOutputs;
  return {
    async predictions(x: Float32Array, n: number): Promise<Int32Array> {
      const { logits } = await model.evaluate(x, new Int32Array(n));
      const out = new Int32Array(n);
      for (let i = 0; i < n; i++) {
        let best = 0;
        for (let c = 1; c < classes; c++)
          if ((logits[i * classes + c] as number) > (logits[i * classes + best] as number)) best = c;
        out[i] = best;
      }
      return out;
    },
    async activationsEntering(layer: number, x: Float32Array): Promise<Float32Array> {
      if (layer === 0) return x;
      const { data } = await model.embed(layer - 1, x);
      return data instanceof Float32Array ? data : Float32Array.from(data);
    },
    async probabilities(x: Float32Array, n: number, temperature: number): Promise<Float32Array> {
      const { logits } = await model.evaluate(x, new Int32Array(n));
      const out = new Float32Array(n * classes);
      for (let i = 0; i < n; i++) {
        let max = -Infinity;
        for (let c = 0; c < classes; c++)
          max = Math.max(max, (logits[i * classes + c] as number) / temperature);
        let sum = 0;
        for (let c = 0; c < classes; c++) {
          const e = Math.exp((logits[i * classes + c] as number) / temperature - max);
          out[i * classes + c] = e;
          sum += e;
        }
        for (let c = 0; c < classes; c++) out[i * classes + c] = (out[i * classes + c] as number) / sum;
      }
      return out;
    },
    dispose: () => model.dispose(),
  };
}
