import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { IdempotencyConflictError, JobStore, StaleAttemptError } from '../src/index.ts';

const bytes = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array) => new TextDecoder().decode(b);

function freshStore(): { store: JobStore; path: string } {
  const path = join(mkdtempSync(join(tmpdir(), 'jobstore-')), 'jobs.sqlite');
  return { store: new JobStore(path), path };
}

test('createOrGet is idempotent on the key and refuses the key with another spec', () => {
  const { store } = freshStore();
  const a = store.createOrGet({
    id: 'j1',
    kind: 'run',
    idempotencyKey: 'k',
    specHash: 'h1',
    spec: bytes('s'),
  });
  const b = store.createOrGet({
    id: 'j2',
    kind: 'run',
    idempotencyKey: 'k',
    specHash: 'h1',
    spec: bytes('s'),
  });
  assert.equal(a.created, true);
  assert.equal(b.created, false);
  assert.equal(b.job.id, 'j1');
  assert.throws(
    () => store.createOrGet({ id: 'j3', kind: 'run', idempotencyKey: 'k', specHash: 'h2', spec: bytes('t') }),
    IdempotencyConflictError,
  );
  // The same key under another kind is another job.
  assert.equal(
    store.createOrGet({ id: 'j4', kind: 'analysis', idempotencyKey: 'k', specHash: 'h9', spec: bytes('x') })
      .created,
    true,
  );
});

test('events get gap-free sequence numbers and duplicate keys are ignored', () => {
  const { store } = freshStore();
  store.createOrGet({ id: 'j', kind: 'run', idempotencyKey: 'k', specHash: 'h', spec: bytes('') });
  assert.equal(store.appendEvent('j', 'step:1', bytes('a')), 0);
  assert.equal(store.appendEvent('j', 'step:2', bytes('b')), 1);
  assert.equal(store.appendEvent('j', 'step:1', bytes('a-again')), undefined);
  assert.equal(store.appendEvent('j', 'step:3', bytes('c')), 2);
  assert.deepEqual(
    store.events('j', 1).map((e) => [e.sequence, text(e.payload)]),
    [
      [1, 'b'],
      [2, 'c'],
    ],
  );
});

test('writes from a stale attempt are rejected', () => {
  const { store } = freshStore();
  store.createOrGet({ id: 'j', kind: 'run', idempotencyKey: 'k', specHash: 'h', spec: bytes('') });
  const first = store.beginAttempt('j', 'worker-a', 1000);
  const second = store.beginAttempt('j', 'worker-b', 1000);
  assert.equal(second, first + 1);
  assert.throws(() => store.appendEvent('j', 'late', bytes('x'), first), StaleAttemptError);
  assert.throws(() => store.update('j', { state: 'SUCCEEDED' }, first), StaleAttemptError);
  assert.equal(store.heartbeat('j', first, 1000), false);
  assert.equal(store.heartbeat('j', second, 1000), true);
  assert.equal(store.appendEvent('j', 'fresh', bytes('y'), second), 0);
});

test('a terminal job cannot come back to life', () => {
  const { store } = freshStore();
  store.createOrGet({ id: 'j', kind: 'run', idempotencyKey: 'k', specHash: 'h', spec: bytes('') });
  store.update('j', { state: 'CANCELLED' });
  assert.throws(() => store.update('j', { state: 'RUNNING' }));
});

test('watch replays from a sequence, follows live events, and ends when the job ends', async () => {
  const { store } = freshStore();
  store.createOrGet({ id: 'j', kind: 'run', idempotencyKey: 'k', specHash: 'h', spec: bytes('') });
  for (let i = 0; i < 3; i++) store.appendEvent('j', `e${i}`, bytes(String(i)));
  const seen: number[] = [];
  const watching = (async () => {
    for await (const e of store.watch('j', 1, new AbortController().signal)) seen.push(e.sequence);
  })();
  await new Promise((r) => setTimeout(r, 20));
  store.appendEvent('j', 'e3', bytes('3'));
  store.appendEvent('j', 'e4', bytes('4'));
  store.update('j', { state: 'SUCCEEDED' });
  await watching;
  assert.deepEqual(seen, [1, 2, 3, 4]);
});

test('watch stops when its signal aborts', async () => {
  const { store } = freshStore();
  store.createOrGet({ id: 'j', kind: 'run', idempotencyKey: 'k', specHash: 'h', spec: bytes('') });
  const controller = new AbortController();
  const watching = (async () => {
    let n = 0;
    for await (const _ of store.watch('j', 0, controller.signal)) n++;
    return n;
  })();
  setTimeout(() => controller.abort(), 20);
  assert.equal(await watching, 0);
});

test('state survives reopening the database (a crashed process loses nothing committed)', () => {
  const { store, path } = freshStore();
  store.createOrGet({ id: 'j', kind: 'run', idempotencyKey: 'k', specHash: 'h', spec: bytes('spec') });
  store.appendEvent('j', 'a', bytes('payload'));
  store.update('j', { state: 'RUNNING', progress: 0.5 });
  store.close();
  const reopened = new JobStore(path);
  const job = reopened.require('j');
  assert.equal(job.state, 'RUNNING');
  assert.equal(job.progress, 0.5);
  assert.equal(text(job.spec), 'spec');
  assert.equal(reopened.events('j', 0).length, 1);
  assert.deepEqual(
    reopened.inStates('run', ['RUNNING']).map((j) => j.id),
    ['j'],
  );
});

test('list pages through jobs and filters by state and labels', () => {
  const { store } = freshStore();
  for (let i = 0; i < 5; i++) {
    store.createOrGet({
      id: `j${i}`,
      kind: 'run',
      idempotencyKey: `k${i}`,
      specHash: 'h',
      spec: bytes(''),
      labels: { experiment: i % 2 ? 'odd' : 'even' },
    });
  }
  const first = store.list({ kind: 'run', pageSize: 2 });
  assert.equal(first.jobs.length, 2);
  const second = store.list({ kind: 'run', pageSize: 2, pageToken: first.nextPageToken });
  assert.deepEqual(
    second.jobs.map((j) => j.id),
    ['j2', 'j3'],
  );
  assert.deepEqual(
    store.list({ kind: 'run', labels: { experiment: 'odd' } }).jobs.map((j) => j.id),
    ['j1', 'j3'],
  );
});
