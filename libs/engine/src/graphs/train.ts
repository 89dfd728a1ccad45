// Training graphs. The K-step graph runs the step body inside an ONNX Scan: the batches are stacked
// [K, N, ...] (or one batch is shared by every step), parameters and optimizer state are its state
// variables, and the step metrics come back as scan outputs [K]. The single-step graph runs the same
// body once.
import { Builder } from '../ir/builder.ts';
import { Graph } from '../ir/graph.ts';
import { attr, type Dim, type DType, type Value } from '../ir/types.ts';
import { type FlatLayout, optimizerLayout, parameterLayout } from '../model/layout.ts';
import type { ResolvedModel } from '../model/resolve.ts';
import { buildTrainStep, type StepOutputs, type TrainSetup } from '../train/step.ts';
import { exampleInput, hasDropout, pack, STEPS, targetInput, targetsOf, unpack } from './io.ts';

export interface TrainGraphOptions {
  dtype: DType;
  /** Examples per step: a number specialises the graph (constant shapes), a symbol keeps it general. */
  batch: Dim;
  /** Soft-label targets [.., C] (distillation) instead of integer labels. */
  soft: boolean;
}

interface Layouts {
  params: FlatLayout;
  state: FlatLayout;
}

function layoutsOf(model: ResolvedModel, setup: TrainSetup): Layouts {
  return { params: parameterLayout(model), state: optimizerLayout(model, setup.optimizer, setup.trainable) };
}

function publishStep(b: Builder, out: StepOutputs, state: FlatLayout): void {
  b.output(pack(b, out.params), 'params_out');
  if (state.size > 0) b.output(pack(b, out.state), 'optimizer_state_out');
}

/**
 * Scan body outputs are positional, so values are published as they are; only a value that is also a
 * body input or an earlier output (a frozen parameter) goes through an Identity, since every Identity in
 * a body copies its tensor on every iteration.
 */
function publishBodyOutputs(b: Builder, values: readonly Value[]): void {
  const seen = new Set(b.graph.inputs.map((v) => v.name));
  values.forEach((v, i) => {
    if (seen.has(v.name)) b.output(v, `body_output_${i}`);
    else b.graph.addOutput(v);
    seen.add(v.name);
  });
}

/** Graph inputs: params, optimizer_state?, x [N,..], labels|targets, learning_rate (f64), step_seed (u32)?. */
export function buildSingleStepGraph(model: ResolvedModel, setup: TrainSetup, o: TrainGraphOptions): Graph {
  const g = new Graph('train_step');
  const b = new Builder(g);
  const layouts = layoutsOf(model, setup);
  const params = unpack(b, g.addInput('params', o.dtype, [layouts.params.size]), layouts.params);
  const state =
    layouts.state.size > 0
      ? unpack(b, g.addInput('optimizer_state', o.dtype, [layouts.state.size]), layouts.state)
      : [];
  const x = exampleInput(g, model, o.dtype, [o.batch]);
  const targets = targetsOf(b, targetInput(g, model, o.dtype, [o.batch], o.soft), o.soft);
  const learningRate = g.addInput('learning_rate', 'float64', []);
  const stepSeed = hasDropout(model) ? g.addInput('step_seed', 'uint32', []) : undefined;
  const out = buildTrainStep(b, model, setup, {
    x,
    targets,
    learningRate,
    params,
    state,
    ...(stepSeed ? { stepSeed } : {}),
  });
  publishStep(b, out, layouts.state);
  b.output(out.loss, 'loss');
  b.output(out.gradientNorm, 'gradient_norm');
  b.output(out.accuracy, 'accuracy');
  return g;
}

/**
 * Graph inputs: params, optimizer_state?, x [K, N, ..] and labels [K, N] | targets [K, N, C] (one batch
 * per step), or with `sameBatch` x [N, ..] and labels [N] | targets [N, C] (the same batch at every
 * step: full-batch gradient descent), learning_rates [K] (f64), step_seeds [K] (u32, models with
 * dropout). Outputs: params_out, optimizer_state_out?, losses [K], gradient_norms [K], accuracies [K].
 *
 * The steps run in an ONNX Scan: parameters and optimizer state are its state variables, the per-step
 * inputs its scan inputs, the metrics its scan outputs. onnxruntime hands each step a view of its slice
 * of the stacked inputs, where a Loop body copies the batch out with Gather (with the MNIST MLP's
 * parameters and batch-128 inputs the Scan's per-step overhead is 155 us against 193 us for Loop +
 * Gather); a repeated batch is read from the enclosing graph and never copied.
 */
export function buildTrainLoopGraph(
  model: ResolvedModel,
  setup: TrainSetup,
  o: TrainGraphOptions & { sameBatch: boolean },
): Graph {
  const g = new Graph('train_loop');
  const b = new Builder(g);
  const layouts = layoutsOf(model, setup);
  const params = unpack(b, g.addInput('params', o.dtype, [layouts.params.size]), layouts.params);
  const state =
    layouts.state.size > 0
      ? unpack(b, g.addInput('optimizer_state', o.dtype, [layouts.state.size]), layouts.state)
      : [];
  const lead = o.sameBatch ? [o.batch] : [STEPS, o.batch];
  const xs = exampleInput(g, model, o.dtype, lead);
  const ys = targetInput(g, model, o.dtype, lead, o.soft);
  const learningRates = g.addInput('learning_rates', 'float64', [STEPS]);
  const seeds = hasDropout(model) ? g.addInput('step_seeds', 'uint32', [STEPS]) : undefined;

  const body = new Graph('train_loop_body', g.names);
  const bb = new Builder(body);
  const carried = [...params, ...state].map((v, i) => body.addInput(`carried_${i}`, v.dtype, v.shape));
  const scanned = [...(o.sameBatch ? [] : [xs, ys]), learningRates, ...(seeds ? [seeds] : [])];
  const slices = scanned.map((v) => body.addInput(`${v.name}_step`, v.dtype, v.shape.slice(1)));
  const step = (v: Value) => slices[scanned.indexOf(v)]!;
  const out = buildTrainStep(bb, model, setup, {
    x: o.sameBatch ? xs : step(xs),
    targets: targetsOf(bb, o.sameBatch ? ys : step(ys), o.soft),
    learningRate: step(learningRates),
    params: carried.slice(0, params.length),
    state: carried.slice(params.length),
    ...(seeds ? { stepSeed: step(seeds) } : {}),
  });
  publishBodyOutputs(bb, [...out.params, ...out.state, out.loss, out.gradientNorm, out.accuracy]);

  const results = b.emit('Scan', [...params, ...state, ...scanned], {
    body: attr.graph(body),
    num_scan_inputs: attr.int(scanned.length),
  });
  const finalParams = results.slice(0, params.length);
  const finalState = results.slice(params.length, params.length + state.length);
  const [losses, norms, accuracies] = results.slice(params.length + state.length);
  b.output(pack(b, finalParams), 'params_out');
  if (layouts.state.size > 0) b.output(pack(b, finalState), 'optimizer_state_out');
  b.output(losses!, 'losses');
  b.output(norms!, 'gradient_norms');
  b.output(accuracies!, 'accuracies');
  return g;
}
