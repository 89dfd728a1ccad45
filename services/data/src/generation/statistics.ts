// Per-split statistics recorded in the manifest at generation.
import { DataType } from '@gengap/proto/common/v1/tensor';
import type { SplitStatistics } from '@gengap/proto/data/v1/dataset';
import { inputMoments } from '../corruptions/context.ts';
import type { SplitData } from '../datasets/types.ts';

export function splitStatistics(split: SplitData, inputShape: number[], numClasses: number): SplitStatistics {
  const classCounts = new Array<number>(numClasses).fill(0);
  for (const c of split.y) classCounts[c] = (classCounts[c] as number) + 1;
  let changed = 0;
  if (split.yClean) for (let i = 0; i < split.n; i++) if (split.y[i] !== split.yClean[i]) changed++;
  const { mean, std } = inputMoments(split.x);
  return {
    numExamples: split.n,
    inputShape,
    inputDtype: DataType.DATA_TYPE_FLOAT32,
    classCounts,
    inputMean: mean,
    inputStd: std,
    labelCorruptionFraction: split.n > 0 ? changed / split.n : 0,
  };
}

/** Whether every input value is an integer, and the range of values (for integer read dtypes). */
export function inputRange(splits: (SplitData | undefined)[]): {
  integral: boolean;
  min: number;
  max: number;
} {
  let integral = true;
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  for (const split of splits) {
    if (!split) continue;
    const x = split.x;
    for (let i = 0; i < x.length; i++) {
      const v = x[i] as number;
      if (v < min) min = v;
      if (v > max) max = v;
      if (integral && !Number.isInteger(v)) integral = false;
    }
  }
  if (min > max) return { integral, min: 0, max: 0 };
  return { integral, min, max };
}
