// Pixel permutations (Zhang et al. 2017). Shuffled pixels: one random permutation of the input
// features, drawn once per dataset and applied to every example of every selected split. Random
// pixels: every example gets its own permutation, so each keeps its multiset of values.
import type { RandomPixels, ShufflePixels } from '@gengap/proto/data/v1/dataset';
import { featureCount } from '../datasets/types.ts';
import { type CorruptionContext, corruptionStream, splitsOf, storedSplits } from './context.ts';

/** The permutation a shuffle-pixels corruption applies: x'[j] = x[permutation[j]]. */
export function applyShufflePixels(v: ShufflePixels, ctx: CorruptionContext): void {
  const features = featureCount(ctx.data.inputShape);
  const permutation = corruptionStream(ctx).permutation(features);
  const row = new Float32Array(features);
  for (const { split } of storedSplits(ctx.data, splitsOf(v.splits))) {
    for (let i = 0; i < split.n; i++) {
      const at = i * features;
      row.set(split.x.subarray(at, at + features));
      for (let j = 0; j < features; j++) split.x[at + j] = row[permutation[j] as number] as number;
    }
  }
}

export function applyRandomPixels(v: RandomPixels, ctx: CorruptionContext): void {
  const features = featureCount(ctx.data.inputShape);
  for (const { name, split } of storedSplits(ctx.data, splitsOf(v.splits))) {
    const rng = corruptionStream(ctx, name);
    for (let i = 0; i < split.n; i++) rng.shuffle(split.x.subarray(i * features, (i + 1) * features));
  }
}
