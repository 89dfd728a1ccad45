// buildReport from synthetic records: the files it writes, that the CSVs carry the input's numbers,
// that each SVG has marks, that charts follow the swept axes, and that every analysis kind is drawn.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { Analysis } from '@gengap/proto/analysis/v1/analysis';
import { JobState } from '@gengap/proto/common/v1/job';
import { ExperimentRun } from '@gengap/proto/coordinator/v1/experiment';
import { RunSummary } from '@gengap/proto/trainer/v1/run';
import { analysisChartRules } from '../src/reports/charts/analysis-sections.ts';
import { parseCsv } from '../src/reports/csv.ts';
import { buildReport } from '../src/reports/index.ts';
import type { ReportInput, RunRecord } from '../src/reports/report-input.ts';
import { compactLabel, sweptAxes } from '../src/reports/sweep-axes.ts';
import {
  expectedTestAccuracy,
  expectedTimeToFit,
  fractions,
  seeds,
  syntheticReportInput,
  withEveryAnalysisKind,
} from './report-synthetic-input.ts';

const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'gengap-report-'));
  dirs.push(dir);
  return dir;
}
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** CSV as objects keyed by header. */
function readCsv(path: string): Record<string, string>[] {
  const [header, ...rows] = parseCsv(readFileSync(path, 'utf8'));
  assert.ok(header, `${path} has a header`);
  return rows.map((r) => Object.fromEntries(header.map((h, i) => [h, r[i] ?? ''])));
}

function markCount(svg: string): number {
  return (svg.match(/<(path|circle|rect|line)\b/g) ?? []).length;
}

describe('buildReport on a label-noise sweep', async () => {
  const dir = tempDir();
  const input = syntheticReportInput();
  const out = await buildReport(input, dir);
  const html = readFileSync(out.htmlPath, 'utf8');

  test('writes the page, every chart as SVG + PNG + Vega-Lite + CSV, and report.json', () => {
    assert.equal(out.htmlPath, join(dir, 'index.html'));
    assert.deepEqual(out.problems, []);
    for (const id of [
      'learning-curves-accuracy',
      'learning-curves-loss',
      'train-loss-per-step',
      'time-to-fit-vs-fraction',
      'test-error-vs-fraction',
      'hessian-spectrum',
      'hessian-top-eigenvalue',
      'sharpness-sharpness',
      'density-density',
      'interpolation-loss',
      'interpolation-accuracy',
    ]) {
      for (const rel of [`charts/${id}.svg`, `charts/${id}.png`, `charts/${id}.vl.json`, `data/${id}.csv`]) {
        assert.ok(existsSync(join(dir, rel)), `${rel} written`);
        assert.ok(out.files.includes(join(dir, rel)), `${rel} listed in files`);
      }
      const svg = readFileSync(join(dir, `charts/${id}.svg`), 'utf8');
      assert.match(svg, /^<svg /);
      assert.ok(markCount(svg) > 10, `${id}.svg has marks`);
      assert.ok(html.includes(`id="chart-${id}"`), `${id} embedded in the page`);
      assert.ok(html.includes(`href="charts/${id}.png"`), `${id}.png linked from the page`);
    }
    for (const rel of [
      'data/runs.csv',
      'data/cells.csv',
      'data/datasets.csv',
      'data/epochs.csv',
      'data/steps.csv',
      'report.json',
    ])
      assert.ok(existsSync(join(dir, rel)), `${rel} written`);
    assert.equal(readdirSync(join(dir, 'datasets')).length, fractions.length, 'one sample grid per dataset');
  });

  test('the run table carries every run summary number', () => {
    const rows = readCsv(join(dir, 'data/runs.csv'));
    assert.equal(rows.length, fractions.length * seeds.length);
    for (const record of input.runs) {
      const row = rows.find((r) => r.run === record.run.cellId);
      assert.ok(row, `row for ${record.run.cellId}`);
      const s = record.run.summary!;
      assert.equal(Number(row.fraction), JSON.parse(record.run.parameters.fraction!));
      assert.equal(Number(row.seed), record.run.seed);
      assert.equal(Number(row.final_train_accuracy), s.finalTrainAccuracy);
      assert.equal(Number(row.final_test_accuracy), s.finalTestAccuracy);
      assert.equal(Number(row.final_train_loss), s.finalTrainLoss);
      assert.equal(Number(row.final_test_loss), s.finalTestLoss);
      assert.equal(Number(row.time_to_fit_epoch), s.timeToFit!.epoch);
      assert.equal(row.status, 'succeeded');
    }
  });

  test('time to fit and test error are plotted against the corruption fraction', () => {
    const ttf = readCsv(join(dir, 'data/time-to-fit-vs-fraction.csv'));
    assert.equal(ttf.length, input.runs.length);
    for (const row of ttf)
      assert.equal(Number(row.time_to_fit_epoch), expectedTimeToFit(Number(row.x), Number(row.seed)));
    const spec = JSON.parse(readFileSync(join(dir, 'charts/time-to-fit-vs-fraction.vl.json'), 'utf8'));
    assert.equal(spec.data.values.length, input.runs.length, 'the spec carries its data inline');
    assert.equal(spec.layer[1].encoding.x.field, 'x');
    assert.equal(spec.layer[1].encoding.x.type, 'quantitative', 'a numeric swept axis is the x axis');

    const err = readCsv(join(dir, 'data/test-error-vs-fraction.csv'));
    const test = err.filter((r) => r.split === 'test');
    const train = err.filter((r) => r.split === 'train');
    assert.equal(test.length, input.runs.length);
    for (const row of test)
      assert.ok(
        Math.abs(Number(row.error) - (1 - expectedTestAccuracy(Number(row.x), Number(row.seed)))) < 1e-12,
      );
    for (const row of train) assert.equal(Number(row.error), 0, 'every run fits its training set');
    // Random labels: test error at chance (0.9 with 10 classes), with a chance rule drawn.
    const random = test.filter((r) => Number(r.x) === 1).map((r) => Number(r.error));
    assert.ok(random.every((e) => Math.abs(e - 0.9) < 0.01));
    const errSpec = JSON.parse(readFileSync(join(dir, 'charts/test-error-vs-fraction.vl.json'), 'utf8'));
    assert.ok(
      errSpec.layer.some((l: { mark: { type: string } }) => l.mark.type === 'rule'),
      'chance rule',
    );
  });

  test('learning curves are coloured by the swept field and hold every evaluation', () => {
    const spec = JSON.parse(readFileSync(join(dir, 'charts/learning-curves-accuracy.vl.json'), 'utf8'));
    assert.equal(spec.spec.encoding.color.title, 'fraction');
    assert.deepEqual(spec.spec.encoding.color.scale.domain, fractions);
    const epochs = readCsv(join(dir, 'data/epochs.csv'));
    assert.equal(
      epochs.length,
      input.runs.reduce((n, r) => n + r.epochs.length, 0),
    );
    const first = input.runs[0]!.epochs[0]!;
    const row = epochs.find((r) => r.run === input.runs[0]!.run.cellId && Number(r.epoch) === first.epoch);
    assert.equal(Number(row?.trainLoss), first.trainLoss);
  });

  test('the page is self-contained and shows the notes', () => {
    assert.ok(!/<script\b/i.test(html), 'no scripts');
    assert.ok(!/(src|href)="https?:/i.test(html), 'nothing fetched from elsewhere');
    assert.match(html, /critical_sample_ratio.*not implemented yet/);
    assert.match(html, /<img src="datasets\//);
    // Vega's clip-path ids are scoped per chart, so inline SVGs do not cross-reference.
    const ids = [...html.matchAll(/\sid="([^"]+)"/g)].map((m) => m[1]);
    assert.equal(new Set(ids).size, ids.length, 'ids are unique within the page');
  });

  test('report.json holds the experiment, the runs and the analyses', () => {
    const json = JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8'));
    assert.equal(json.experiment.experimentId, input.experiment.experimentId);
    assert.equal(json.runs.length, input.runs.length);
    assert.equal(json.analyses.length, input.analyses.length);
    assert.deepEqual(json.axes, [{ name: 'fraction', kind: 'numeric', values: fractions }]);
  });
});

describe('buildReport with every analysis kind', async () => {
  const dir = tempDir();
  const input = withEveryAnalysisKind(syntheticReportInput());
  const out = await buildReport(input, dir);
  const html = readFileSync(out.htmlPath, 'utf8');

  test('draws every result kind without problems', () => {
    assert.deepEqual(out.problems, []);
    const kinds = new Set(input.analyses.map((a) => a.result?.kind?.$case).filter(Boolean));
    assert.deepEqual(
      [...kinds].sort(),
      Object.keys(analysisChartRules).sort(),
      'the fixture covers every kind',
    );
    for (const [kind, rule] of Object.entries(analysisChartRules))
      assert.ok(html.includes(`<h2>${rule.title}`), `a section for ${kind}`);
  });

  test('input sensitivity without a subspace basis draws no along/transverse chart', () => {
    assert.ok(!readdirSync(join(dir, 'data')).some((f) => f.includes('jacobian-split')));
  });

  test('analyses measured during training are drawn against the checkpoint step', () => {
    const rows = readCsv(join(dir, 'data/sharpness-during-training-sharpness.csv'));
    assert.deepEqual([...new Set(rows.map((r) => r.checkpoint_step))].sort(), ['100', '200', '300']);
  });

  test('shows artifacts, service plots and analyses without results', () => {
    assert.ok(
      readdirSync(join(dir, 'analyses')).some((f) => f.endsWith('.png')),
      'inversion grid written',
    );
    assert.match(html, /A service chart/);
    assert.match(html, /Lanczos did not converge/);
    const status = readCsv(join(dir, 'data/analysis-status.csv'));
    assert.deepEqual(
      status.map((r) => r.state),
      ['failed'],
    );
  });

  test('the trajectory scatter carries each run statistic', () => {
    const rows = readCsv(join(dir, 'data/trajectory-hurst_rescaled_range-vs-gap.csv'));
    const traj = input.analyses.find((a) => a.analysisId === 'x-traj')!.result!.kind;
    assert.equal(traj?.$case, 'trajectory');
    if (traj?.$case !== 'trajectory') return;
    assert.deepEqual(
      rows.map((r) => Number(r.hurst_rescaled_range)),
      traj.value.runs.map((r) => r.hurstRescaledRange),
    );
  });
});

function runWith(parameters: Record<string, unknown>, i: number, fitted: boolean): RunRecord {
  const run = ExperimentRun.fromPartial({
    cellId: `c${i}`,
    runId: `r${i}`,
    parameters: Object.fromEntries(Object.entries(parameters).map(([k, v]) => [k, JSON.stringify(v)])),
    status: { state: JobState.JOB_STATE_SUCCEEDED },
    summary: RunSummary.fromPartial({
      epochs: 10,
      finalTrainAccuracy: fitted ? 1 : 0.6,
      finalTestAccuracy: 0.5,
      timeToFit: fitted ? { reached: true, epoch: 5 + i, step: 50, wallSeconds: 1 } : undefined,
    }),
  });
  return {
    run,
    epochs: [
      {
        step: 10,
        epoch: 1,
        trainLoss: 1,
        trainAccuracy: 0.5,
        testLoss: 1,
        testAccuracy: 0.4,
        parameterNorm: 1,
        wallSeconds: 1,
        fullGradientNormSquared: 0,
      },
    ],
    steps: [],
    timeToFit: run.summary?.timeToFit,
  };
}

function inputOf(runs: RunRecord[]): ReportInput {
  const base = syntheticReportInput();
  return {
    ...base,
    experiment: { ...base.experiment, spec: undefined, runs: runs.map((r) => r.run), experimentAnalyses: [] },
    runs,
    analyses: [],
    datasets: [],
    notes: [],
  };
}

describe('charts follow the swept axes of any experiment', () => {
  test('categorical sweeps (Zhang et al. input variants) become bars per category', async () => {
    const variants = [
      [],
      [{ shufflePixels: {} }],
      [{ randomPixels: {} }],
      [{ gaussianInputs: {} }],
      [{ labelNoise: { fraction: 1 } }],
    ];
    const runs = variants.map((v, i) => runWith({ corruption: v, dropout: i % 2 === 0 }, i, i !== 3));
    const dir = tempDir();
    const out = await buildReport(inputOf(runs), dir);
    assert.deepEqual(out.problems, []);
    const spec = JSON.parse(readFileSync(join(dir, 'charts/time-to-fit-vs-corruption.vl.json'), 'utf8'));
    assert.equal(spec.layer[0].mark.type, 'bar');
    assert.equal(spec.layer[1].encoding.x.type, 'nominal');
    assert.deepEqual(spec.layer[1].encoding.x.sort, [
      'none',
      'shufflePixels',
      'randomPixels',
      'gaussianInputs',
      'labelNoise',
    ]);
    assert.equal(spec.layer[1].encoding.color.field, 'group', 'the other categorical axis colours');
    const rows = readCsv(join(dir, 'data/time-to-fit-vs-corruption.csv'));
    const unfitted = rows.find((r) => r.x === 'gaussianInputs');
    assert.equal(unfitted?.fitted, 'false');
    assert.equal(unfitted?.time_to_fit_epoch, '');
    assert.equal(unfitted?.fit_or_censored_epoch, '10', 'drawn at the last epoch trained');
  });

  test('the zhang2017 zip sweep: label noise on x, input corruptions as colour, and every cell side by side', async () => {
    const cells: [number, unknown][] = [
      [0, null],
      [0.2, null],
      [0.5, null],
      [1, null],
      [0, { shufflePixels: {} }],
      [0, { randomPixels: {} }],
      [0, { gaussianInputs: {} }],
    ];
    const runs = cells.map(([labelCorruption, inputs], i) => runWith({ labelCorruption, inputs }, i, true));
    const dir = tempDir();
    const out = await buildReport(inputOf(runs), dir);
    assert.deepEqual(out.problems, []);
    const spec = JSON.parse(readFileSync(join(dir, 'charts/time-to-fit-vs-labelcorruption.vl.json'), 'utf8'));
    assert.equal(spec.layer[1].encoding.x.title, 'labelCorruption');
    assert.equal(spec.layer[1].encoding.color.title, 'inputs');
    const byCell = readCsv(join(dir, 'data/time-to-fit-vs-cell.csv'));
    assert.deepEqual(
      byCell.map((r) => r.x),
      [
        'labelCorruption=0',
        'labelCorruption=0.2',
        'labelCorruption=0.5',
        'labelCorruption=1',
        'labelCorruption=0, shufflePixels',
        'labelCorruption=0, randomPixels',
        'labelCorruption=0, gaussianInputs',
      ],
    );
    assert.ok(existsSync(join(dir, 'charts/test-error-vs-cell.svg')));
  });

  test('two numeric axes (learning rate x batch size) each get their own x axis', async () => {
    const runs: RunRecord[] = [];
    let i = 0;
    for (const lr of [0.01, 0.1])
      for (const batch of [32, 1024]) runs.push(runWith({ learningRate: lr, batchSize: batch }, i++, true));
    const dir = tempDir();
    await buildReport(inputOf(runs), dir);
    for (const name of ['learningRate', 'batchSize']) {
      assert.ok(existsSync(join(dir, `charts/time-to-fit-vs-${name.toLowerCase()}.svg`)), name);
      assert.ok(existsSync(join(dir, `charts/test-error-vs-${name.toLowerCase()}.svg`)), name);
    }
  });

  test('a single run without sweeps still gets its curves and table', async () => {
    const dir = tempDir();
    const out = await buildReport(inputOf([runWith({}, 0, true)]), dir);
    assert.ok(existsSync(join(dir, 'charts/learning-curves-accuracy.svg')));
    assert.ok(!existsSync(join(dir, 'data/cells.csv')));
    assert.ok(!readFileSync(out.htmlPath, 'utf8').includes('Outcome against'), 'no sweep section');
  });

  test('an experiment cancelled before any run trained still gets a page', async () => {
    const runs = [0, 1].map((i) => {
      const r = runWith({ fraction: i }, i, false);
      r.run.summary = undefined;
      r.run.status = { state: JobState.JOB_STATE_CANCELLED, progress: 0, phase: '', attempt: 1 };
      return { ...r, epochs: [], timeToFit: undefined };
    });
    const dir = tempDir();
    const out = await buildReport(inputOf(runs), dir);
    assert.deepEqual(out.problems, []);
    const html = readFileSync(out.htmlPath, 'utf8');
    assert.match(html, /2 \(2 cancelled\)/);
    assert.ok(!html.includes('<figure class="chart"'), 'no charts without data');
  });

  test('a manifold sweep: input-Jacobian along vs transverse means against the noise sigma, stripes as colour', async () => {
    const sigmas = [0, 0.1, 0.5, 1];
    const runs: RunRecord[] = [];
    const analyses: Analysis[] = [];
    let i = 0;
    for (const stripeFrequency of [0.25, 1])
      for (const noiseSigma of sigmas) {
        const r = runWith({ noiseSigma, stripeFrequency }, i, true);
        const id = `sens-${i++}`;
        // Along grows with the stripe frequency; transverse with the noise (made-up, distinct numbers).
        const along = 2 * stripeFrequency + noiseSigma / 10;
        const transverse = 0.3 + 3 * noiseSigma;
        r.run.analyses.push({
          name: 'inputSensitivity',
          analysisId: id,
          status: { state: JobState.JOB_STATE_SUCCEEDED, progress: 1, phase: '', attempt: 1 },
          summaryJson: '',
        });
        analyses.push(
          Analysis.fromPartial({
            analysisId: id,
            spec: { kind: { $case: 'inputSensitivity', value: { numBins: 0, subspaceBasis: 'basis' } } },
            status: { state: JobState.JOB_STATE_SUCCEEDED },
            result: {
              kind: {
                $case: 'inputSensitivity',
                value: {
                  lossGradientNorms: [0.1, 0.2],
                  jacobianNorms: [Math.hypot(along, transverse)],
                  meanJacobianNorm: Math.hypot(along, transverse),
                  alongJacobianNorms: [along],
                  transverseJacobianNorms: [transverse],
                  meanAlongJacobianNorm: along,
                  meanTransverseJacobianNorm: transverse,
                },
              },
            },
          }),
        );
        runs.push(r);
      }
    const dir = tempDir();
    const out = await buildReport({ ...inputOf(runs), analyses }, dir);
    assert.deepEqual(out.problems, []);
    const rows = readCsv(join(dir, 'data/inputsensitivity-jacobian-split.csv'));
    assert.equal(rows.length, 2 * runs.length, 'one row per run and part');
    for (const row of rows) {
      const sigma = Number(row.x);
      const stripes = Number(row.stripeFrequency);
      assert.equal(row.group, String(stripes));
      const expected = row.part === 'along' ? 2 * stripes + sigma / 10 : 0.3 + 3 * sigma;
      assert.equal(Number(row.mean_jacobian_norm), expected, `${row.part} at sigma ${sigma}`);
    }
    assert.deepEqual([...new Set(rows.map((r) => r.part))], ['along', 'transverse']);
    const svg = readFileSync(join(dir, 'charts/inputsensitivity-jacobian-split.svg'), 'utf8');
    assert.match(svg, /Input-Jacobian along and across the subspace vs noiseSigma/);
    assert.ok(markCount(svg) >= 2 * runs.length, 'a point per run and part');
    const table = readCsv(join(dir, 'data/inputsensitivity-sensitivity.csv'));
    assert.ok(
      table.every((r) => r.mean_along_jacobian_norm !== '' && r.mean_transverse_jacobian_norm !== ''),
    );
  });

  test('text from the experiment is escaped', async () => {
    const runs = [runWith({ tag: '<script>alert(1)</script>' }, 0, true), runWith({ tag: 'b&c' }, 1, true)];
    const input = inputOf(runs);
    input.notes = ['<img src=x onerror=alert(1)>'];
    const dir = tempDir();
    const out = await buildReport(input, dir);
    const html = readFileSync(out.htmlPath, 'utf8');
    assert.ok(!html.includes('<script>alert'));
    assert.ok(!html.includes('<img src=x'));
    assert.ok(html.includes('&lt;img src=x onerror=alert(1)&gt;'));
  });
});

describe('swept axes', () => {
  test('classify numbers as numeric and everything else as categorical; constant axes drop out', () => {
    const runs = [
      { fraction: '0', model: '{"mlp":{"hidden":[512]}}', opt: '"sgd"', wd: '0' },
      { fraction: '0.5', model: '{"mlp":{"hidden":[512]}}', opt: '"adam"', wd: '0' },
      { fraction: '1', model: '{"conv":{}}', opt: '"sgd"', wd: '0' },
    ].map((parameters) => ExperimentRun.fromPartial({ parameters }));
    const axes = sweptAxes(runs).map(({ name, kind, values }) => ({ name, kind, values }));
    assert.deepEqual(axes, [
      { name: 'fraction', kind: 'numeric', values: [0, 0.5, 1] },
      { name: 'model', kind: 'categorical', values: ['mlp', 'conv'] },
      { name: 'opt', kind: 'categorical', values: ['sgd', 'adam'] },
    ]);
  });

  test('a message axis zipped with a label axis gives way to the label; long labels stay distinct', () => {
    const long = (n: number) =>
      JSON.stringify({ layers: Array.from({ length: 20 }, () => ({ dense: { units: n } })) });
    const runs = [
      { model: '"MLP 1x512"', architecture: long(512), lr: '0.1' },
      { model: '"MLP 3x512"', architecture: long(513), lr: '0.1' },
      { model: '"MLP 1x512"', architecture: long(512), lr: '0.01' },
    ].map((parameters) => ExperimentRun.fromPartial({ parameters }));
    assert.deepEqual(
      sweptAxes(runs).map((a) => a.name),
      ['model', 'lr'],
    );
    const alone = sweptAxes(
      runs.map((r) =>
        ExperimentRun.fromPartial({ parameters: { architecture: r.parameters.architecture! } }),
      ),
    );
    const labels = alone[0]!.values as string[];
    assert.equal(new Set(labels).size, 2);
    assert.ok(
      labels.every((l) => l.length <= 52),
      'long message labels are shortened',
    );
  });

  test('messages that differ only in kind are labelled by their field names', () => {
    const both = '"SPLIT_SELECTION_BOTH"';
    const kinds = ['null', `{"shufflePixels":{"splits":${both}}}`, `{"randomPixels":{"splits":${both}}}`];
    const runs = kinds.map((inputs) => ExperimentRun.fromPartial({ parameters: { inputs } }));
    assert.deepEqual(sweptAxes(runs)[0]?.values, ['none', 'shufflePixels', 'randomPixels']);
    const fractions = ['[{"labelNoise":{"fraction":0.2}}]', '[{"labelNoise":{"fraction":0.5}}]'];
    const noisy = fractions.map((corruptions) => ExperimentRun.fromPartial({ parameters: { corruptions } }));
    assert.deepEqual(sweptAxes(noisy)[0]?.values, ['labelNoise(fraction=0.2)', 'labelNoise(fraction=0.5)']);
  });

  test('compact labels of messages and lists', () => {
    assert.equal(compactLabel([]), 'none');
    assert.equal(
      compactLabel([{ labelNoise: { fraction: 0.2 } }, { shufflePixels: {} }]),
      'labelNoise(fraction=0.2) + shufflePixels',
    );
    assert.equal(compactLabel({ a: 1, b: 'x' }), 'a=1, b=x');
    assert.equal(compactLabel(true), 'true');
  });
});

describe("buildReport for Erhan's and Detectron's experiment analyses", async () => {
  const dir = tempDir();
  const base = syntheticReportInput();
  // 12 runs: six seeds from scratch, six fine-tuned after pre-training (the `init` axis).
  const runs = base.runs.map((record, i) => ({
    ...record,
    run: ExperimentRun.fromPartial({
      ...record.run,
      seed: i % 6,
      parameters: { init: JSON.stringify(i < 6 ? 'scratch' : 'pretrained') },
      analyses: [],
    }),
  }));
  const perTrial = [0, 1, 2].flatMap((trial) => [
    {
      query: 'in-distribution',
      trial,
      members: 3,
      disagreementRate: 0.1,
      meanEntropy: 0.2,
      pValue: 0.5,
      entropyPValue: 0.5,
    },
    {
      query: 'shifted',
      trial,
      members: 2,
      disagreementRate: 0.7,
      meanEntropy: 0.6,
      pValue: 0.25,
      entropyPValue: 0.25,
    },
  ]);
  const shift = {
    significance: 0.05,
    ensembleSize: 3,
    querySize: 50,
    finetuneEpochs: 3,
    disagreement: { power: 0.9, falsePositiveRate: 0.05, nulls: [0.1, 0.1, 0.1], shifted: [0.7, 0.7, 0.7] },
    entropy: { power: 0.8, falsePositiveRate: 0.1 },
    perTrial,
  };
  const arm = (mean: number) => ({ n: 6, mean, std: 0.004, testErrors: [] });
  const pretrain = {
    arms: [{ group: {}, scratch: arm(0.081), pretrained: arm(0.077) }],
    stages: [0, 1].flatMap((layer) =>
      [0, 1].map((s) => ({
        layer,
        state: 'SUCCEEDED',
        finalTrainReconstructionMse: 0.01 + layer + s,
        finalTestReconstructionMse: 0.02,
      })),
    ),
  };
  const done = { state: JobState.JOB_STATE_SUCCEEDED, progress: 1, phase: 'computed', attempt: 1 };
  const input: ReportInput = {
    ...base,
    runs,
    analyses: [],
    experiment: {
      ...base.experiment,
      spec: base.experiment.spec ? { ...base.experiment.spec, sweeps: [] } : undefined,
      runs: runs.map((r) => r.run),
      experimentAnalyses: [
        { name: 'shiftDetection0', analysisId: '', status: done, summaryJson: JSON.stringify(shift) },
        { name: 'pretrainFinetune1', analysisId: '', status: done, summaryJson: JSON.stringify(pretrain) },
      ],
    },
  };
  const out = await buildReport(input, dir);
  const html = readFileSync(out.htmlPath, 'utf8');

  test('a histogram of test error per group of seeds, with both groups', () => {
    assert.deepEqual(out.problems, []);
    const svg = readFileSync(join(dir, 'charts/test-error-histogram.svg'), 'utf8');
    assert.ok(markCount(svg) > 5);
    const rows = readCsv(join(dir, 'data/test-error-histogram.csv'));
    assert.equal(rows.length, 12);
    assert.deepEqual(new Set(rows.map((r) => r.group)), new Set(['scratch', 'pretrained']));
    for (const row of rows) {
      const record = runs.find((r) => r.run.cellId === row.run);
      assert.ok(
        Math.abs(Number(row.test_error) - (1 - (record?.run.summary?.finalTestAccuracy ?? 0))) < 1e-12,
      );
    }
  });

  test("the coordinator's summaries become sections: Detectron's power and trials, pre-training's arms and stages", () => {
    assert.match(html, /Shift detection \(Detectron\): shiftDetection0/);
    assert.match(html, /Greedy layer-wise pre-training: pretrainFinetune1/);
    const tests = readCsv(join(dir, 'data/shiftdetection0-tests.csv'));
    assert.deepEqual(
      tests.map((t) => [t.test, Number(t.power), Number(t.false_positive_rate)]),
      [
        ['disagreement rate', 0.9, 0.05],
        ['entropy (KS)', 0.8, 0.1],
      ],
    );
    assert.equal(readCsv(join(dir, 'data/shiftdetection0-trials.csv')).length, 6);
    assert.ok(existsSync(join(dir, 'charts/shiftdetection0-statistics.svg')));
    const arms = readCsv(join(dir, 'data/pretrainfinetune1-arms.csv'));
    assert.deepEqual(
      arms.map((a) => [a.arm, Number(a.mean)]),
      [
        ['pretrained', 0.077],
        ['scratch', 0.081],
      ],
    );
    const stages = readCsv(join(dir, 'data/pretrainfinetune1-stages.csv'));
    assert.deepEqual(
      stages.map((s) => [Number(s.layer), Number(s.runs), Math.round(Number(s.train_mse) * 1e9) / 1e9]),
      [
        [1, 2, 0.51],
        [2, 2, 1.51],
      ],
    );
    assert.doesNotMatch(
      html,
      /unknown \(no record\)/,
      'references computed by the coordinator are not "missing"',
    );
  });
});
