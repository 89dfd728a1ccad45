// Label corruption (Zhang et al. 2017; "randY" of Arpit et al. 2017). Each label is replaced, with
// probability `fraction` and independently, by a uniformly random class that may equal the true one;
// or, with exact_and_always_wrong, exactly round(fraction * n) labels chosen by the seed are replaced
// by a different class. Drawn once at generation and stored, so never redrawn per epoch; the original
// labels are kept as y_clean.
import type { LabelNoise } from '@gengap/proto/data/v1/dataset';
import { drawDistinct } from '../datasets/draws.ts';
import { type CorruptionContext, corruptionStream, splitsOf, storedSplits } from './context.ts';

export function applyLabelNoise(v: LabelNoise, ctx: CorruptionContext): void {
  const { data } = ctx;
  const classes = data.numClasses;
  const names = splitsOf(v.splits);
  if (names.includes('train') && !data.train) {
    // Online train split: the generator applies the noise per example (see reading/online.ts); record
    // the expected fraction of changed labels: q <- (1 - p) q + p (C - 1) / C.
    data.onlineLabelCorruption =
      (1 - v.fraction) * data.onlineLabelCorruption + (v.fraction * (classes - 1)) / classes;
  }
  for (const { name, split } of storedSplits(data, names)) {
    const rng = corruptionStream(ctx, name);
    split.yClean ??= split.y.slice();
    const y = split.y;
    if (v.exactAndAlwaysWrong) {
      const chosen = drawDistinct(rng, split.n, Math.round(v.fraction * split.n));
      for (const i of chosen) y[i] = ((y[i] as number) + 1 + rng.int(classes - 1)) % classes;
    } else {
      for (let i = 0; i < split.n; i++) if (rng.uniform() < v.fraction) y[i] = rng.int(classes);
    }
  }
}
