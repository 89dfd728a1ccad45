// float64 convolutions from slices and a matrix product (onnxruntime's CPU provider has float32 Conv,
// ConvTranspose and AveragePool only). The input is padded, cut into strided slices that form the im2col
// matrix [N, C*kh*kw, Ho*Wo], and multiplied by the weight matrix [O, C*kh*kw]. Slices run over kernel
// offsets or over output positions, whichever is fewer (a weight cotangent is a convolution whose kernel
// is the whole output map).
import type { Builder } from '../../ir/builder.ts';
import type { Attrs, Node, Value } from '../../ir/types.ts';
import { type ConvGeometry, convGeometry } from '../rules/conv.ts';

/** Static spatial dimensions [h, w]; batch and channel axes may be symbolic (0 / -1 in reshapes). */
function spatialDims(v: Value): [number, number] {
  const dims = v.shape.slice(2);
  if (dims.some((d) => typeof d !== 'number')) {
    throw new Error('float64 convolution lowering: static spatial shapes only');
  }
  return dims as [number, number];
}

/** The static output-channel count of a weight [O, C, kh, kw]. */
function outChannels(w: Value): number {
  const o = w.shape[0];
  if (typeof o !== 'number') throw new Error('float64 convolution lowering: static output channels only');
  return o;
}

function padSpatial(b: Builder, x: Value, before: [number, number], after: [number, number]): Value {
  if (before.every((p) => p === 0) && after.every((p) => p === 0)) return x;
  return b.op('Pad', [x, b.int64s([0, 0, before[0], before[1], 0, 0, after[0], after[1]])]);
}

function slice2d(b: Builder, x: Value, starts: number[], ends: number[], steps: number[]): Value {
  return b.op('Slice', [x, b.int64s(starts), b.int64s(ends), b.int64s([2, 3]), b.int64s(steps)]);
}

/** The im2col matrix [N, C*kh*kw, Ho*Wo] of an already padded input. */
function im2col(
  b: Builder,
  xp: Value,
  kernel: [number, number],
  out: [number, number],
  geo: ConvGeometry,
): Value {
  const [kh, kw] = kernel;
  const [ho, wo] = out;
  const [s0, s1] = geo.strides;
  const [d0, d1] = geo.dilations;
  const parts: Value[] = [];
  if (kh * kw <= ho * wo) {
    for (let u = 0; u < kh; u++) {
      for (let v = 0; v < kw; v++) {
        const piece = slice2d(
          b,
          xp,
          [u * d0, v * d1],
          [u * d0 + (ho - 1) * s0 + 1, v * d1 + (wo - 1) * s1 + 1],
          [s0, s1],
        );
        parts.push(b.reshape(piece, [0, -1, 1, ho * wo]));
      }
    }
    return b.reshape(b.op('Concat', parts, { axis: { kind: 'int', value: 2 } }), [0, -1, ho * wo]);
  }
  for (let p = 0; p < ho; p++) {
    for (let q = 0; q < wo; q++) {
      const piece = slice2d(
        b,
        xp,
        [p * s0, q * s1],
        [p * s0 + (kh - 1) * d0 + 1, q * s1 + (kw - 1) * d1 + 1],
        [d0, d1],
      );
      parts.push(b.reshape(piece, [0, -1, 1]));
    }
  }
  return b.op('Concat', parts, { axis: { kind: 'int', value: 2 } });
}

export function convByMatmul(
  b: Builder,
  x: Value,
  w: Value,
  bias: Value | undefined,
  geo: ConvGeometry,
  out: [number, number],
): Value {
  const o = outChannels(w);
  const xp = padSpatial(b, x, [geo.pads[0], geo.pads[1]], [geo.pads[2], geo.pads[3]]);
  const columns = im2col(b, xp, spatialDims(w), out, geo);
  const product = b.matmul(b.reshape(w, [o, -1]), columns);
  const y = b.reshape(product, [0, o, out[0], out[1]]);
  return bias === undefined ? y : b.add(y, b.reshape(bias, [1, o, 1, 1]));
}

export function lowerConvFloat64(b: Builder, node: Node): Value {
  const [x, w, bias] = node.inputs;
  const out = node.outputs[0]!.shape.slice(2) as [number, number];
  return convByMatmul(b, x!, w!, bias, convGeometry(node.attrs), out);
}

function intsOf(attrs: Attrs, name: string, fallback: number[]): number[] {
  const a = attrs[name];
  return a?.kind === 'ints' ? [...a.value] : fallback;
}

/** Inserts stride - 1 zeros between neighbouring pixels. */
function dilateSpatial(b: Builder, g: Value, strides: [number, number]): Value {
  if (strides[0] === 1 && strides[1] === 1) return g;
  const [h, w] = spatialDims(g);
  const o = g.shape[1];
  if (typeof o !== 'number') throw new Error('float64 ConvTranspose lowering: static channels only');
  const six = b.reshape(g, [0, o, h, 1, w, 1]);
  const spread = b.op('Pad', [six, b.int64s([0, 0, 0, 0, 0, 0, 0, 0, 0, strides[0] - 1, 0, strides[1] - 1])]);
  const flat = b.reshape(spread, [0, o, h * strides[0], w * strides[1]]);
  return slice2d(b, flat, [0, 0], [(h - 1) * strides[0] + 1, (w - 1) * strides[1] + 1], [1, 1]);
}

/** Pads (positive amounts) or crops (negative amounts) the spatial border. */
function padOrCrop(b: Builder, x: Value, before: [number, number], after: [number, number]): Value {
  const padded = padSpatial(
    b,
    x,
    [Math.max(0, before[0]), Math.max(0, before[1])],
    [Math.max(0, after[0]), Math.max(0, after[1])],
  );
  if (before.every((p) => p >= 0) && after.every((p) => p >= 0)) return padded;
  const [h, w] = spatialDims(padded);
  const starts = [Math.max(0, -before[0]), Math.max(0, -before[1])];
  return slice2d(b, padded, starts, [h - Math.max(0, -after[0]), w - Math.max(0, -after[1])], [1, 1]);
}

/** ConvTranspose = stride-1 convolution of the zero-dilated, re-padded input with the flipped kernel. */
export function lowerConvTransposeFloat64(b: Builder, node: Node): Value {
  const [g, w] = [node.inputs[0]!, node.inputs[1]!];
  const geo = convGeometry(node.attrs);
  const outputPadding = intsOf(node.attrs, 'output_padding', [0, 0]);
  const [kh, kw] = spatialDims(w);
  const dilated = dilateSpatial(b, g, geo.strides);
  const bordered = padOrCrop(
    b,
    dilated,
    [kh - 1 - geo.pads[0], kw - 1 - geo.pads[1]],
    [kh - 1 - geo.pads[2] + outputPadding[0]!, kw - 1 - geo.pads[3] + outputPadding[1]!],
  );
  const reversed = (n: number) => b.int64s(Array.from({ length: n }, (_, i) => n - 1 - i));
  const swapped = b.transpose(w, [1, 0, 2, 3]);
  const flipped = b.op(
    'Gather',
    [b.op('Gather', [swapped, reversed(kh)], { axis: { kind: 'int', value: 2 } }), reversed(kw)],
    {
      axis: { kind: 'int', value: 3 },
    },
  );
  const unit: ConvGeometry = { strides: [1, 1], pads: [0, 0, 0, 0], dilations: [1, 1] };
  return convByMatmul(
    b,
    bordered,
    flipped,
    undefined,
    unit,
    node.outputs[0]!.shape.slice(2) as [number, number],
  );
}

/** AveragePool with count_include_pad = 1: the mean of strided slices of the zero-padded input. */
export function lowerAveragePoolFloat64(
  b: Builder,
  x: Value,
  kernel: [number, number],
  geo: ConvGeometry,
  out: [number, number],
): Value {
  const xp = padSpatial(b, x, [geo.pads[0], geo.pads[1]], [geo.pads[2], geo.pads[3]]);
  let sum: Value | undefined;
  for (let u = 0; u < kernel[0]; u++) {
    for (let v = 0; v < kernel[1]; v++) {
      const ends = [u + (out[0] - 1) * geo.strides[0] + 1, v + (out[1] - 1) * geo.strides[1] + 1];
      const piece = slice2d(b, xp, [u, v], ends, geo.strides);
      sum = sum === undefined ? piece : b.add(sum, piece);
    }
  }
  return b.scale(sum!, 1 / (kernel[0] * kernel[1]));
}
