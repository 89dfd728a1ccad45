// Presets: every one of the mission's experiments is listed, and both sizes resolve to valid
// experiments; quick sizes stay small enough for a 2-core CPU; zhang2017 quick has the corruptions
// the demo's report needs; a preset with analyses that cannot run says so.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { PRESET_SIZES, presetSpec, presets } from '../src/presets/registry.ts';
import { sourceFromJson } from '../src/spec/parse.ts';
import { resolveExperiment } from '../src/spec/resolve.ts';

const expectedNames = [
  'zhang2017',
  'arpit2017',
  'keskar2017',
  'dinh2017',
  'hardt2016',
  'barrett2021',
  'granziol2022',
  'barak2022',
  'papernot2016',
  'badger-inversion',
  'badger-tabular',
  'erhan2010',
  'detectron',
];

test('the registry holds the thirteen presets of the issue', () => {
  assert.deepEqual(
    presets.map((p) => p.name),
    expectedNames,
  );
});

describe('every preset resolves in both sizes', () => {
  for (const preset of presets) {
    for (const size of PRESET_SIZES) {
      test(`${preset.name} ${size}`, () => {
        const { spec } = presetSpec(preset.name, size);
        const resolved = resolveExperiment(sourceFromJson(spec));
        assert.ok(resolved.cells.length >= 1);
        if (size === 'quick') {
          assert.ok(resolved.cells.length <= 12, `quick ${preset.name} has ${resolved.cells.length} cells`);
          // Quick runs use one intra-op thread each so two run side by side on two cores.
          for (const cell of resolved.cells) assert.equal(cell.run.threads, 1, cell.label);
        }
        assert.notEqual(
          resolved.experimentId,
          resolveExperiment(sourceFromJson(presetSpec(preset.name, size === 'quick' ? 'full' : 'quick').spec))
            .experimentId,
        );
      });
    }
  }
});

test('zhang2017 quick: true labels, label noise up to random labels, shuffled and random pixels, Gaussian inputs', () => {
  const { cells } = resolveExperiment(sourceFromJson(presetSpec('zhang2017', 'quick').spec));
  const kinds = cells.map((c) =>
    (c.dataset?.corruptions ?? [])
      .map((k) =>
        k.kind?.$case === 'labelNoise' ? `labelNoise ${k.kind.value.fraction}` : (k.kind?.$case ?? ''),
      )
      .filter((k) => k !== 'subsample'),
  );
  assert.deepEqual(kinds, [
    ['labelNoise 0'],
    ['labelNoise 0.2'],
    ['labelNoise 0.4'],
    ['labelNoise 0.6'],
    ['labelNoise 0.8'],
    ['labelNoise 1'],
    ['labelNoise 0', 'shufflePixels'],
    ['labelNoise 0', 'randomPixels'],
    ['labelNoise 0', 'gaussianInputs'],
  ]);
  for (const cell of cells) {
    assert.equal(cell.run.stop?.targetTrainAccuracy, 1, 'runs stop once they fit');
    assert.ok((cell.run.stop?.maxEpochs ?? 0) > 0, 'and have an epoch cap');
    assert.equal(
      JSON.parse(cell.parameters.labelCorruption ?? 'null') >= 0,
      true,
      'a numeric corruption axis',
    );
  }
});

test("erhan2010 and detectron run their papers' protocols: pre-training stages and disagreement classifiers", () => {
  const erhan = presets.find((p) => p.name === 'erhan2010');
  assert.doesNotMatch(erhan?.unsupported.join(' ') ?? '', /pretrainFinetune/);
  assert.deepEqual(presets.find((p) => p.name === 'detectron')?.unsupported, []);
  const { cells, spec } = resolveExperiment(sourceFromJson(presetSpec('erhan2010', 'quick').spec));
  assert.ok(cells.length >= 6, 'several seeds');
  for (const cell of cells) assert.equal(cell.parameters.init, '"scratch"', 'the from-scratch arm is named');
  assert.ok(spec.experimentAnalyses.some((a) => a.kind?.$case === 'pretrainFinetune'));
  const detectron = resolveExperiment(sourceFromJson(presetSpec('detectron', 'quick').spec));
  const shift = detectron.spec.experimentAnalyses[0]?.kind;
  assert.equal(shift?.$case, 'shiftDetection');
  if (shift?.$case === 'shiftDetection')
    assert.ok(
      1 / (shift.value.trials + 1) <= shift.value.significance,
      'enough trials to reject at its level',
    );
});

test('unknown presets and sizes are refused', () => {
  assert.throws(() => presetSpec('nope', 'quick'), /preset "nope" not found/);
  assert.throws(
    () => presetSpec('zhang2017', 'huge'),
    (err: Error & { field?: string }) => err.field === 'preset.size',
  );
  assert.equal(presetSpec('zhang2017', '').size, 'quick');
});
