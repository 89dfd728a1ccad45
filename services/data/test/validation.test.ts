// Spec validation over gRPC: every bad field is answered with INVALID_ARGUMENT naming it (proto JSON
// path, also in the "gengap-field" trailer), nothing is written for a rejected spec, and canonical
// specs (defaults resolved) give one id per dataset.
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  type DatasetSpec,
  PixelScaling,
  ShiftKind,
  SplitSelection,
  SubspaceLabel,
} from '@gengap/proto/data/v1/dataset';
import { callUnary } from '@gengap/service-kit';
import { status } from '@grpc/grpc-js';
import { expectError, spec, startService, type TestService } from './helpers.ts';

let svc: TestService;

const gaussian = { numClasses: 3, dimension: 4, trainSize: 100, testSize: 20, separation: 2 };
const g = (value: Partial<typeof gaussian> & Record<string, unknown>, corruptions: unknown[] = []) =>
  spec({
    source: { $case: 'gaussianMixture', value: { ...gaussian, ...value } },
    corruptions: corruptions as never,
    seed: 1,
  });
const mnist = (corruptions: unknown[]) =>
  spec({ source: { $case: 'mnist', value: {} }, corruptions: corruptions as never });

const bad: [string, DatasetSpec, string, RegExp?][] = [
  ['no source', spec({}), 'spec.source'],
  ['two classes at least', g({ numClasses: 1 }), 'spec.gaussianMixture.numClasses'],
  ['zero dimension', g({ dimension: 0 }), 'spec.gaussianMixture.dimension'],
  ['zero train size', g({ trainSize: 0 }), 'spec.gaussianMixture.trainSize'],
  ['negative separation', g({ separation: -1 }), 'spec.gaussianMixture.separation'],
  ['NaN cluster std', g({ clusterStd: Number.NaN }), 'spec.gaussianMixture.clusterStd'],
  [
    'unknown scaling',
    spec({ source: { $case: 'mnist', value: { scaling: 7 as PixelScaling } } }),
    'spec.mnist.scaling',
  ],
  [
    'subspace larger than the space',
    spec({
      source: {
        $case: 'subspace',
        value: { ambientDimension: 3, subspaceDimension: 4, trainSize: 5, testSize: 5 },
      },
    }),
    'spec.subspace.subspaceDimension',
  ],
  [
    'stripes need a frequency',
    spec({
      source: {
        $case: 'subspace',
        value: {
          ambientDimension: 3,
          subspaceDimension: 1,
          trainSize: 5,
          testSize: 5,
          label: SubspaceLabel.SUBSPACE_LABEL_STRIPES,
        },
      },
    }),
    'spec.subspace.stripeFrequency',
  ],
  [
    'parity larger than the bits',
    spec({
      source: { $case: 'sparseParity', value: { numBits: 4, paritySize: 5, trainSize: 5, testSize: 5 } },
    }),
    'spec.sparseParity.paritySize',
  ],
  [
    'hidden coordinate out of range',
    spec({
      source: {
        $case: 'sparseParity',
        value: { numBits: 4, paritySize: 2, hiddenCoordinates: [1, 4], trainSize: 5, testSize: 5 },
      },
    }),
    'spec.sparseParity.hiddenCoordinates[1]',
  ],
  [
    'online with a train size',
    spec({
      source: {
        $case: 'sparseParity',
        value: { numBits: 4, paritySize: 2, trainSize: 5, testSize: 5, online: true },
      },
    }),
    'spec.sparseParity.trainSize',
  ],
  [
    'label noise above 1',
    g({}, [{ kind: { $case: 'labelNoise', value: { fraction: 1.5 } } }]),
    'spec.corruptions[0].labelNoise.fraction',
  ],
  [
    'unknown split selection',
    g({}, [{ kind: { $case: 'inputNoise', value: { sigma: 1, splits: 9 as SplitSelection } } }]),
    'spec.corruptions[0].inputNoise.splits',
  ],
  ['empty corruption', g({}, [{}]), 'spec.corruptions[0]'],
  [
    'subsample larger than the split',
    g({}, [{ kind: { $case: 'subsample', value: { size: 101 } } }]),
    'spec.corruptions[0].subsample.size',
    /100 examples/,
  ],
  [
    'subsample after a subsample',
    g({}, [
      { kind: { $case: 'subsample', value: { size: 50 } } },
      { kind: { $case: 'subsample', value: { size: 60 } } },
    ]),
    'spec.corruptions[1].subsample.size',
  ],
  [
    'class-balanced subset larger than the smallest MNIST class',
    mnist([
      {
        kind: {
          $case: 'classBalanced',
          value: { perClass: 900, splits: SplitSelection.SPLIT_SELECTION_TEST },
        },
      },
    ]),
    'spec.corruptions[0].classBalanced.perClass',
    /class 5 has only 892/,
  ],
  [
    'replace one on all of MNIST (no held-out pool)',
    mnist([{ kind: { $case: 'replaceOne', value: { index: 3 } } }]),
    'spec.corruptions[0].replaceOne',
  ],
  [
    'replace one after label noise',
    mnist([
      { kind: { $case: 'subsample', value: { size: 100 } } },
      { kind: { $case: 'labelNoise', value: { fraction: 0.1 } } },
      { kind: { $case: 'replaceOne', value: { index: 3 } } },
    ]),
    'spec.corruptions[2].replaceOne',
  ],
  [
    'replace one index out of range',
    g({}, [{ kind: { $case: 'replaceOne', value: { index: 100 } } }]),
    'spec.corruptions[0].replaceOne.index',
  ],
  [
    'rotation of non-images',
    g({}, [
      { kind: { $case: 'covariateShift', value: { kind: ShiftKind.SHIFT_KIND_ROTATION, severity: 10 } } },
    ]),
    'spec.corruptions[0].covariateShift.kind',
  ],
  [
    'shift kind unset',
    g({}, [{ kind: { $case: 'covariateShift', value: { severity: 1 } } }]),
    'spec.corruptions[0].covariateShift.kind',
  ],
  [
    'class skew of an unknown class',
    g({}, [
      {
        kind: {
          $case: 'covariateShift',
          value: { kind: ShiftKind.SHIFT_KIND_CLASS_SKEW, severity: 1, classes: [0, 3] },
        },
      },
    ]),
    'spec.corruptions[0].covariateShift.classes[1]',
  ],
  [
    'pixel shuffle of an online train split',
    spec({
      source: { $case: 'sparseParity', value: { numBits: 4, paritySize: 2, testSize: 5, online: true } },
      corruptions: [{ kind: { $case: 'shufflePixels', value: {} } }],
    }),
    'spec.corruptions[0].shufflePixels.splits',
  ],
  [
    'over the size limit',
    g({ dimension: 100_000, trainSize: 100_000 }),
    'spec.gaussianMixture',
    /GENGAP_MAX_DATASET_BYTES/,
  ],
  [
    'tabular without a table',
    spec({ source: { $case: 'tabular', value: { targetColumn: 'a' } } }),
    'spec.tabular.table',
  ],
  [
    'unknown builtin table',
    spec({
      source: { $case: 'tabular', value: { table: { $case: 'builtin', value: 'iris' }, targetColumn: 'a' } },
    }),
    'spec.tabular.builtin',
  ],
  [
    'unknown target column',
    spec({
      source: {
        $case: 'tabular',
        value: { table: { $case: 'builtin', value: 'cps_wages_1985' }, targetColumn: 'salary' },
      },
    }),
    'spec.tabular.targetColumn',
    /"wage"/,
  ],
  [
    'CSV with a ragged row',
    spec({
      source: {
        $case: 'tabular',
        value: { table: { $case: 'csvText', value: 'a,b\n1,2\n3\n4,5\n' }, targetColumn: 'b' },
      },
    }),
    'spec.tabular.csvText',
    /line 3: expected 2 fields/,
  ],
  [
    'CSV with an unterminated quote',
    spec({
      source: {
        $case: 'tabular',
        value: { table: { $case: 'csvText', value: 'a,b\n1,2\n"3,4\n5,6\n' }, targetColumn: 'b' },
      },
    }),
    'spec.tabular.csvText',
    /line 3: quoted field is never closed/,
  ],
  [
    'CSV over the size limit',
    spec({
      source: {
        $case: 'tabular',
        value: { table: { $case: 'csvText', value: `a,b\n${'1,2\n'.repeat(400)}` }, targetColumn: 'b' },
      },
    }),
    'spec.tabular.csvText',
    /GENGAP_MAX_CSV_BYTES/,
  ],
  [
    'dropping an unknown column',
    spec({
      source: {
        $case: 'tabular',
        value: {
          table: { $case: 'builtin', value: 'boston_house_prices' },
          targetColumn: 'medv',
          dropColumns: ['crim', 'nope'],
        },
      },
    }),
    'spec.tabular.dropColumns[1]',
  ],
  [
    'test fraction of 1',
    spec({
      source: {
        $case: 'tabular',
        value: {
          table: { $case: 'builtin', value: 'boston_house_prices' },
          targetColumn: 'medv',
          testFraction: 1,
        },
      },
    }),
    'spec.tabular.testFraction',
  ],
];

describe('spec validation', () => {
  before(async () => {
    svc = await startService({ limits: { maxDatasetBytes: 256 * 1024 * 1024, maxCsvBytes: 1024 } });
  });
  after(() => svc.close());

  for (const [name, s, field, message] of bad) {
    test(`refused: ${name} (${field})`, async () => {
      for (const method of ['validateDatasetSpec', 'createDataset'] as const) {
        const call =
          method === 'createDataset'
            ? callUnary(svc.client, svc.client.createDataset, { spec: s, idempotencyKey: '' })
            : callUnary(svc.client, svc.client.validateDatasetSpec, { spec: s });
        const err = await expectError(call);
        assert.equal(err.code, status.INVALID_ARGUMENT, `${method}: ${err.details}`);
        assert.equal(err.field, field, `${method}: ${err.details}`);
        assert.ok(err.details.startsWith(`${field}: `), err.details);
        if (message) assert.match(err.details, message);
      }
    });
  }

  test('nothing is written for a rejected spec', async () => {
    const { datasets } = await callUnary(svc.client, svc.client.listDatasets, {});
    assert.equal(datasets.length, 0);
    const dir = join(svc.stateDir, 'datasets');
    assert.ok(!existsSync(dir) || readdirSync(dir).length === 0);
    const jobs = svc.store.list({ kind: 'dataset' }).jobs;
    assert.equal(jobs.length, 0);
  });

  test('defaults and their explicit values give the same canonical spec and id', async () => {
    const validate = (s: DatasetSpec) => callUnary(svc.client, svc.client.validateDatasetSpec, { spec: s });
    const pairs: [DatasetSpec, DatasetSpec][] = [
      [g({}), g({ clusterStd: 1 })],
      [
        spec({ source: { $case: 'mnist', value: {} } }),
        spec({ source: { $case: 'mnist', value: { scaling: PixelScaling.PIXEL_SCALING_UNIT } } }),
      ],
      [
        g({}, [{ kind: { $case: 'labelNoise', value: { fraction: 0.2 } } }]),
        g({}, [
          {
            kind: {
              $case: 'labelNoise',
              value: { fraction: 0.2, splits: SplitSelection.SPLIT_SELECTION_TRAIN },
            },
          },
        ]),
      ],
      [
        g({}, [
          {
            kind: {
              $case: 'covariateShift',
              value: { kind: ShiftKind.SHIFT_KIND_CLASS_SKEW, severity: 0.5 },
            },
          },
        ]),
        g({}, [
          {
            kind: {
              $case: 'covariateShift',
              value: {
                kind: ShiftKind.SHIFT_KIND_CLASS_SKEW,
                severity: 0.5,
                classes: [0],
                splits: SplitSelection.SPLIT_SELECTION_TEST,
              },
            },
          },
        ]),
      ],
      [
        spec({
          source: {
            $case: 'tabular',
            value: { table: { $case: 'builtin', value: 'boston_house_prices' }, targetColumn: 'medv' },
          },
        }),
        spec({
          source: {
            $case: 'tabular',
            value: {
              table: { $case: 'builtin', value: 'boston_house_prices' },
              targetColumn: 'medv',
              fieldWidth: 8,
              targetBins: 2,
              testFraction: 0.2,
            },
          },
        }),
      ],
    ];
    for (const [a, b] of pairs) {
      const [ra, rb] = await Promise.all([validate(a), validate(b)]);
      assert.equal(ra.datasetId, rb.datasetId);
      assert.equal(ra.canonicalSpecJson, rb.canonicalSpecJson);
      assert.match(ra.datasetId, /^[0-9a-f]{32}$/);
    }
    // Parity's hidden subset drawn by the seed is written into the canonical spec, so giving the
    // same subset explicitly names the same dataset.
    const drawn = await validate(
      spec({
        source: { $case: 'sparseParity', value: { numBits: 30, paritySize: 3, trainSize: 10, testSize: 10 } },
        seed: 3,
      }),
    );
    const coordinates = (
      JSON.parse(drawn.canonicalSpecJson) as { sparseParity: { hiddenCoordinates: number[] } }
    ).sparseParity.hiddenCoordinates;
    assert.equal(coordinates.length, 3);
    const explicit = await validate(
      spec({
        source: {
          $case: 'sparseParity',
          value: {
            numBits: 30,
            paritySize: 3,
            trainSize: 10,
            testSize: 10,
            hiddenCoordinates: [...coordinates].reverse(),
          },
        },
        seed: 3,
      }),
    );
    assert.equal(explicit.datasetId, drawn.datasetId);
    // And a different seed or any field changes the id.
    const other = await validate(g({ separation: 2.5 }));
    assert.notEqual(other.datasetId, (await validate(g({}))).datasetId);
  });

  test('the canonical spec is a fixed point', async () => {
    const first = await callUnary(svc.client, svc.client.validateDatasetSpec, {
      spec: g({}, [
        { kind: { $case: 'covariateShift', value: { kind: ShiftKind.SHIFT_KIND_NOISE, severity: 0.5 } } },
      ]),
    });
    const { DatasetSpec } = await import('@gengap/proto/data/v1/dataset');
    const again = await callUnary(svc.client, svc.client.validateDatasetSpec, {
      spec: DatasetSpec.fromJSON(JSON.parse(first.canonicalSpecJson)),
    });
    assert.equal(again.canonicalSpecJson, first.canonicalSpecJson);
    assert.equal(again.datasetId, first.datasetId);
  });
});
