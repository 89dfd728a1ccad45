// Schema of gengap.trainer.v1 RunSpec (JSON mapping).
import { z } from 'zod';
import {
  deviceSchema,
  lossSchema,
  modelSchema,
  optimizerSchema,
  precisionSchema,
  regularizersSchema,
  scheduleSchema,
} from './model.ts';
import { fraction, nonNegative, uint32, uint64 } from './scalars.ts';

export const datasetRefSchema = z.strictObject({ datasetId: z.string().min(1) });

const runCheckpointSchema = z.strictObject({ runId: z.string().min(1), step: uint64.optional() });

export const checkpointRefSchema = z
  .strictObject({
    run: runCheckpointSchema.optional(),
    analysisId: z.string().min(1).optional(),
  })
  .superRefine((value, ctx) => {
    if (value.run && value.analysisId)
      ctx.addIssue({
        code: 'custom',
        path: ['analysisId'],
        message: 'only one of run, analysisId may be set',
      });
  })
  .meta({ id: 'CheckpointRef', description: "A run's checkpoint or a checkpoint written by an analysis." });

export const stopRulesSchema = z
  .strictObject({
    maxEpochs: uint32.optional(),
    maxSteps: uint64.optional(),
    targetTrainAccuracy: fraction.optional().describe('Stop once the train accuracy reaches this, e.g. 1.0.'),
    targetTrainLoss: nonNegative.optional(),
    maxWallSeconds: nonNegative.optional(),
    patienceEpochs: uint32.optional(),
  })
  .describe(
    'Training stops at the first rule that fires; one of maxEpochs, maxSteps, maxWallSeconds is required.',
  );

const metricsSchema = z.strictObject({
  stepEvery: uint32.optional(),
  evalEveryEpochs: uint32.optional(),
  evalTrainSubset: uint32.optional(),
  perExampleCorrectness: z.boolean().optional(),
  trajectoryEvery: uint32.optional(),
  trajectoryDimension: uint32.optional(),
  trajectorySeed: uint64.optional(),
  onlineEpochSteps: uint32.optional(),
  fullGradientNorm: z.boolean().optional(),
});

const checkpointsSchema = z.strictObject({
  everySteps: uint64.optional(),
  keepEpochs: z.array(uint32).optional(),
  keepEveryEpochs: uint32.optional(),
});

export const runSchema = z
  .strictObject({
    model: modelSchema,
    dataset: datasetRefSchema
      .optional()
      .describe(
        "Filled in by the coordinator from the cell's dataset; set it only to reuse a stored dataset.",
      ),
    loss: lossSchema.optional(),
    optimizer: optimizerSchema,
    schedule: scheduleSchema.optional(),
    regularizers: regularizersSchema.optional(),
    batchSize: uint32.optional().describe('Examples per step; 0 means full-batch gradient descent.'),
    stop: stopRulesSchema,
    seed: uint64.optional().describe('Written by the coordinator from the experiment seeds.'),
    device: deviceSchema.optional(),
    precision: precisionSchema.optional(),
    metrics: metricsSchema.optional(),
    checkpoints: checkpointsSchema.optional(),
    teacher: z
      .strictObject({ checkpoint: checkpointRefSchema, temperature: nonNegative.optional() })
      .optional(),
    initFrom: checkpointRefSchema.optional(),
    frozenParameters: z.array(z.string()).optional(),
    threads: uint32.optional(),
    stepsPerCall: uint32.optional(),
    noShuffle: z.boolean().optional(),
  })
  .superRefine((run, ctx) => {
    const stop = run.stop;
    if (stop && !stop.maxEpochs && !Number(stop.maxSteps ?? 0) && !stop.maxWallSeconds) {
      ctx.addIssue({
        code: 'custom',
        path: ['stop'],
        message: 'one of maxEpochs, maxSteps or maxWallSeconds must be set',
      });
    }
  })
  .meta({ id: 'RunSpec', description: 'Everything that determines a training run.' });
