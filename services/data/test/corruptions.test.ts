// Every corruption, checked on what a client reads back over gRPC: the property the corruption
// promises, against the uncorrupted dataset generated from the same seed (the corruption's own random
// stream never shifts the source's or another corruption's draws, so example i matches example i).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type Corruption, type DeepPartial, ShiftKind, SplitSelection } from '@gengap/proto/data/v1/dataset';
import { callUnary } from '@gengap/service-kit';
import { loadMnistImages } from '../src/datasets/mnist.ts';
import { createAndWait, readSplit, type SplitRead, spec, startService, type TestService } from './helpers.ts';

let svc: TestService;

const FEATURES = 784;
const subsampleBoth: DeepPartial<Corruption>[] = [
  { kind: { $case: 'subsample', value: { size: 1500, splits: SplitSelection.SPLIT_SELECTION_TRAIN } } },
  { kind: { $case: 'subsample', value: { size: 300, splits: SplitSelection.SPLIT_SELECTION_TEST } } },
];

/** MNIST subsampled to 1500/300 examples, then `extra` corruptions. */
async function mnist(
  extra: DeepPartial<Corruption>[],
  seed = 11,
): Promise<{ train: SplitRead; test: SplitRead; id: string }> {
  const ds = await createAndWait(
    svc.client,
    spec({
      source: { $case: 'mnist', value: { flatten: true } },
      corruptions: [...subsampleBoth, ...extra],
      seed,
    }),
  );
  const [train, test] = await Promise.all([
    readSplit(svc.client, ds.datasetId, 'train'),
    readSplit(svc.client, ds.datasetId, 'test'),
  ]);
  return { train, test, id: ds.datasetId };
}

function row(x: Float32Array, i: number, features = FEATURES): Float32Array {
  return x.subarray(i * features, (i + 1) * features);
}

function moments(x: Float32Array): { mean: number; variance: number } {
  let s = 0;
  for (const v of x) s += v;
  const mean = s / x.length;
  let q = 0;
  for (const v of x) q += (v - mean) ** 2;
  return { mean, variance: q / x.length };
}

let base: { train: SplitRead; test: SplitRead; id: string };

describe('corruptions read back over gRPC', () => {
  before(async () => {
    svc = await startService({ concurrency: 2 });
    base = await mnist([]);
  });
  after(() => svc.close());

  describe('label noise', () => {
    const n = 20_000;
    const classes = 10;
    const gaussian = (corruptions: DeepPartial<Corruption>[]) =>
      spec({
        source: {
          $case: 'gaussianMixture',
          value: { numClasses: classes, dimension: 2, trainSize: n, testSize: 100, separation: 3 },
        },
        corruptions,
        seed: 5,
      });

    test('the corrupted fraction is within binomial tolerance, y_clean is the original, reads are stable', async () => {
      const p = 0.4;
      const clean = await createAndWait(svc.client, gaussian([]));
      const noisy = await createAndWait(
        svc.client,
        gaussian([{ kind: { $case: 'labelNoise', value: { fraction: p } } }]),
      );
      const original = await readSplit(svc.client, clean.datasetId, 'train');
      const first = await readSplit(svc.client, noisy.datasetId, 'train');
      const second = await readSplit(svc.client, noisy.datasetId, 'train');
      assert.deepEqual(first.yClean, original.y, 'y_clean holds the uncorrupted labels');
      assert.deepEqual(second.y, first.y, 'labels are fixed once generated, never redrawn');
      assert.deepEqual(first.x, original.x, 'inputs are untouched');
      // Each label is replaced with probability p by a uniform class (which may be the same), so it
      // differs with probability p (1 - 1/C); 4 binomial standard deviations of tolerance.
      const changed = first.y.filter((y, i) => y !== original.y[i]).length;
      const q = p * (1 - 1 / classes);
      const sd = Math.sqrt(n * q * (1 - q));
      assert.ok(Math.abs(changed - n * q) < 4 * sd, `${changed} changed, expected ${n * q} +- ${4 * sd}`);
      const stats = noisy.manifest?.train;
      assert.equal(stats?.labelCorruptionFraction, changed / n);
      // The test split was not selected: no corruption there.
      const test = await readSplit(svc.client, noisy.datasetId, 'test');
      assert.equal(test.yClean, undefined);
      assert.equal(noisy.manifest?.test?.labelCorruptionFraction, 0);
    });

    test('exact_and_always_wrong changes exactly round(p n) labels, each to another class', async () => {
      const p = 0.25;
      const clean = await readSplit(
        svc.client,
        (await createAndWait(svc.client, gaussian([]))).datasetId,
        'train',
      );
      const ds = await createAndWait(
        svc.client,
        gaussian([{ kind: { $case: 'labelNoise', value: { fraction: p, exactAndAlwaysWrong: true } } }]),
      );
      const noisy = await readSplit(svc.client, ds.datasetId, 'train');
      const changed = noisy.y.filter((y, i) => y !== clean.y[i]).length;
      assert.equal(changed, Math.round(p * n));
      assert.ok(noisy.y.every((y) => y >= 0 && y < classes));
    });
  });

  describe('pixel permutations', () => {
    test('shuffled pixels: every image, train and test, is the same permutation of the original', async () => {
      const shuffled = await mnist([
        { kind: { $case: 'shufflePixels', value: { splits: SplitSelection.SPLIT_SELECTION_BOTH } } },
      ]);
      assert.deepEqual(shuffled.train.y, base.train.y);
      assert.deepEqual(shuffled.test.y, base.test.y);
      // All images of both splits, one after the other.
      const join = (d: typeof base) => {
        const x = new Float32Array(d.train.x.length + d.test.x.length);
        x.set(d.train.x);
        x.set(d.test.x, d.train.x.length);
        return x;
      };
      const a = join(base);
      const b = join(shuffled);
      assert.notDeepEqual(b, a);
      const n = a.length / FEATURES;
      // Pair every shuffled column (pixel j across all images) with an unused original column with
      // the same values: if that always succeeds, one permutation maps every image of both splits.
      const column = (x: Float32Array, j: number) =>
        Array.from({ length: n }, (_, i) => x[i * FEATURES + j]).join(',');
      const unused = new Map<string, number>();
      for (let j = 0; j < FEATURES; j++) {
        const key = column(a, j);
        unused.set(key, (unused.get(key) ?? 0) + 1);
      }
      for (let j = 0; j < FEATURES; j++) {
        const key = column(b, j);
        const left = unused.get(key) ?? 0;
        assert.ok(left > 0, `shuffled pixel ${j} matches no original pixel across all images`);
        unused.set(key, left - 1);
      }
    });

    test('random pixels: every image keeps its own multiset of values, under different permutations', async () => {
      const random = await mnist([{ kind: { $case: 'randomPixels', value: {} } }]);
      const sorted = (v: Float32Array) => Float32Array.from(v).sort();
      const n = base.train.y.length;
      for (let i = 0; i < n; i++) {
        assert.deepEqual(sorted(row(random.train.x, i)), sorted(row(base.train.x, i)), `image ${i}`);
      }
      assert.deepEqual(random.test.x, base.test.x, 'the test split was not selected');
      // Not one shared permutation: some pixel position gets values from different places in
      // different images, so its column matches no original column.
      const column = (x: Float32Array, j: number) =>
        Array.from({ length: n }, (_, i) => x[i * FEATURES + j]).join(',');
      const original = new Set(Array.from({ length: FEATURES }, (_, j) => column(base.train.x, j)));
      const unmatched = Array.from({ length: FEATURES }, (_, j) => column(random.train.x, j)).filter(
        (c) => !original.has(c),
      );
      assert.ok(unmatched.length > FEATURES / 2, `${unmatched.length} columns unmatched`);
    });
  });

  describe('Gaussian and noisy inputs', () => {
    test('Gaussian inputs match the data mean and variance', async () => {
      const g = await mnist([{ kind: { $case: 'gaussianInputs', value: {} } }]);
      const want = moments(base.train.x);
      const got = moments(g.train.x);
      // 1.2M draws: the sample mean is within ~4 sd/sqrt(N) = 1.1e-3 of the target, the variance within ~0.5%.
      assert.ok(Math.abs(got.mean - want.mean) < 1.5e-3, `mean ${got.mean} vs ${want.mean}`);
      assert.ok(
        Math.abs(got.variance / want.variance - 1) < 0.01,
        `variance ${got.variance} vs ${want.variance}`,
      );
      assert.deepEqual(g.train.y, base.train.y, 'labels kept');
      // Gaussian, not the pixels' skewed distribution: the fraction within one sd is near 68.3%.
      const sd = Math.sqrt(want.variance);
      const within = g.train.x.filter((v) => Math.abs(v - want.mean) < sd).length / g.train.x.length;
      assert.ok(Math.abs(within - 0.6827) < 0.005, `${within} within one sd`);
    });

    test('random inputs replace exactly round(f n) inputs and keep every label', async () => {
      const f = 0.3;
      const r = await mnist([{ kind: { $case: 'randomInputs', value: { fraction: f } } }]);
      const n = base.train.y.length;
      let replaced = 0;
      for (let i = 0; i < n; i++) {
        if (!row(r.train.x, i).every((v, j) => v === row(base.train.x, i)[j])) replaced++;
      }
      assert.equal(replaced, Math.round(f * n));
      assert.deepEqual(r.train.y, base.train.y);
    });

    test('input noise adds N(0, sigma^2) to every value', async () => {
      const sigma = 0.3;
      const noisy = await mnist([{ kind: { $case: 'inputNoise', value: { sigma } } }]);
      const diff = noisy.train.x.map((v, i) => v - (base.train.x[i] as number));
      const m = moments(diff);
      assert.ok(Math.abs(m.mean) < 1e-3, `mean ${m.mean}`);
      assert.ok(Math.abs(Math.sqrt(m.variance) / sigma - 1) < 0.005, `sd ${Math.sqrt(m.variance)}`);
    });
  });

  describe('example selection', () => {
    test('subsample keeps `size` distinct examples of the original in their order', async () => {
      // The original MNIST test images, straight from the IDX files, scaled as the source scales them.
      const { test: raw } = await loadMnistImages();
      const positions = new Map<string, number>();
      for (let i = 0; i < raw.n; i++) {
        positions.set(
          Array.from(raw.pixels.subarray(i * FEATURES, (i + 1) * FEATURES), (v) => Math.fround(v / 255)).join(
            ',',
          ),
          i,
        );
      }
      let last = -1;
      for (let i = 0; i < base.test.y.length; i++) {
        const at = positions.get(row(base.test.x, i).join(','));
        assert.ok(at !== undefined, `example ${i} is not an original test example`);
        assert.ok(at > last, 'original order kept');
        assert.equal(base.test.y[i], raw.labels[at]);
        last = at;
      }
      assert.equal(base.test.y.length, 300);
    });

    test('class balanced keeps per_class examples of every class', async () => {
      const b = await mnist([{ kind: { $case: 'classBalanced', value: { perClass: 20 } } }]);
      const counts = new Array(10).fill(0);
      for (const y of b.train.y) counts[y]++;
      assert.deepEqual(counts, new Array(10).fill(20));
    });

    test('replace one: exactly one training example differs, by one from outside the training set', async () => {
      const neighbour = (replacement: number) =>
        mnist([{ kind: { $case: 'replaceOne', value: { index: 17, replacement } } }]);
      const [a, b] = await Promise.all([neighbour(0), neighbour(1)]);
      const inTrain = new Set(
        Array.from({ length: base.train.y.length }, (_, i) => row(base.train.x, i).join(',')),
      );
      for (const d of [a, b]) {
        const differing = [];
        for (let i = 0; i < base.train.y.length; i++) {
          if (row(d.train.x, i).join(',') !== row(base.train.x, i).join(',')) differing.push(i);
        }
        assert.deepEqual(differing, [17]);
        assert.ok(!inTrain.has(row(d.train.x, 17).join(',')), 'the replacement comes from the held-out pool');
        assert.deepEqual(d.test.x, base.test.x);
      }
      assert.notDeepEqual(
        row(a.train.x, 17),
        row(b.train.x, 17),
        'different replacements, different neighbours',
      );
    });
  });

  describe('covariate shift', () => {
    test('noise shifts the test split only', async () => {
      const s = await mnist([
        { kind: { $case: 'covariateShift', value: { kind: ShiftKind.SHIFT_KIND_NOISE, severity: 0.5 } } },
      ]);
      assert.deepEqual(s.train.x, base.train.x);
      const diff = s.test.x.map((v, i) => v - (base.test.x[i] as number));
      assert.ok(Math.abs(Math.sqrt(moments(diff).variance) / 0.5 - 1) < 0.01);
    });

    test('rotation by 90 degrees turns every image a quarter counter-clockwise', async () => {
      const s = await mnist([
        { kind: { $case: 'covariateShift', value: { kind: ShiftKind.SHIFT_KIND_ROTATION, severity: 90 } } },
      ]);
      for (let i = 0; i < 20; i++) {
        const src = row(base.test.x, i);
        const out = row(s.test.x, i);
        for (let r = 0; r < 28; r++) {
          for (let c = 0; c < 28; c++) {
            // Counter-clockwise: the output pixel (r, c) shows the source pixel (c, 27 - r).
            const want = src[c * 28 + (27 - r)] as number;
            assert.ok(Math.abs((out[r * 28 + c] as number) - want) < 1e-5, `image ${i} pixel ${r},${c}`);
          }
        }
      }
    });

    test('class skew drops examples outside the kept classes with probability severity', async () => {
      const all = await mnist([
        {
          kind: {
            $case: 'covariateShift',
            value: { kind: ShiftKind.SHIFT_KIND_CLASS_SKEW, severity: 1, classes: [1, 3] },
          },
        },
      ]);
      assert.ok(all.test.y.every((y) => y === 1 || y === 3));
      assert.equal(all.test.y.length, base.test.y.filter((y) => y === 1 || y === 3).length);
      const half = await mnist([
        {
          kind: { $case: 'covariateShift', value: { kind: ShiftKind.SHIFT_KIND_CLASS_SKEW, severity: 0.5 } },
        },
      ]);
      const others = base.test.y.filter((y) => y >= 5).length;
      const kept = half.test.y.filter((y) => y >= 5).length;
      const sd = Math.sqrt(others * 0.25);
      assert.ok(Math.abs(kept - others / 2) < 4 * sd, `kept ${kept} of ${others}`);
      assert.equal(half.test.y.filter((y) => y < 5).length, base.test.y.filter((y) => y < 5).length);
    });
  });

  describe('sparse parity', () => {
    test('labels equal the XOR of the hidden coordinates, finite and online', async () => {
      const finite = await createAndWait(
        svc.client,
        spec({
          source: {
            $case: 'sparseParity',
            value: { numBits: 40, paritySize: 3, trainSize: 2000, testSize: 500 },
          },
          seed: 9,
        }),
      );
      const hidden =
        finite.manifest?.spec?.source?.$case === 'sparseParity'
          ? finite.manifest.spec.source.value.hiddenCoordinates
          : [];
      assert.equal(hidden.length, 3);
      const xor = (x: Float32Array, i: number) =>
        hidden.reduce((acc, h) => acc ^ (x[i * 40 + h] === -1 ? 1 : 0), 0);
      for (const split of ['train', 'test'] as const) {
        const r = await readSplit(svc.client, finite.datasetId, split);
        assert.ok(r.x.every((v) => v === 1 || v === -1));
        r.y.forEach((y, i) => {
          assert.equal(y, xor(r.x, i));
        });
        const ones = r.y.filter((y) => y === 1).length / r.y.length;
        assert.ok(Math.abs(ones - 0.5) < 0.1);
      }

      const online = await createAndWait(
        svc.client,
        spec({
          source: {
            $case: 'sparseParity',
            value: {
              numBits: 40,
              paritySize: 3,
              testSize: 100,
              online: true,
              hiddenCoordinates: [39, 2, 17],
            },
          },
          seed: 9,
        }),
      );
      assert.equal(online.manifest?.onlineTrain, true);
      const batches = async (batchSize: number, startBatch: number, numBatches: number) => {
        const out = [];
        const { readStream } = await import('@gengap/service-kit');
        for await (const m of readStream(svc.client, svc.client.readOnlineBatches, {
          datasetId: online.datasetId,
          batchSize,
          startBatch,
          numBatches,
        })) {
          const x = new Float32Array(Uint8Array.from(m.x?.data ?? []).buffer);
          const y = Array.from(new BigInt64Array(Uint8Array.from(m.y?.data ?? []).buffer), Number);
          out.push({ index: m.batchIndex, x, y });
        }
        return out;
      };
      const eight = await batches(8, 3, 2);
      assert.deepEqual(
        eight.map((b) => b.index),
        [3, 4],
      );
      for (const b of eight) {
        b.y.forEach((y, i) => {
          const bits = [2, 17, 39].reduce((acc, h) => acc ^ (b.x[i * 40 + h] === -1 ? 1 : 0), 0);
          assert.equal(y, bits);
        });
      }
      // Batch b of size B is examples b*B..b*B+B-1, on every call: batch 7 of size 4 = second half of batch 3 of size 8.
      const four = await batches(4, 7, 1);
      assert.deepEqual(four[0]?.x, eight[0]?.x.subarray(4 * 40));
      assert.deepEqual((await batches(8, 3, 1))[0]?.x, eight[0]?.x);
      // Fresh batches: consecutive batches differ.
      assert.notDeepEqual(eight[0]?.x, eight[1]?.x);
    });
  });

  describe('linear subspace', () => {
    test('inputs lie on a k-dimensional subspace plus transverse noise of scale sigma', async () => {
      const d = 30;
      const k = 4;
      const sigma = 0.1;
      const make = (noiseSigma: number) =>
        createAndWait(
          svc.client,
          spec({
            source: {
              $case: 'subspace',
              value: {
                ambientDimension: d,
                subspaceDimension: k,
                noiseSigma,
                trainSize: 3000,
                testSize: 100,
              },
            },
            seed: 4,
          }),
        );
      const [flat, noisy] = await Promise.all([make(0), make(sigma)]);
      const { readNpyFile } = await import('@gengap/tensor-io');
      const { join } = await import('node:path');
      const basisFile = await readNpyFile(join(svc.storage.root, flat.datasetId, 'basis.npy'));
      assert.deepEqual(basisFile.shape, [d, k]);
      const u = new Float64Array(basisFile.data.slice().buffer);
      const residual = (x: Float32Array, i: number) => {
        const z = new Float64Array(k);
        for (let a = 0; a < d; a++)
          for (let b = 0; b < k; b++)
            z[b] = (z[b] as number) + (u[a * k + b] as number) * (x[i * d + a] as number);
        let r2 = 0;
        let norm2 = 0;
        for (let a = 0; a < d; a++) {
          let proj = 0;
          for (let b = 0; b < k; b++) proj += (u[a * k + b] as number) * (z[b] as number);
          r2 += ((x[i * d + a] as number) - proj) ** 2;
          norm2 += (x[i * d + a] as number) ** 2;
        }
        return { r2, norm2, z };
      };
      const a = await readSplit(svc.client, flat.datasetId, 'train');
      for (let i = 0; i < 3000; i++) {
        const { r2, norm2 } = residual(a.x, i);
        assert.ok(r2 <= 1e-10 * Math.max(1, norm2), `example ${i}: residual ${r2} off the subspace`);
      }
      const b = await readSplit(svc.client, noisy.datasetId, 'train');
      let total = 0;
      for (let i = 0; i < 3000; i++) {
        const { r2, z } = residual(b.x, i);
        total += r2;
        // Labels are the sign of the first subspace coordinate (the noise is transverse, so U^T x = z).
        assert.equal(b.y[i], (z[0] as number) > 0 ? 1 : 0);
        assert.equal(b.y[i], a.y[i], 'the same latent points with and without noise');
      }
      // E||P n||^2 sigma^2 = (d - k) sigma^2 per example.
      const mean = total / 3000;
      assert.ok(Math.abs(mean / ((d - k) * sigma ** 2) - 1) < 0.03, `residual ${mean}`);
    });
  });

  test('a corruption is recorded in the manifest spec, with its defaults resolved', async () => {
    const ds = await callUnary(svc.client, svc.client.getDataset, { datasetId: base.id });
    const corruptions = ds.dataset?.manifest?.spec?.corruptions ?? [];
    assert.equal(corruptions.length, 2);
    assert.deepEqual(corruptions[0]?.kind, {
      $case: 'subsample',
      value: { size: 1500, splits: SplitSelection.SPLIT_SELECTION_TRAIN },
    });
  });
});
