// Small statistics over samples, in Float64: moments, quantiles, histograms, Pearson correlation, the
// Hill tail index, and the two-sample Kolmogorov-Smirnov test. Pure functions, no engine.

export function mean(values: ArrayLike<number>): number {
  if (values.length === 0) return Number.NaN;
  let s = 0;
  for (let i = 0; i < values.length; i++) s += values[i]!;
  return s / values.length;
}

/** Linear-interpolation quantile (numpy's default), q in [0, 1]. */
export function quantile(values: ArrayLike<number>, q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = Float64Array.from(values).sort();
  const position = q * (sorted.length - 1);
  const lo = Math.floor(position);
  const hi = Math.min(sorted.length - 1, lo + 1);
  return sorted[lo]! + (position - lo) * (sorted[hi]! - sorted[lo]!);
}

export function median(values: ArrayLike<number>): number {
  return quantile(values, 0.5);
}

/** Pearson correlation; NaN when fewer than `minimum` pairs (default 3) or a variable is constant. */
export function pearson(x: ArrayLike<number>, y: ArrayLike<number>, minimum = 3): number {
  const n = x.length;
  if (n !== y.length) throw new RangeError(`pearson: ${n} x values but ${y.length} y values`);
  if (n < minimum) return Number.NaN;
  const mx = mean(x);
  const my = mean(y);
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    const dx = x[i]! - mx;
    const dy = y[i]! - my;
    sxy += dx * dy;
    sxx += dx * dx;
    syy += dy * dy;
  }
  return sxx > 0 && syy > 0 ? sxy / Math.sqrt(sxx * syy) : Number.NaN;
}

export interface Histogram {
  /** Bin centres and counts; bins split [lo, hi] evenly, the last one closed. */
  centres: number[];
  counts: number[];
  lo: number;
  hi: number;
}

/** Histogram of the finite values over [min, max] (a degenerate range gets width 1). */
export function histogram(values: ArrayLike<number>, bins: number): Histogram {
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (!Number.isFinite(v)) continue;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  if (lo > hi) return { centres: [], counts: [], lo: Number.NaN, hi: Number.NaN };
  if (hi === lo) hi = lo + 1;
  const width = (hi - lo) / bins;
  const counts = new Array<number>(bins).fill(0);
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (!Number.isFinite(v)) continue;
    counts[Math.min(bins - 1, Math.floor((v - lo) / width))]!++;
  }
  const centres = counts.map((_, b) => lo + (b + 0.5) * width);
  return { centres, counts, lo, hi };
}

/**
 * Hill's estimator of the tail index alpha of |values| (P(|X| > x) ~ x^-alpha) from the k largest
 * magnitudes: alpha = 1 / mean_{i<k} ln(X_(i) / X_(k)), X_(0) the largest. k defaults to
 * max(10, floor(sqrt(n))) (capped at n - 1), a common compromise between bias and variance.
 */
export function hillTailIndex(values: ArrayLike<number>, k?: number): { alpha: number; k: number } {
  const magnitudes = Float64Array.from(values, Math.abs)
    .filter((v) => v > 0 && Number.isFinite(v))
    .sort()
    .reverse();
  const n = magnitudes.length;
  const order = Math.min(n - 1, k ?? Math.max(10, Math.floor(Math.sqrt(n))));
  if (order < 2) return { alpha: Number.NaN, k: Math.max(0, order) };
  const threshold = magnitudes[order]!;
  let s = 0;
  for (let i = 0; i < order; i++) s += Math.log(magnitudes[i]! / threshold);
  return { alpha: order / s, k: order };
}

/** Two-sided two-sample Kolmogorov-Smirnov test: D = sup |F_a - F_b| and its asymptotic p-value. */
export function ksTwoSample(
  a: ArrayLike<number>,
  b: ArrayLike<number>,
): { statistic: number; pValue: number } {
  const x = Float64Array.from(a).sort();
  const y = Float64Array.from(b).sort();
  const n = x.length;
  const m = y.length;
  if (n === 0 || m === 0) return { statistic: Number.NaN, pValue: Number.NaN };
  let i = 0;
  let j = 0;
  let d = 0;
  while (i < n && j < m) {
    const v = Math.min(x[i]!, y[j]!);
    while (i < n && x[i]! <= v) i++;
    while (j < m && y[j]! <= v) j++;
    d = Math.max(d, Math.abs(i / n - j / m));
  }
  const effective = Math.sqrt((n * m) / (n + m));
  // Stephens' small-sample correction of the argument of the Kolmogorov distribution.
  const lambda = (effective + 0.12 + 0.11 / effective) * d;
  return { statistic: d, pValue: kolmogorovSurvival(lambda) };
}

/** P(K > lambda) for the Kolmogorov distribution: 2 sum_{j>=1} (-1)^{j-1} exp(-2 j^2 lambda^2). */
export function kolmogorovSurvival(lambda: number): number {
  if (lambda <= 0) return 1;
  if (lambda < 0.2) return 1;
  let sum = 0;
  for (let j = 1; j <= 100; j++) {
    const term = (j % 2 === 1 ? 2 : -2) * Math.exp(-2 * j * j * lambda * lambda);
    sum += term;
    if (Math.abs(term) < 1e-16) break;
  }
  return Math.min(1, Math.max(0, sum));
}
