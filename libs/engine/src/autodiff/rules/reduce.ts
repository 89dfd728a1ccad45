// Reductions and the softmax family. A reduction's VJP broadcasts the cotangent back over the reduced
// axes; its JVP reduces the tangent. ReduceMax routes derivatives to the maximal entries (shared equally
// between ties, like torch.amax).
import type { Builder } from '../../ir/builder.ts';
import { type Attrs, type Dim, intAttr, type Node, normalizeAxis, type Value } from '../../ir/types.ts';
import { type Inferred, input, type MaybeValue, type OpRule, output, requireInput } from '../rule.ts';
import { knownVector } from './nondifferentiable.ts';

/** Reduced axes (normalized, sorted) of a reduction node or its inputs/attributes. */
function reducedAxes(x: Value, axesInput: MaybeValue, attrs: Attrs): number[] {
  let axes: readonly number[];
  if (axesInput !== undefined) axes = knownVector(axesInput, 'reduction axes').map(Number);
  else {
    const a = attrs.axes;
    axes = a?.kind === 'ints' ? a.value : x.shape.map((_, i) => i);
  }
  return [...new Set(axes.map((a) => normalizeAxis(a, x.shape.length)))].sort((p, q) => p - q);
}

function keepdims(attrs: Attrs): boolean {
  const k = attrs.keepdims;
  return k?.kind === 'int' ? k.value === 1 : true;
}

function reductionInfer(op: string) {
  return (inputs: readonly MaybeValue[], attrs: Attrs): Inferred[] => {
    const x = requireInput(inputs, 0, op);
    const axes = reducedAxes(x, inputs[1], attrs);
    const shape: Dim[] = [];
    x.shape.forEach((d, i) => {
      if (!axes.includes(i)) shape.push(d);
      else if (keepdims(attrs)) shape.push(1);
    });
    return [{ dtype: x.dtype, shape }];
  };
}

function nodeAxes(node: Node): number[] {
  return reducedAxes(input(node, 0), node.op === 'ReduceSum' ? node.inputs[1] : undefined, node.attrs);
}

/** A reduction's output (or cotangent) with the reduced axes restored as size-1 dimensions. */
function withKeptDims(b: Builder, node: Node, v: Value): Value {
  return keepdims(node.attrs) ? v : b.unsqueeze(v, nodeAxes(node));
}

/** Broadcasts a reduction's output-shaped value back to the input's shape. */
function spread(b: Builder, node: Node, v: Value): Value {
  return b.expandLike(withKeptDims(b, node, v), input(node, 0));
}

/** Re-emits the node's reduction on a tangent. */
function reduceAgain(b: Builder, node: Node, t: Value): Value {
  const op = node.op;
  if (op === 'ReduceSum') return b.reduceSum(t, nodeAxes(node), keepdims(node.attrs));
  return b.op(op, [t], node.attrs);
}

const reduceSum: OpRule = {
  op: 'ReduceSum',
  nondifferentiableInputs: [1],
  infer: reductionInfer('ReduceSum'),
  vjp: (b, node, [g]) => [g && spread(b, node, g)],
  jvp: (b, node, [t]) => [t && reduceAgain(b, node, t)],
};

const reduceMean: OpRule = {
  op: 'ReduceMean',
  infer: reductionInfer('ReduceMean'),
  vjp: (b, node, [g]) => {
    if (g === undefined) return [undefined];
    const x = input(node, 0);
    return [b.div(spread(b, node, g), b.countAlong(x, nodeAxes(node), g.dtype))];
  },
  jvp: (b, node, [t]) => [t && reduceAgain(b, node, t)],
};

/** The argmax mask of a ReduceMax node divided by the number of tied maxima. */
function maxWeights(b: Builder, node: Node): Value {
  const x = input(node, 0);
  const isMax = b.cast(b.equal(x, spread(b, node, output(node))), x.dtype);
  const ties = b.reduceSum(isMax, nodeAxes(node), true);
  return b.div(isMax, ties);
}

const reduceMax: OpRule = {
  op: 'ReduceMax',
  infer: reductionInfer('ReduceMax'),
  vjp: (b, node, [g]) => [g && b.mul(maxWeights(b, node), spread(b, node, g))],
  jvp: (b, node, [t]) => [
    t && b.reduceSum(b.mul(maxWeights(b, node), t), nodeAxes(node), keepdims(node.attrs)),
  ],
};

function softmaxAxis(node: Node): number[] {
  return [normalizeAxis(intAttr(node, 'axis', -1), input(node, 0).shape.length)];
}

const sameShape =
  (op: string) =>
  (inputs: readonly MaybeValue[]): Inferred[] => {
    const x = requireInput(inputs, 0, op);
    return [{ dtype: x.dtype, shape: x.shape }];
  };

// y = softmax(x): J^T g = y * (g - <g, y>), and J is symmetric so the JVP has the same form.
function softmaxMap(b: Builder, node: Node, t: Value): Value {
  const y = output(node);
  return b.mul(y, b.sub(t, b.reduceSum(b.mul(t, y), softmaxAxis(node), true)));
}

const softmax: OpRule = {
  op: 'Softmax',
  infer: sameShape('Softmax'),
  vjp: (b, node, [g]) => [g && softmaxMap(b, node, g)],
  jvp: (b, node, [t]) => [t && softmaxMap(b, node, t)],
};

// y = log softmax(x): J = I - 1 p^T with p = exp(y); VJP g - p * sum(g), JVP t - <p, t>.
const logSoftmax: OpRule = {
  op: 'LogSoftmax',
  infer: sameShape('LogSoftmax'),
  vjp: (b, node, [g]) => {
    if (g === undefined) return [undefined];
    const p = b.exp(output(node));
    return [b.sub(g, b.mul(p, b.reduceSum(g, softmaxAxis(node), true)))];
  },
  jvp: (b, node, [t]) => {
    if (t === undefined) return [undefined];
    const p = b.exp(output(node));
    return [b.sub(t, b.reduceSum(b.mul(p, t), softmaxAxis(node), true))];
  },
};

// sum(x^2) over the reduced axes: one pass over x (gradient norms, trust ratios).
const reduceSumSquare: OpRule = {
  op: 'ReduceSumSquare',
  infer: reductionInfer('ReduceSumSquare'),
  vjp: (b, node, [g]) => [g && b.mul(spread(b, node, g), b.scale(input(node, 0), 2))],
  jvp: (b, node, [t]) => [
    t && b.scale(b.reduceSum(b.mul(input(node, 0), t), nodeAxes(node), keepdims(node.attrs)), 2),
  ],
};

export const reduceRules: OpRule[] = [reduceSum, reduceMean, reduceMax, reduceSumSquare, softmax, logSoftmax];
