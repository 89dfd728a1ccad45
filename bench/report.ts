// Shared output helper for benchmarks: one JSON line per measurement, ratio oriented so higher is better.
export interface BenchLine {
  bench: string;
  metric: string;
  unit: string;
  gengap: number;
  reference: number;
  referenceName: string;
  /** 'higher' when a larger metric is better (throughput), 'lower' when smaller is better (time). */
  better: 'higher' | 'lower';
  extra?: Record<string, unknown>;
}

export function printBench(line: BenchLine): void {
  const ratio = line.better === 'higher' ? line.gengap / line.reference : line.reference / line.gengap;
  const { better: _better, extra, ...rest } = line;
  console.log(JSON.stringify({ ...rest, ratio: Number(ratio.toFixed(4)), ...(extra ?? {}) }));
}
