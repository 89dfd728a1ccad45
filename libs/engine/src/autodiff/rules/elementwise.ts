// Elementwise operators. Their Jacobians are diagonal (after broadcasting), so for unary operators the
// VJP and the JVP are the same map t -> t * f'(x); binary operators reduce broadcast cotangents back to
// each operand's shape.
import { addMaybe, type Builder } from '../../ir/builder.ts';
import { broadcastShapes } from '../../ir/shape.ts';
import { type Attrs, isFloat, sameShape, type Value } from '../../ir/types.ts';
import { lowerErfFloat64 } from '../lowering/erf.ts';
import { type Inferred, input, type MaybeValue, type OpRule, output, requireInput } from '../rule.ts';

function sameAsInput(inputs: readonly MaybeValue[], _attrs: Attrs): Inferred[] {
  const x = requireInput(inputs, 0, 'unary');
  return [{ dtype: x.dtype, shape: x.shape }];
}

function broadcastInfer(inputs: readonly MaybeValue[]): Inferred[] {
  const vs = inputs.map((_v, i) => requireInput(inputs, i, 'broadcast'));
  const dtype = vs[0]!.dtype;
  if (vs.some((v) => v.dtype !== dtype))
    throw new Error(`operand dtypes differ: ${vs.map((v) => v.dtype).join(', ')}`);
  return [{ dtype, shape: broadcastShapes(...vs.map((v) => v.shape)) }];
}

/** Broadcasts a tangent to the node output's shape when an operand was smaller than the output. */
export function fitTo(b: Builder, t: Value | undefined, out: Value): Value | undefined {
  if (t === undefined || sameShape(t.shape, out.shape)) return t;
  return b.expandLike(t, out);
}

/** A unary rule whose (co)tangent map is t -> scale(t, x, y). */
function unary(
  op: string,
  scale: (b: Builder, t: Value, x: Value, y: Value) => Value,
  extra: Partial<OpRule> = {},
): OpRule {
  return {
    op,
    infer: sameAsInput,
    vjp: (b, node, [g]) => [g && scale(b, g, input(node, 0), output(node))],
    jvp: (b, node, [t]) => [t && scale(b, t, input(node, 0), output(node))],
    ...extra,
  };
}

const oneMinus = (b: Builder, y: Value): Value => b.sub(b.scalarLike(y, 1), y);

const binaryArithmetic: OpRule[] = [
  {
    op: 'Add',
    infer: broadcastInfer,
    vjp: (b, node, [g], want) => [
      g && want[0] ? b.sumToShape(g, input(node, 0)) : undefined,
      g && want[1] ? b.sumToShape(g, input(node, 1)) : undefined,
    ],
    jvp: (b, node, [da, db]) => [fitTo(b, addMaybe(b, da, db), output(node))],
  },
  {
    op: 'Sub',
    infer: broadcastInfer,
    vjp: (b, node, [g], want) => [
      g && want[0] ? b.sumToShape(g, input(node, 0)) : undefined,
      g && want[1] ? b.sumToShape(b.neg(g), input(node, 1)) : undefined,
    ],
    jvp: (b, node, [da, db]) => {
      const t = da === undefined ? db && b.neg(db) : db === undefined ? da : b.sub(da, db);
      return [fitTo(b, t, output(node))];
    },
  },
  {
    op: 'Mul',
    infer: broadcastInfer,
    vjp: (b, node, [g], want) => {
      const [x, y] = [input(node, 0), input(node, 1)];
      return [
        g && want[0] && isFloat(x.dtype) ? b.sumToShape(b.mul(g, y), x) : undefined,
        g && want[1] && isFloat(y.dtype) ? b.sumToShape(b.mul(g, x), y) : undefined,
      ];
    },
    jvp: (b, node, [da, db]) => {
      const [x, y] = [input(node, 0), input(node, 1)];
      const t = addMaybe(b, da && b.mul(da, y), db && b.mul(x, db));
      return [fitTo(b, t, output(node))];
    },
  },
  {
    op: 'Div',
    infer: broadcastInfer,
    // y = a / b: dy/da = 1/b, dy/db = -y/b.
    vjp: (b, node, [g], want) => {
      const [x, d, y] = [input(node, 0), input(node, 1), output(node)];
      if (g === undefined) return [undefined, undefined];
      const gOverD = b.div(g, d);
      return [
        want[0] ? b.sumToShape(gOverD, x) : undefined,
        want[1] ? b.sumToShape(b.neg(b.mul(gOverD, y)), d) : undefined,
      ];
    },
    jvp: (b, node, [da, db]) => {
      const [d, y] = [input(node, 1), output(node)];
      const numerator =
        da === undefined ? db && b.neg(b.mul(y, db)) : db === undefined ? da : b.sub(da, b.mul(y, db));
      return [fitTo(b, numerator && b.div(numerator, d), y)];
    },
  },
  {
    op: 'Pow',
    infer: broadcastInfer,
    // y = x^p: dy/dx = p x^(p-1), dy/dp = y log x (x > 0 where p is differentiated).
    vjp: (b, node, [g], want) => {
      const [x, p, y] = [input(node, 0), input(node, 1), output(node)];
      if (g === undefined) return [undefined, undefined];
      return [
        want[0] ? b.sumToShape(b.mul(g, powSlope(b, x, p)), x) : undefined,
        want[1] ? b.sumToShape(b.mul(g, b.mul(y, b.log(x))), p) : undefined,
      ];
    },
    jvp: (b, node, [dx, dp]) => {
      const [x, p, y] = [input(node, 0), input(node, 1), output(node)];
      const t = addMaybe(b, dx && b.mul(dx, powSlope(b, x, p)), dp && b.mul(dp, b.mul(y, b.log(x))));
      return [fitTo(b, t, y)];
    },
  },
];

function powSlope(b: Builder, x: Value, p: Value): Value {
  return b.mul(p, b.op('Pow', [x, b.sub(p, b.scalarLike(p, 1))]));
}

// Variadic sum of same-dtype (broadcastable) operands.
const sum: OpRule = {
  op: 'Sum',
  infer: broadcastInfer,
  vjp: (b, node, [g], want) => node.inputs.map((v, i) => (g && want[i] ? b.sumToShape(g, v!) : undefined)),
  jvp: (b, node, tangents) => {
    const present = tangents.filter((t): t is Value => t !== undefined);
    if (present.length === 0) return [undefined];
    return [fitTo(b, present.length === 1 ? present[0] : b.op('Sum', present), output(node))];
  },
};

const unaryMath: OpRule[] = [
  unary('Identity', (_b, t) => t),
  unary('Neg', (b, t) => b.neg(t)),
  unary('Exp', (b, t, _x, y) => b.mul(t, y)),
  unary('Log', (b, t, x) => b.div(t, x)),
  unary('Sqrt', (b, t, _x, y) => b.div(b.scale(t, 0.5), y)),
  unary('Tanh', (b, t, _x, y) => b.mul(t, oneMinus(b, b.mul(y, y)))),
  unary('Sigmoid', (b, t, _x, y) => b.mul(t, b.mul(y, oneMinus(b, y)))),
  // t * [x > 0] with the float mask Cast(relu(x) > 0): taken from the output so that onnxruntime
  // still fuses the Relu into the Gemm before it; a plain Mul is faster than Where; Greater and Cast
  // are vectorised where Sign is a scalar loop (1.5x the mask's cost at [1000, 256]); and the mask
  // is shared (common-subexpression elimination) by the VJP and JVP of an HVP.
  unary('Relu', (b, t, _x, y) => b.mul(t, b.cast(b.greater(y, b.scalarLike(y, 0)), y.dtype))),
  unary('Erf', (b, t, x) => b.mul(t, b.scale(b.exp(b.neg(b.mul(x, x))), 2 / Math.sqrt(Math.PI))), {
    lower: (b, node) =>
      input(node, 0).dtype === 'float64' ? [lowerErfFloat64(b, input(node, 0))] : undefined,
  }),
];

const selection: OpRule[] = [
  {
    op: 'Where',
    nondifferentiableInputs: [0],
    infer: (inputs) => {
      const [c, a, bb] = [0, 1, 2].map((i) => requireInput(inputs, i, 'Where'));
      if (c!.dtype !== 'bool') throw new Error('Where: condition must be bool');
      if (a!.dtype !== bb!.dtype) throw new Error('Where: branch dtypes differ');
      return [{ dtype: a!.dtype, shape: broadcastShapes(c!.shape, a!.shape, bb!.shape) }];
    },
    vjp: (b, node, [g], want) => {
      const [c, x, y] = [input(node, 0), input(node, 1), input(node, 2)];
      if (g === undefined) return [undefined, undefined, undefined];
      const zero = b.scalarLike(g, 0);
      return [
        undefined,
        want[1] ? b.sumToShape(b.where(c, g, zero), x) : undefined,
        want[2] ? b.sumToShape(b.where(c, zero, g), y) : undefined,
      ];
    },
    jvp: (b, node, [, da, db]) => {
      if (da === undefined && db === undefined) return [undefined];
      const out = output(node);
      const zero = b.scalarLike(out, 0);
      return [fitTo(b, b.where(input(node, 0), da ?? zero, db ?? zero), out)];
    },
  },
];

export const elementwiseRules: OpRule[] = [...binaryArithmetic, sum, ...unaryMath, ...selection];
