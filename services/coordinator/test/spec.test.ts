// The experiment spec: parsing (YAML and JSON), validation errors that name the field path, sweep
// expansion (grid, zip, products of sweeps), cell labels and parameters, ids from the resolved
// spec, and the committed JSON Schema being current.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { ExperimentSpec } from '@gengap/proto/coordinator/v1/experiment';
import { InvalidArgumentError } from '@gengap/service-kit';
import { stringify } from 'yaml';
import { experimentJsonSchemaText, jsonSchemaPath } from '../src/spec/json-schema.ts';
import { parseSpecText, sourceFromJson } from '../src/spec/parse.ts';
import { resolveExperiment, resolveSpecMessage } from '../src/spec/resolve.ts';
import type { ExperimentSpecJson } from '../src/spec/schema/experiment.ts';

function baseSpec(): ExperimentSpecJson {
  return {
    name: 'tiny',
    base: {
      dataset: {
        gaussianMixture: { numClasses: 2, dimension: 4, trainSize: 64, testSize: 32, separation: 3 },
      },
      run: {
        model: {
          inputShape: [4],
          numOutputs: 2,
          layers: [
            { dense: { units: 8 } },
            { activation: { activation: 'ACTIVATION_RELU' } },
            { dense: { units: 2 } },
          ],
        },
        optimizer: { kind: 'OPTIMIZER_KIND_SGD', learningRate: 0.1 },
        stop: { maxEpochs: 3 },
      },
    },
  };
}

function resolve(spec: unknown) {
  return resolveExperiment(sourceFromJson(spec));
}

/** The InvalidArgumentError a spec is rejected with. */
function rejection(spec: unknown): InvalidArgumentError {
  try {
    typeof spec === 'string' ? resolveExperiment(parseSpecText(spec)) : resolve(spec);
  } catch (err) {
    assert.ok(err instanceof InvalidArgumentError, `expected InvalidArgumentError, got ${String(err)}`);
    return err;
  }
  assert.fail('spec was accepted');
}

describe('spec resolution', () => {
  test('a spec without sweeps is one cell per seed, seeds default to [0]', () => {
    const one = resolve(baseSpec());
    assert.equal(one.cells.length, 1);
    assert.equal(one.cells[0]?.seed, 0);
    assert.equal(one.cells[0]?.run.seed, 0);
    assert.equal(one.spec.schemaVersion, 1);
    assert.deepEqual(one.spec.seeds, [0]);
    const three = resolve({ ...baseSpec(), seeds: [1, 2, '3'] });
    assert.deepEqual(
      three.cells.map((c) => c.run.seed),
      [1, 2, 3],
    );
  });

  test('grid sweeps multiply, zip sweeps advance together, sweeps combine as a product', () => {
    const spec: ExperimentSpecJson = {
      ...baseSpec(),
      sweeps: [
        {
          axes: [
            { path: 'run.optimizer.learningRate', values: [0.1, 0.01] },
            { path: 'run.batchSize', values: [8, 16, 32] },
          ],
        },
        {
          mode: 'SWEEP_MODE_ZIP',
          axes: [
            { path: 'label', name: 'corruption', values: ['clean', 'noisy'] },
            { path: 'dataset.corruptions', values: [[], [{ labelNoise: { fraction: 0.5 } }]] },
          ],
        },
      ],
      seeds: [7, 8],
    };
    const r = resolve(spec);
    assert.equal(r.cells.length, 2 * 3 * 2 * 2);
    const first = r.cells[0];
    assert.ok(first);
    assert.equal(first.label, 'learningRate=0.1, batchSize=8, clean');
    assert.deepEqual(first.parameters, {
      learningRate: '0.1',
      batchSize: '8',
      corruption: '"clean"',
      corruptions: '[]',
    });
    const noisy = r.cells.find((c) => c.label.endsWith('noisy'));
    assert.equal(noisy?.dataset?.corruptions[0]?.kind?.$case, 'labelNoise');
    assert.equal(new Set(r.cells.map((c) => c.cellId)).size, r.cells.length, 'cell ids are unique');
    // The resolved spec writes defaults out: modes and axis names.
    assert.equal(r.spec.sweeps[0]?.mode, 1);
    assert.equal(r.spec.sweeps[0]?.axes[1]?.name, 'batchSize');
  });

  test('a sweep path can reach into lists and replace whole messages', () => {
    const spec = {
      ...baseSpec(),
      sweeps: [{ axes: [{ path: 'run.model.layers[0].dense.units', values: [4, 16] }] }],
    };
    const r = resolve(spec);
    const units = r.cells.map((c) => {
      const kind = c.run.model?.layers[0]?.kind;
      return kind?.$case === 'dense' ? kind.value.units : undefined;
    });
    assert.deepEqual(units, [4, 16]);
  });

  test('a null sweep value unsets a field or removes a list element', () => {
    const spec = baseSpec();
    spec.base.dataset = {
      ...spec.base.dataset,
      corruptions: [{ subsample: { size: 32 } }, { labelNoise: { fraction: 0 } }],
    };
    spec.sweeps = [
      {
        mode: 'SWEEP_MODE_ZIP',
        axes: [
          { path: 'dataset.corruptions[1].labelNoise.fraction', name: 'labelCorruption', values: [0, 1, 0] },
          { path: 'dataset.corruptions[2]', name: 'inputs', values: [null, null, { shufflePixels: {} }] },
        ],
      },
    ];
    const cells = resolve(spec).cells;
    assert.deepEqual(
      cells.map((c) => c.dataset?.corruptions.map((k) => k.kind?.$case)),
      [
        ['subsample', 'labelNoise'],
        ['subsample', 'labelNoise'],
        ['subsample', 'labelNoise', 'shufflePixels'],
      ],
    );
    assert.deepEqual(
      cells.map((c) => c.label),
      [
        'labelCorruption=0, inputs=none',
        'labelCorruption=1, inputs=none',
        'labelCorruption=0, inputs=shufflePixels',
      ],
    );
    assert.equal(cells[0]?.parameters.inputs, 'null');
  });

  test('the experiment id is the hash of the resolved spec: YAML, JSON, key order and written-out defaults agree', () => {
    const spec = baseSpec();
    const id = resolve(spec).experimentId;
    assert.match(id, /^[0-9a-f]{32}$/);
    assert.equal(resolveExperiment(parseSpecText(stringify(spec))).experimentId, id);
    assert.equal(resolveExperiment(parseSpecText(JSON.stringify(spec, null, 2))).experimentId, id);
    const reordered = JSON.parse(JSON.stringify({ base: spec.base, name: spec.name }));
    assert.equal(resolve(reordered).experimentId, id);
    assert.equal(
      resolve({ ...spec, schemaVersion: 1, seeds: [0], execution: { maxAttempts: 3 } }).experimentId,
      id,
    );
    assert.notEqual(resolve({ ...spec, seeds: [1] }).experimentId, id);
    // The message form (what gRPC clients send) resolves to the same id.
    assert.equal(resolveSpecMessage(ExperimentSpec.fromJSON(spec)).experimentId, id);
  });

  test('cell ids are stable across experiments that share a cell', () => {
    const a = resolve(baseSpec());
    const b = resolve({ ...baseSpec(), name: 'another name', seeds: [0, 1] });
    assert.equal(a.cells[0]?.cellId, b.cells[0]?.cellId);
  });

  test('every-k-epochs analyses make the run keep permanent checkpoints', () => {
    const r = resolve({
      ...baseSpec(),
      analyses: [
        { spec: { hessianEigen: { topK: 1 } }, timing: 'ANALYSIS_TIMING_EVERY_K_EPOCHS', everyEpochs: 4 },
        { spec: { generalizationGap: {} }, cellFilter: 'nothing-matches-this' },
      ],
    });
    assert.equal(r.cells[0]?.run.checkpoints?.keepEveryEpochs, 4);
    assert.deepEqual(r.cells[0]?.analyses, [0]);
  });
});

describe('invalid specs are rejected with the field path', () => {
  const cases: [string, (s: ExperimentSpecJson) => unknown, string, RegExp][] = [
    [
      'a negative learning rate',
      (s) => {
        s.base.run.optimizer.learningRate = -1;
        return s;
      },
      'base.run.optimizer.learningRate',
      /must be > 0/,
    ],
    [
      'a snake_case field name',
      (s) => ({ ...s, base: { ...s.base, run: { ...s.base.run, batch_size: 4 } } }),
      'base.run.batch_size',
      /did you mean "batchSize"/,
    ],
    [
      'a missing stop rule',
      (s) => {
        s.base.run.stop = {};
        return s;
      },
      'base.run.stop',
      /maxEpochs/,
    ],
    [
      'a missing model',
      (s) => ({ ...s, base: { ...s.base, run: { ...s.base.run, model: undefined } } }),
      'base.run.model',
      /required/,
    ],
    [
      'two sources in one dataset',
      (s) => {
        s.base.dataset = { ...s.base.dataset, mnist: {} };
        return s;
      },
      'base.dataset.gaussianMixture',
      /only one of/,
    ],
    [
      'a label-noise fraction above 1',
      (s) => {
        s.base.dataset = { ...s.base.dataset, corruptions: [{ labelNoise: { fraction: 1.5 } }] };
        return s;
      },
      'base.dataset.corruptions[0].labelNoise.fraction',
      /\[0, 1\]/,
    ],
    [
      'an unknown enum value',
      (s) => {
        s.base.run.optimizer.kind = 'OPTIMIZER_KIND_FANCY';
        return s;
      },
      'base.run.optimizer.kind',
      /must be one of/,
    ],
    [
      'a sweep value that breaks its cell',
      (s) => ({ ...s, sweeps: [{ axes: [{ path: 'run.optimizer.learningRate', values: [0.1, 0] }] }] }),
      'sweeps[0].axes[0].values[1]',
      /run\.optimizer\.learningRate: must be > 0/,
    ],
    [
      'a sweep path outside the cell',
      (s) => ({ ...s, sweeps: [{ axes: [{ path: 'seeds', values: [1] }] }] }),
      'sweeps[0].axes[0].path',
      /starts with/,
    ],
    [
      'a sweep path into an unknown field',
      (s) => ({ ...s, sweeps: [{ axes: [{ path: 'run.optimizer.learningrate', values: [1] }] }] }),
      'sweeps[0].axes[0].values[0]',
      /unknown field/,
    ],
    [
      'a zip sweep with unequal axes',
      (s) => ({
        ...s,
        sweeps: [
          {
            mode: 'SWEEP_MODE_ZIP',
            axes: [
              { path: 'run.batchSize', values: [1, 2] },
              { path: 'run.optimizer.learningRate', values: [0.1] },
            ],
          },
        ],
      }),
      'sweeps[0].axes[1].values',
      /advance together/,
    ],
    [
      'a sweep over run.seed',
      (s) => ({ ...s, sweeps: [{ axes: [{ path: 'run.seed', values: [1, 2] }] }] }),
      'sweeps[0].axes[0].path',
      /seeds/,
    ],
    [
      'two axes with the same name',
      (s) => ({
        ...s,
        sweeps: [
          { axes: [{ path: 'run.optimizer.learningRate', values: [0.1] }] },
          { axes: [{ path: 'run.schedule.minFactor', values: [0.1], name: 'learningRate' }] },
        ],
      }),
      'sweeps[1].axes[0].name',
      /already used/,
    ],
    ['a duplicated seed', (s) => ({ ...s, seeds: [1, 1] }), 'seeds[1]', /twice/],
    [
      'an analysis with a checkpoint set',
      (s) => ({ ...s, analyses: [{ spec: { generalizationGap: {}, checkpoint: { run: { runId: 'x' } } } }] }),
      'analyses[0].spec.checkpoint',
      /filled in per run/,
    ],
    [
      'an analysis without a kind',
      (s) => ({ ...s, analyses: [{ spec: { numExamples: 10 } }] }),
      'analyses[0].spec',
      /one of hessianEigen/,
    ],
    [
      'a bad cell filter',
      (s) => ({ ...s, analyses: [{ spec: { generalizationGap: {} }, cellFilter: '(' }] }),
      'analyses[0].cellFilter',
      /regular expression/,
    ],
    [
      'paired runs on an unknown axis',
      (s) => ({
        ...s,
        experimentAnalyses: [{ pairedRuns: { axis: 'batch', first: 1, second: 2, spec: { stability: {} } } }],
      }),
      'experimentAnalyses[0].pairedRuns.axis',
      /no sweep axis/,
    ],
    ['a future schema version', (s) => ({ ...s, schemaVersion: 2 }), 'schemaVersion', /schema version 1/],
  ];
  for (const [what, mutate, field, message] of cases) {
    test(what, () => {
      const err = rejection(mutate(baseSpec()));
      assert.equal(err.field, field, err.message);
      assert.match(err.message, message);
    });
  }

  test('errors in YAML text carry the line number', () => {
    const text = stringify({
      ...baseSpec(),
      base: { ...baseSpec().base, run: { ...baseSpec().base.run, optimizer: { learningRate: 0 } } },
    });
    const err = rejection(text);
    assert.equal(err.field, 'base.run.optimizer.learningRate');
    const line = text.split('\n').findIndex((l) => l.includes('learningRate')) + 1;
    assert.match(err.message, new RegExp(`\\(line ${line}\\)`));
  });

  test('text that is not YAML or JSON names specText and the position', () => {
    const err = rejection('base: {run: [1, 2}\n');
    assert.equal(err.field, 'specText');
    assert.match(err.message, /line 1/);
    assert.equal(rejection('- 1\n- 2\n').field, 'specText');
  });
});

test('the committed JSON Schema is current (regenerate with npm run schema:gen -w @gengap/coordinator-service)', () => {
  assert.equal(readFileSync(jsonSchemaPath, 'utf8'), experimentJsonSchemaText());
  const schema = JSON.parse(readFileSync(jsonSchemaPath, 'utf8'));
  assert.equal(schema.properties.base.properties.run.$ref, '#/$defs/RunSpec');
  assert.equal(schema.$defs.RunSpec.properties.optimizer.properties.learningRate.type, 'number');
});
