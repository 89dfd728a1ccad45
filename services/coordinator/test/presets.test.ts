// Presets: every one of the mission's experiments is listed, and both sizes resolve to valid
// experiments; quick sizes stay small enough for a 2-core CPU; zhang2017 quick has the corruptions
// the demo's report needs; a preset with analyses that cannot run says so.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { SplitSelection, SubspaceLabel } from '@gengap/proto/data/v1/dataset';
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
  'badger-memorization',
  'manifold',
];

test('the registry holds a preset for every experiment family', () => {
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

test('badger-memorization quick: random labels at rising input noise and two training sizes, true labels as the control', () => {
  const preset = presets.find((p) => p.name === 'badger-memorization');
  assert.deepEqual(preset?.papers, ['B1']);
  const { cells, spec } = resolveExperiment(sourceFromJson(presetSpec('badger-memorization', 'quick').spec));
  const arms = new Map<string, number[]>();
  const sizes = new Set<number>();
  for (const cell of cells) {
    const corruptions = cell.dataset?.corruptions ?? [];
    const train = corruptions.find(
      (c) => c.kind?.$case === 'subsample' && c.kind.value.splits === SplitSelection.SPLIT_SELECTION_TRAIN,
    );
    const labels = corruptions.find((c) => c.kind?.$case === 'labelNoise');
    const noise = corruptions.find((c) => c.kind?.$case === 'inputNoise');
    assert.ok(train?.kind?.$case === 'subsample' && labels?.kind?.$case === 'labelNoise', cell.label);
    assert.ok(noise?.kind?.$case === 'inputNoise', cell.label);
    assert.equal(
      noise.kind.value.splits,
      SplitSelection.SPLIT_SELECTION_TRAIN,
      'noise on the training images only',
    );
    // The label names the arm; the swept numbers are the x axes of the report's time-to-fit charts.
    assert.equal(JSON.parse(cell.parameters.inputNoiseSigma ?? 'null'), noise.kind.value.sigma);
    assert.equal(JSON.parse(cell.parameters.trainSize ?? 'null'), train.kind.value.size);
    assert.ok(train.kind.value.size >= 256 && train.kind.value.size <= 1024, 'small subsets');
    sizes.add(train.kind.value.size);
    const arm = `${labels.kind.value.fraction === 1 ? 'random' : 'true'} ${train.kind.value.size}`;
    assert.equal(JSON.parse(cell.parameters.labels ?? 'null'), `${arm.split(' ')[0]} labels`);
    arms.set(arm, [...(arms.get(arm) ?? []), noise.kind.value.sigma]);
    assert.equal(cell.run.stop?.targetTrainAccuracy, 1, 'runs stop once they fit');
    assert.ok((cell.run.stop?.maxEpochs ?? 0) > 0, 'and have an epoch cap');
    assert.equal(cell.analyses.length, spec.analyses.length, 'every run gets the analyses');
  }
  assert.ok(sizes.size >= 2, 'a training-size sweep');
  for (const size of sizes) {
    const random = arms.get(`random ${size}`) ?? [];
    assert.ok(random.length >= 3 && random[0] === 0, `random labels at sigma 0 and above at ${size}`);
    assert.ok(arms.get(`true ${size}`)?.includes(0), `true labels (the control) at ${size}`);
  }
  assert.ok(
    spec.analyses.some((a) => a.spec?.kind?.$case === 'inputSensitivity'),
    'input-Jacobian norm at the end',
  );
});

test('manifold quick: subspace data with swept transverse noise, labels from the subspace coordinate; the Jacobian split along the stored basis', () => {
  const preset = presets.find((p) => p.name === 'manifold');
  assert.deepEqual(preset?.papers, ['M']);
  assert.deepEqual(preset?.unsupported, []);
  const { cells, spec } = resolveExperiment(sourceFromJson(presetSpec('manifold', 'quick').spec));
  const sigmas = new Set<number>();
  for (const cell of cells) {
    const source = cell.dataset?.source;
    assert.equal(source?.$case, 'subspace', cell.label);
    if (source?.$case !== 'subspace') continue;
    const s = source.value;
    assert.ok(s.subspaceDimension >= 1 && s.subspaceDimension < s.ambientDimension, 'a proper subspace');
    assert.notEqual(
      s.label,
      SubspaceLabel.SUBSPACE_LABEL_UNSPECIFIED,
      'labels from the subspace coordinates',
    );
    assert.equal(JSON.parse(cell.parameters.noiseSigma ?? 'null'), s.noiseSigma, 'a numeric noise axis');
    assert.equal(cell.run.model?.inputShape[0], s.ambientDimension);
    assert.ok(s.trainSize <= 1024, 'a small training set');
    sigmas.add(s.noiseSigma);
    assert.equal(cell.analyses.length, spec.analyses.length, 'every run gets the analyses');
  }
  assert.ok(sigmas.has(0) && sigmas.size >= 4, `noise from none upwards (${[...sigmas]})`);
  const kinds = spec.analyses.map((a) => a.spec?.kind?.$case);
  assert.ok(kinds.includes('inputSensitivity') && kinds.includes('generalizationGap'));
  for (const size of ['quick', 'full'] as const) {
    const analyses = resolveExperiment(sourceFromJson(presetSpec('manifold', size).spec)).spec.analyses;
    const sensitivity = analyses.find((a) => a.spec?.kind?.$case === 'inputSensitivity')?.spec?.kind;
    assert.equal(
      sensitivity?.$case === 'inputSensitivity' ? sensitivity.value.subspaceBasis : undefined,
      'basis',
      `${size}: the Jacobian is split along the subspace source's stored basis`,
    );
  }
});

test('unknown presets and sizes are refused', () => {
  assert.throws(() => presetSpec('nope', 'quick'), /preset "nope" not found/);
  assert.throws(
    () => presetSpec('zhang2017', 'huge'),
    (err: Error & { field?: string }) => err.field === 'preset.size',
  );
  assert.equal(presetSpec('zhang2017', '').size, 'quick');
});
