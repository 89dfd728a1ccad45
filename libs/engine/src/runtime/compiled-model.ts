// The runtime face of a compiled model: parameters and optimizer state as flat arrays with named views,
// training (K steps per onnxruntime call), evaluation and the analysis graphs. Sessions are created once
// per graph kind (and batch size, see session()) and reused.
import type { ModelSpec } from '@gengap/proto/common/v1/model';
import type * as ort from 'onnxruntime-node';
import { EngineSpecError } from '../errors.ts';
import { buildGraph, type GraphKind, graphBytes } from '../graphs/catalog.ts';
import { hasDropout } from '../graphs/io.ts';
import type { Graph } from '../ir/graph.ts';
import { initializeParameter } from '../model/init.ts';
import { optimizerLayout, parameterLayout } from '../model/layout.ts';
import type { ResolvedModel } from '../model/resolve.ts';
import { stepSeed } from '../prng.ts';
import type { TrainSetup } from '../train/step.ts';
import type {
  AnalysisOptions,
  Evaluation,
  GradientResult,
  HvpResult,
  InputGradientResult,
} from './analysis.ts';
import * as analysis from './analysis.ts';
import { ExampleBatches, type Examples } from './examples.ts';
import { type HvpOperator, hvpOperator } from './hvp-operator.ts';
import { createSession, type DeviceName } from './session.ts';
import { FlatStore } from './store.ts';
import {
  type FloatArray,
  type FloatDType,
  float64Tensor,
  floatData,
  floatTensor,
  int32Tensor,
  outputOf,
  rowCount,
  scalarOf,
  uint32Tensor,
} from './tensors.ts';

/** Batch sizes per graph kind that get their own specialised graph and session. */
const SPECIALISED_BATCH_SIZES = 4;

export interface RuntimeSettings {
  dtype: FloatDType;
  device: DeviceName;
  threads: number;
  chunkSize: number;
}

export interface TrainBatch {
  /**
   * K stacked batches of N examples, row-major [K, N, ...inputShape] (Int32Array codes for embedding
   * models), or one batch [N, ...] with `sameBatch`.
   */
  x: Examples;
  /** Integer labels [K, N], or soft targets [K, N, numOutputs] (distillation); [N] / [N, C] with `sameBatch`. */
  y: Int32Array | FloatArray;
  /** The learning rate of each of the K steps (schedules live in the caller). */
  learningRates: ArrayLike<number>;
  /** Dropout masks are a pure function of (seed, global step index, layer, element). Default 0. */
  seed?: number;
  /** Global index of the first of the K steps. Default 0. */
  firstStep?: number;
  /**
   * x and y hold a single batch [N, ...] used at every one of the K steps (full-batch gradient descent)
   * instead of K stacked batches. Default false.
   */
  sameBatch?: boolean;
}

export interface TrainMetrics {
  /** Per step: mean batch loss (without the gradient-norm penalty), ||grad L|| before clipping, batch accuracy. */
  losses: Float64Array;
  gradientNorms: Float64Array;
  accuracies: Float64Array;
}

export interface LayerInfo {
  index: number;
  name: string;
  kind: string;
  inShape: number[];
  outShape: number[];
}

export class CompiledModel {
  readonly spec: ModelSpec;
  readonly dtype: FloatDType;
  readonly device: DeviceName;
  readonly threads: number;
  /** Examples per analysis graph call. */
  readonly chunkSize: number;
  readonly parameters: FlatStore;
  readonly optimizerState: FlatStore;
  readonly layers: readonly LayerInfo[];
  readonly inputShape: readonly number[];
  readonly numOutputs: number;
  readonly model: ResolvedModel;
  readonly setup: TrainSetup;
  private readonly sessions = new Map<string, Promise<ort.InferenceSession>>();
  private readonly batchSizes = new Map<GraphKind, Set<number>>();

  constructor(model: ResolvedModel, setup: TrainSetup, settings: RuntimeSettings) {
    this.model = model;
    this.setup = setup;
    this.spec = model.spec;
    this.dtype = settings.dtype;
    this.device = settings.device;
    this.threads = settings.threads;
    this.chunkSize = settings.chunkSize;
    this.parameters = new FlatStore(parameterLayout(model), settings.dtype);
    this.optimizerState = new FlatStore(
      optimizerLayout(model, setup.optimizer, setup.trainable),
      settings.dtype,
    );
    this.layers = model.layers.map((l) => ({
      index: l.index,
      name: l.name,
      kind: l.kind,
      inShape: l.inShape,
      outShape: l.outShape,
    }));
    this.inputShape = model.inputShape;
    this.numOutputs = model.numOutputs;
  }

  get numParameters(): number {
    return this.parameters.size;
  }

  /** Fresh seeded parameters (CounterRandom stream i for parameter i) and zeroed optimizer state. */
  initParameters(seed: number): void {
    this.model.parameters.forEach((p, i) => {
      initializeParameter(p, this.parameters.view(p.name), seed, i);
    });
    this.resetOptimizerState();
  }

  resetOptimizerState(): void {
    this.optimizerState.data.fill(0);
  }

  /** The graph of one kind, as built (before lowering); for inspection and tests. */
  graph(kind: GraphKind, batch?: number): Graph {
    return buildGraph(kind, this.context(batch));
  }

  /** ONNX bytes of one graph kind (for any batch size, or specialised to one), as onnxruntime loads them. */
  onnxModel(kind: GraphKind, batch?: number): Uint8Array {
    return graphBytes(kind, this.context(batch));
  }

  private context(batch: number | undefined) {
    return {
      model: this.model,
      setup: this.setup,
      dtype: this.dtype,
      ...(batch !== undefined ? { batch } : {}),
    };
  }

  /**
   * The cached session of one graph kind. Graphs are specialised to the batch size (constant shapes run
   * faster) for the first few sizes seen per kind; further sizes share one graph for any size.
   */
  session(kind: GraphKind, batch?: number): Promise<ort.InferenceSession> {
    const sizes = this.batchSizes.get(kind) ?? new Set<number>();
    this.batchSizes.set(kind, sizes);
    const specialised = batch !== undefined && (sizes.has(batch) || sizes.size < SPECIALISED_BATCH_SIZES);
    if (specialised) sizes.add(batch);
    const key = specialised ? `${kind}@${batch}` : kind;
    let s = this.sessions.get(key);
    if (s === undefined) {
      const bytes = this.onnxModel(kind, specialised ? batch : undefined);
      s = createSession(bytes, { device: this.device, threads: this.threads });
      this.sessions.set(key, s);
      s.catch(() => this.sessions.delete(key));
    }
    return s;
  }

  async run(
    kind: GraphKind,
    feeds: Record<string, ort.Tensor>,
    batch?: number,
  ): Promise<ort.InferenceSession.ReturnType> {
    return (await this.session(kind, batch)).run(feeds);
  }

  examples(x: Examples, field = 'x'): ExampleBatches {
    return new ExampleBatches(this.model, this.dtype, x, field);
  }

  parameterTensor(parameters?: ArrayLike<number>): ort.Tensor {
    const values = parameters ?? this.parameters.data;
    if (values.length !== this.parameters.size) {
      throw new EngineSpecError(
        'parameters',
        `expected ${this.parameters.size} values, got ${values.length}`,
      );
    }
    return floatTensor(values, this.dtype, [this.parameters.size]);
  }

  private stateFeeds(): Record<string, ort.Tensor> {
    return this.optimizerState.size > 0
      ? { optimizer_state: floatTensor(this.optimizerState.data, this.dtype, [this.optimizerState.size]) }
      : {};
  }

  private absorbState(results: ort.InferenceSession.ReturnType): void {
    this.parameters.data.set(floatData(outputOf(results, 'params_out')));
    if (this.optimizerState.size > 0)
      this.optimizerState.data.set(floatData(outputOf(results, 'optimizer_state_out')));
  }

  private targetFeed(y: Int32Array | FloatArray, lead: number[]): Record<string, ort.Tensor> {
    if (y instanceof Int32Array) return { labels: int32Tensor(y, lead) };
    return { targets: floatTensor(y, this.dtype, [...lead, this.numOutputs]) };
  }

  /**
   * K optimizer steps in one call (ONNX Scan), updating `parameters` and `optimizerState` in place.
   * Every batch has the same size N = y rows / K.
   */
  async trainSteps(batch: TrainBatch): Promise<TrainMetrics> {
    const k = batch.learningRates.length;
    if (k < 1) throw new EngineSpecError('learningRates', 'at least one step is needed');
    const soft = !(batch.y instanceof Int32Array);
    const batches = batch.sameBatch ? 1 : k;
    const n = rowCount('y', batch.y.length, batches * (soft ? this.numOutputs : 1));
    const x = this.examples(batch.x);
    x.requireRows(batches * n);
    const lead = batch.sameBatch ? [n] : [k, n];
    const feeds: Record<string, ort.Tensor> = {
      params: this.parameterTensor(),
      ...this.stateFeeds(),
      x: x.tensor(0, batches * n, lead),
      ...this.targetFeed(batch.y, lead),
      learning_rates: float64Tensor(batch.learningRates, [k]),
    };
    if (hasDropout(this.model)) {
      const first = batch.firstStep ?? 0;
      feeds.step_seeds = uint32Tensor(
        Array.from({ length: k }, (_, i) => stepSeed(batch.seed ?? 0, first + i)),
        [k],
      );
    }
    const kind = `trainLoop${batch.sameBatch ? 'SameBatch' : ''}${soft ? 'Soft' : ''}` as const;
    const results = await this.run(kind, feeds, n);
    this.absorbState(results);
    const metric = (name: string) => Float64Array.from(floatData(outputOf(results, name)));
    return {
      losses: metric('losses'),
      gradientNorms: metric('gradient_norms'),
      accuracies: metric('accuracies'),
    };
  }

  /** One optimizer step without the Scan (same semantics as trainSteps with K = 1). */
  async trainStep(
    x: Examples,
    y: Int32Array | FloatArray,
    learningRate: number,
    options: { seed?: number; step?: number } = {},
  ): Promise<TrainMetrics> {
    const soft = !(y instanceof Int32Array);
    const n = rowCount('y', y.length, soft ? this.numOutputs : 1);
    const examples = this.examples(x);
    examples.requireRows(n);
    const feeds: Record<string, ort.Tensor> = {
      params: this.parameterTensor(),
      ...this.stateFeeds(),
      x: examples.tensor(0, n, [n]),
      ...this.targetFeed(y, [n]),
      learning_rate: float64Tensor([learningRate], []),
    };
    if (hasDropout(this.model))
      feeds.step_seed = uint32Tensor([stepSeed(options.seed ?? 0, options.step ?? 0)], []);
    const results = await this.run(soft ? 'trainStepSoft' : 'trainStep', feeds, n);
    this.absorbState(results);
    const one = (name: string) => Float64Array.of(scalarOf(outputOf(results, name)));
    return { losses: one('loss'), gradientNorms: one('gradient_norm'), accuracies: one('accuracy') };
  }

  // ---- evaluation and analysis (see analysis.ts; all accept { parameters } to evaluate elsewhere) ----

  /** Loss, accuracy, per-example loss, logits and correctness over all examples (no dropout). */
  evaluate(x: Examples, labels: Int32Array, options?: AnalysisOptions): Promise<Evaluation> {
    return analysis.evaluate(this, x, labels, options);
  }

  /** Mean loss and its exact gradient over all examples. */
  gradient(x: Examples, labels: Int32Array, options?: AnalysisOptions): Promise<GradientResult> {
    return analysis.gradient(this, x, labels, options);
  }

  /** Exact Hessian-vector product of the mean loss (forward-over-reverse), with loss and gradient. */
  hvp(
    x: Examples,
    labels: Int32Array,
    vector: ArrayLike<number>,
    options?: AnalysisOptions,
  ): Promise<HvpResult> {
    return analysis.hvp(this, x, labels, vector, options);
  }

  /**
   * Repeated exact HVPs on fixed examples: the v-independent work (forward pass, cotangents) is done once
   * here, each apply(v) does only the rest. Same values as hvp().
   */
  hvpOperator(x: Examples, labels: Int32Array, options?: AnalysisOptions): Promise<HvpOperator> {
    return hvpOperator(this, x, labels, options);
  }

  /** Per-example d loss_i / d x_i. */
  inputGradient(x: Examples, labels: Int32Array, options?: AnalysisOptions): Promise<InputGradientResult> {
    return analysis.inputGradient(this, x, labels, options);
  }

  /** Per-example d logit_{c_i} / d x_i. */
  logitInputGradient(
    x: Examples,
    classes: Int32Array,
    options?: AnalysisOptions,
  ): Promise<InputGradientResult> {
    return analysis.logitInputGradient(this, x, classes, options);
  }

  /** Activations of layer `layer` (0-based index into spec.layers). */
  embed(
    layer: number,
    x: Examples,
    options?: AnalysisOptions,
  ): Promise<{ data: FloatArray; shape: number[] }> {
    return analysis.embed(this, layer, x, options);
  }

  /** ||embed_layer(x_i) - target_i||^2 per example and its gradient with respect to x. */
  inversionStep(
    layer: number,
    x: Examples,
    target: ArrayLike<number>,
    options?: AnalysisOptions,
  ): Promise<{ perExampleLoss: Float64Array; gradient: FloatArray }> {
    return analysis.inversionStep(this, layer, x, target, options);
  }

  /** Releases every session. The model can still be used; sessions are recreated on demand. */
  async dispose(): Promise<void> {
    const sessions = [...this.sessions.values()];
    this.sessions.clear();
    await Promise.all(sessions.map(async (s) => (await s.catch(() => undefined))?.release()));
  }
}
