// Schema of gengap.analysis.v1 AnalysisSpec (JSON mapping). The checkpoint is filled in per run by
// the coordinator; the other fields are the analysis' own.
import {
  AttackMethod,
  AttributionMethod,
  InversionInit,
  TraceMethod,
} from '@gengap/proto/analysis/v1/analysis';
import { Split } from '@gengap/proto/common/v1/refs';
import { z } from 'zod';
import { deviceSchema, precisionSchema } from './model.ts';
import { checkpointRefSchema, datasetRefSchema } from './run.ts';
import { double, emptyMessage, fraction, nonNegative, oneof, protoEnum, uint32, uint64 } from './scalars.ts';

const blocks = z.strictObject({
  names: z.array(z.string()).optional(),
  perParameter: z.boolean().optional(),
});

const hessianEigen = z.strictObject({
  topK: uint32.max(50, { error: 'must be <= 50' }).optional(),
  maxIterations: uint32.optional(),
  tolerance: nonNegative.optional(),
  miniBatchSize: uint32.optional(),
  blocks: blocks.optional(),
  returnEigenvectors: z.boolean().optional(),
  hvpBatchSize: uint32.optional(),
});

const hessianTrace = z.strictObject({
  method: protoEnum(TraceMethod).optional(),
  numQueries: uint32.optional(),
  miniBatchSize: uint32.optional(),
  blocks: blocks.optional(),
  hvpBatchSize: uint32.optional(),
});

const spectralDensity = z.strictObject({
  numProbes: uint32.optional(),
  lanczosSteps: uint32.optional(),
  numGridPoints: uint32.optional(),
  kernelWidth: nonNegative.optional(),
  miniBatchSize: uint32.optional(),
  blocks: blocks.optional(),
  hvpBatchSize: uint32.optional(),
});

/** Every analysis kind (the oneof members of AnalysisSpec), in contract order. */
export const analysisKinds = [
  'hessianEigen',
  'hessianTrace',
  'spectralDensity',
  'sharpness',
  'interpolation',
  'randomSlice',
  'rescale',
  'stability',
  'generalizationGap',
  'lateTrainingStatistics',
  'inversion',
  'inputSensitivity',
  'attack',
  'criticalSampleRatio',
  'attribution',
  'trajectory',
  'parityProgress',
  'firstLearned',
  'linearProbe',
  'ensembleDisagreement',
] as const;

export type AnalysisKind = (typeof analysisKinds)[number];

export const analysisSpecSchema = oneof(
  z.strictObject({
    checkpoint: checkpointRefSchema.optional(),
    dataset: datasetRefSchema.optional(),
    split: protoEnum(Split).optional(),
    numExamples: uint32.optional(),
    seed: uint64.optional(),
    threads: uint32.optional(),
    precision: precisionSchema.optional(),
    shuffleExamples: z.boolean().optional(),
    device: deviceSchema.optional(),
    hessianEigen: hessianEigen.optional(),
    hessianTrace: hessianTrace.optional(),
    spectralDensity: spectralDensity.optional(),
    sharpness: z
      .strictObject({
        epsilon: nonNegative.optional(),
        subspaceDimension: uint32.optional(),
        maxIterations: uint32.optional(),
        restarts: uint32.optional(),
      })
      .optional(),
    interpolation: z
      .strictObject({
        other: checkpointRefSchema.optional(),
        alphaMin: double.optional(),
        alphaMax: double.optional(),
        numPoints: uint32.optional(),
      })
      .optional(),
    randomSlice: z
      .strictObject({
        dimensions: uint32.max(2, { error: 'must be 1 or 2' }).optional(),
        filterNormalize: z.boolean().optional(),
        extent: nonNegative.optional(),
        numPoints: uint32.optional(),
      })
      .optional(),
    rescale: z.strictObject({ firstLayer: uint32.optional(), alpha: double }).optional(),
    stability: z.strictObject({ otherRunId: z.string().optional() }).optional(),
    generalizationGap: emptyMessage.optional(),
    lateTrainingStatistics: z
      .strictObject({ runIds: z.array(z.string()).optional(), windowFraction: fraction.optional() })
      .optional(),
    inversion: z
      .strictObject({
        layers: z.array(uint32).optional(),
        steps: uint32.optional(),
        learningRate: nonNegative.optional(),
        init: protoEnum(InversionInit).optional(),
        numImages: uint32.optional(),
      })
      .optional(),
    inputSensitivity: z
      .strictObject({
        numBins: uint32.optional(),
        // An auxiliary array of the analysed dataset (a subspace source's "basis").
        subspaceBasis: z.string().optional(),
      })
      .optional(),
    attack: z
      .strictObject({
        method: protoEnum(AttackMethod),
        epsilon: nonNegative.optional(),
        steps: uint32.optional(),
        stepSize: nonNegative.optional(),
        featureBudget: fraction.optional(),
        theta: double.optional(),
        clipMin: double.optional(),
        clipMax: double.optional(),
      })
      .optional(),
    criticalSampleRatio: z.strictObject({ radius: nonNegative, steps: uint32.optional() }).optional(),
    attribution: z
      .strictObject({
        method: protoEnum(AttributionMethod),
        patchSize: uint32.optional(),
        fieldWidth: uint32.optional(),
        batchSize: uint32.optional(),
        baseline: double.optional(),
      })
      .optional(),
    trajectory: z
      .strictObject({ runIds: z.array(z.string()).optional(), startFraction: fraction.optional() })
      .optional(),
    parityProgress: z
      .strictObject({ coordinates: z.array(uint32).optional(), fourierSamples: uint32.optional() })
      .optional(),
    firstLearned: emptyMessage.optional(),
    linearProbe: z.strictObject({ layers: z.array(uint32).optional(), steps: uint32.optional() }).optional(),
    ensembleDisagreement: z.strictObject({ members: z.array(checkpointRefSchema).optional() }).optional(),
  }),
  analysisKinds,
  { required: true, name: 'kind' },
).meta({
  id: 'AnalysisSpec',
  description: `One analysis of a checkpoint: exactly one of ${analysisKinds.join(', ')}.`,
});

/** The kind of a (validated) analysis spec in JSON form. */
export function analysisKindOf(spec: Record<string, unknown>): AnalysisKind | undefined {
  return analysisKinds.find((k) => spec[k] !== undefined && spec[k] !== null);
}
