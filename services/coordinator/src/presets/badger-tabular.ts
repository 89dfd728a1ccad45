// Badger, small models for tabular data: every field of a messy CSV becomes a fixed number of
// characters, so no cleaning is needed; a small embedding MLP classifies rows, and occlusion and
// gradient-x-input attributions say which fields it uses.
import type { ExperimentSpecJson, ModelJson } from './blocks.ts';
import type { PresetDefinition } from './preset.ts';

const FIELD_WIDTH = 8;

/** Embedding of character codes, then an MLP over the flattened row. */
function rowModel(fields: number, hidden: number[], classes: number): ModelJson {
  const relu = { activation: { activation: 'ACTIVATION_RELU' as const } };
  return {
    inputShape: [fields * FIELD_WIDTH],
    numOutputs: classes,
    layers: [
      { embedding: { vocabularySize: 256, dimension: 8 } },
      { flatten: {} },
      ...hidden.flatMap((units) => [{ dense: { units } }, relu]),
      { dense: { units: classes } },
    ],
  };
}

function spec(size: 'quick' | 'full'): ExperimentSpecJson {
  const quick = size === 'quick';
  // cps_wages_1985 has 11 columns; the target (wage) is removed, leaving 10 fields.
  return {
    name: `badger-tabular-${size}`,
    description: quick
      ? 'The 1985 CPS wages table (534 rows): wage above or below the median from the 10 other fields, each as 8 characters; embedding 256x8, MLP 640-64-2, Adam, 60 epochs; occlusion and gradient x input per field.'
      : 'CPS wages (wage in 2 and 4 quantile bins) with MLPs of 64 and 256 units, and Boston house prices (medv in 2 bins, 13 fields), 200 epochs, 5 seeds; attributions per field.',
    base: {
      label: quick ? 'wages, 2 bins' : '',
      dataset: {
        tabular: {
          builtin: 'cps_wages_1985',
          targetColumn: 'wage',
          fieldWidth: FIELD_WIDTH,
          targetBins: 2,
          testFraction: 0.2,
        },
        seed: 1985,
      },
      run: {
        model: rowModel(10, [64], 2),
        loss: { kind: 'LOSS_KIND_CROSS_ENTROPY' },
        optimizer: { kind: 'OPTIMIZER_KIND_ADAM', learningRate: 1e-3 },
        batchSize: 32,
        stop: { maxEpochs: quick ? 60 : 200 },
        ...(quick ? { threads: 1 } : {}),
      },
    },
    sweeps: quick
      ? []
      : [
          {
            mode: 'SWEEP_MODE_ZIP',
            axes: [
              { path: 'label', name: 'task', values: ['wages, 2 bins', 'wages, 4 bins', 'Boston, 2 bins'] },
              {
                path: 'dataset.tabular',
                name: 'table',
                values: [
                  { builtin: 'cps_wages_1985', targetColumn: 'wage', fieldWidth: FIELD_WIDTH, targetBins: 2 },
                  { builtin: 'cps_wages_1985', targetColumn: 'wage', fieldWidth: FIELD_WIDTH, targetBins: 4 },
                  {
                    builtin: 'boston_house_prices',
                    targetColumn: 'medv',
                    fieldWidth: FIELD_WIDTH,
                    targetBins: 2,
                  },
                ],
              },
              {
                path: 'run.model',
                name: 'model',
                values: [rowModel(10, [64], 2), rowModel(10, [64], 4), rowModel(13, [64], 2)],
              },
            ],
          },
        ],
    seeds: quick ? [0] : [0, 1, 2, 3, 4],
    analyses: [
      {
        spec: { attribution: { method: 'ATTRIBUTION_METHOD_OCCLUSION', fieldWidth: FIELD_WIDTH } },
        onTestSplit: true,
      },
      {
        spec: { attribution: { method: 'ATTRIBUTION_METHOD_GRADIENT_X_INPUT', fieldWidth: FIELD_WIDTH } },
        onTestSplit: true,
      },
      { spec: { generalizationGap: {} } },
    ],
  };
}

export const badgerTabular: PresetDefinition = {
  name: 'badger-tabular',
  title: 'Small models for messy tabular data',
  description:
    'Rows of a CSV encoded as fixed-width characters per field (no cleaning), a small embedding MLP classifier, and per-field attributions by occlusion and gradient x input.',
  papers: ['B3'],
  build: spec,
  unsupported: [],
};
