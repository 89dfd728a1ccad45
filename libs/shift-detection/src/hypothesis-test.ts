// The statistical core of Detectron (Ginsberg et al. 2023), pure: given the statistic of query sets
// and of in-distribution (null) query sets, p-values, rejections, false-positive rate and power.
//  - Disagreement test: the statistic is the rejection (disagreement) rate of the CDC ensemble on a
//    query set; larger means more shift. p = (1 + #{null >= s}) / (1 + T) over T null trials: a valid
//    (super-uniform) p-value whenever the query's statistic is exchangeable with the null ones, so the
//    false-positive rate on in-distribution queries is at most the significance level, up to binomial
//    noise in finite experiments. Its resolution is 1 / (1 + T): with T null trials no p-value is
//    below that, so a level-alpha test needs T >= 1 / alpha - 1 (19 at 5%) to ever reject.
//  - Entropy test: per-example entropies of the ensemble's mean prediction; the Kolmogorov-Smirnov
//    distance between the query's entropies and the pooled null entropies, calibrated against the
//    leave-one-out distances of the null trials themselves (Detectron's analysis does the same with KS
//    p-values), giving a p-value of the same form.
//  - False-positive rate of an experiment: each null trial tested against the other null trials
//    (leave one out), the fraction rejected.
import { ksDistance } from './kolmogorov-smirnov.ts';

/** Shannon entropy (nats) of a probability vector. */
export function entropy(p: ArrayLike<number>): number {
  let h = 0;
  for (let i = 0; i < p.length; i++) {
    const v = p[i] as number;
    if (v > 0) h -= v * Math.log(v);
  }
  return h;
}

/** One-sided permutation p-value of a statistic against null draws (larger = more extreme). */
export function empiricalPValue(statistic: number, nulls: readonly number[]): number {
  let atLeast = 0;
  for (const n of nulls) if (n >= statistic) atLeast++;
  return (1 + atLeast) / (1 + nulls.length);
}

/** The smallest p-value `empiricalPValue` can give with `nullTrials` null draws: 1 / (1 + T). */
export function smallestPValue(nullTrials: number): number {
  return 1 / (1 + nullTrials);
}

export interface TestOutcome {
  pValues: number[];
  rejected: boolean[];
  /** Fraction of queries rejected at the significance level (false-positive rate for in-distribution queries, power for shifted ones). */
  rejectionRate: number;
}

function outcome(pValues: number[], significance: number): TestOutcome {
  const rejected = pValues.map((p) => p <= significance);
  return {
    pValues,
    rejected,
    rejectionRate: pValues.length ? rejected.filter(Boolean).length / pValues.length : Number.NaN,
  };
}

/** Disagreement test of each query statistic against the null statistics. */
export function disagreementTest(
  nullStatistics: readonly number[],
  queryStatistics: readonly number[],
  significance: number,
): TestOutcome {
  return outcome(
    queryStatistics.map((s) => empiricalPValue(s, nullStatistics)),
    significance,
  );
}

/** KS distance of each null trial's entropies from the pooled entropies of the other null trials. */
export function leaveOneOutDistances(nullEntropies: readonly (readonly number[])[]): number[] {
  return nullEntropies.map((trial, i) => {
    const rest = nullEntropies.filter((_, j) => j !== i).flat();
    return ksDistance(trial, rest);
  });
}

/** Entropy test of each query's entropies against the null trials' entropies. */
export function entropyTest(
  nullEntropies: readonly (readonly number[])[],
  queryEntropies: readonly (readonly number[])[],
  significance: number,
): TestOutcome {
  const calibration = leaveOneOutDistances(nullEntropies);
  const pooled = nullEntropies.flat();
  return outcome(
    queryEntropies.map((q) => empiricalPValue(ksDistance(q, pooled), calibration)),
    significance,
  );
}

/** Each null trial's statistic tested against the other null trials: the false-positive rate. */
export function disagreementFalsePositives(
  nullStatistics: readonly number[],
  significance: number,
): TestOutcome {
  return outcome(
    nullStatistics.map((s, i) =>
      empiricalPValue(
        s,
        nullStatistics.filter((_, j) => j !== i),
      ),
    ),
    significance,
  );
}

/** Each null trial's entropies tested (entropy test) against the other null trials. */
export function entropyFalsePositives(
  nullEntropies: readonly (readonly number[])[],
  significance: number,
): TestOutcome {
  return outcome(
    nullEntropies.map(
      (trial, i) =>
        entropyTest(
          nullEntropies.filter((_, j) => j !== i),
          [trial],
          significance,
        ).pValues[0] as number,
    ),
    significance,
  );
}

/**
 * The largest false-positive rate consistent with a valid level-alpha test over `trials` independent
 * in-distribution queries: alpha + z * sqrt(alpha (1 - alpha) / trials) (normal approximation of the
 * binomial; z = 3 by default).
 */
export function falsePositiveTolerance(significance: number, trials: number, z = 3): number {
  return significance + z * Math.sqrt((significance * (1 - significance)) / trials);
}
