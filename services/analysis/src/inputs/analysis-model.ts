// The analysis service's thin adapter over @gengap/engine: a compiled model plus one checkpoint's
// parameters as a flat Float64 vector in the engine's layout, with the loss, gradient and exact
// Hessian-vector products of the mean loss over an example set at any parameter vector. Compiled
// models are cached by everything that shapes their graphs (architecture, loss, precision, device,
// threads, examples per call), so analyses of many checkpoints of one architecture share sessions.
import { createHash } from 'node:crypto';
import { type CompiledModel, compileModel } from '@gengap/engine';
import { type Device, type LossSpec, ModelSpec, Precision } from '@gengap/proto/common/v1/model';
import { FailedPreconditionError } from '@gengap/service-kit';
import type { LoadedCheckpoint } from '../analyses/kind.ts';
import type { ParameterBlock } from '../numerics/directions.ts';
import type { ExampleSet } from './examples.ts';

export interface CompileKey {
  model: ModelSpec;
  loss: LossSpec | undefined;
  precision: Precision;
  device: Device;
  threads: number;
  chunkSize: number;
}

export interface EvaluationSummary {
  loss: number;
  accuracy: number;
}

/** Repeated HVPs on fixed examples at fixed parameters. */
export interface PreparedHvp {
  /** H v (exact, forward-over-reverse) for the Hessian of the mean loss over the prepared examples. */
  apply(vector: ArrayLike<number>): Promise<Float64Array>;
  /** Frees what was prepared. */
  release(): void;
  /** Whether the v-independent half of the HVP was computed once (false: each apply runs the whole HVP). */
  readonly prepared: boolean;
}

/** Memory allowed for the v-independent tensors a prepared HVP keeps (activations and cotangents). */
export const PREPARED_HVP_BYTES = 1024 ** 3;

export interface AnalysisModel {
  /** The engine's model, for kinds that need more than loss, gradient and HVP (input gradients, embeddings). */
  readonly engine: CompiledModel;
  readonly checkpoint: LoadedCheckpoint;
  readonly numParameters: number;
  /** Parameter tensors in layout order; the filter axis is the output axis (dense [out, in], conv [out, ...]). */
  readonly blocks: readonly ParameterBlock[];
  readonly precision: 'float32' | 'float64';
  /** The checkpoint's parameters, flat, in layout order (do not modify; copy first). */
  readonly parameters: Float64Array;
  evaluate(examples: ExampleSet, parameters?: ArrayLike<number>): Promise<EvaluationSummary>;
  lossAndGradient(
    examples: ExampleSet,
    parameters?: ArrayLike<number>,
  ): Promise<{ loss: number; gradient: Float64Array }>;
  /** H v for the Hessian of the mean loss over `examples` (exact, forward-over-reverse). */
  hvp(examples: ExampleSet, vector: ArrayLike<number>, parameters?: ArrayLike<number>): Promise<Float64Array>;
  /**
   * For many HVPs on the same examples (Lanczos, Hutchinson, SLQ): the forward pass and cotangents run
   * once, each apply only the v-dependent products (the engine's hvpOperator), as long as what that
   * keeps fits PREPARED_HVP_BYTES; otherwise each apply is a whole HVP. Same values either way.
   */
  prepareHvp(examples: ExampleSet, parameters?: ArrayLike<number>): Promise<PreparedHvp>;
  /** Logits [count, numOutputs]. */
  logits(examples: ExampleSet, parameters?: ArrayLike<number>): Promise<Float32Array | Float64Array>;
}

/** Flattens named checkpoint tensors into the engine's parameter layout, checking names and shapes. */
export function flattenParameters(engine: CompiledModel, checkpoint: LoadedCheckpoint): Float64Array {
  const flat = new Float64Array(engine.numParameters);
  const byName = new Map(checkpoint.parameters.map((t) => [t.name, t]));
  for (const view of engine.parameters.views) {
    const tensor = byName.get(view.name);
    if (!tensor) {
      throw new FailedPreconditionError(`checkpoint ${checkpoint.origin} has no parameter ${view.name}`);
    }
    if (tensor.data.length !== view.length || tensor.shape.join('x') !== view.shape.join('x')) {
      throw new FailedPreconditionError(
        `checkpoint ${checkpoint.origin}: parameter ${view.name} has shape [${tensor.shape}], the model needs [${view.shape}]`,
      );
    }
    flat.set(tensor.data, view.offset);
  }
  return flat;
}

export function parameterBlocks(engine: CompiledModel): ParameterBlock[] {
  return engine.parameters.views.map((v) => ({
    name: v.name,
    offset: v.offset,
    size: v.length,
    shape: v.shape,
    filterAxis: 0,
  }));
}

class EngineAnalysisModel implements AnalysisModel {
  readonly engine: CompiledModel;
  readonly checkpoint: LoadedCheckpoint;
  readonly parameters: Float64Array;
  readonly blocks: readonly ParameterBlock[];
  /** The checkpoint's parameters in the engine's dtype, fed as they are (no conversion per call). */
  private readonly native: Float32Array | Float64Array;

  constructor(engine: CompiledModel, checkpoint: LoadedCheckpoint) {
    this.engine = engine;
    this.checkpoint = checkpoint;
    this.parameters = flattenParameters(engine, checkpoint);
    this.native = engine.dtype === 'float32' ? Float32Array.from(this.parameters) : this.parameters;
    this.blocks = parameterBlocks(engine);
  }

  get numParameters(): number {
    return this.engine.numParameters;
  }

  get precision(): 'float32' | 'float64' {
    return this.engine.dtype;
  }

  async evaluate(examples: ExampleSet, parameters?: ArrayLike<number>): Promise<EvaluationSummary> {
    const r = await this.engine.evaluate(examples.x, examples.y, {
      parameters: parameters ?? this.native,
    });
    return { loss: r.loss, accuracy: r.accuracy };
  }

  async lossAndGradient(examples: ExampleSet, parameters?: ArrayLike<number>) {
    const r = await this.engine.gradient(examples.x, examples.y, {
      parameters: parameters ?? this.native,
    });
    return { loss: r.loss, gradient: r.gradient };
  }

  async hvp(examples: ExampleSet, vector: ArrayLike<number>, parameters?: ArrayLike<number>) {
    const r = await this.engine.hvp(examples.x, examples.y, vector, {
      parameters: parameters ?? this.native,
    });
    return r.hvp;
  }

  /** Rough size of the tensors a prepared HVP keeps: every layer's output, three times, per example. */
  private preparedBytes(examples: ExampleSet): number {
    const size = (shape: readonly number[]) => shape.reduce((p, d) => p * d, 1);
    const perExample = this.engine.layers.reduce(
      (a, l) => a + size(l.outShape),
      size(this.engine.inputShape),
    );
    return 3 * perExample * examples.count * (this.engine.dtype === 'float32' ? 4 : 8);
  }

  async prepareHvp(examples: ExampleSet, parameters?: ArrayLike<number>): Promise<PreparedHvp> {
    const params = parameters ?? this.native;
    if (this.preparedBytes(examples) > PREPARED_HVP_BYTES) {
      return {
        prepared: false,
        apply: (v) => this.hvp(examples, v, params),
        release: () => {},
      };
    }
    const op = await this.engine.hvpOperator(examples.x, examples.y, { parameters: params });
    return { prepared: true, apply: (v) => op.apply(v), release: () => op.release() };
  }

  async logits(examples: ExampleSet, parameters?: ArrayLike<number>) {
    const r = await this.engine.evaluate(examples.x, examples.y, {
      parameters: parameters ?? this.native,
    });
    return r.logits;
  }
}

export function analysisModel(engine: CompiledModel, checkpoint: LoadedCheckpoint): AnalysisModel {
  return new EngineAnalysisModel(engine, checkpoint);
}

function compileKeyHash(key: CompileKey): string {
  const canonical = JSON.stringify({
    model: ModelSpec.toJSON(key.model),
    loss: key.loss ?? null,
    precision: key.precision === Precision.PRECISION_FLOAT64 ? 'float64' : 'float32',
    device: key.device,
    threads: key.threads,
    chunkSize: key.chunkSize,
  });
  return createHash('sha256').update(canonical).digest('hex');
}

interface CacheEntry {
  model: Promise<CompiledModel>;
  users: number;
  cached: boolean;
}

export interface ModelLease {
  model: CompiledModel;
  /** Ends this use; the model's sessions are released once it is neither cached nor in use. */
  release(): void;
}

/**
 * Compiles models on demand and keeps the most recently used few (their sessions hold memory). A model
 * is leased for the length of an analysis, so evicting it from the cache never pulls sessions from
 * under a running job.
 */
export class ModelCompiler {
  private readonly cache = new Map<string, CacheEntry>();
  private readonly capacity: number;

  constructor(capacity = 4) {
    this.capacity = capacity;
  }

  async acquire(key: CompileKey): Promise<ModelLease> {
    const hash = compileKeyHash(key);
    let entry = this.cache.get(hash);
    if (entry) {
      this.cache.delete(hash);
      this.cache.set(hash, entry);
    } else {
      const model = compileModel(key.model, {
        ...(key.loss ? { loss: key.loss } : {}),
        precision: key.precision,
        device: key.device,
        threads: key.threads,
        chunkSize: key.chunkSize,
      });
      entry = { model, users: 0, cached: true };
      const created = entry;
      model.catch(() => {
        if (this.cache.get(hash) === created) this.cache.delete(hash);
      });
      this.cache.set(hash, entry);
      this.evict();
    }
    entry.users++;
    const leased = entry;
    let model: CompiledModel;
    try {
      model = await leased.model;
    } catch (err) {
      leased.users--;
      throw err;
    }
    let released = false;
    return {
      model,
      release: () => {
        if (released) return;
        released = true;
        leased.users--;
        if (leased.users === 0 && !leased.cached) void model.dispose().catch(() => {});
      },
    };
  }

  private evict(): void {
    for (const [hash, entry] of this.cache) {
      if (this.cache.size <= this.capacity) break;
      this.cache.delete(hash);
      entry.cached = false;
      if (entry.users === 0) void entry.model.then((m) => m.dispose()).catch(() => {});
    }
  }

  async close(): Promise<void> {
    const all = [...this.cache.values()];
    this.cache.clear();
    await Promise.all(all.map((e) => e.model.then((m) => m.dispose()).catch(() => {})));
  }
}
