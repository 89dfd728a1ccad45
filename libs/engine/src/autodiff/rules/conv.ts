// 2-D convolution (NCHW, group 1) and its adjoint, ConvTranspose. Conv's input cotangent is a
// ConvTranspose with the same geometry; its weight cotangent is itself a convolution of the input with
// the output cotangent (batch and channel axes swapped, dilation = stride); both rules are bilinear, so
// their JVPs are sums of two convolutions. onnxruntime's CPU provider has these kernels for float32 only;
// float64 graphs are lowered to slices and matrix products (../lowering/conv.ts).
import type { Builder } from '../../ir/builder.ts';
import { windowOutput } from '../../ir/shape.ts';
import { type Attrs, attr, type Value } from '../../ir/types.ts';
import { lowerConvFloat64, lowerConvTransposeFloat64 } from '../lowering/conv.ts';
import { input, type OpRule, output, requireInput } from '../rule.ts';

export interface ConvGeometry {
  strides: [number, number];
  /** [top, left, bottom, right], ONNX order. */
  pads: [number, number, number, number];
  dilations: [number, number];
}

function ints(attrs: Attrs, name: string, fallback: number[]): number[] {
  const a = attrs[name];
  return a?.kind === 'ints' ? [...a.value] : fallback;
}

export function convGeometry(attrs: Attrs): ConvGeometry {
  const a = attrs.group;
  if (a !== undefined && !(a.kind === 'int' && a.value === 1))
    throw new Error('Conv: only group = 1 is supported');
  return {
    strides: ints(attrs, 'strides', [1, 1]) as [number, number],
    pads: ints(attrs, 'pads', [0, 0, 0, 0]) as [number, number, number, number],
    dilations: ints(attrs, 'dilations', [1, 1]) as [number, number],
  };
}

export function geometryAttrs(g: ConvGeometry): Attrs {
  return { strides: attr.ints(g.strides), pads: attr.ints(g.pads), dilations: attr.ints(g.dilations) };
}

function spatial(v: Value): [number, number] {
  const [h, w] = [v.shape[2], v.shape[3]];
  if (typeof h !== 'number' || typeof w !== 'number')
    throw new Error('convolutions need static spatial dimensions');
  return [h, w];
}

/** d loss / d W of y = Conv(x, W) (stride s, dilation 1) given g = d loss / d y. Shape [O, C, kh, kw]. */
export function convWeightCotangent(
  b: Builder,
  x: Value,
  g: Value,
  kernel: [number, number],
  geo: ConvGeometry,
): Value {
  const [h, w] = spatial(x);
  const [ho, wo] = spatial(g);
  const [s0, s1] = geo.strides;
  // The padding actually read by the forward windows; any end padding beyond it is cropped by a Slice.
  const end0 = Math.max(0, kernel[0] + s0 * (ho - 1) - h - geo.pads[0]);
  const end1 = Math.max(0, kernel[1] + s1 * (wo - 1) - w - geo.pads[1]);
  const swapped = b.op('Conv', [b.transpose(x, [1, 0, 2, 3]), b.transpose(g, [1, 0, 2, 3])], {
    strides: attr.ints([1, 1]),
    pads: attr.ints([geo.pads[0], geo.pads[1], Math.min(end0, geo.pads[2]), Math.min(end1, geo.pads[3])]),
    dilations: attr.ints([s0, s1]),
  });
  const [oh, ow] = spatial(swapped);
  const cropped =
    oh === kernel[0] && ow === kernel[1]
      ? swapped
      : b.op('Slice', [swapped, b.int64s([0, 0]), b.int64s(kernel), b.int64s([2, 3])]);
  return b.transpose(cropped, [1, 0, 2, 3]);
}

/** ConvTranspose geometry that maps Conv's output back onto an input of `inputSize`. */
export function transposeAttrs(
  geo: ConvGeometry,
  kernel: [number, number],
  inputSize: [number, number],
  outSize: [number, number],
): Attrs {
  const outputPadding = [0, 1].map(
    (i) =>
      inputSize[i]! - ((outSize[i]! - 1) * geo.strides[i]! + kernel[i]! - geo.pads[i]! - geo.pads[i + 2]!),
  );
  return { ...geometryAttrs(geo), output_padding: attr.ints(outputPadding) };
}

function kernelOf(w: Value): [number, number] {
  return spatial(w);
}

function requireUnitDilation(geo: ConvGeometry, op: string): void {
  if (geo.dilations[0] !== 1 || geo.dilations[1] !== 1) throw new Error(`${op} VJP: dilation must be 1`);
}

const conv: OpRule = {
  op: 'Conv',
  infer: (inputs, attrs) => {
    const [x, w] = [requireInput(inputs, 0, 'Conv'), requireInput(inputs, 1, 'Conv')];
    const geo = convGeometry(attrs);
    const [kh, kw] = kernelOf(w);
    if (x.shape[1] !== w.shape[1])
      throw new Error(`Conv: ${x.shape[1]} input channels, weight expects ${w.shape[1]}`);
    const [h, wd] = spatial(x);
    const ho = windowOutput(h, kh, geo.strides[0], geo.pads[0], geo.pads[2], geo.dilations[0]);
    const wo = windowOutput(wd, kw, geo.strides[1], geo.pads[1], geo.pads[3], geo.dilations[1]);
    return [{ dtype: x.dtype, shape: [x.shape[0]!, w.shape[0]!, ho, wo] }];
  },
  vjp: (b, node, [g], want) => {
    if (g === undefined) return [undefined, undefined, undefined];
    const [x, w] = [input(node, 0), input(node, 1)];
    const geo = convGeometry(node.attrs);
    requireUnitDilation(geo, 'Conv');
    const kernel = kernelOf(w);
    const dx = want[0]
      ? b.op('ConvTranspose', [g, w], transposeAttrs(geo, kernel, spatial(x), spatial(g)))
      : undefined;
    const dw = want[1] ? convWeightCotangent(b, x, g, kernel, geo) : undefined;
    const db = node.inputs[2] !== undefined && want[2] ? b.reduceSum(g, [0, 2, 3], false) : undefined;
    return [dx, dw, db];
  },
  jvp: (b, node, [dx, dw, db]) => {
    const [x, w] = [input(node, 0), input(node, 1)];
    const attrs = node.attrs;
    let t: Value | undefined;
    if (dx !== undefined) t = b.op('Conv', db === undefined ? [dx, w] : [dx, w, db], attrs);
    if (dw !== undefined) {
      const part = b.op('Conv', t === undefined && db !== undefined ? [x, dw, db] : [x, dw], attrs);
      t = t === undefined ? part : b.add(t, part);
    }
    if (t === undefined && db !== undefined) t = b.expandLike(b.reshape(db, [1, -1, 1, 1]), output(node));
    return [t];
  },
  lower: (b, node) => (output(node).dtype === 'float64' ? [lowerConvFloat64(b, node)] : undefined),
};

const convTranspose: OpRule = {
  op: 'ConvTranspose',
  infer: (inputs, attrs) => {
    const [g, w] = [requireInput(inputs, 0, 'ConvTranspose'), requireInput(inputs, 1, 'ConvTranspose')];
    if (inputs[2] !== undefined) throw new Error('ConvTranspose: bias is not supported');
    const geo = convGeometry(attrs);
    requireUnitDilation(geo, 'ConvTranspose');
    const op = ints(attrs, 'output_padding', [0, 0]);
    const [kh, kw] = kernelOf(w);
    const [h, wd] = spatial(g);
    const size = (n: number, k: number, i: number) =>
      (n - 1) * geo.strides[i]! + k - geo.pads[i]! - geo.pads[i + 2]! + op[i]!;
    return [{ dtype: g.dtype, shape: [g.shape[0]!, w.shape[1]!, size(h, kh, 0), size(wd, kw, 1)] }];
  },
  // ConvTranspose(g, W) is the adjoint of x -> Conv(x, W), so its own adjoint in g is that Conv, and its
  // weight cotangent is Conv's weight cotangent with the roles of input and output swapped.
  vjp: (b, node, [gy], want) => {
    if (gy === undefined) return [undefined, undefined];
    const [g, w] = [input(node, 0), input(node, 1)];
    const geo = convGeometry(node.attrs);
    const dg = want[0] ? b.op('Conv', [gy, w], geometryAttrs(geo)) : undefined;
    const dw = want[1] ? convWeightCotangent(b, gy, g, kernelOf(w), geo) : undefined;
    return [dg, dw];
  },
  jvp: (b, node, [dg, dw]) => {
    const [g, w] = [input(node, 0), input(node, 1)];
    const a = dg && b.op('ConvTranspose', [dg, w], node.attrs);
    const c = dw && b.op('ConvTranspose', [g, dw], node.attrs);
    return [a === undefined ? c : c === undefined ? a : b.add(a, c)];
  },
  lower: (b, node) => (output(node).dtype === 'float64' ? [lowerConvTransposeFloat64(b, node)] : undefined),
};

export const convRules: OpRule[] = [conv, convTranspose];
