// The counter-based PRNG: pure function of (seed, stream, counter), sensible distributions.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CounterRandom, stepSeed, uniformAt } from '../src/index.ts';

describe('CounterRandom', () => {
  it('is a pure function of seed, stream and counter', () => {
    const a = new CounterRandom(2 ** 40 + 17, 3);
    const first = Array.from({ length: 5 }, () => a.uniform());
    const b = new CounterRandom(2 ** 40 + 17, 3, 2);
    assert.equal(b.uniform(), first[2]);
    assert.equal(uniformAt(2 ** 40 + 17, 3, 4), first[4]);
    assert.notEqual(uniformAt(2 ** 40 + 18, 3, 4), first[4]);
    assert.notEqual(uniformAt(2 ** 40 + 17, 4, 4), first[4]);
  });

  it('draws uniforms in [0, 1) and standard normals', () => {
    const r = new CounterRandom(1);
    const n = 50_000;
    let sum = 0;
    let sumSq = 0;
    let min = 1;
    let max = 0;
    for (let i = 0; i < n; i++) {
      const u = r.uniform();
      min = Math.min(min, u);
      max = Math.max(max, u);
      const z = r.normal();
      sum += z;
      sumSq += z * z;
    }
    assert.ok(min >= 0 && max < 1 && min < 0.001 && max > 0.999);
    assert.ok(Math.abs(sum / n) < 0.02, `normal mean ${sum / n}`);
    assert.ok(Math.abs(sumSq / n - 1) < 0.03, `normal variance ${sumSq / n}`);
  });

  it('shuffles into a permutation', () => {
    const items = Array.from({ length: 100 }, (_, i) => i);
    const shuffled = new CounterRandom(5).shuffle([...items]);
    assert.notDeepEqual(shuffled, items);
    assert.deepEqual(
      [...shuffled].sort((a, b) => a - b),
      items,
    );
  });

  it('gives distinct dropout seeds per step', () => {
    const seeds = new Set(Array.from({ length: 1000 }, (_, s) => stepSeed(7, s)));
    assert.equal(seeds.size, 1000);
  });
});
