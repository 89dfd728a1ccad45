// Schemas of gengap.data.v1 DatasetSpec and its sources and corruptions (JSON mapping).
import { PixelScaling, ShiftKind, SplitSelection, SubspaceLabel } from '@gengap/proto/data/v1/dataset';
import { z } from 'zod';
import { fraction, nonNegative, oneof, positiveUint32, protoEnum, uint32, uint64 } from './scalars.ts';

const splits = protoEnum(SplitSelection, 'Which splits the corruption applies to; training by default.');

const imageSource = z.strictObject({
  scaling: protoEnum(PixelScaling).optional(),
  flatten: z.boolean().optional().describe('Flatten images to 784-vectors instead of 1x28x28.'),
});

const gaussianMixture = z.strictObject({
  numClasses: positiveUint32,
  dimension: positiveUint32,
  trainSize: positiveUint32,
  testSize: positiveUint32,
  separation: nonNegative.optional(),
  clusterStd: nonNegative.optional(),
});

const subspace = z.strictObject({
  ambientDimension: positiveUint32,
  subspaceDimension: positiveUint32,
  noiseSigma: nonNegative.optional(),
  trainSize: positiveUint32,
  testSize: positiveUint32,
  label: protoEnum(SubspaceLabel).optional(),
  stripeFrequency: nonNegative.optional(),
});

const sparseParity = z.strictObject({
  numBits: positiveUint32,
  paritySize: positiveUint32,
  hiddenCoordinates: z.array(uint32).optional(),
  trainSize: uint32.optional(),
  testSize: positiveUint32,
  online: z.boolean().optional(),
});

const tabular = oneof(
  z.strictObject({
    builtin: z.string().min(1).optional().describe('"cps_wages_1985" or "boston_house_prices".'),
    csvText: z.string().min(1).optional(),
    targetColumn: z.string().min(1),
    fieldWidth: uint32.optional(),
    targetBins: uint32.optional(),
    testFraction: fraction.optional(),
    dropColumns: z.array(z.string()).optional(),
  }),
  ['builtin', 'csvText'],
  { required: true, name: 'table' },
);

const corruptionKinds = [
  'labelNoise',
  'shufflePixels',
  'randomPixels',
  'gaussianInputs',
  'inputNoise',
  'subsample',
  'classBalanced',
  'replaceOne',
  'covariateShift',
  'randomInputs',
] as const;

export const corruptionSchema = oneof(
  z.strictObject({
    labelNoise: z
      .strictObject({
        fraction,
        splits: splits.optional(),
        exactAndAlwaysWrong: z.boolean().optional(),
      })
      .optional()
      .describe('Replace each label with probability `fraction` by a uniformly random class.'),
    shufflePixels: z.strictObject({ splits: splits.optional() }).optional(),
    randomPixels: z.strictObject({ splits: splits.optional() }).optional(),
    gaussianInputs: z.strictObject({ splits: splits.optional() }).optional(),
    inputNoise: z.strictObject({ sigma: nonNegative, splits: splits.optional() }).optional(),
    subsample: z.strictObject({ size: positiveUint32, splits: splits.optional() }).optional(),
    classBalanced: z.strictObject({ perClass: positiveUint32, splits: splits.optional() }).optional(),
    replaceOne: z.strictObject({ index: uint32, replacement: uint32.optional() }).optional(),
    covariateShift: z
      .strictObject({
        kind: protoEnum(ShiftKind),
        severity: nonNegative,
        classes: z.array(uint32).optional(),
        splits: splits.optional(),
      })
      .optional(),
    randomInputs: z.strictObject({ fraction, splits: splits.optional() }).optional(),
  }),
  corruptionKinds,
  { required: true, name: 'kind' },
).meta({
  id: 'Corruption',
  description: `One corruption, applied in order: exactly one of ${corruptionKinds.join(', ')}.`,
});

const sourceKinds = [
  'mnist',
  'fashionMnist',
  'gaussianMixture',
  'subspace',
  'sparseParity',
  'tabular',
] as const;

export const datasetSchema = oneof(
  z.strictObject({
    mnist: imageSource.optional(),
    fashionMnist: imageSource.optional(),
    gaussianMixture: gaussianMixture.optional(),
    subspace: subspace.optional(),
    sparseParity: sparseParity.optional(),
    tabular: tabular.optional(),
    corruptions: z.array(corruptionSchema).optional(),
    seed: uint64.optional().describe('Seeds every random choice of the source and the corruptions.'),
  }),
  sourceKinds,
  { required: true, name: 'source' },
).meta({
  id: 'DatasetSpec',
  description: `A dataset: one source (${sourceKinds.join(', ')}), then corruptions in order.`,
});
