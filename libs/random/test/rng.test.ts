import assert from 'node:assert/strict';
import { test } from 'node:test';
import { hashWords, Rng } from '../src/index.ts';

test('the same seed and stream give the same sequence; other streams differ', () => {
  const a = new Rng(42, 'init');
  const b = new Rng(42, 'init');
  const c = new Rng(42, 'shuffle');
  const sa = Array.from({ length: 8 }, () => a.nextUint32());
  const sb = Array.from({ length: 8 }, () => b.nextUint32());
  const sc = Array.from({ length: 8 }, () => c.nextUint32());
  assert.deepEqual(sa, sb);
  assert.notDeepEqual(sa, sc);
});

test('the sequence is pinned, so every machine and version draws the same numbers', () => {
  const rng = new Rng(2017);
  // Pinned from this implementation: a change here silently changes every dataset id's bytes.
  const first = Array.from({ length: 4 }, () => rng.nextUint32());
  assert.deepEqual(first, PINNED);
});

test('state round-trips for resumable data order', () => {
  const rng = new Rng(7, 1);
  for (let i = 0; i < 10; i++) rng.nextUint32();
  const resumed = Rng.fromState(rng.getState());
  assert.deepEqual(
    Array.from({ length: 5 }, () => resumed.nextUint32()),
    Array.from({ length: 5 }, () => rng.nextUint32()),
  );
});

test('uniform, normal and int have the right moments', () => {
  const rng = new Rng(1);
  const n = 200_000;
  let su = 0;
  let sn = 0;
  let sn2 = 0;
  const counts = new Array(10).fill(0);
  for (let i = 0; i < n; i++) {
    su += rng.uniform();
    const z = rng.normal();
    sn += z;
    sn2 += z * z;
    counts[rng.int(10)]++;
  }
  assert.ok(Math.abs(su / n - 0.5) < 0.005);
  assert.ok(Math.abs(sn / n) < 0.01);
  assert.ok(Math.abs(sn2 / n - 1) < 0.015);
  for (const c of counts) assert.ok(Math.abs(c / n - 0.1) < 0.004);
});

test('permutation is a permutation', () => {
  const p = new Rng(3).permutation(1000);
  assert.deepEqual(
    [...p].sort((a, b) => a - b),
    Array.from({ length: 1000 }, (_, i) => i),
  );
});

test('hashWords is order-sensitive', () => {
  assert.notEqual(hashWords(1, 2), hashWords(2, 1));
});

const PINNED = [2849108153, 3592428067, 3433747450, 4196953709];
