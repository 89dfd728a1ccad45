// The layer catalogue: for each ModelSpec layer kind, its parameters, output shape and forward graph.
// Layers are compositions of operators from the rule table, so they need no derivative rules of their
// own: adding a layer kind means adding an entry here (and an operator rule only for a new operator).
import { Activation, type Layer, type Pool2dLayer } from '@gengap/proto/common/v1/model';
import type { Builder } from '../ir/builder.ts';
import { windowOutput } from '../ir/shape.ts';
import { attr, type Value } from '../ir/types.ts';
import { applyDropout } from './dropout.ts';

export type LayerCase = NonNullable<Layer['kind']>['$case'];
export type LayerConfig<K extends LayerCase> = Extract<NonNullable<Layer['kind']>, { $case: K }>['value'];

/** How a parameter is initialised: with the layer's (or the model's) initializer, or a constant. */
export type ParameterInit = 'weight' | 'bias' | 'ones' | 'zeros' | 'table';

export interface ParameterDraft {
  suffix: string;
  shape: number[];
  init: ParameterInit;
  fanIn: number;
  fanOut: number;
}

export interface ForwardContext {
  /** Training graphs apply dropout; every other graph is deterministic. */
  training: boolean;
  /** uint32 scalar seeding this step's dropout masks (training graphs only). */
  stepSeed?: Value;
  layerIndex: number;
}

export interface LayerDefinition<K extends LayerCase> {
  parameters(config: LayerConfig<K>, inShape: number[]): ParameterDraft[];
  /** Output shape per example (without the batch axis); throws on an unusable input shape. */
  outputShape(config: LayerConfig<K>, inShape: number[]): number[];
  forward(b: Builder, x: Value, params: Value[], config: LayerConfig<K>, ctx: ForwardContext): Value;
}

const last = (shape: number[]): number => shape[shape.length - 1]!;

function requireImage(inShape: number[], what: string): [number, number, number] {
  if (inShape.length !== 3)
    throw new Error(`${what} needs [channels, height, width] inputs, got [${inShape}]`);
  return inShape as [number, number, number];
}

function poolDefinition<K extends 'maxPool2d' | 'avgPool2d'>(
  op: 'MaxPool' | 'AveragePool',
): LayerDefinition<K> {
  const geometry = (c: Pool2dLayer) => {
    if (c.kernelSize < 1) throw new Error('kernelSize must be at least 1');
    const stride = c.stride === 0 ? c.kernelSize : c.stride;
    return { k: c.kernelSize, stride, pad: c.padding };
  };
  return {
    parameters: () => [],
    outputShape: (c, inShape) => {
      const [ch, h, w] = requireImage(inShape, op);
      const g = geometry(c);
      return [
        ch,
        windowOutput(h, g.k, g.stride, g.pad, g.pad) as number,
        windowOutput(w, g.k, g.stride, g.pad, g.pad) as number,
      ];
    },
    forward: (b, x, _p, c) => {
      const g = geometry(c);
      const attrs = {
        kernel_shape: attr.ints([g.k, g.k]),
        strides: attr.ints([g.stride, g.stride]),
        pads: attr.ints([g.pad, g.pad, g.pad, g.pad]),
        ...(op === 'AveragePool' ? { count_include_pad: attr.int(1) } : {}),
      };
      return b.emit(op, [x], attrs)[0]!;
    },
  };
}

function activate(b: Builder, x: Value, activation: Activation): Value {
  switch (activation) {
    case Activation.ACTIVATION_RELU:
      return b.op('Relu', [x]);
    case Activation.ACTIVATION_TANH:
      return b.op('Tanh', [x]);
    case Activation.ACTIVATION_SIGMOID:
      return b.op('Sigmoid', [x]);
    case Activation.ACTIVATION_GELU: {
      // Exact GELU: x * (1 + erf(x / sqrt 2)) / 2.
      const erf = b.op('Erf', [b.scale(x, Math.SQRT1_2)]);
      return b.mul(b.scale(x, 0.5), b.add(erf, b.scalarLike(x, 1)));
    }
    case Activation.ACTIVATION_IDENTITY:
      return x;
    default:
      throw new Error(`unknown activation ${activation}`);
  }
}

export const layerCatalogue: { readonly [K in LayerCase]: LayerDefinition<K> } = {
  dense: {
    parameters: (c, inShape) => {
      const fanIn = last(inShape);
      const weight: ParameterDraft = {
        suffix: 'weight',
        shape: [c.units, fanIn],
        init: 'weight',
        fanIn,
        fanOut: c.units,
      };
      return c.noBias
        ? [weight]
        : [weight, { suffix: 'bias', shape: [c.units], init: 'bias', fanIn, fanOut: c.units }];
    },
    outputShape: (c, inShape) => {
      if (c.units < 1) throw new Error('units must be at least 1');
      if (inShape.length === 0) throw new Error('dense needs at least a feature axis');
      return [...inShape.slice(0, -1), c.units];
    },
    forward: (b, x, [w, bias], c) => {
      if (x.shape.length === 2) return b.gemm(x, w!, c.noBias ? undefined : bias, { transB: true });
      const y = b.matmul(x, b.transpose(w!, [1, 0]));
      return c.noBias ? y : b.add(y, bias!);
    },
  },
  conv2d: {
    parameters: (c, inShape) => {
      const [ch] = requireImage(inShape, 'conv2d');
      const k = c.kernelSize;
      const fanIn = ch * k * k;
      const fanOut = c.outChannels * k * k;
      const weight: ParameterDraft = {
        suffix: 'weight',
        shape: [c.outChannels, ch, k, k],
        init: 'weight',
        fanIn,
        fanOut,
      };
      return c.noBias
        ? [weight]
        : [weight, { suffix: 'bias', shape: [c.outChannels], init: 'bias', fanIn, fanOut }];
    },
    outputShape: (c, inShape) => {
      const [, h, w] = requireImage(inShape, 'conv2d');
      if (c.outChannels < 1 || c.kernelSize < 1)
        throw new Error('outChannels and kernelSize must be at least 1');
      const s = c.stride === 0 ? 1 : c.stride;
      const p = c.padding;
      return [
        c.outChannels,
        windowOutput(h, c.kernelSize, s, p, p) as number,
        windowOutput(w, c.kernelSize, s, p, p) as number,
      ];
    },
    forward: (b, x, [w, bias], c) => {
      const s = c.stride === 0 ? 1 : c.stride;
      const p = c.padding;
      const attrs = { strides: attr.ints([s, s]), pads: attr.ints([p, p, p, p]) };
      return b.op('Conv', c.noBias ? [x, w!] : [x, w!, bias!], attrs);
    },
  },
  maxPool2d: poolDefinition('MaxPool'),
  avgPool2d: poolDefinition('AveragePool'),
  flatten: {
    parameters: () => [],
    outputShape: (_c, inShape) => [inShape.reduce((p, d) => p * d, 1)],
    forward: (b, x) => (x.shape.length === 2 ? x : b.op('Flatten', [x], { axis: attr.int(1) })),
  },
  activation: {
    parameters: () => [],
    outputShape: (c, inShape) => {
      if (c.activation === Activation.ACTIVATION_UNSPECIFIED) throw new Error('activation is unspecified');
      return inShape;
    },
    forward: (b, x, _p, c) => activate(b, x, c.activation),
  },
  dropout: {
    parameters: () => [],
    outputShape: (c, inShape) => {
      if (!(c.rate >= 0 && c.rate < 1)) throw new Error(`rate must be in [0, 1), got ${c.rate}`);
      return inShape;
    },
    forward: (b, x, _p, c, ctx) =>
      ctx.training && ctx.stepSeed !== undefined
        ? applyDropout(b, x, c.rate, ctx.stepSeed, ctx.layerIndex)
        : x,
  },
  embedding: {
    parameters: (c) => [
      {
        suffix: 'weight',
        shape: [c.vocabularySize, c.dimension],
        init: 'table',
        fanIn: c.dimension,
        fanOut: c.vocabularySize,
      },
    ],
    outputShape: (c, inShape) => {
      if (inShape.length !== 1) throw new Error('embedding needs [sequence_length] integer inputs');
      if (c.vocabularySize < 1 || c.dimension < 1)
        throw new Error('vocabularySize and dimension must be at least 1');
      return [inShape[0]!, c.dimension];
    },
    forward: (b, x, [w]) => b.op('Gather', [w!, x], { axis: attr.int(0) }),
  },
  layerNorm: {
    parameters: (_c, inShape) => {
      const d = last(inShape);
      return [
        { suffix: 'weight', shape: [d], init: 'ones', fanIn: d, fanOut: d },
        { suffix: 'bias', shape: [d], init: 'zeros', fanIn: d, fanOut: d },
      ];
    },
    outputShape: (_c, inShape) => {
      if (inShape.length === 0) throw new Error('layerNorm needs at least a feature axis');
      return inShape;
    },
    forward: (b, x, [gamma, beta], c) => {
      // (x - mean) / sqrt(var + eps) * gamma + beta over the last axis, biased variance as in PyTorch.
      const eps = c.epsilon === 0 ? 1e-5 : c.epsilon;
      const centered = b.sub(x, b.reduceMean(x, [-1], true));
      const variance = b.reduceMean(b.mul(centered, centered), [-1], true);
      const normalized = b.div(centered, b.sqrt(b.add(variance, b.scalarLike(x, eps))));
      return b.add(b.mul(normalized, gamma!), beta!);
    },
  },
};
