// Generation as a job: WatchDataset's event log (gap-free sequence numbers, monotone progress,
// resumable), Cancel, Delete, List pages, a data-dependent spec failure, and a crash in the middle
// of a generation: nothing half-written is ever visible, and the restarted service finishes the job
// with the same bytes and no duplicated events.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { JobState, type JobStatus } from '@gengap/proto/common/v1/job';
import { Split } from '@gengap/proto/common/v1/refs';
import type { DataServiceClient } from '@gengap/proto/data/v1/data_service';
import { callUnary, readStream } from '@gengap/service-kit';
import { status } from '@grpc/grpc-js';
import {
  createAndWait,
  expectError,
  spec,
  startProcess,
  startService,
  stopProcess,
  type TestService,
  tempStateDir,
  waitForDataset,
} from './helpers.ts';

/** A Gaussian mixture that takes a few seconds to generate (about 100 MB). */
const slow = (seed: number) =>
  spec({
    source: {
      $case: 'gaussianMixture',
      value: { numClasses: 4, dimension: 500, trainSize: 50_000, testSize: 1000, separation: 3 },
    },
    seed,
  });
const small = (seed: number) =>
  spec({
    source: {
      $case: 'gaussianMixture',
      value: { numClasses: 2, dimension: 3, trainSize: 50, testSize: 10, separation: 1 },
    },
    seed,
  });

async function events(client: DataServiceClient, datasetId: string, fromSequence = 0) {
  const out: { sequence: number; status: JobStatus }[] = [];
  for await (const e of readStream(client, client.watchDataset, { datasetId, fromSequence })) {
    out.push({ sequence: e.sequence, status: e.status as JobStatus });
  }
  return out;
}

/** Resolves once the job reports progress of at least `fraction`. */
async function progressed(client: DataServiceClient, datasetId: string, fraction: number): Promise<void> {
  for await (const e of readStream(client, client.watchDataset, { datasetId, fromSequence: 0 })) {
    if ((e.status?.progress ?? 0) >= fraction) return;
    if ((e.status?.state ?? 0) >= JobState.JOB_STATE_SUCCEEDED)
      throw new Error('finished before the expected progress');
  }
}

describe('dataset jobs', () => {
  let svc: TestService;
  before(async () => {
    svc = await startService({ concurrency: 1 });
  });
  after(() => svc.close());

  test('WatchDataset: QUEUED, RUNNING, monotone progress, SUCCEEDED; resumable from any sequence', async () => {
    const ds = await createAndWait(svc.client, slow(1));
    const log = await events(svc.client, ds.datasetId);
    assert.deepEqual(
      log.map((e) => e.sequence),
      log.map((_, i) => i),
      'gap-free sequence numbers from 0',
    );
    const states = log.map((e) => e.status.state);
    assert.equal(states[0], JobState.JOB_STATE_QUEUED);
    assert.equal(states[1], JobState.JOB_STATE_RUNNING);
    assert.equal(states.at(-1), JobState.JOB_STATE_SUCCEEDED);
    const progress = log.map((e) => e.status.progress);
    for (let i = 1; i < progress.length; i++)
      assert.ok((progress[i] as number) >= (progress[i - 1] as number), 'monotone progress');
    assert.ok(log.length > 10, `${log.length} events: progress is reported during generation`);
    assert.ok(log.some((e) => e.status.phase.startsWith('writing')));
    const tail = await events(svc.client, ds.datasetId, 5);
    assert.deepEqual(
      tail.map((e) => e.sequence),
      log.slice(5).map((e) => e.sequence),
    );
    assert.equal(ds.status?.attempt, 1);
    assert.match(ds.storageUri, /^file:\/\//);
    assert.ok(ds.manifest && ds.manifest.sizeBytes > 100_000_000);
  });

  test('CancelDataset stops a running generation and leaves nothing behind; creating again starts over', async () => {
    const { dataset } = await callUnary(svc.client, svc.client.createDataset, {
      spec: slow(2),
      idempotencyKey: '',
    });
    const id = dataset?.datasetId as string;
    await progressed(svc.client, id, 0.05);
    const cancelled = await callUnary(svc.client, svc.client.cancelDataset, { datasetId: id });
    assert.equal(cancelled.dataset?.status?.state, JobState.JOB_STATE_CANCELLED);
    const log = await events(svc.client, id);
    assert.equal(log.at(-1)?.status.state, JobState.JOB_STATE_CANCELLED);
    const entries = readdirSync(join(svc.stateDir, 'datasets'));
    assert.ok(!entries.includes(id), 'no dataset directory');
    assert.ok(!entries.some((e) => e.startsWith('.staging-')), `no staging left: ${entries}`);
    const read = await expectError(
      (async () => {
        for await (const _ of readStream(svc.client, svc.client.readDataset, {
          datasetId: id,
          split: Split.SPLIT_TRAIN,
          chunkBytes: 0,
          inputDtype: 0,
          auxiliary: '',
        })) {
          // nothing
        }
      })(),
    );
    assert.equal(read.code, status.FAILED_PRECONDITION);
    // Cancelling again is harmless.
    assert.equal(
      (await callUnary(svc.client, svc.client.cancelDataset, { datasetId: id })).dataset?.status?.state,
      JobState.JOB_STATE_CANCELLED,
    );
    const again = await callUnary(svc.client, svc.client.createDataset, {
      spec: slow(2),
      idempotencyKey: '',
    });
    assert.equal(again.created, true);
    await callUnary(svc.client, svc.client.cancelDataset, { datasetId: id });
  });

  test('a data-dependent spec problem fails the job with INVALID_ARGUMENT and the field', async () => {
    // Subspace labels are random: 60 per class of 100 examples passes validation but cannot be met.
    const s = spec({
      source: {
        $case: 'subspace',
        value: { ambientDimension: 3, subspaceDimension: 1, trainSize: 120, testSize: 10 },
      },
      corruptions: [{ kind: { $case: 'classBalanced', value: { perClass: 60 } } }],
      seed: 3,
    });
    const { dataset } = await callUnary(svc.client, svc.client.createDataset, {
      spec: s,
      idempotencyKey: '',
    });
    const done = await waitForDataset(svc.client, dataset?.datasetId as string);
    assert.equal(done.status?.state, JobState.JOB_STATE_FAILED);
    assert.equal(done.status?.error?.code, status.INVALID_ARGUMENT);
    assert.equal(done.status?.error?.field, 'spec.corruptions[0].classBalanced.perClass');
    // Deterministic: creating it again returns the failed job rather than failing again.
    const again = await callUnary(svc.client, svc.client.createDataset, { spec: s, idempotencyKey: '' });
    assert.equal(again.created, false);
  });

  test('ListDatasets pages; DeleteDataset removes files and record', async () => {
    const ids = [];
    for (let seed = 10; seed < 13; seed++) ids.push((await createAndWait(svc.client, small(seed))).datasetId);
    const seen: string[] = [];
    let pageToken = '';
    do {
      const page = await callUnary(svc.client, svc.client.listDatasets, { page: { pageSize: 2, pageToken } });
      assert.ok(page.datasets.length <= 2);
      seen.push(...page.datasets.map((d) => d.datasetId));
      pageToken = page.nextPageToken;
    } while (pageToken);
    for (const id of ids) assert.ok(seen.includes(id));
    const bad = await expectError(
      callUnary(svc.client, svc.client.listDatasets, { page: { pageSize: 2, pageToken: 'nope' } }),
    );
    assert.equal(bad.code, status.INVALID_ARGUMENT);
    assert.equal(bad.field, 'page.pageToken');

    const victim = ids[0] as string;
    await callUnary(svc.client, svc.client.deleteDataset, { datasetId: victim });
    assert.ok(!existsSync(join(svc.stateDir, 'datasets', victim)));
    assert.equal(
      (await expectError(callUnary(svc.client, svc.client.getDataset, { datasetId: victim }))).code,
      status.NOT_FOUND,
    );
    assert.equal(
      (await expectError(callUnary(svc.client, svc.client.deleteDataset, { datasetId: victim }))).code,
      status.NOT_FOUND,
    );
    assert.equal((await expectError(events(svc.client, victim))).code, status.NOT_FOUND);
    // Re-creating a deleted dataset regenerates the same bytes under the same id.
    assert.equal((await createAndWait(svc.client, small(10))).datasetId, victim);
  });

  test('unknown ids are NOT_FOUND everywhere', async () => {
    const datasetId = '0123456789abcdef0123456789abcdef';
    const calls = [
      () => callUnary(svc.client, svc.client.getDataset, { datasetId }),
      () => callUnary(svc.client, svc.client.cancelDataset, { datasetId }),
      () => callUnary(svc.client, svc.client.deleteDataset, { datasetId }),
      () =>
        callUnary(svc.client, svc.client.sampleDataset, {
          datasetId,
          split: Split.SPLIT_TEST,
          count: 1,
          renderPng: false,
          seed: 0,
        }),
      () => callUnary(svc.client, svc.client.getDataset, { datasetId: '../../etc' }),
      () => callUnary(svc.client, svc.client.deleteDataset, { datasetId: '../../etc' }),
      () => events(svc.client, datasetId),
    ];
    for (const call of calls) assert.equal((await expectError(call())).code, status.NOT_FOUND);
  });
});

describe('a crash in the middle of a generation', () => {
  test('leaves no dataset visible, and the restarted service finishes it with the same bytes', async () => {
    const stateDir = tempStateDir('gengap-data-crash-');
    const proc = await startProcess(stateDir);
    const { dataset } = await callUnary(proc.client, proc.client.createDataset, {
      spec: slow(4),
      idempotencyKey: '',
    });
    const id = dataset?.datasetId as string;
    await progressed(proc.client, id, 0.1);
    await stopProcess(proc, 'SIGKILL', true);
    const datasets = join(stateDir, 'datasets');
    const left = readdirSync(datasets);
    assert.ok(!left.includes(id), 'the killed generation published nothing');
    assert.ok(
      left.some((e) => e.startsWith('.staging-')),
      'its staging directory is still there',
    );

    const svc = await startService({ stateDir });
    try {
      const done = await waitForDataset(svc.client, id);
      assert.equal(done.status?.state, JobState.JOB_STATE_SUCCEEDED);
      assert.equal(done.status?.attempt, 2, 'resumed as a second attempt');
      const after = readdirSync(datasets);
      assert.ok(!after.some((e) => e.startsWith('.staging-')), `stray staging removed: ${after}`);
      const log = await events(svc.client, id);
      const keys = log.map((e) => `${e.status.state}:${e.status.progress}`);
      assert.equal(new Set(keys).size, keys.length, 'no duplicated events after the resume');
      assert.equal(
        log.filter((e) => e.status.state === JobState.JOB_STATE_RUNNING && e.status.progress === 0).length,
        1,
      );
      // The same bytes as any other generation of the spec: the manifest's hashes match the files.
      for (const [file, digest] of Object.entries(done.manifest?.fileSha256 ?? {})) {
        assert.equal(
          createHash('sha256')
            .update(readFileSync(join(datasets, id, file)))
            .digest('hex'),
          digest,
        );
      }
    } finally {
      await svc.close();
    }
  });
});
