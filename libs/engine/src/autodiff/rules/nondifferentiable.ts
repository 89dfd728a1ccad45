// Operators whose outputs carry no derivative: constants, shapes, comparisons, index and mask
// generation, integer arithmetic. Plus the few operators that only lowerings emit.
import { broadcastShapes } from '../../ir/shape.ts';
import { type Attrs, type ConstTensor, type Dim, dtypeOfCode } from '../../ir/types.ts';
import { type Inferred, type MaybeValue, type OpRule, requireInput } from '../rule.ts';

function intOf(attrs: Attrs, name: string, fallback: number): number {
  const a = attrs[name];
  return a?.kind === 'int' ? a.value : fallback;
}

function comparison(op: string): OpRule {
  return {
    op,
    nondifferentiable: true,
    infer: (inputs) => {
      const [a, b] = [requireInput(inputs, 0, op), requireInput(inputs, 1, op)];
      if (a.dtype !== b.dtype) throw new Error(`${op}: operand dtypes differ`);
      return [{ dtype: 'bool', shape: broadcastShapes(a.shape, b.shape) }];
    },
  };
}

function sameTypeBroadcast(op: string, loweringOnly: boolean): OpRule {
  return {
    op,
    ...(loweringOnly ? { loweringOnly: true } : { nondifferentiable: true }),
    infer: (inputs) => {
      const vs = inputs.filter((v) => v !== undefined);
      return [{ dtype: vs[0]!.dtype, shape: broadcastShapes(...vs.map((v) => v.shape)) }];
    },
  };
}

function constantInfer(inputs: readonly MaybeValue[], attrs: Attrs): Inferred[] {
  if (inputs.length !== 0) throw new Error('Constant takes no inputs');
  const a = attrs.value;
  if (a?.kind !== 'tensor') throw new Error('Constant needs a tensor value');
  const t: ConstTensor = a.value;
  const known = t.dtype === 'int64' && t.shape.length <= 1 ? t.data : undefined;
  return [{ dtype: t.dtype, shape: t.shape, ...(known ? { known } : {}) }];
}

export const nondifferentiableRules: OpRule[] = [
  { op: 'Constant', nondifferentiable: true, infer: constantInfer },
  {
    op: 'Shape',
    nondifferentiable: true,
    infer: (inputs) => {
      const x = requireInput(inputs, 0, 'Shape');
      return [{ dtype: 'int64', shape: [x.shape.length], known: x.shape }];
    },
  },
  {
    op: 'ConstantOfShape',
    nondifferentiable: true,
    infer: (inputs, attrs) => {
      const s = requireInput(inputs, 0, 'ConstantOfShape');
      const value = attrs.value;
      if (s.known === undefined) throw new Error('ConstantOfShape: the shape must be known to the builder');
      const dtype = value?.kind === 'tensor' ? value.value.dtype : 'float32';
      return [{ dtype, shape: s.known }];
    },
  },
  comparison('Greater'),
  comparison('Equal'),
  comparison('Less'),
  {
    op: 'ArgMax',
    nondifferentiable: true,
    infer: (inputs, attrs) => {
      const x = requireInput(inputs, 0, 'ArgMax');
      const axis = intOf(attrs, 'axis', 0);
      const a = axis < 0 ? axis + x.shape.length : axis;
      const keep = intOf(attrs, 'keepdims', 1) === 1;
      const shape = keep ? x.shape.map((d, i) => (i === a ? 1 : d)) : x.shape.filter((_, i) => i !== a);
      return [{ dtype: 'int64', shape }];
    },
  },
  {
    op: 'OneHot',
    nondifferentiable: true,
    // onnxruntime has no float64 OneHot kernel: build it in float32 (0 and 1 are exact) and cast.
    lower: (b, node) => {
      const values = node.inputs[2]!;
      if (values.dtype !== 'float64') return undefined;
      const values32 = b.cast(values, 'float32');
      const oneHot32 = b.op('OneHot', [node.inputs[0], node.inputs[1], values32], node.attrs);
      return [b.cast(oneHot32, 'float64')];
    },
    infer: (inputs, attrs) => {
      const [indices, depth, values] = [0, 1, 2].map((i) => requireInput(inputs, i, 'OneHot'));
      const d = depth!.known?.[0];
      if (typeof d !== 'number') throw new Error('OneHot: depth must be a known constant');
      if (intOf(attrs, 'axis', -1) !== -1) throw new Error('OneHot: only axis -1 is supported');
      return [{ dtype: values!.dtype, shape: [...indices!.shape, d] }];
    },
  },
  {
    op: 'Range',
    nondifferentiable: true,
    infer: (inputs) => {
      const start = requireInput(inputs, 0, 'Range');
      return [{ dtype: start.dtype, shape: ['R'] }];
    },
  },
  {
    op: 'ReduceProd',
    nondifferentiable: true,
    infer: (inputs, attrs) => {
      const x = requireInput(inputs, 0, 'ReduceProd');
      if (x.dtype !== 'int64') throw new Error('ReduceProd is only used on shape vectors');
      if (intOf(attrs, 'keepdims', 1) !== 0 || attrs.axes !== undefined) {
        throw new Error('ReduceProd: only a full reduction without keepdims is supported');
      }
      return [{ dtype: 'int64', shape: [] }];
    },
  },
  {
    op: 'Cast',
    infer: (inputs, attrs) => {
      const x = requireInput(inputs, 0, 'Cast');
      return [
        { dtype: dtypeOfCode(intOf(attrs, 'to', 0)), shape: x.shape, ...(x.known ? { known: x.known } : {}) },
      ];
    },
    // Only float-to-float casts carry derivatives; the drivers skip integer and bool values.
    vjp: (b, node, [g]) => [g && b.cast(g, node.inputs[0]!.dtype)],
    jvp: (b, node, [t]) => [t && b.cast(t, node.outputs[0]!.dtype)],
  },
  sameTypeBroadcast('BitShift', false),
  sameTypeBroadcast('Mod', false),
  sameTypeBroadcast('Abs', true),
  sameTypeBroadcast('Max', true),
  // A mask (the float64 Erf lowering's sign of x); its derivative is zero almost everywhere.
  sameTypeBroadcast('Sign', false),
  sameTypeBroadcast('Clip', true),
];

/** Shapes of integer inputs treated as known shape vectors; exported for the shape rules. */
export function knownVector(v: MaybeValue, what: string): readonly Dim[] {
  if (v?.known === undefined) throw new Error(`${what} must be known to the builder (a constant or a Shape)`);
  return v.known;
}
