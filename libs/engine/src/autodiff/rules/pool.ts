// Pooling, and the index operators its derivatives use. MaxPool returns the argmax indices (flattened
// over the whole NCHW input, padding excluded): its VJP scatter-adds the cotangent to those positions and
// its JVP gathers the tangent from them. AveragePool (count_include_pad = 1, PyTorch's default) is linear:
// its adjoint is a ConvTranspose with a constant 1/(kh*kw) kernel applied to every channel separately.
import type { Builder } from '../../ir/builder.ts';
import { windowOutput } from '../../ir/shape.ts';
import { type Attrs, attr, intAttr, type Node, stringAttr, type Value } from '../../ir/types.ts';
import { lowerAveragePoolFloat64 } from '../lowering/conv.ts';
import { type Inferred, input, type MaybeValue, type OpRule, output, requireInput } from '../rule.ts';
import { type ConvGeometry, transposeAttrs } from './conv.ts';

export interface PoolGeometry extends ConvGeometry {
  kernel: [number, number];
}

function ints(attrs: Attrs, name: string, fallback: number[]): number[] {
  const a = attrs[name];
  return a?.kind === 'ints' ? [...a.value] : fallback;
}

export function poolGeometry(attrs: Attrs): PoolGeometry {
  const kernel = ints(attrs, 'kernel_shape', []) as [number, number];
  if (kernel.length !== 2) throw new Error('pooling needs a 2-D kernel_shape');
  const ceil = attrs.ceil_mode;
  if (ceil !== undefined && !(ceil.kind === 'int' && ceil.value === 0))
    throw new Error('pooling: ceil_mode is not supported');
  return {
    kernel,
    strides: ints(attrs, 'strides', [1, 1]) as [number, number],
    pads: ints(attrs, 'pads', [0, 0, 0, 0]) as [number, number, number, number],
    dilations: [1, 1],
  };
}

function pooledShape(x: Value, geo: PoolGeometry): Inferred['shape'] {
  const [h, w] = [x.shape[2]!, x.shape[3]!];
  return [
    x.shape[0]!,
    x.shape[1]!,
    windowOutput(h, geo.kernel[0], geo.strides[0], geo.pads[0], geo.pads[2]),
    windowOutput(w, geo.kernel[1], geo.strides[1], geo.pads[1], geo.pads[3]),
  ];
}

const flat = (b: Builder, v: Value) => b.reshape(v, [-1]);

const maxPool: OpRule = {
  op: 'MaxPool',
  infer: (inputs, attrs) => {
    const x = requireInput(inputs, 0, 'MaxPool');
    const shape = pooledShape(x, poolGeometry(attrs));
    return [
      { dtype: x.dtype, shape },
      { dtype: 'int64', shape },
    ];
  },
  vjp: (b, node, [g]) => {
    if (g === undefined) return [undefined];
    const x = input(node, 0);
    const scattered = scatterAdd(b, b.zerosLike(flat(b, x)), flat(b, output(node, 1)), flat(b, g), 0);
    return [b.reshapeLike(scattered, x)];
  },
  jvp: (b, node, [t]) => {
    if (t === undefined) return [undefined, undefined];
    const picked = b.op('GatherElements', [flat(b, t), flat(b, output(node, 1))], { axis: attr.int(0) });
    return [b.reshapeLike(picked, output(node, 0)), undefined];
  },
};

const averagePool: OpRule = {
  op: 'AveragePool',
  infer: (inputs, attrs) => {
    const x = requireInput(inputs, 0, 'AveragePool');
    if (intAttr({ op: 'AveragePool', inputs: [], outputs: [], attrs }, 'count_include_pad', 0) !== 1) {
      throw new Error('AveragePool: count_include_pad must be 1 (PyTorch semantics)');
    }
    return [{ dtype: x.dtype, shape: pooledShape(x, poolGeometry(attrs)) }];
  },
  vjp: (b, node, [g]) => [g && averagePoolAdjoint(b, node, g)],
  jvp: (b, node, [t]) => [t && b.op('AveragePool', [t], node.attrs)],
  lower: (b, node) => {
    const x = input(node, 0);
    if (x.dtype !== 'float64') return undefined;
    const geo = poolGeometry(node.attrs);
    return [lowerAveragePoolFloat64(b, x, geo.kernel, geo, output(node).shape.slice(2) as [number, number])];
  },
};

/** Every channel separately: reshape [N, C, h, w] to [N*C, 1, h, w] and apply a one-channel ConvTranspose. */
function averagePoolAdjoint(b: Builder, node: Node, g: Value): Value {
  const x = input(node, 0);
  const geo = poolGeometry(node.attrs);
  const [kh, kw] = geo.kernel;
  const [ho, wo] = g.shape.slice(2) as [number, number];
  const [h, w] = x.shape.slice(2) as [number, number];
  const kernel = b.constant({
    dtype: g.dtype,
    shape: [1, 1, kh, kw],
    data: new Array(kh * kw).fill(1 / (kh * kw)),
  });
  const perChannel = b.reshape(g, [-1, 1, ho, wo]);
  const spread = b.op(
    'ConvTranspose',
    [perChannel, kernel],
    transposeAttrs(geo, geo.kernel, [h, w], [ho, wo]),
  );
  return b.reshapeLike(spread, x);
}

function scatterAdd(b: Builder, data: Value, indices: Value, updates: Value, axis: number): Value {
  return b.op('ScatterElements', [data, indices, updates], {
    axis: attr.int(axis),
    reduction: attr.string('add'),
  });
}

function axisOf(node: Node): number {
  return intAttr(node, 'axis', 0);
}

const gatherElements: OpRule = {
  op: 'GatherElements',
  nondifferentiableInputs: [1],
  infer: (inputs: readonly MaybeValue[]) => {
    const [data, indices] = [
      requireInput(inputs, 0, 'GatherElements'),
      requireInput(inputs, 1, 'GatherElements'),
    ];
    if (data.shape.length !== indices.shape.length) throw new Error('GatherElements: ranks differ');
    return [{ dtype: data.dtype, shape: indices.shape }];
  },
  vjp: (b, node, [g]) => [g && scatterAdd(b, b.zerosLike(input(node, 0)), input(node, 1), g, axisOf(node))],
  jvp: (b, node, [t]) => [t && b.op('GatherElements', [t, input(node, 1)], node.attrs)],
};

const scatterElements: OpRule = {
  op: 'ScatterElements',
  nondifferentiableInputs: [1],
  infer: (inputs, attrs) => {
    const [data, , updates] = [0, 1, 2].map((i) => requireInput(inputs, i, 'ScatterElements'));
    const reduction = stringAttr(
      { op: 'ScatterElements', inputs: [], outputs: [], attrs },
      'reduction',
      'none',
    );
    if (reduction !== 'add') throw new Error('ScatterElements: only reduction = add is supported');
    if (data!.dtype !== updates!.dtype) throw new Error('ScatterElements: dtypes differ');
    return [{ dtype: data!.dtype, shape: data!.shape }];
  },
  vjp: (b, node, [g], want) => [
    g,
    undefined,
    g && want[2] ? b.op('GatherElements', [g, input(node, 1)], { axis: attr.int(axisOf(node)) }) : undefined,
  ],
  jvp: (b, node, [dd, , du]) => {
    if (dd === undefined && du === undefined) return [undefined];
    const data = dd ?? b.zerosLike(input(node, 0));
    const updates = du ?? b.zerosLike(input(node, 2));
    return [scatterAdd(b, data, input(node, 1), updates, axisOf(node))];
  },
};

export const poolRules: OpRule[] = [maxPool, averagePool, gatherElements, scatterElements];
