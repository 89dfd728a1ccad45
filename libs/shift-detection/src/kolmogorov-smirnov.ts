// The two-sample Kolmogorov-Smirnov distance D = sup_x |F_a(x) - F_b(x)| of two empirical
// distributions (ties handled by advancing both samples past the common value). The entropy test
// calibrates D against null trials, so no asymptotic p-value is needed here.

/** D = sup |F_a - F_b|; NaN when either sample is empty. */
export function ksDistance(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const x = Float64Array.from(a).sort();
  const y = Float64Array.from(b).sort();
  const n = x.length;
  const m = y.length;
  if (n === 0 || m === 0) return Number.NaN;
  let i = 0;
  let j = 0;
  let d = 0;
  while (i < n && j < m) {
    const v = Math.min(x[i] as number, y[j] as number);
    while (i < n && (x[i] as number) <= v) i++;
    while (j < m && (y[j] as number) <= v) j++;
    d = Math.max(d, Math.abs(i / n - j / m));
  }
  return d;
}
