// Emits nodes into a Graph, inferring each output's dtype and shape with the operator's rule. Rules,
// layers, losses and optimizers all build graphs through this class, so every node is shape-checked
// when it is created rather than when onnxruntime loads the model.
import { ruleFor } from '../autodiff/rules/index.ts';
import type { Graph } from './graph.ts';
import { dimProduct } from './shape.ts';
import {
  type Attrs,
  attr,
  type ConstTensor,
  type Dim,
  type DType,
  normalizeAxis,
  onnxTypeCode,
  sameShape,
  staticSize,
  type Value,
} from './types.ts';

export interface GemmOptions {
  transA?: boolean;
  transB?: boolean;
  alpha?: number;
  beta?: number;
}

export class Builder {
  readonly graph: Graph;
  private readonly constants = new Map<string, Value>();

  constructor(graph: Graph) {
    this.graph = graph;
  }

  /** Appends one node; its outputs get fresh names (or `names`, reserved exactly). */
  emit(
    op: string,
    inputs: readonly (Value | undefined)[],
    attrs: Attrs = {},
    names?: readonly string[],
  ): Value[] {
    const inferred = ruleFor(op).infer(inputs, attrs);
    const outputs = inferred.map(
      (o, i): Value => ({
        name:
          names?.[i] !== undefined
            ? this.graph.names.reserve(names[i])
            : this.graph.names.fresh(op.toLowerCase()),
        dtype: o.dtype,
        shape: o.shape,
        ...(o.known !== undefined ? { known: o.known } : {}),
      }),
    );
    this.graph.addNode({ op, inputs, outputs, attrs });
    return outputs;
  }

  /** Emits a single-output node. */
  op(op: string, inputs: readonly (Value | undefined)[], attrs: Attrs = {}): Value {
    return this.emit(op, inputs, attrs)[0]!;
  }

  /** Publishes `value` as a graph output under an exact name. */
  output(value: Value, name: string): Value {
    const out = this.emit('Identity', [value], {}, [name])[0]!;
    return this.graph.addOutput(out);
  }

  // ---- constants (cached per graph) ----

  constant(tensor: ConstTensor): Value {
    if (tensor.data.length > 64) return this.op('Constant', [], { value: attr.tensor(tensor) });
    const key = `${tensor.dtype}|${tensor.shape.join(',')}|${tensor.data.join(',')}`;
    let v = this.constants.get(key);
    if (v === undefined) {
      v = this.op('Constant', [], { value: attr.tensor(tensor) });
      this.constants.set(key, v);
    }
    return v;
  }

  scalar(value: number, dtype: DType): Value {
    return this.constant({ dtype, shape: [], data: [value] });
  }

  /** A scalar with the dtype of `like`. */
  scalarLike(like: Value, value: number): Value {
    return this.scalar(value, like.dtype);
  }

  int64s(values: readonly number[]): Value {
    return this.constant({ dtype: 'int64', shape: [values.length], data: values });
  }

  // ---- elementwise ----

  add(a: Value, b: Value): Value {
    return this.op('Add', [a, b]);
  }
  sub(a: Value, b: Value): Value {
    return this.op('Sub', [a, b]);
  }
  mul(a: Value, b: Value): Value {
    return this.op('Mul', [a, b]);
  }
  div(a: Value, b: Value): Value {
    return this.op('Div', [a, b]);
  }
  neg(x: Value): Value {
    return this.op('Neg', [x]);
  }
  exp(x: Value): Value {
    return this.op('Exp', [x]);
  }
  log(x: Value): Value {
    return this.op('Log', [x]);
  }
  sqrt(x: Value): Value {
    return this.op('Sqrt', [x]);
  }
  where(condition: Value, a: Value, b: Value): Value {
    return this.op('Where', [condition, a, b]);
  }
  greater(a: Value, b: Value): Value {
    return this.op('Greater', [a, b]);
  }
  equal(a: Value, b: Value): Value {
    return this.op('Equal', [a, b]);
  }
  cast(x: Value, to: DType): Value {
    return x.dtype === to ? x : this.op('Cast', [x], { to: attr.int(onnxTypeCode(to)) });
  }
  /** a * s for a scalar number s, skipping the multiplication when s is 1. */
  scale(a: Value, s: number): Value {
    return s === 1 ? a : this.mul(a, this.scalarLike(a, s));
  }

  // ---- shapes ----

  shapeOf(x: Value): Value {
    return this.op('Shape', [x]);
  }
  /** Reshape to a static target (ONNX 0 / -1 conventions allowed) or to a runtime shape vector. */
  reshape(x: Value, target: readonly Dim[] | Value): Value {
    if (!Array.isArray(target)) return this.op('Reshape', [x, target as Value]);
    const dims = target as readonly Dim[];
    if (sameShape(x.shape, dims)) return x;
    if (dims.some((d) => typeof d !== 'number'))
      throw new Error('reshape: symbolic target needs a shape value');
    return this.op('Reshape', [x, this.int64s(dims as number[])]);
  }
  /** Reshape `x` to the shape of `like` (static when possible). */
  reshapeLike(x: Value, like: Value): Value {
    if (sameShape(x.shape, like.shape)) return x;
    return staticSize(like.shape) !== undefined
      ? this.reshape(x, like.shape)
      : this.op('Reshape', [x, this.shapeOf(like)]);
  }
  unsqueeze(x: Value, axes: readonly number[]): Value {
    return this.op('Unsqueeze', [x, this.int64s(axes)]);
  }
  transpose(x: Value, perm: readonly number[]): Value {
    return this.op('Transpose', [x], { perm: attr.ints(perm) });
  }
  /** Broadcasts `x` to the shape of `like`. */
  expandLike(x: Value, like: Value): Value {
    if (sameShape(x.shape, like.shape)) return x;
    return this.op('Expand', [x, this.shapeOf(like)]);
  }
  zerosLike(x: Value): Value {
    const value = attr.tensor({ dtype: x.dtype, shape: [1], data: [0] });
    return this.op('ConstantOfShape', [this.shapeOf(x)], { value });
  }

  // ---- reductions ----

  reduceSum(x: Value, axes: readonly number[], keepdims: boolean): Value {
    return this.op('ReduceSum', [x, this.int64s(axes)], { keepdims: attr.int(keepdims ? 1 : 0) });
  }
  reduceMean(x: Value, axes: readonly number[], keepdims: boolean): Value {
    return this.op('ReduceMean', [x], { axes: attr.ints(axes), keepdims: attr.int(keepdims ? 1 : 0) });
  }
  /** sum(x^2) over all axes, as a scalar. */
  sumOfSquares(x: Value): Value {
    return this.op('ReduceSumSquare', [x], { keepdims: attr.int(0) });
  }
  /** The sum of same-shaped values in one node. */
  sum(values: readonly Value[]): Value {
    return values.length === 1 ? values[0]! : this.op('Sum', values);
  }
  reduceMax(x: Value, axes: readonly number[], keepdims: boolean): Value {
    return this.op('ReduceMax', [x], { axes: attr.ints(axes), keepdims: attr.int(keepdims ? 1 : 0) });
  }
  logSoftmax(x: Value, axis = -1): Value {
    return this.op('LogSoftmax', [x], { axis: attr.int(axis) });
  }
  softmax(x: Value, axis = -1): Value {
    return this.op('Softmax', [x], { axis: attr.int(axis) });
  }

  /** Sums a broadcast result back to `shape` (the inverse of numpy broadcasting), shaped like `like`. */
  sumToShape(g: Value, like: Value): Value {
    const shape = like.shape;
    if (sameShape(g.shape, shape)) return g;
    const lead = g.shape.length - shape.length;
    const axes: number[] = [];
    for (let i = 0; i < g.shape.length; i++) {
      if (i < lead || (shape[i - lead] === 1 && g.shape[i] !== 1)) axes.push(i);
    }
    const rows = g.shape[0];
    if (g.shape.length === 2 && lead === 1 && axes.length === 1 && typeof rows === 'number') {
      // A bias cotangent: ones[1, M] @ g runs several times faster in onnxruntime than ReduceSum over
      // the leading axis.
      const ones = this.constant({ dtype: g.dtype, shape: [1, rows], data: new Array<number>(rows).fill(1) });
      return this.reshapeLike(this.matmul(ones, g), like);
    }
    // Summing only leading axes needs no reshape afterwards.
    const onlyLeading = axes.length === lead;
    const summed = axes.length > 0 ? this.reduceSum(g, axes, !onlyLeading) : g;
    return this.reshapeLike(summed, like);
  }

  /** The number of elements of `x` along `axes`, as a scalar of `dtype` (computed at run time if symbolic). */
  countAlong(x: Value, axes: readonly number[], dtype: DType): Value {
    const normalized = axes.map((a) => normalizeAxis(a, x.shape.length));
    const dims = normalized.map((a) => x.shape[a]!);
    const n = dimProduct(dims);
    if (typeof n === 'number') return this.scalar(n, dtype);
    const picked = this.op('Gather', [this.shapeOf(x), this.int64s(normalized)], { axis: attr.int(0) });
    const product = this.op('ReduceProd', [picked], { keepdims: attr.int(0) });
    return this.cast(product, dtype);
  }

  // ---- linear algebra ----

  gemm(a: Value, b: Value, c: Value | undefined, o: GemmOptions = {}): Value {
    const attrs: Record<string, ReturnType<typeof attr.int>> = {};
    if (o.transA) attrs.transA = attr.int(1);
    if (o.transB) attrs.transB = attr.int(1);
    if (o.alpha !== undefined && o.alpha !== 1) attrs.alpha = attr.float(o.alpha);
    if (o.beta !== undefined && o.beta !== 1) attrs.beta = attr.float(o.beta);
    return this.op('Gemm', c === undefined ? [a, b] : [a, b, c], attrs);
  }
  matmul(a: Value, b: Value): Value {
    return this.op('MatMul', [a, b]);
  }
}

/** Adds `a + b` where either may be absent (undefined means zero). */
export function addMaybe(b: Builder, x: Value | undefined, y: Value | undefined): Value | undefined {
  if (x === undefined) return y;
  if (y === undefined) return x;
  return b.add(x, y);
}
