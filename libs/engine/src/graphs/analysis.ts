// Graphs for evaluation and analysis: loss/accuracy, gradients, exact Hessian-vector products
// (forward-over-reverse), input gradients, layer embeddings and the embedding-inversion step. None of
// them applies dropout. Batch losses are means over the batch; input gradients use the sum of per-example
// losses, so each row is that example's own gradient.
import { jvp } from '../autodiff/jvp.ts';
import { vjpOrZeros } from '../autodiff/vjp.ts';
import { Builder } from '../ir/builder.ts';
import { Graph } from '../ir/graph.ts';
import type { Dim, DType, Value } from '../ir/types.ts';
import { forwardLayers } from '../model/forward.ts';
import { parameterLayout } from '../model/layout.ts';
import type { ResolvedModel } from '../model/resolve.ts';
import { correctPredictions, type LossConfig, oneHot, perExampleLoss } from '../train/losses.ts';
import { exampleInput, pack, parameterInputs, targetInput, targetsOf, unpack } from './io.ts';

interface Prologue {
  g: Graph;
  b: Builder;
  params: Value[];
  x: Value;
}

function prologue(name: string, model: ResolvedModel, dtype: DType, batch: Dim): Prologue {
  const g = new Graph(name);
  const b = new Builder(g);
  const params = parameterInputs(g, b, parameterLayout(model), dtype);
  return { g, b, params, x: exampleInput(g, model, dtype, [batch]) };
}

function meanLoss(b: Builder, perExample: Value): Value {
  return b.reduceMean(perExample, [0], false);
}

/** Inputs params, x, labels. Outputs loss, per_example_loss, logits, correct (bool). */
export function buildEvalGraph(model: ResolvedModel, loss: LossConfig, dtype: DType, batch: Dim): Graph {
  const { g, b, params, x } = prologue('eval', model, dtype, batch);
  const targets = targetsOf(b, targetInput(g, model, dtype, [batch], false), false);
  const logits = forwardLayers(b, model, params, x, { training: false }).at(-1)!;
  const perExample = perExampleLoss(b, logits, targets, loss);
  b.output(meanLoss(b, perExample), 'loss');
  b.output(perExample, 'per_example_loss');
  b.output(logits, 'logits');
  b.output(correctPredictions(b, logits, targets), 'correct');
  return g;
}

/** Inputs params, x, labels (and vector for HVPs). Outputs loss and gradient [P], or loss and hvp [P]. */
export function buildGradientGraph(
  model: ResolvedModel,
  loss: LossConfig,
  dtype: DType,
  withHvp: boolean,
  batch: Dim,
): Graph {
  const { g, b, params, x } = prologue(withHvp ? 'hvp' : 'grad', model, dtype, batch);
  const targets = targetsOf(b, targetInput(g, model, dtype, [batch], false), false);
  const logits = forwardLayers(b, model, params, x, { training: false }).at(-1)!;
  const lossValue = meanLoss(b, perExampleLoss(b, logits, targets, loss));
  const grads = vjpOrZeros(b, lossValue, b.scalarLike(lossValue, 1), params);
  b.output(lossValue, 'loss');
  // The HVP graph does not publish the gradient: dropping it lets the serializer prune the parameter
  // cotangent products (a fifth of the work); the JVP only needs the activation cotangents.
  if (!withHvp) b.output(pack(b, grads), 'gradient');
  if (withHvp) {
    const layout = parameterLayout(model);
    const directions = unpack(b, g.addInput('vector', dtype, [layout.size]), layout);
    const seeds = new Map(params.map((p, i) => [p.name, directions[i]!]));
    const products = jvp(b, seeds, grads).map((t, i) => t ?? b.zerosLike(grads[i]!));
    b.output(pack(b, products), 'hvp');
  }
  return g;
}

/**
 * Gradient of the sum of per-example losses (target 'loss') or of logit c_i of each example (target
 * 'logit', input `classes` int32 [N]) with respect to the input x, or to the embedding output for models
 * that start with an embedding (integer inputs have no gradient). Outputs input_gradient, logits,
 * per_example_loss (loss target) and embedding (embedding models).
 */
export function buildInputGradientGraph(
  model: ResolvedModel,
  loss: LossConfig,
  dtype: DType,
  target: 'loss' | 'logit',
  batch: Dim,
): Graph {
  const { g, b, params, x } = prologue(`input_gradient_${target}`, model, dtype, batch);
  const layers = forwardLayers(b, model, params, x, { training: false });
  const logits = layers.at(-1)!;
  const wrt = model.inputKind === 'codes' ? layers[0]! : x;
  let objective: Value;
  if (target === 'loss') {
    const perExample = perExampleLoss(
      b,
      logits,
      targetsOf(b, targetInput(g, model, dtype, [batch], false), false),
      loss,
    );
    objective = b.reduceSum(perExample, [0], false);
    b.output(perExample, 'per_example_loss');
  } else {
    const classes = b.cast(g.addInput('classes', 'int32', [batch]), 'int64');
    objective = b.reduceSum(b.mul(logits, oneHot(b, classes, model.numOutputs, logits)), [0, 1], false);
  }
  const [gradient] = vjpOrZeros(b, objective, b.scalarLike(objective, 1), [wrt]);
  b.output(gradient!, 'input_gradient');
  b.output(logits, 'logits');
  if (model.inputKind === 'codes') b.output(wrt, 'embedding');
  return g;
}

/** Inputs params, x. Output embedding: the activations of layer `layer` [N, ...]. */
export function buildEmbedGraph(model: ResolvedModel, dtype: DType, layer: number, batch: Dim): Graph {
  const { g, b, params, x } = prologue(`embed_${layer}`, model, dtype, batch);
  b.output(forwardLayers(b, model, params, x, { training: false, upTo: layer }).at(-1)!, 'embedding');
  return g;
}

/**
 * Inputs params, x, target (layer `layer`'s activations to match). Outputs per_example_loss
 * ||embed(x_i) - target_i||^2 and input_gradient (its gradient with respect to x_i).
 */
export function buildInversionGraph(model: ResolvedModel, dtype: DType, layer: number, batch: Dim): Graph {
  const { g, b, params, x } = prologue(`inversion_${layer}`, model, dtype, batch);
  const embedding = forwardLayers(b, model, params, x, { training: false, upTo: layer }).at(-1)!;
  const target = g.addInput('target', dtype, embedding.shape);
  const diff = b.sub(embedding, target);
  const perExample = b.reduceSum(
    b.mul(diff, diff),
    diff.shape.slice(1).map((_, i) => i + 1),
    false,
  );
  const total = b.reduceSum(perExample, [0], false);
  const [gradient] = vjpOrZeros(b, total, b.scalarLike(total, 1), [x]);
  b.output(perExample, 'per_example_loss');
  b.output(gradient!, 'input_gradient');
  return g;
}
