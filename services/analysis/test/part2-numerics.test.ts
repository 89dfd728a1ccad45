// Part 2's pure numerics and algorithms, without the service: distributions (quantiles, Pearson, Hill,
// Kolmogorov-Smirnov), the two fGn samplers against the exact autocovariance, the R/S calibration, the
// permutation p-value's validity on exchangeable statistics, the gradient attacks' budgets on a
// closed-form linear model, and the part-2 kinds' field-path validation.
// Tolerances are stated per assertion; Monte-Carlo checks use fixed seeds and 4-5 standard errors.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AnalysisSpec, AttackMethod, AttributionMethod } from '@gengap/proto/analysis/v1/analysis';
import { Rng } from '@gengap/random';
import { fgsm, pgdL2, pgdLinf } from '../src/adversarial/gradient-attacks.ts';
import type { FloatArray, InputOracle } from '../src/adversarial/input-oracle.ts';
import { softmaxRow } from '../src/adversarial/input-oracle.ts';
import { jsma } from '../src/adversarial/jsma.ts';
import { defaultRegistry } from '../src/analyses/registry.ts';
import { validateSpec } from '../src/analyses/validate-spec.ts';
import {
  disagreementTest,
  empiricalPValue,
  falsePositiveTolerance,
} from '../src/detectron/hypothesis-test.ts';
import { hillTailIndex, histogram, ksTwoSample, pearson, quantile } from '../src/numerics/distributions.ts';
import { fractionalGaussianNoise } from '../src/numerics/fractional-noise.ts';
import { hurstRescaledRange } from '../src/numerics/hurst.ts';
import { fgnCovariance, fractionalBrownianPaths } from './support/fbm.ts';
import { runCheckpoint } from './support/harness.ts';

test('quantiles, Pearson and histograms on small exact cases', () => {
  assert.equal(quantile([4, 1, 3, 2], 0.5), 2.5);
  assert.equal(quantile([1, 2, 3, 4, 5], 0.9), 4.6);
  assert.ok(Math.abs(pearson([1, 2, 3, 4], [2, 4, 6, 8]) - 1) < 1e-15);
  assert.ok(Math.abs(pearson([1, 2, 3, 4], [8, 6, 4, 2]) + 1) < 1e-15);
  assert.ok(Number.isNaN(pearson([1, 2], [1, 2])));
  const h = histogram([0, 0.5, 1, 1, 2], 2);
  assert.deepEqual(h.counts, [2, 3]);
  assert.deepEqual(h.centres, [0.5, 1.5]);
});

test('Hill recovers the tail index of Pareto samples (within 10% at n = 100,000)', () => {
  const rng = new Rng(1, 'pareto');
  for (const alpha of [1, 1.5, 3]) {
    const x = Float64Array.from({ length: 100_000 }, () => (1 - rng.uniform()) ** (-1 / alpha));
    const { alpha: estimate } = hillTailIndex(x, 2000);
    assert.ok(Math.abs(estimate / alpha - 1) < 0.1, `alpha ${alpha}: ${estimate}`);
  }
});

test('the KS test: exact statistic, calibrated p-values under the null, power under a shift', () => {
  assert.equal(ksTwoSample([1, 2, 3], [4, 5, 6]).statistic, 1);
  assert.equal(ksTwoSample([1, 2, 3, 4], [1, 2, 3, 4]).statistic, 0);
  const rng = new Rng(2, 'ks');
  let rejections = 0;
  const trials = 400;
  for (let t = 0; t < trials; t++) {
    const a = Array.from({ length: 60 }, () => rng.normal());
    const b = Array.from({ length: 80 }, () => rng.normal());
    if (ksTwoSample(a, b).pValue <= 0.05) rejections++;
  }
  assert.ok(
    rejections / trials <= falsePositiveTolerance(0.05, trials),
    `KS false-positive rate ${rejections / trials}`,
  );
  const shifted = ksTwoSample(
    Array.from({ length: 200 }, () => rng.normal()),
    Array.from({ length: 200 }, () => rng.normal() + 0.5),
  );
  assert.ok(shifted.pValue < 0.01, `p ${shifted.pValue}`);
});

test('Davies-Harte and Hosking fGn both have the exact autocovariance (4.5 standard errors)', () => {
  const hurst = 0.7;
  const n = 512;
  const series = fractionalGaussianNoise(hurst, n, 200, new Rng(3, 'dh'));
  const hosking = fractionalBrownianPaths(hurst, n, 200, 4).map((p) =>
    p.subarray(1).map((v, t) => v - p[t]!),
  );
  for (const [name, sample] of [
    ['Davies-Harte', series],
    ['Hosking', hosking],
  ] as const) {
    for (const lag of [0, 1, 5, 50]) {
      const products: number[] = [];
      for (const s of sample) for (let t = 0; t + lag < n; t += 64) products.push(s[t]! * s[t + lag]!);
      const mean = products.reduce((a, b) => a + b, 0) / products.length;
      const sd = Math.sqrt(
        products.reduce((a, b) => a + (b - mean) ** 2, 0) / products.length / products.length,
      );
      assert.ok(
        Math.abs(mean - fgnCovariance(hurst, lag)) < 4.5 * sd,
        `${name} lag ${lag}: ${mean} vs ${fgnCovariance(hurst, lag)}`,
      );
    }
  }
});

test('the R/S calibration removes the small-sample bias (raw 0.66 -> within 0.03 of 0.7)', () => {
  const paths = fractionalBrownianPaths(0.7, 4096, 16, 21);
  const increments = paths.map((p) => p.subarray(1).map((v, t) => v - p[t]!));
  const estimate = hurstRescaledRange(increments);
  assert.ok(estimate.rawHurst! < 0.69, `raw ${estimate.rawHurst}`);
  assert.ok(Math.abs(estimate.hurst - 0.7) < 0.03, `calibrated ${estimate.hurst}`);
  assert.equal(hurstRescaledRange(increments, { calibrate: false }).hurst, estimate.rawHurst);
});

test('the permutation p-value is valid on exchangeable statistics (false-positive rate <= alpha + 3 SE)', () => {
  const rng = new Rng(4, 'exchangeable');
  const rate = () => {
    let k = 0;
    for (let i = 0; i < 50; i++) if (rng.uniform() < 0.1) k++;
    return k / 50;
  };
  const nulls = Array.from({ length: 100 }, rate);
  const queries = Array.from({ length: 2000 }, rate);
  const outcome = disagreementTest(nulls, queries, 0.05);
  assert.ok(outcome.rejectionRate <= falsePositiveTolerance(0.05, 2000), `rate ${outcome.rejectionRate}`);
  assert.equal(empiricalPValue(1, [0, 0, 0]), 0.25);
  assert.equal(empiricalPValue(0, [0, 0, 0]), 1);
});

/** A linear softmax model z = W x, its loss and gradients in closed form (float64). */
function linearOracle(weights: number[][]): InputOracle {
  const classes = weights.length;
  const row = weights[0]!.length;
  const logitsOf = (x: FloatArray, n: number) => {
    const z = new Float64Array(n * classes);
    for (let i = 0; i < n; i++)
      for (let c = 0; c < classes; c++)
        for (let j = 0; j < row; j++) z[i * classes + c]! += weights[c]![j]! * x[i * row + j]!;
    return z;
  };
  const lossGradient = async (x: FloatArray, labels: Int32Array) => {
    const n = labels.length;
    const logits = logitsOf(x, n);
    const gradient = new Float64Array(n * row);
    const loss = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const p = softmaxRow(logits, i, classes, 'float64');
      loss[i] = -Math.log(p[labels[i]!]!);
      for (let c = 0; c < classes; c++) {
        const d = p[c]! - (c === labels[i] ? 1 : 0);
        for (let j = 0; j < row; j++) gradient[i * row + j]! += d * weights[c]![j]!;
      }
    }
    return { gradient, logits, loss };
  };
  return {
    rowSize: row,
    numClasses: classes,
    dtype: 'float64',
    allocate: (length) => new Float64Array(length),
    evaluate: async (x, labels) => {
      const r = await lossGradient(x, labels);
      return { logits: r.logits, loss: r.loss };
    },
    lossGradient,
    logitGradient: async (x, classesOf) => {
      const n = classesOf.length;
      const gradient = new Float64Array(n * row);
      for (let i = 0; i < n; i++)
        for (let j = 0; j < row; j++) gradient[i * row + j] = weights[classesOf[i]!]![j]!;
      return { gradient, logits: logitsOf(x, n) };
    },
  };
}

test('gradient attacks respect their budgets and the input range on a linear model', async () => {
  const rng = new Rng(5, 'linear');
  const weights = Array.from({ length: 3 }, () => Array.from({ length: 20 }, () => rng.normal()));
  const oracle = linearOracle(weights);
  const n = 16;
  const x = Float64Array.from({ length: n * 20 }, () => rng.uniform());
  const labels = Int32Array.from({ length: n }, () => rng.int(3));
  const range = { lo: 0, hi: 1 };
  const before = await oracle.evaluate(x, labels);
  const sum = (a: Float64Array) => a.reduce((s, v) => s + v, 0);
  for (const [name, run, norm, epsilon] of [
    ['FGSM', () => fgsm(oracle, x, labels, { epsilon: 0.05, range }), 'inf', 0.05],
    [
      'PGD L-inf',
      () => pgdLinf(oracle, x, labels, { epsilon: 0.05, steps: 10, stepSize: 0.0125, range, rng }),
      'inf',
      0.05,
    ],
    [
      'PGD L2',
      () => pgdL2(oracle, x, labels, { epsilon: 0.3, steps: 10, stepSize: 0.075, range, rng }),
      '2',
      0.3,
    ],
  ] as const) {
    const { adversarial } = await run();
    for (let i = 0; i < n; i++) {
      let linf = 0;
      let l2 = 0;
      for (let j = 0; j < 20; j++) {
        const v = adversarial[i * 20 + j]!;
        assert.ok(v >= 0 && v <= 1, `${name} leaves the range`);
        const d = Math.abs(v - x[i * 20 + j]!);
        linf = Math.max(linf, d);
        l2 += d * d;
      }
      assert.ok((norm === 'inf' ? linf : Math.sqrt(l2)) <= epsilon + 1e-12, `${name} example ${i}`);
    }
    const after = await oracle.evaluate(adversarial, labels);
    assert.ok(sum(after.loss) > sum(before.loss), `${name} does not raise the loss`);
  }
  const targets = Int32Array.from(labels, (y) => (y + 1) % 3);
  const result = await jsma(oracle, x, targets, { featureBudget: 0.2, theta: 1, range });
  assert.ok(Math.max(...result.featuresChanged) <= 4);
});

test('part 2 kinds refuse bad fields with their paths', () => {
  const registry = defaultRegistry();
  const bad = (kind: AnalysisSpec['kind'], field: string) => {
    assert.throws(
      () => validateSpec(AnalysisSpec.fromPartial({ checkpoint: runCheckpoint('r'), kind }), registry),
      (err: Error & { field?: string }) => err.field === field,
      field,
    );
  };
  const attack = {
    method: AttackMethod.ATTACK_METHOD_FGSM,
    epsilon: 0.1,
    steps: 0,
    stepSize: 0,
    featureBudget: 0,
    theta: 0,
    clipMin: 0,
    clipMax: 0,
  };
  bad(
    { $case: 'attack', value: { ...attack, method: AttackMethod.ATTACK_METHOD_UNSPECIFIED } },
    'spec.attack.method',
  );
  bad({ $case: 'attack', value: { ...attack, epsilon: 0 } }, 'spec.attack.epsilon');
  bad({ $case: 'attack', value: { ...attack, featureBudget: 2 } }, 'spec.attack.feature_budget');
  bad({ $case: 'attack', value: { ...attack, clipMin: 1, clipMax: 0.5 } }, 'spec.attack.clip_max');
  bad({ $case: 'criticalSampleRatio', value: { radius: 0, steps: 0 } }, 'spec.critical_sample_ratio.radius');
  bad({ $case: 'trajectory', value: { runIds: [], startFraction: 1 } }, 'spec.trajectory.start_fraction');
  bad(
    { $case: 'attribution', value: { method: 0, patchSize: 0, fieldWidth: 0, batchSize: 0, baseline: 0 } },
    'spec.attribution.method',
  );
  bad(
    {
      $case: 'attribution',
      value: {
        method: AttributionMethod.ATTRIBUTION_METHOD_OCCLUSION,
        patchSize: 0,
        fieldWidth: 0,
        batchSize: 0,
        baseline: Number.NaN,
      },
    },
    'spec.attribution.baseline',
  );
  bad({ $case: 'ensembleDisagreement', value: { members: [] } }, 'spec.ensemble_disagreement.members');
  bad(
    { $case: 'ensembleDisagreement', value: { members: [{ source: undefined }] } },
    'spec.ensemble_disagreement.members[0]',
  );
  bad(
    { $case: 'inversion', value: { layers: [], steps: 0, learningRate: -1, init: 0, numImages: 0 } },
    'spec.inversion.learning_rate',
  );
  assert.throws(
    () =>
      validateSpec(
        AnalysisSpec.fromPartial({
          checkpoint: runCheckpoint('r'),
          shuffleExamples: true,
          kind: { $case: 'firstLearned', value: {} },
        }),
        registry,
      ),
    (err: Error & { field?: string }) => err.field === 'spec.shuffle_examples',
  );
});
