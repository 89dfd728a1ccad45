// Schemas of gengap.common.v1 model, loss, optimizer, schedule and regularizer messages (JSON mapping).
import {
  Activation,
  Device,
  InitializerKind,
  LossKind,
  OptimizerKind,
  Precision,
  ScheduleKind,
} from '@gengap/proto/common/v1/model';
import { z } from 'zod';
import {
  emptyMessage,
  fraction,
  nonNegative,
  oneof,
  positive,
  positiveUint32,
  protoEnum,
  uint32,
  uint64,
} from './scalars.ts';

export const initializerSchema = z
  .strictObject({
    kind: protoEnum(InitializerKind).optional(),
    scale: nonNegative.optional().describe('Multiplies the standard deviation or bound; 0 means 1.'),
  })
  .meta({ id: 'Initializer', description: 'Parameter initialisation.' });

const denseLayer = z.strictObject({
  units: positiveUint32,
  noBias: z.boolean().optional(),
  initializer: initializerSchema.optional(),
});

const conv2dLayer = z.strictObject({
  outChannels: positiveUint32,
  kernelSize: positiveUint32,
  stride: uint32.optional().describe('0 means 1.'),
  padding: uint32.optional(),
  noBias: z.boolean().optional(),
  initializer: initializerSchema.optional(),
});

const pool2dLayer = z.strictObject({
  kernelSize: positiveUint32,
  stride: uint32.optional().describe('0 means kernelSize.'),
  padding: uint32.optional(),
});

const layerKinds = [
  'dense',
  'conv2d',
  'maxPool2d',
  'avgPool2d',
  'flatten',
  'activation',
  'dropout',
  'embedding',
  'layerNorm',
] as const;

export const layerSchema = oneof(
  z.strictObject({
    name: z.string().optional().describe('Label used in parameter names; defaults to "<index>.<kind>".'),
    dense: denseLayer.optional(),
    conv2d: conv2dLayer.optional(),
    maxPool2d: pool2dLayer.optional(),
    avgPool2d: pool2dLayer.optional(),
    flatten: emptyMessage.optional(),
    activation: z.strictObject({ activation: protoEnum(Activation) }).optional(),
    dropout: z
      .strictObject({ rate: fraction.max(0.999, { error: 'must be < 1' }) })
      .optional()
      .describe('Inverted dropout, active only in training.'),
    embedding: z
      .strictObject({
        vocabularySize: positiveUint32,
        dimension: positiveUint32,
        initializer: initializerSchema.optional(),
      })
      .optional(),
    layerNorm: z.strictObject({ epsilon: nonNegative.optional() }).optional(),
  }),
  layerKinds,
  { required: true, name: 'kind' },
).meta({
  id: 'Layer',
  description:
    'One layer: exactly one of dense, conv2d, maxPool2d, avgPool2d, flatten, activation, dropout, embedding, layerNorm.',
});

export const modelSchema = z
  .strictObject({
    inputShape: z
      .array(uint64)
      .min(1, { error: 'must list at least one dimension' })
      .describe('Input shape without the batch dimension: [features] or [channels, height, width].'),
    numOutputs: positiveUint32.describe("Number of logits; equals the last layer's output size."),
    layers: z.array(layerSchema).min(1, { error: 'must have at least one layer' }),
    defaultInitializer: initializerSchema.optional(),
  })
  .describe('A network as an ordered stack of layers.');

export const lossSchema = z.strictObject({
  kind: protoEnum(LossKind).optional(),
  temperature: nonNegative.optional().describe('Softmax temperature for cross-entropy; 0 means 1.'),
});

export const optimizerSchema = z.strictObject({
  kind: protoEnum(OptimizerKind).optional(),
  learningRate: positive.describe('Base learning rate; the schedule multiplies it.'),
  momentum: fraction.optional().describe('0 means 0.9.'),
  beta1: fraction.optional(),
  beta2: fraction.optional(),
  epsilon: nonNegative.optional(),
  trustCoefficient: nonNegative.optional(),
});

export const scheduleSchema = z.strictObject({
  kind: protoEnum(ScheduleKind).optional(),
  stepSize: uint64.optional(),
  gamma: nonNegative.optional(),
  totalSteps: uint64.optional(),
  minFactor: nonNegative.optional(),
  warmupSteps: uint64.optional(),
});

export const regularizersSchema = z
  .strictObject({
    weightDecay: nonNegative.optional(),
    gradientClipNorm: nonNegative.optional(),
    gradientNormPenalty: nonNegative.optional(),
    augmentRandomShift: uint32.optional(),
    augmentHorizontalFlip: z.boolean().optional(),
  })
  .describe('Explicit regularizers, all off by default.');

export const precisionSchema = protoEnum(Precision);
export const deviceSchema = protoEnum(Device);
