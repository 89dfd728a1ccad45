// Schema of gengap.coordinator.v1 ExperimentSpec (JSON mapping): the file format researchers write.
import { AnalysisTiming, SweepMode } from '@gengap/proto/coordinator/v1/experiment';
import { ShiftKind, SplitSelection } from '@gengap/proto/data/v1/dataset';
import { z } from 'zod';
import { analysisSpecSchema } from './analysis.ts';
import { datasetSchema } from './dataset.ts';
import { runSchema } from './run.ts';
import {
  double,
  fraction,
  nonNegative,
  oneof,
  positiveUint32,
  protoEnum,
  uint32,
  uint64,
} from './scalars.ts';

/** The schema version this coordinator reads and writes. */
export const SCHEMA_VERSION = 1;

export const cellSchema = z
  .strictObject({
    dataset: datasetSchema.optional().describe('The dataset to generate for this cell.'),
    run: runSchema,
    label: z
      .string()
      .optional()
      .describe('Label shown for the cell in reports; sweeps append their axis values.'),
  })
  .superRefine((cell, ctx) => {
    const hasRef = Boolean(cell.run?.dataset?.datasetId);
    if (cell.dataset && hasRef)
      ctx.addIssue({
        code: 'custom',
        path: ['run', 'dataset'],
        message: 'set either dataset (generated for the cell) or run.dataset (a stored dataset), not both',
      });
    if (!cell.dataset && !hasRef)
      ctx.addIssue({
        code: 'custom',
        path: ['dataset'],
        message: 'required (or run.dataset with a stored dataset id)',
      });
  })
  .describe('One training run before sweeps are applied.');

type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
const jsonValue: z.ZodType<JsonValue> = z
  .lazy(() =>
    z.union([z.string(), double, z.boolean(), z.null(), z.array(jsonValue), z.record(z.string(), jsonValue)]),
  )
  .meta({
    id: 'JsonValue',
    description: 'Any JSON value, including an object that replaces a whole message.',
  });

export const sweepAxisSchema = z.strictObject({
  path: z
    .string()
    .min(1, { error: 'required' })
    .describe(
      'A field of the cell by its JSON path, e.g. "dataset.corruptions[0].labelNoise.fraction" or "run.optimizer.learningRate"; "label" names the cell.',
    ),
  values: z
    .array(jsonValue)
    .min(1, { error: 'must list at least one value' })
    .describe('Values of the field; null unsets the field, or removes the list element the path names.'),
  name: z.string().optional().describe('Name of the axis in reports; defaults to the last path segment.'),
});

export const sweepSchema = z
  .strictObject({
    mode: protoEnum(
      SweepMode,
      'GRID (Cartesian product, the default) or ZIP (axes advance together).',
    ).optional(),
    axes: z.array(sweepAxisSchema).min(1, { error: 'must have at least one axis' }),
  })
  .describe('Sweeps are combined as their Cartesian product.');

export const attachedAnalysisSchema = z
  .strictObject({
    spec: analysisSpecSchema,
    timing: protoEnum(AnalysisTiming).optional(),
    everyEpochs: uint32.optional(),
    cellFilter: z.string().optional().describe('Regular expression on cell labels; empty means every cell.'),
    onTestSplit: z.boolean().optional(),
  })
  .superRefine((a, ctx) => {
    if (a.timing === 'ANALYSIS_TIMING_EVERY_K_EPOCHS' && !a.everyEpochs)
      ctx.addIssue({
        code: 'custom',
        path: ['everyEpochs'],
        message: 'required (> 0) with ANALYSIS_TIMING_EVERY_K_EPOCHS',
      });
    if (a.spec?.checkpoint)
      ctx.addIssue({
        code: 'custom',
        path: ['spec', 'checkpoint'],
        message: 'filled in per run by the coordinator; leave it unset',
      });
  })
  .describe('An analysis run on every matching run, at its end or every k epochs.');

const experimentAnalysisKinds = [
  'pairedRuns',
  'teacherStudent',
  'shiftDetection',
  'pretrainFinetune',
  'acrossRuns',
] as const;

export const experimentAnalysisSchema = oneof(
  z.strictObject({
    pairedRuns: z
      .strictObject({
        axis: z.string().min(1, { error: 'required' }),
        first: jsonValue,
        second: jsonValue,
        spec: analysisSpecSchema,
      })
      .optional()
      .describe('Runs the analysis on every pair of runs that differ only in `axis` (first vs second).'),
    teacherStudent: z
      .strictObject({
        teacherFilter: z.string().optional(),
        temperature: nonNegative,
        student: z.strictObject({
          dataset: datasetSchema.optional(),
          run: runSchema,
          label: z.string().optional(),
        }),
        analyses: z.array(analysisSpecSchema).optional(),
      })
      .optional()
      .describe("Defensive distillation: a student trained on each matching teacher's soft labels."),
    shiftDetection: z
      .strictObject({
        shift: z.strictObject({
          kind: protoEnum(ShiftKind),
          severity: nonNegative,
          classes: z.array(uint32).optional(),
          splits: protoEnum(SplitSelection).optional(),
        }),
        ensembleSize: positiveUint32.min(2, { error: 'must be >= 2' }),
        querySize: positiveUint32,
        trials: uint32.optional(),
        significance: fraction.optional(),
        finetuneEpochs: uint32.optional(),
      })
      .optional(),
    pretrainFinetune: z
      .strictObject({
        pretrainEpochs: uint32.optional(),
        pretrainLearningRate: nonNegative.optional(),
        inputMasking: z
          .number()
          .min(0)
          .lt(1, { error: 'must be < 1 (the fraction of inputs zeroed)' })
          .optional()
          .describe('Denoising auto-encoders: the fraction of each stage input zeroed per step; 0 is plain.'),
      })
      .optional(),
    acrossRuns: z.strictObject({ spec: analysisSpecSchema }).optional(),
  }),
  experimentAnalysisKinds,
  { required: true, name: 'kind' },
).describe(`An analysis over several runs: exactly one of ${experimentAnalysisKinds.join(', ')}.`);

export const executionSchema = z.strictObject({
  maxConcurrentRuns: uint32.optional().describe("Runs in flight at once; 0 means the coordinator's default."),
  maxAttempts: uint32
    .max(20, { error: 'must be <= 20' })
    .optional()
    .describe('Attempts per run for transient failures; 0 means 3.'),
  failFast: z.boolean().optional(),
});

export const experimentSpecSchema = z
  .strictObject({
    schemaVersion: uint32
      .max(SCHEMA_VERSION, { error: `this coordinator reads schema version ${SCHEMA_VERSION}` })
      .optional()
      .describe('Version of this schema; 0 means 1.'),
    name: z.string().optional(),
    description: z.string().optional(),
    base: cellSchema,
    sweeps: z.array(sweepSchema).optional(),
    seeds: z.array(uint64).optional().describe('Every cell runs once per seed; empty means [0].'),
    analyses: z.array(attachedAnalysisSchema).optional(),
    experimentAnalyses: z.array(experimentAnalysisSchema).optional(),
    execution: executionSchema.optional(),
    reportSections: z.array(z.string()).optional(),
  })
  .describe(
    'A GenGap experiment: a base cell varied by sweeps, repeated over seeds, with analyses attached.',
  );

export type ExperimentSpecJson = z.input<typeof experimentSpecSchema>;
export type CellJson = z.input<typeof cellSchema>;
export type AnalysisSpecJson = z.input<typeof analysisSpecSchema>;
