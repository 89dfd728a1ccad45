// Units under the orchestration: the store's idempotent cells, attempts numbered and keyed before
// any trainer call, metrics that ignore replays; which failures are retried; backoff; run slots.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { JobState } from '@gengap/proto/common/v1/job';
import { RunSpec } from '@gengap/proto/trainer/v1/run';
import { idempotencyKeyOf } from '../src/orchestration/cell-runner.ts';
import {
  backoffMs,
  classifyRunFailure,
  isTransientCallError,
  RpcCode,
  sleep,
} from '../src/orchestration/failures.ts';
import { RunSlots } from '../src/orchestration/run-slots.ts';
import { CoordinatorStore } from '../src/store/coordinator-store.ts';
import { tempDir } from './support/services.ts';

const dir = tempDir('coordinator-store');
after(() => dir.remove());

function newStore(name: string): CoordinatorStore {
  return new CoordinatorStore(join(dir.path, `${name}.sqlite`));
}

const cell = (cellId: string, index: number) => ({
  cellId,
  index,
  label: `cell ${index}`,
  parameters: { lr: '0.1' },
  seed: index,
  datasetSpec: undefined,
  runSpec: RunSpec.fromJSON({ seed: index, dataset: { datasetId: 'd' } }),
  analyses: [0],
});

describe('coordinator store', () => {
  test('cells are inserted once; a resumed experiment re-inserting them changes nothing', () => {
    const store = newStore('cells');
    store.createExperiment(
      { id: 'e1', idempotencyKey: 'k', specHash: 'h', spec: new Uint8Array() },
      'zhang2017/quick',
    );
    store.addCells('e1', [cell('a', 0), cell('b', 1)]);
    store.updateCell('e1', 'a', { state: 'SUCCEEDED' });
    store.addCells('e1', [cell('a', 0), cell('b', 1)]);
    assert.deepEqual(
      store.cells('e1').map((c) => [c.cellId, c.state, c.runSpec.seed, c.analyses]),
      [
        ['a', 'SUCCEEDED', 0, [0]],
        ['b', 'QUEUED', 1, [0]],
      ],
    );
    assert.equal(store.meta('e1').preset, 'zhang2017/quick');
    store.close();
  });

  test('attempts are numbered and keyed before any trainer call; the cell follows its current attempt', () => {
    const store = newStore('attempts');
    store.createExperiment({ id: 'e1', idempotencyKey: 'k', specHash: 'h', spec: new Uint8Array() }, '');
    store.addCells('e1', [cell('a', 0)]);
    const first = store.beginAttempt('e1', 'a', (n) => idempotencyKeyOf('e1', 'a', n));
    assert.equal(first.attempt, 1);
    assert.equal(first.idempotencyKey, 'e1/a/1');
    store.updateAttempt('e1', 'a', 1, {
      runId: 'r1',
      nextSequence: 7,
      placement: { executor: 'x', trainerAddress: 't:1' },
    });
    assert.equal(store.cell('e1', 'a')?.runId, 'r1');
    store.updateAttempt('e1', 'a', 1, { state: 'FAILED', error: { code: 14, message: 'gone' } });
    const second = store.beginAttempt('e1', 'a', (n) => idempotencyKeyOf('e1', 'a', n));
    assert.equal(second.attempt, 2);
    assert.equal(store.cell('e1', 'a')?.runId, '', 'a new attempt has no run yet');
    // A late write for the old attempt does not touch the cell's run.
    store.updateAttempt('e1', 'a', 1, { runId: 'late' });
    assert.equal(store.cell('e1', 'a')?.runId, '');
    const back = store.attempt('e1', 'a', 1);
    assert.equal(back?.nextSequence, 7);
    assert.deepEqual(back?.placement, { executor: 'x', trainerAddress: 't:1' });
    assert.equal(back?.state, 'FAILED');
    assert.ok(back?.finishedAt);
    store.close();
  });

  test('replayed metrics are ignored; analyses are upserted by name', () => {
    const store = newStore('metrics');
    const epoch = {
      step: 10,
      epoch: 1,
      trainLoss: 1,
      trainAccuracy: 0.5,
      testLoss: 1,
      testAccuracy: 0.5,
      parameterNorm: 1,
      wallSeconds: 1,
      fullGradientNormSquared: 0,
    };
    store.recordEpoch('e', 'a', 'r', epoch);
    store.recordEpoch('e', 'a', 'r', { ...epoch, trainLoss: 99 });
    store.recordEpoch('e', 'a', 'r', { ...epoch, step: 20, epoch: 2 });
    assert.deepEqual(
      store.epochs('e', 'a', 'r').map((m) => [m.step, m.trainLoss]),
      [
        [10, 1],
        [20, 1],
      ],
    );
    store.upsertAnalysis('e', 'a/sharpness', { cellId: 'a', state: 'QUEUED' });
    store.upsertAnalysis('e', 'a/sharpness', { analysisId: 'x1', state: 'RUNNING' });
    const record = store.analysis('e', 'a/sharpness');
    assert.deepEqual([record?.cellId, record?.analysisId, record?.state], ['a', 'x1', 'RUNNING']);
    store.close();
  });

  test('events are deduplicated by key and watched in order', async () => {
    const store = newStore('events');
    store.createExperiment({ id: 'e1', idempotencyKey: 'k', specHash: 'h', spec: new Uint8Array() }, '');
    const status = { state: JobState.JOB_STATE_RUNNING, progress: 0, phase: '', attempt: 0 };
    assert.equal(
      store.appendEvent('e1', 'status:running', { sequence: 0, event: { $case: 'status', value: status } }),
      0,
    );
    assert.equal(
      store.appendEvent('e1', 'status:running', { sequence: 0, event: { $case: 'status', value: status } }),
      undefined,
    );
    store.jobs.update('e1', { state: 'SUCCEEDED' });
    const seen = [];
    for await (const e of store.watch('e1', 0, new AbortController().signal)) seen.push(e.sequence);
    assert.deepEqual(seen, [0]);
    store.close();
  });
});

describe('failures', () => {
  test('run failures: invalid specs and non-finite losses are deterministic; crashes are transient', () => {
    assert.equal(
      classifyRunFailure({ code: RpcCode.INVALID_ARGUMENT, message: 'spec.x: bad' }),
      'deterministic',
    );
    assert.equal(
      classifyRunFailure({ code: RpcCode.FAILED_PRECONDITION, message: 'no CUDA' }),
      'deterministic',
    );
    // The contract's code for a non-finite loss: deterministic whatever the message says.
    assert.equal(classifyRunFailure({ code: RpcCode.OUT_OF_RANGE, message: 'diverged' }), 'deterministic');
    assert.equal(classifyRunFailure({ code: RpcCode.OUT_OF_RANGE, message: '' }), 'deterministic');
    // Older trainers: the message is the only sign of divergence.
    assert.equal(
      classifyRunFailure({
        code: RpcCode.INTERNAL,
        message: 'the training loss (NaN) became non-finite at step 5',
      }),
      'deterministic',
    );
    assert.equal(
      classifyRunFailure({ code: RpcCode.INTERNAL, message: 'training worker exited' }),
      'transient',
    );
    assert.equal(classifyRunFailure({ code: RpcCode.UNAVAILABLE, message: 'trainer stopping' }), 'transient');
    assert.equal(classifyRunFailure(undefined), 'transient');
  });

  test('call errors: unavailable, deadline, busy are retried; the rest are not', () => {
    for (const code of [
      RpcCode.UNAVAILABLE,
      RpcCode.DEADLINE_EXCEEDED,
      RpcCode.RESOURCE_EXHAUSTED,
      RpcCode.ABORTED,
    ])
      assert.equal(isTransientCallError({ code }), true, String(code));
    for (const code of [
      RpcCode.INVALID_ARGUMENT,
      RpcCode.ALREADY_EXISTS,
      RpcCode.INTERNAL,
      RpcCode.UNIMPLEMENTED,
    ])
      assert.equal(isTransientCallError({ code }), false, String(code));
    assert.equal(isTransientCallError(new Error('no code')), false);
  });

  test('backoff doubles up to its cap, with jitter in [half, full]', () => {
    const policy = { baseMs: 100, maxMs: 1000 };
    assert.deepEqual(
      [1, 2, 3, 4, 5, 6].map((n) => backoffMs(n, policy, () => 1)),
      [100, 200, 400, 800, 1000, 1000],
    );
    assert.equal(
      backoffMs(3, policy, () => 0),
      200,
    );
  });

  test('sleep rejects with the abort reason', async () => {
    const controller = new AbortController();
    const pending = sleep(10_000, controller.signal);
    controller.abort(new Error('stop'));
    await assert.rejects(pending, /stop/);
  });
});

test('run slots: at most n at once, released slots go to waiters in order, aborted waiters leave', async () => {
  const slots = new RunSlots(2);
  const signal = new AbortController().signal;
  const a = await slots.acquire(signal);
  const b = await slots.acquire(signal);
  const order: string[] = [];
  const c = slots.acquire(signal).then((release) => {
    order.push('c');
    return release;
  });
  const aborted = new AbortController();
  const d = slots.acquire(aborted.signal);
  aborted.abort(new Error('gone'));
  await assert.rejects(d, /gone/);
  const e = slots.acquire(signal).then((release) => {
    order.push('e');
    return release;
  });
  a();
  a(); // releasing twice gives back one slot only
  const releaseC = await c;
  assert.deepEqual(order, ['c']);
  b();
  const releaseE = await e;
  assert.deepEqual(order, ['c', 'e']);
  releaseC();
  releaseE();
});
