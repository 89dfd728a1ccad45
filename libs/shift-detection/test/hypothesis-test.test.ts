// Detectron's tests (src/hypothesis-test.ts) on statistics with known distributions: the permutation
// p-value's formula and resolution, KS distances on hand-made samples, a false-positive rate within
// alpha + 3 binomial standard errors on exchangeable (in-distribution) queries, for the disagreement
// and the entropy test and for the leave-one-out rate of null trials, and power against shifted ones.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Rng } from '@gengap/random';
import {
  disagreementFalsePositives,
  disagreementTest,
  empiricalPValue,
  entropy,
  entropyFalsePositives,
  entropyTest,
  falsePositiveTolerance,
  ksDistance,
  querySelection,
  smallestPValue,
} from '../src/index.ts';

const ALPHA = 0.05;

test('the permutation p-value counts null draws at least as large, plus one', () => {
  assert.equal(empiricalPValue(0.5, [0.1, 0.2, 0.5, 0.9]), 3 / 5);
  assert.equal(empiricalPValue(1, [0.1, 0.2]), 1 / 3);
  assert.equal(smallestPValue(19), 0.05);
  // With 10 null trials nothing is rejected at 5%: the test's resolution is 1/11.
  assert.equal(disagreementTest([0, 0, 0, 0, 0, 0, 0, 0, 0, 0], [1], ALPHA).rejectionRate, 0);
  assert.equal(disagreementTest(Array(19).fill(0), [1], ALPHA).rejectionRate, 1);
});

test('KS distance and entropy on hand-made samples', () => {
  assert.equal(ksDistance([1, 2, 3], [1, 2, 3]), 0);
  assert.equal(ksDistance([1, 2], [3, 4]), 1);
  assert.equal(ksDistance([1, 2, 3, 4], [3, 4, 5, 6]), 0.5);
  assert.equal(ksDistance([1, 1, 1], [1, 1]), 0, 'ties move both samples');
  assert.ok(Number.isNaN(ksDistance([], [1])));
  assert.ok(Math.abs(entropy([0.5, 0.5]) - Math.log(2)) < 1e-15);
  assert.equal(entropy([1, 0, 0]), 0);
});

test('on exchangeable statistics the false-positive rate stays within alpha + 3 standard errors; shifted ones are detected', () => {
  const rng = new Rng(2023, 'shift-statistics');
  // A disagreement rate on a 50-example query: binomial(50, p) / 50, p = 0.1 in distribution, 0.3 shifted.
  const rate = (p: number) => {
    let k = 0;
    for (let i = 0; i < 50; i++) if (rng.uniform() < p) k++;
    return k / 50;
  };
  const nulls = Array.from({ length: 200 }, () => rate(0.1));
  const queries = Array.from({ length: 1000 }, () => rate(0.1));
  const shifted = Array.from({ length: 200 }, () => rate(0.3));
  const tolerance = falsePositiveTolerance(ALPHA, queries.length);
  const fpr = disagreementTest(nulls, queries, ALPHA).rejectionRate;
  assert.ok(fpr <= tolerance, `false-positive rate ${fpr} > ${tolerance}`);
  assert.ok(disagreementTest(nulls, shifted, ALPHA).rejectionRate >= 0.95);
  const leaveOneOut = disagreementFalsePositives(nulls, ALPHA).rejectionRate;
  assert.ok(leaveOneOut <= falsePositiveTolerance(ALPHA, nulls.length), `leave-one-out rate ${leaveOneOut}`);
});

test('the entropy test keeps its level on in-distribution entropies and detects higher ones', () => {
  const rng = new Rng(7, 'entropies');
  const trial = (scale: number) => Array.from({ length: 50 }, () => scale * -Math.log(1 - rng.uniform()));
  const nulls = Array.from({ length: 60 }, () => trial(0.2));
  const queries = Array.from({ length: 300 }, () => trial(0.2));
  const shifted = Array.from({ length: 50 }, () => trial(0.5));
  const fpr = entropyTest(nulls, queries, ALPHA).rejectionRate;
  assert.ok(fpr <= falsePositiveTolerance(ALPHA, queries.length), `false-positive rate ${fpr}`);
  assert.ok(entropyTest(nulls, shifted, ALPHA).rejectionRate >= 0.9);
  const leaveOneOut = entropyFalsePositives(nulls, ALPHA).rejectionRate;
  assert.ok(leaveOneOut <= falsePositiveTolerance(ALPHA, nulls.length), `leave-one-out rate ${leaveOneOut}`);
});

test("a query set's examples: the first ones, or the analysis service's seeded shuffle", () => {
  assert.deepEqual([...querySelection({ count: 10, size: 3, shuffle: false, seed: 5, split: 2 })], [0, 1, 2]);
  assert.equal(querySelection({ count: 10, size: 0, shuffle: false, seed: 5, split: 2 }).length, 10);
  const shuffled = querySelection({ count: 100, size: 20, shuffle: true, seed: 5, split: 2 });
  // AnalysisSpec{shuffle_examples, seed: 5} on the test split selects these rows (examples.ts).
  assert.deepEqual([...shuffled], [...new Rng(5, 'examples:2').permutation(100).subarray(0, 20)]);
  assert.equal(new Set(shuffled).size, 20);
  assert.notDeepEqual(
    [...shuffled],
    [...querySelection({ count: 100, size: 20, shuffle: true, seed: 6, split: 2 })],
  );
});
