// Test cases for the rule table, one or more per operator. rules.test.ts runs each differentiable case
// through float64 central finite differences (VJP, JVP, and the JVP of the VJP that HVPs rely on) and
// every case through a shape-inference check against onnxruntime; it fails for a table entry without a
// case here.
import { type Attrs, attr, type ConstTensor } from '../../src/ir/types.ts';

/** How a float input's values are drawn: smooth points away from kinks, ties and domain edges. */
export type Sampling = 'normal' | 'positive' | 'nonzero' | 'distinct';

export type CaseInput =
  | { float: number[]; sampling?: Sampling }
  | { constant: ConstTensor }
  | { omitted: true };

export interface RuleCase {
  op: string;
  name: string;
  inputs: CaseInput[];
  attrs?: Attrs;
  /**
   * Only the JVP applies: a form that only VJP rules emit and that is then differentiated forward only
   * (HVPs), for which the VJP rule deliberately refuses (e.g. dilated Conv).
   */
  jvpOnly?: string;
}

const f = (shape: number[], sampling: Sampling = 'normal'): CaseInput => ({ float: shape, sampling });
const i64 = (shape: number[], data: number[]): CaseInput => ({ constant: { dtype: 'int64', shape, data } });
const c = (op: string, name: string, inputs: CaseInput[], attrs: Attrs = {}): RuleCase => ({
  op,
  name,
  inputs,
  attrs,
});

const elementwise: RuleCase[] = [
  c('Add', 'broadcast row', [f([3, 4]), f([4])]),
  c('Sub', 'broadcast column', [f([3, 1]), f([3, 4])]),
  c('Mul', 'broadcast scalar-like', [f([2, 3, 4]), f([1, 4])]),
  c('Div', 'same shape', [f([3, 4]), f([3, 4], 'positive')]),
  c('Sum', 'three operands with broadcast', [f([3, 4]), f([4]), f([3, 1])]),
  c('Pow', 'tensor exponent', [f([3, 4], 'positive'), f([3, 4])]),
  c('Identity', 'matrix', [f([3, 4])]),
  c('Neg', 'matrix', [f([3, 4])]),
  c('Exp', 'matrix', [f([3, 4])]),
  c('Log', 'positive', [f([3, 4], 'positive')]),
  c('Sqrt', 'positive', [f([3, 4], 'positive')]),
  c('Tanh', 'matrix', [f([3, 4])]),
  c('Sigmoid', 'matrix', [f([3, 4])]),
  c('Relu', 'away from zero', [f([3, 4], 'nonzero')]),
  c('Erf', 'both branches', [f([5, 4])]),
  c('Where', 'broadcast branches', [
    { constant: { dtype: 'bool', shape: [3, 4], data: [1, 0, 1, 1, 0, 0, 1, 0, 1, 0, 1, 1] } },
    f([3, 4]),
    f([4]),
  ]),
  c('Cast', 'float64 to float64', [f([3, 4])], { to: attr.int(11) }),
];

const linalg: RuleCase[] = [
  c('Gemm', 'plain with bias', [f([3, 5]), f([5, 4]), f([4])]),
  c('Gemm', 'transB (dense layer)', [f([3, 5]), f([4, 5]), f([4])], { transB: attr.int(1) }),
  c('Gemm', 'transA with alpha, beta', [f([5, 3]), f([5, 4]), f([3, 4])], {
    transA: attr.int(1),
    alpha: attr.float(0.7),
    beta: attr.float(1.3),
  }),
  c('Gemm', 'both transposed, no bias', [f([5, 3]), f([4, 5])], { transA: attr.int(1), transB: attr.int(1) }),
  c('MatMul', 'batched with broadcast weight', [f([2, 3, 5]), f([5, 4])]),
];

const reductions: RuleCase[] = [
  c('ReduceSum', 'axis 1 keepdims', [f([3, 4, 2]), i64([1], [1])], { keepdims: attr.int(1) }),
  c('ReduceSum', 'axes 0,2 dropped', [f([3, 4, 2]), i64([2], [0, 2])], { keepdims: attr.int(0) }),
  c('ReduceMean', 'last axis dropped', [f([3, 4])], { axes: attr.ints([-1]), keepdims: attr.int(0) }),
  c('ReduceMax', 'rows without ties', [f([3, 5], 'distinct')], {
    axes: attr.ints([1]),
    keepdims: attr.int(0),
  }),
  c('ReduceSumSquare', 'all axes', [f([3, 4])], { keepdims: attr.int(0) }),
  c('ReduceSumSquare', 'axis 1 keepdims', [f([3, 4, 2])], { axes: attr.ints([1]), keepdims: attr.int(1) }),
  c('Softmax', 'last axis', [f([3, 5])], { axis: attr.int(-1) }),
  c('LogSoftmax', 'axis 1', [f([3, 5])], { axis: attr.int(1) }),
];

const shapes: RuleCase[] = [
  c('Reshape', 'with -1', [f([3, 4]), i64([2], [2, -1])]),
  c('Flatten', 'image', [f([2, 3, 2, 2])], { axis: attr.int(1) }),
  c('Unsqueeze', 'middle', [f([3, 4]), i64([1], [1])]),
  c('Squeeze', 'unit axis', [f([3, 1, 4]), i64([1], [1])]),
  c('Transpose', 'rank 3', [f([2, 3, 4])], { perm: attr.ints([2, 0, 1]) }),
  c('Expand', 'broadcast', [f([3, 1]), i64([2], [3, 4])]),
  c('Slice', 'two axes', [f([4, 5]), i64([2], [1, 0]), i64([2], [3, 4]), i64([2], [0, 1])]),
  c('Pad', 'constant zero', [f([2, 3]), i64([4], [1, 0, 0, 2])]),
  c('Concat', 'axis 1', [f([2, 3]), f([2, 2])], { axis: attr.int(1) }),
  c('Gather', 'embedding table', [f([5, 3]), i64([2, 3], [0, 4, 1, 1, 3, 0])], { axis: attr.int(0) }),
];

const convAttrs = (stride: number, pad: number, extra: Attrs = {}): Attrs => ({
  strides: attr.ints([stride, stride]),
  pads: attr.ints([pad, pad, pad, pad]),
  ...extra,
});

const convolutions: RuleCase[] = [
  c('Conv', 'stride 1 pad 1 with bias', [f([2, 2, 5, 5]), f([3, 2, 3, 3]), f([3])], convAttrs(1, 1)),
  c('Conv', 'stride 2 pad 1 uneven', [f([2, 2, 6, 6]), f([3, 2, 3, 3])], convAttrs(2, 1)),
  {
    ...c(
      'Conv',
      'dilated (weight cotangent form)',
      [f([2, 3, 7, 7]), f([2, 3, 3, 3])],
      convAttrs(1, 1, { dilations: attr.ints([2, 2]) }),
    ),
    jvpOnly: 'Conv VJP requires dilation 1; dilated Convs appear only as weight cotangents',
  },
  c(
    'ConvTranspose',
    'stride 2 output padding',
    [f([2, 3, 3, 3]), f([3, 2, 3, 3])],
    convAttrs(2, 1, { output_padding: attr.ints([1, 1]) }),
  ),
  c('MaxPool', '2x2 stride 2', [f([2, 2, 4, 4], 'distinct')], {
    kernel_shape: attr.ints([2, 2]),
    strides: attr.ints([2, 2]),
  }),
  c('MaxPool', '3x3 stride 2 pad 1', [f([1, 2, 5, 5], 'distinct')], {
    kernel_shape: attr.ints([3, 3]),
    strides: attr.ints([2, 2]),
    pads: attr.ints([1, 1, 1, 1]),
  }),
  c('AveragePool', '2x2 stride 2', [f([2, 2, 4, 4])], {
    kernel_shape: attr.ints([2, 2]),
    strides: attr.ints([2, 2]),
    count_include_pad: attr.int(1),
  }),
  c('AveragePool', '3x3 stride 2 pad 1', [f([1, 2, 5, 5])], {
    kernel_shape: attr.ints([3, 3]),
    strides: attr.ints([2, 2]),
    pads: attr.ints([1, 1, 1, 1]),
    count_include_pad: attr.int(1),
  }),
  c('GatherElements', 'axis 1', [f([3, 4]), i64([3, 2], [0, 3, 1, 1, 2, 0])], { axis: attr.int(1) }),
  c('ScatterElements', 'add with duplicates', [f([3, 4]), i64([2, 4], [0, 1, 2, 0, 0, 2, 2, 1]), f([2, 4])], {
    axis: attr.int(0),
    reduction: attr.string('add'),
  }),
];

/** Operators whose outputs carry no derivative: only shape inference is checked against onnxruntime. */
const nondifferentiable: RuleCase[] = [
  c('Constant', 'int64 vector', [], { value: attr.tensor({ dtype: 'int64', shape: [3], data: [1, 2, 3] }) }),
  c('Shape', 'matrix', [f([3, 4])]),
  c('ConstantOfShape', 'zeros', [i64([2], [2, 3])], {
    value: attr.tensor({ dtype: 'float64', shape: [1], data: [0] }),
  }),
  c('Greater', 'broadcast', [f([3, 4]), f([4])]),
  c('Equal', 'same shape', [f([3, 4]), f([3, 4])]),
  c('Less', 'broadcast', [f([3, 4]), f([1])]),
  c('ArgMax', 'axis 1', [f([3, 4], 'distinct')], { axis: attr.int(1), keepdims: attr.int(0) }),
  c(
    'OneHot',
    'labels',
    [i64([3], [0, 2, 1]), i64([1], [4]), { constant: { dtype: 'float64', shape: [2], data: [0, 1] } }],
    {
      axis: attr.int(-1),
    },
  ),
  c('Range', 'int64', [i64([], [0]), i64([], [5]), i64([], [1])]),
  c('ReduceProd', 'shape vector', [i64([3], [2, 3, 4])], { keepdims: attr.int(0) }),
  c(
    'BitShift',
    'uint32 right',
    [
      { constant: { dtype: 'uint32', shape: [3], data: [16, 256, 4096] } },
      { constant: { dtype: 'uint32', shape: [], data: [4] } },
    ],
    {
      direction: attr.string('RIGHT'),
    },
  ),
  c('Mod', 'int64', [i64([3], [7, 8, 9]), i64([], [4])]),
  c('Abs', 'lowering helper', [f([3, 4])]),
  c('Max', 'lowering helper', [f([3, 4]), f([4])]),
  c('Sign', 'mask', [f([3, 4])]),
  c('Clip', 'lowering helper', [
    f([3, 4]),
    { constant: { dtype: 'float64', shape: [], data: [-0.5] } },
    { constant: { dtype: 'float64', shape: [], data: [0.5] } },
  ]),
];

export const ruleCases: RuleCase[] = [
  ...elementwise,
  ...linalg,
  ...reductions,
  ...shapes,
  ...convolutions,
  ...nondifferentiable,
];

/** Operators checked by a dedicated test instead of a case (structural operators). */
export const coveredElsewhere: Record<string, string> = {
  Scan: 'training graphs (train.test.ts: the K-step Scan matches K single steps)',
};
