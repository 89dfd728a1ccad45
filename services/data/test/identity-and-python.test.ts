// Identity and portability: the same spec gives the same id and byte-identical files in two separate
// service processes (each its own state directory), and a Python script using only numpy opens the
// stored datasets and checks them against their manifests.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type DatasetSpec, SplitSelection } from '@gengap/proto/data/v1/dataset';
import { callUnary } from '@gengap/service-kit';
import { status } from '@grpc/grpc-js';
import { createAndWait, expectError, type Process, spec, startProcess, stopProcess } from './helpers.ts';

const PYTHON = '/usr/bin/python3';
const hasNumpy = spawnSync(PYTHON, ['-c', 'import numpy'], { encoding: 'utf8' }).status === 0;
const checker = fileURLToPath(new URL('./python/check_dataset.py', import.meta.url));

function fileHashes(dir: string): Record<string, string> {
  return Object.fromEntries(
    readdirSync(dir)
      .sort()
      .map((f) => [
        f,
        createHash('sha256')
          .update(readFileSync(join(dir, f)))
          .digest('hex'),
      ]),
  );
}

const specs: Record<string, DatasetSpec> = {
  mnistCorrupted: spec({
    source: { $case: 'mnist', value: {} },
    corruptions: [
      { kind: { $case: 'subsample', value: { size: 2000 } } },
      { kind: { $case: 'labelNoise', value: { fraction: 0.3 } } },
      { kind: { $case: 'randomPixels', value: { splits: SplitSelection.SPLIT_SELECTION_BOTH } } },
      { kind: { $case: 'inputNoise', value: { sigma: 0.1 } } },
    ],
    seed: 2017,
  }),
  subspace: spec({
    source: {
      $case: 'subspace',
      value: { ambientDimension: 20, subspaceDimension: 3, noiseSigma: 0, trainSize: 500, testSize: 50 },
    },
    seed: 8,
  }),
  tabular: spec({
    source: {
      $case: 'tabular',
      value: { table: { $case: 'builtin', value: 'cps_wages_1985' }, targetColumn: 'union', fieldWidth: 6 },
    },
    corruptions: [{ kind: { $case: 'labelNoise', value: { fraction: 0.1, exactAndAlwaysWrong: true } } }],
    seed: 1,
  }),
};

describe('identity across processes, and numpy', () => {
  let a: Process;
  let b: Process;
  const ids: Record<string, string> = {};
  before(async () => {
    [a, b] = await Promise.all([startProcess(), startProcess()]);
  });
  after(async () => {
    await Promise.all([stopProcess(a), stopProcess(b)]);
  });

  test('the same spec created in two processes has the same id and byte-identical files', async () => {
    for (const [name, s] of Object.entries(specs)) {
      const [da, db] = await Promise.all([createAndWait(a.client, s), createAndWait(b.client, s)]);
      assert.equal(da.datasetId, db.datasetId, name);
      ids[name] = da.datasetId;
      const ha = fileHashes(join(a.stateDir, 'datasets', da.datasetId));
      const hb = fileHashes(join(b.stateDir, 'datasets', db.datasetId));
      assert.deepEqual(ha, hb, `${name}: files differ between processes`);
      assert.ok('manifest.json' in ha && 'train_x.npy' in ha && 'test_y.npy' in ha);
      // The manifest's file hashes are those of the files.
      for (const [file, digest] of Object.entries(da.manifest?.fileSha256 ?? {}))
        assert.equal(ha[file], digest, file);
    }
    assert.ok(
      readdirSync(join(a.stateDir, 'datasets', ids.mnistCorrupted as string)).includes('train_y_clean.npy'),
    );
  });

  test('creating again is idempotent; a reused idempotency key with another spec is refused', async () => {
    const first = await callUnary(a.client, a.client.createDataset, {
      spec: specs.subspace,
      idempotencyKey: 'k1',
    });
    assert.equal(first.created, false);
    assert.equal(first.dataset?.datasetId, ids.subspace);
    const again = await callUnary(a.client, a.client.createDataset, {
      spec: specs.subspace,
      idempotencyKey: 'k1',
    });
    assert.equal(again.created, false);
    const fresh = await callUnary(a.client, a.client.createDataset, {
      spec: spec({
        source: {
          $case: 'gaussianMixture',
          value: { numClasses: 2, dimension: 2, trainSize: 10, testSize: 10, separation: 1 },
        },
      }),
      idempotencyKey: 'k2',
    });
    assert.equal(fresh.created, true);
    const err = await expectError(
      callUnary(a.client, a.client.createDataset, {
        spec: spec({
          source: {
            $case: 'gaussianMixture',
            value: { numClasses: 2, dimension: 3, trainSize: 10, testSize: 10, separation: 1 },
          },
        }),
        idempotencyKey: 'k2',
      }),
    );
    assert.equal(err.code, status.ALREADY_EXISTS);
  });

  test('a Python script with only numpy opens the stored datasets and checks shapes and labels', {
    skip: hasNumpy ? false : `${PYTHON} has no numpy`,
  }, () => {
    const run = (name: string, extra: string[] = []) => {
      const dir = join(a.stateDir, 'datasets', ids[name] as string);
      const res = spawnSync(PYTHON, [checker, dir, ...extra], { encoding: 'utf8' });
      assert.equal(res.status, 0, `${name}: ${res.stderr}`);
      return JSON.parse(res.stdout) as {
        splits: Record<string, { shape: number[]; corrupted: number }>;
        rank?: number;
      };
    };
    const mnist = run('mnistCorrupted');
    assert.deepEqual(mnist.splits.train?.shape, [2000, 1, 28, 28]);
    assert.deepEqual(mnist.splits.test?.shape, [10000, 1, 28, 28]);
    assert.ok((mnist.splits.train?.corrupted ?? 0) > 0.2);
    assert.equal(run('subspace', ['--rank', '3']).rank, 3);
    const tabular = run('tabular');
    assert.equal(tabular.splits.train?.shape[1], 10 * 6);
    assert.ok(Math.abs((tabular.splits.train?.corrupted ?? 0) - 0.1) < 0.002);
  });
});
