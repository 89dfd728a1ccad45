// Operators that move data without arithmetic: reshapes, transposes, broadcasts, slices, padding,
// concatenation and gathering. They are linear, so each JVP applies the operator to the tangent and each
// VJP applies its adjoint (reshape back, inverse permutation, sum over broadcast axes, pad/slice).
import type { Builder } from '../../ir/builder.ts';
import { broadcastShapes, dimProduct, reshapeShape } from '../../ir/shape.ts';
import { type Attrs, attr, type Dim, intAttr, intsAttr, normalizeAxis, type Value } from '../../ir/types.ts';
import { type Inferred, input, type MaybeValue, type OpRule, output, requireInput } from '../rule.ts';
import { knownVector } from './nondifferentiable.ts';

function intOf(attrs: Attrs, name: string, fallback: number): number {
  const a = attrs[name];
  return a?.kind === 'int' ? a.value : fallback;
}

/** Rules for reshape-like operators: VJP reshapes back, JVP re-applies the operator to the tangent. */
function reshapeLike(op: string, infer: (inputs: readonly MaybeValue[], attrs: Attrs) => Inferred[]): OpRule {
  return {
    op,
    infer,
    nondifferentiableInputs: [1],
    vjp: (b, node, [g]) => [g && b.reshapeLike(g, input(node, 0))],
    jvp: (b, node, [t]) => [t && b.op(op, [t, ...node.inputs.slice(1)], node.attrs)],
  };
}

const reshapes: OpRule[] = [
  reshapeLike('Reshape', (inputs) => {
    const x = requireInput(inputs, 0, 'Reshape');
    const shape = reshapeShape(x.shape, knownVector(inputs[1], 'Reshape shape'));
    return [{ dtype: x.dtype, shape, ...(x.known && shape.length === 1 ? { known: x.known } : {}) }];
  }),
  reshapeLike('Flatten', (inputs, attrs) => {
    const x = requireInput(inputs, 0, 'Flatten');
    const axis = normalizeAxis(intOf(attrs, 'axis', 1), x.shape.length + 1);
    return [{ dtype: x.dtype, shape: [dimProduct(x.shape.slice(0, axis)), dimProduct(x.shape.slice(axis))] }];
  }),
  reshapeLike('Unsqueeze', (inputs) => {
    const x = requireInput(inputs, 0, 'Unsqueeze');
    const rank = x.shape.length + knownVector(inputs[1], 'Unsqueeze axes').length;
    const axes = knownVector(inputs[1], 'Unsqueeze axes').map((a) => normalizeAxis(Number(a), rank));
    const shape: Dim[] = [];
    let next = 0;
    for (let i = 0; i < rank; i++) shape.push(axes.includes(i) ? 1 : x.shape[next++]!);
    return [{ dtype: x.dtype, shape }];
  }),
  reshapeLike('Squeeze', (inputs) => {
    const x = requireInput(inputs, 0, 'Squeeze');
    const axes = knownVector(inputs[1], 'Squeeze axes').map((a) => normalizeAxis(Number(a), x.shape.length));
    return [{ dtype: x.dtype, shape: x.shape.filter((_, i) => !axes.includes(i)) }];
  }),
];

function inversePermutation(perm: readonly number[]): number[] {
  const inv = new Array<number>(perm.length);
  perm.forEach((p, i) => {
    inv[p] = i;
  });
  return inv;
}

const transposeRule: OpRule = {
  op: 'Transpose',
  infer: (inputs, attrs) => {
    const x = requireInput(inputs, 0, 'Transpose');
    const permAttr = attrs.perm;
    const perm = permAttr?.kind === 'ints' ? permAttr.value : x.shape.map((_, i) => x.shape.length - 1 - i);
    return [{ dtype: x.dtype, shape: perm.map((p) => x.shape[p]!) }];
  },
  vjp: (b, node, [g]) => [g && b.transpose(g, inversePermutation(intsAttr(node, 'perm', [])))],
  jvp: (b, node, [t]) => [t && b.transpose(t, intsAttr(node, 'perm', []))],
};

const expandRule: OpRule = {
  op: 'Expand',
  nondifferentiableInputs: [1],
  infer: (inputs) => {
    const x = requireInput(inputs, 0, 'Expand');
    return [{ dtype: x.dtype, shape: broadcastShapes(x.shape, knownVector(inputs[1], 'Expand shape')) }];
  },
  vjp: (b, node, [g]) => [g && b.sumToShape(g, input(node, 0))],
  jvp: (b, node, [t]) => [t && b.op('Expand', [t, input(node, 1)])],
};

interface SliceSpec {
  axes: number[];
  starts: number[];
  ends: number[];
  steps: number[];
}

function sliceSpec(x: Value, inputs: readonly MaybeValue[]): SliceSpec {
  const starts = knownVector(inputs[1], 'Slice starts').map(Number);
  const ends = knownVector(inputs[2], 'Slice ends').map(Number);
  const axes = inputs[3] ? knownVector(inputs[3], 'Slice axes').map(Number) : starts.map((_, i) => i);
  const steps = inputs[4] ? knownVector(inputs[4], 'Slice steps').map(Number) : starts.map(() => 1);
  return { axes: axes.map((a) => normalizeAxis(a, x.shape.length)), starts, ends, steps };
}

/** Clamped [start, end) of a positive-step slice along a static dimension. */
function clampRange(dim: Dim, start: number, end: number): [number, number] {
  if (typeof dim !== 'number') throw new Error('Slice: sliced dimensions must be static');
  const s = Math.min(Math.max(start < 0 ? start + dim : start, 0), dim);
  const e = Math.min(Math.max(end < 0 ? end + dim : end, 0), dim);
  return [s, Math.max(e, s)];
}

const sliceRule: OpRule = {
  op: 'Slice',
  nondifferentiableInputs: [1, 2, 3, 4],
  infer: (inputs) => {
    const x = requireInput(inputs, 0, 'Slice');
    const spec = sliceSpec(x, inputs);
    const shape = [...x.shape];
    spec.axes.forEach((axis, i) => {
      if (spec.steps[i]! <= 0) throw new Error('Slice: only positive steps are supported');
      const [s, e] = clampRange(x.shape[axis]!, spec.starts[i]!, spec.ends[i]!);
      shape[axis] = Math.ceil((e - s) / spec.steps[i]!);
    });
    return [{ dtype: x.dtype, shape }];
  },
  vjp: (b, node, [g]) => {
    if (g === undefined) return [undefined];
    const x = input(node, 0);
    const spec = sliceSpec(x, node.inputs);
    if (spec.steps.some((s) => s !== 1)) throw new Error('Slice VJP: only unit steps are supported');
    const pads = new Array<number>(2 * x.shape.length).fill(0);
    spec.axes.forEach((axis, i) => {
      const [s, e] = clampRange(x.shape[axis]!, spec.starts[i]!, spec.ends[i]!);
      pads[axis] = s;
      pads[axis + x.shape.length] = (x.shape[axis] as number) - e;
    });
    return [b.op('Pad', [g, b.int64s(pads)])];
  },
  jvp: (b, node, [t]) => [t && b.op('Slice', [t, ...node.inputs.slice(1)])],
};

const padRule: OpRule = {
  op: 'Pad',
  nondifferentiableInputs: [1, 2],
  infer: (inputs, attrs) => {
    const x = requireInput(inputs, 0, 'Pad');
    const mode = attrs.mode;
    if (mode !== undefined && !(mode.kind === 'string' && mode.value === 'constant'))
      throw new Error('Pad: constant mode only');
    const pads = knownVector(inputs[1], 'Pad pads').map(Number);
    const r = x.shape.length;
    const shape = x.shape.map((d, i) => {
      if (pads[i] === 0 && pads[i + r] === 0) return d;
      if (typeof d !== 'number' || pads[i]! < 0 || pads[i + r]! < 0)
        throw new Error('Pad: static, non-negative only');
      return d + pads[i]! + pads[i + r]!;
    });
    return [{ dtype: x.dtype, shape }];
  },
  vjp: (b, node, [g]) => {
    if (g === undefined) return [undefined];
    const x = input(node, 0);
    const pads = knownVector(node.inputs[1], 'Pad pads').map(Number);
    const r = x.shape.length;
    const axes = x.shape.map((_, i) => i).filter((i) => pads[i] !== 0 || pads[i + r] !== 0);
    const starts = axes.map((i) => pads[i]!);
    const ends = axes.map((i) => pads[i]! + (x.shape[i] as number));
    return [b.op('Slice', [g, b.int64s(starts), b.int64s(ends), b.int64s(axes)])];
  },
  // The padding constant does not move with the input: the tangent is padded with zeros.
  jvp: (b, node, [t]) => [t && b.op('Pad', [t, input(node, 1)])],
};

const concatRule: OpRule = {
  op: 'Concat',
  infer: (inputs, attrs) => {
    const vs = inputs.map((_, i) => requireInput(inputs, i, 'Concat'));
    const axis = normalizeAxis(intOf(attrs, 'axis', 0), vs[0]!.shape.length);
    const shape = [...vs[0]!.shape];
    shape[axis] = vs.reduce((sum, v) => {
      const d = v.shape[axis];
      if (typeof d !== 'number') throw new Error('Concat: the joined axis must be static');
      return sum + d;
    }, 0);
    return [{ dtype: vs[0]!.dtype, shape }];
  },
  vjp: (b, node, [g], want) => {
    const axis = normalizeAxis(intAttr(node, 'axis', 0), output(node).shape.length);
    let offset = 0;
    return node.inputs.map((v, i) => {
      const len = v!.shape[axis] as number;
      const piece =
        g && want[i]
          ? b.op('Slice', [g, b.int64s([offset]), b.int64s([offset + len]), b.int64s([axis])])
          : undefined;
      offset += len;
      return piece;
    });
  },
  jvp: (b, node, tangents) => {
    if (tangents.every((t) => t === undefined)) return [undefined];
    const parts = node.inputs.map((v, i) => tangents[i] ?? b.zerosLike(v!));
    return [b.op('Concat', parts, node.attrs)];
  },
};

const gatherRule: OpRule = {
  op: 'Gather',
  nondifferentiableInputs: [1],
  infer: (inputs, attrs) => {
    const [data, indices] = [requireInput(inputs, 0, 'Gather'), requireInput(inputs, 1, 'Gather')];
    const axis = normalizeAxis(intOf(attrs, 'axis', 0), data.shape.length);
    const shape = [...data.shape.slice(0, axis), ...indices.shape, ...data.shape.slice(axis + 1)];
    const known =
      data.known && indices.known && axis === 0
        ? indices.known.map(
            (i) => data.known![typeof i === 'number' ? (i < 0 ? i + data.known!.length : i) : -1]!,
          )
        : undefined;
    return [{ dtype: data.dtype, shape, ...(known?.every((k) => k !== undefined) ? { known } : {}) }];
  },
  // Embedding-style gather (axis 0, 2-D table): the table's cotangent is onehot(indices)^T @ g.
  vjp: (b, node, [g]) => [
    g && embeddingTableCotangent(b, input(node, 0), input(node, 1), g, intAttr(node, 'axis', 0)),
  ],
  jvp: (b, node, [t]) => [t && b.op('Gather', [t, input(node, 1)], node.attrs)],
};

function embeddingTableCotangent(b: Builder, table: Value, indices: Value, g: Value, axis: number): Value {
  if (axis !== 0 || table.shape.length !== 2)
    throw new Error('Gather VJP: only 2-D tables gathered on axis 0');
  const [vocabulary, width] = table.shape as [number, number];
  const flatIndices = b.reshape(indices, [-1]);
  const oneHot = b.op(
    'OneHot',
    [flatIndices, b.int64s([vocabulary]), b.constant({ dtype: g.dtype, shape: [2], data: [0, 1] })],
    {
      axis: attr.int(-1),
    },
  );
  return b.gemm(oneHot, b.reshape(g, [-1, width]), undefined, { transA: true });
}

export const shapeRules: OpRule[] = [
  ...reshapes,
  transposeRule,
  expandRule,
  sliceRule,
  padRule,
  concatRule,
  gatherRule,
];
