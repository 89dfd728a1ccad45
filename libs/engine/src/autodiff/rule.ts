// One entry of the rule table: everything the engine knows about an ONNX operator, in one place.
// - infer: output dtypes and shapes (the builder calls it for every node it emits);
// - vjp: reverse mode, the input cotangents from the output cotangents;
// - jvp: forward mode, the output tangents from the input tangents;
// - lower: a rewrite into other operators for dtypes that onnxruntime's CPU provider has no kernel for
//   (it lacks float64 Conv, ConvTranspose, AveragePool and Erf).
// Operators that only move integers or produce masks are `nondifferentiable`: their outputs are constants
// to the autodiff. Because Hessian-vector products are forward-over-reverse, every operator that a VJP
// rule emits on floating values must itself have a JVP rule; the rule tests check that closure.
import type { Builder } from '../ir/builder.ts';
import type { Attrs, Dim, DType, Node, Shape, Value } from '../ir/types.ts';

export interface Inferred {
  readonly dtype: DType;
  readonly shape: Shape;
  readonly known?: readonly Dim[];
}

export type MaybeValue = Value | undefined;

export interface OpRule {
  readonly op: string;
  infer(inputs: readonly MaybeValue[], attrs: Attrs): Inferred[];
  /** Indices of inputs that never carry derivatives (shapes, axes, conditions, indices). */
  readonly nondifferentiableInputs?: readonly number[];
  /** Outputs are constants to the autodiff (comparisons, shapes, casts to integers, random masks). */
  readonly nondifferentiable?: boolean;
  /**
   * Input cotangents from output cotangents (undefined = zero). `wanted[i]` says whether input i's
   * cotangent is needed; rules may skip work for the others.
   */
  vjp?(
    b: Builder,
    node: Node,
    outCotangents: readonly MaybeValue[],
    wanted: readonly boolean[],
  ): MaybeValue[];
  /** Output tangents from input tangents (undefined = zero). */
  jvp?(b: Builder, node: Node, inTangents: readonly MaybeValue[]): MaybeValue[];
  /**
   * Emitted only by lowerings, which run after autodiff: the operator is never differentiated, and no
   * VJP or JVP rule may emit it.
   */
  readonly loweringOnly?: boolean;
  /** Replacement outputs computed with other operators, or undefined when the node runs as is. */
  lower?(b: Builder, node: Node): Value[] | undefined;
}

export function input(node: Node, i: number): Value {
  const v = node.inputs[i];
  if (v === undefined) throw new Error(`${node.op}: input ${i} is missing`);
  return v;
}

export function output(node: Node, i = 0): Value {
  const v = node.outputs[i];
  if (v === undefined) throw new Error(`${node.op}: output ${i} is missing`);
  return v;
}

export function requireInput(inputs: readonly MaybeValue[], i: number, op: string): Value {
  const v = inputs[i];
  if (v === undefined) throw new Error(`${op}: input ${i} is required`);
  return v;
}
