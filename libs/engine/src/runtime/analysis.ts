// Evaluation and analysis calls over any number of examples, in chunks of `chunkSize` per graph call.
// Means over all examples (loss, gradient, HVP) are accumulated in float64 with chunk weights n_c / N.
import type * as ort from 'onnxruntime-node';
import { EngineSpecError } from '../errors.ts';
import type { GraphKind } from '../graphs/catalog.ts';
import type { CompiledModel } from './compiled-model.ts';
import type { Examples } from './examples.ts';
import {
  accumulateWeighted,
  allocate,
  type FloatArray,
  floatData,
  floatTensor,
  int32Tensor,
  outputOf,
  scalarOf,
} from './tensors.ts';

export interface AnalysisOptions {
  /** Evaluate at these parameters instead of the model's current ones. */
  parameters?: ArrayLike<number>;
}

export interface Evaluation {
  /** Mean loss and accuracy over all examples. */
  loss: number;
  accuracy: number;
  perExampleLoss: Float64Array;
  /** [N, numOutputs] row-major. */
  logits: FloatArray;
  /** 1 where the prediction (argmax) equals the label. */
  correct: Uint8Array;
}

export interface GradientResult {
  loss: number;
  /** d mean-loss / d parameters, flat in parameter-layout order. */
  gradient: Float64Array;
}

export interface HvpResult {
  loss: number;
  /** H v for the Hessian of the mean loss (exact, forward-over-reverse). */
  hvp: Float64Array;
}

export interface InputGradientResult {
  /** Per-example gradients [N, ...inputShape] (for embedding models: [N, L, D] w.r.t. the embedding). */
  gradient: FloatArray;
  logits: FloatArray;
  /** Loss target only. */
  perExampleLoss?: Float64Array;
  /** Embedding models: the embedding output the gradient refers to, [N, L, D]. */
  embedding?: FloatArray;
}

type Feeds = Record<string, ort.Tensor>;

/** Runs `kind` over rows [0, n) in chunks; `feeds(start, end)` gives each chunk's inputs besides params. */
async function runChunks(
  m: CompiledModel,
  kind: GraphKind,
  n: number,
  parameters: ArrayLike<number> | undefined,
  feeds: (start: number, end: number) => Feeds,
  collect: (start: number, end: number, results: ort.InferenceSession.ReturnType) => void,
): Promise<void> {
  if (n < 1) throw new EngineSpecError('x', 'at least one example is needed');
  const params = m.parameterTensor(parameters);
  for (let start = 0; start < n; start += m.chunkSize) {
    const end = Math.min(n, start + m.chunkSize);
    collect(start, end, await m.run(kind, { params, ...feeds(start, end) }, end - start));
  }
}

function labelsFor(labels: Int32Array, n: number, field = 'labels'): Int32Array {
  if (!(labels instanceof Int32Array) || labels.length !== n) {
    throw new EngineSpecError(field, `expected an Int32Array of ${n} values, got ${labels.length}`);
  }
  return labels;
}

/** Copies a chunk's output rows into a whole-dataset array. */
function place(
  target: FloatArray | Float64Array | Uint8Array,
  source: ArrayLike<number>,
  start: number,
  rowSize: number,
): void {
  target.set(source as ArrayLike<number>, start * rowSize);
}

export async function evaluate(
  m: CompiledModel,
  x: Examples,
  labels: Int32Array,
  o: AnalysisOptions = {},
): Promise<Evaluation> {
  const examples = m.examples(x);
  const n = examples.rows;
  const y = labelsFor(labels, n);
  const perExampleLoss = new Float64Array(n);
  const logits = allocate(m.dtype, n * m.numOutputs);
  const correct = new Uint8Array(n);
  await runChunks(
    m,
    'eval',
    n,
    o.parameters,
    (s, e) => ({ x: examples.tensor(s, e, [e - s]), labels: int32Tensor(y.subarray(s, e), [e - s]) }),
    (s, _e, r) => {
      place(perExampleLoss, floatData(outputOf(r, 'per_example_loss')), s, 1);
      place(logits, floatData(outputOf(r, 'logits')), s, m.numOutputs);
      place(correct, outputOf(r, 'correct').data as Uint8Array, s, 1);
    },
  );
  const loss = perExampleLoss.reduce((a, v) => a + v, 0) / n;
  const accuracy = correct.reduce((a, v) => a + v, 0) / n;
  return { loss, accuracy, perExampleLoss, logits, correct };
}

export async function gradient(
  m: CompiledModel,
  x: Examples,
  labels: Int32Array,
  o: AnalysisOptions = {},
): Promise<GradientResult> {
  const result = await gradientOrHvp(m, 'grad', x, labels, undefined, o);
  return { loss: result.loss, gradient: result.vector };
}

export async function hvp(
  m: CompiledModel,
  x: Examples,
  labels: Int32Array,
  vector: ArrayLike<number>,
  o: AnalysisOptions = {},
): Promise<HvpResult> {
  if (vector.length !== m.numParameters) {
    throw new EngineSpecError('vector', `expected ${m.numParameters} values, got ${vector.length}`);
  }
  return gradientOrHvp(m, 'hvp', x, labels, vector, o).then((r) => ({ loss: r.loss, hvp: r.vector }));
}

async function gradientOrHvp(
  m: CompiledModel,
  kind: 'grad' | 'hvp',
  x: Examples,
  labels: Int32Array,
  vector: ArrayLike<number> | undefined,
  o: AnalysisOptions,
): Promise<{ loss: number; vector: Float64Array }> {
  const examples = m.examples(x);
  const n = examples.rows;
  const y = labelsFor(labels, n);
  const total = { loss: 0, vector: new Float64Array(m.numParameters) };
  const v: Feeds = vector === undefined ? {} : { vector: floatTensor(vector, m.dtype, [m.numParameters]) };
  await runChunks(
    m,
    kind,
    n,
    o.parameters,
    (s, e) => ({ x: examples.tensor(s, e, [e - s]), labels: int32Tensor(y.subarray(s, e), [e - s]), ...v }),
    (s, e, r) => {
      const w = (e - s) / n;
      total.loss += scalarOf(outputOf(r, 'loss')) * w;
      accumulateWeighted(total.vector, floatData(outputOf(r, kind === 'hvp' ? 'hvp' : 'gradient')), w);
    },
  );
  return total;
}

function inputGradientRowSize(m: CompiledModel): number {
  const shape = m.model.inputKind === 'codes' ? m.layers[0]!.outShape : m.inputShape;
  return shape.reduce((a, d) => a * d, 1);
}

async function inputGradientOf(
  m: CompiledModel,
  kind: 'inputGradientLoss' | 'inputGradientLogit',
  x: Examples,
  ints: { name: string; values: Int32Array },
  o: AnalysisOptions,
): Promise<InputGradientResult> {
  const examples = m.examples(x);
  const n = examples.rows;
  const y = labelsFor(ints.values, n, ints.name);
  const rowSize = inputGradientRowSize(m);
  const codes = m.model.inputKind === 'codes';
  const out: InputGradientResult = {
    gradient: allocate(m.dtype, n * rowSize),
    logits: allocate(m.dtype, n * m.numOutputs),
    ...(kind === 'inputGradientLoss' ? { perExampleLoss: new Float64Array(n) } : {}),
    ...(codes ? { embedding: allocate(m.dtype, n * rowSize) } : {}),
  };
  await runChunks(
    m,
    kind,
    n,
    o.parameters,
    (s, e) => ({ x: examples.tensor(s, e, [e - s]), [ints.name]: int32Tensor(y.subarray(s, e), [e - s]) }),
    (s, _e, r) => {
      place(out.gradient, floatData(outputOf(r, 'input_gradient')), s, rowSize);
      place(out.logits, floatData(outputOf(r, 'logits')), s, m.numOutputs);
      if (out.perExampleLoss) place(out.perExampleLoss, floatData(outputOf(r, 'per_example_loss')), s, 1);
      if (out.embedding) place(out.embedding, floatData(outputOf(r, 'embedding')), s, rowSize);
    },
  );
  return out;
}

/** d loss_i / d x_i for every example (loss at the model's temperature). */
export function inputGradient(
  m: CompiledModel,
  x: Examples,
  labels: Int32Array,
  o: AnalysisOptions = {},
): Promise<InputGradientResult> {
  return inputGradientOf(m, 'inputGradientLoss', x, { name: 'labels', values: labels }, o);
}

/** d logit_{c_i}(x_i) / d x_i for every example i and its class c_i. */
export function logitInputGradient(
  m: CompiledModel,
  x: Examples,
  classes: Int32Array,
  o: AnalysisOptions = {},
): Promise<InputGradientResult> {
  return inputGradientOf(m, 'inputGradientLogit', x, { name: 'classes', values: classes }, o);
}

function layerShape(m: CompiledModel, layer: number): readonly number[] {
  const info = m.layers[layer];
  if (info === undefined)
    throw new EngineSpecError('layer', `must be in 0..${m.layers.length - 1}, got ${layer}`);
  return info.outShape;
}

/** Activations of layer `layer` (0-based) for every example: data [N, ...outShape]. */
export async function embed(
  m: CompiledModel,
  layer: number,
  x: Examples,
  o: AnalysisOptions = {},
): Promise<{ data: FloatArray; shape: number[] }> {
  const shape = layerShape(m, layer);
  const rowSize = shape.reduce((a, d) => a * d, 1);
  const examples = m.examples(x);
  const data = allocate(m.dtype, examples.rows * rowSize);
  await runChunks(
    m,
    `embed:${layer}`,
    examples.rows,
    o.parameters,
    (s, e) => ({ x: examples.tensor(s, e, [e - s]) }),
    (s, _e, r) => place(data, floatData(outputOf(r, 'embedding')), s, rowSize),
  );
  return { data, shape: [examples.rows, ...shape] };
}

/** One step of embedding inversion: ||embed_layer(x_i) - target_i||^2 and its gradient w.r.t. x_i. */
export async function inversionStep(
  m: CompiledModel,
  layer: number,
  x: Examples,
  target: ArrayLike<number>,
  o: AnalysisOptions = {},
): Promise<{ perExampleLoss: Float64Array; gradient: FloatArray }> {
  if (m.model.inputKind === 'codes')
    throw new EngineSpecError('x', 'inversion needs float inputs, not integer codes');
  const shape = layerShape(m, layer);
  const targetRow = shape.reduce((a, d) => a * d, 1);
  const examples = m.examples(x);
  const n = examples.rows;
  if (target.length !== n * targetRow)
    throw new EngineSpecError('target', `expected ${n * targetRow} values, got ${target.length}`);
  const targets = floatTensor(target, m.dtype, [n, ...shape]).data as FloatArray;
  const perExampleLoss = new Float64Array(n);
  const grad = allocate(m.dtype, n * examples.rowSize);
  await runChunks(
    m,
    `inversion:${layer}`,
    n,
    o.parameters,
    (s, e) => ({
      x: examples.tensor(s, e, [e - s]),
      target: floatTensor(targets.subarray(s * targetRow, e * targetRow), m.dtype, [e - s, ...shape]),
    }),
    (s, _e, r) => {
      place(perExampleLoss, floatData(outputOf(r, 'per_example_loss')), s, 1);
      place(grad, floatData(outputOf(r, 'input_gradient')), s, examples.rowSize);
    },
  );
  return { perExampleLoss, gradient: grad };
}
