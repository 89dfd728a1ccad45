// Variants that choose examples. Subsample: a uniformly random subset of `size` examples. Class
// balanced: the first `per_class` examples of each class in a seeded shuffle. Both keep the chosen
// examples in their original order. Replace one (Hardt et al. 2016): training example `index` is
// replaced by a held-out example, everything else (including order) unchanged; the held-out pool of
// a synthetic source is unbounded (candidate r is always the same fresh draw), that of real data is
// the source's training examples not in the split, in a seeded order.
import type { ClassBalanced, ReplaceOne, Subsample } from '@gengap/proto/data/v1/dataset';
import { drawDistinct, sortedIndices } from '../datasets/draws.ts';
import { featureCount, selectExamples } from '../datasets/types.ts';
import { SpecError } from '../validation/spec-error.ts';
import {
  type CorruptionContext,
  corruptionStream,
  fieldOf,
  setSplit,
  splitsOf,
  storedSplits,
} from './context.ts';

/** Origin of an example that came from a synthetic source's held-out pool. */
export const POOL_ORIGIN = 0xffffffff;

export function applySubsample(v: Subsample, ctx: CorruptionContext): void {
  const features = featureCount(ctx.data.inputShape);
  for (const { name, split } of storedSplits(ctx.data, splitsOf(v.splits))) {
    if (v.size > split.n) {
      throw new SpecError(
        fieldOf(ctx, 'size'),
        `${v.size} is more than the ${split.n} examples of the ${name} split`,
      );
    }
    const keep = sortedIndices(drawDistinct(corruptionStream(ctx, name), split.n, v.size));
    setSplit(ctx.data, name, selectExamples(split, keep, features));
  }
}

export function applyClassBalanced(v: ClassBalanced, ctx: CorruptionContext): void {
  const features = featureCount(ctx.data.inputShape);
  const classes = ctx.data.numClasses;
  for (const { name, split } of storedSplits(ctx.data, splitsOf(v.splits))) {
    const order = corruptionStream(ctx, name).permutation(split.n);
    const taken = new Array<number>(classes).fill(0);
    const keep: number[] = [];
    for (const i of order) {
      const c = split.y[i] as number;
      if ((taken[c] as number) < v.perClass) {
        taken[c] = (taken[c] as number) + 1;
        keep.push(i);
      }
    }
    const short = taken.findIndex((t) => t < v.perClass);
    if (short >= 0) {
      throw new SpecError(
        fieldOf(ctx, 'perClass'),
        `class ${short} has only ${taken[short]} examples in the ${name} split`,
      );
    }
    setSplit(ctx.data, name, selectExamples(split, sortedIndices(keep), features));
  }
}

export function applyReplaceOne(v: ReplaceOne, ctx: CorruptionContext): void {
  const { data } = ctx;
  const train = data.train;
  if (!train) throw new SpecError(fieldOf(ctx), 'needs a stored train split');
  if (v.index >= train.n)
    throw new SpecError(fieldOf(ctx, 'index'), `the train split has ${train.n} examples`);
  const features = featureCount(data.inputShape);
  let x: Float32Array;
  let y: number;
  let origin: number;
  if (data.pool) {
    ({ x, y } = data.pool(v.replacement));
    origin = POOL_ORIGIN;
  } else {
    const source = data.sourceTrain as NonNullable<typeof data.sourceTrain>;
    const used = new Uint8Array(source.n);
    for (const o of train.origin) if (o !== POOL_ORIGIN) used[o] = 1;
    const pool: number[] = [];
    for (let i = 0; i < source.n; i++) if (!used[i]) pool.push(i);
    if (v.replacement >= pool.length) {
      throw new SpecError(
        fieldOf(ctx, 'replacement'),
        `must be below the ${pool.length} held-out training examples`,
      );
    }
    corruptionStream(ctx).shuffle(pool);
    origin = pool[v.replacement] as number;
    x = source.x.subarray(origin * features, (origin + 1) * features);
    y = source.y[origin] as number;
  }
  // A fresh split object: the source's own arrays may be shared with `sourceTrain`.
  const replaced = selectExamples(
    train,
    Uint32Array.from({ length: train.n }, (_, i) => i),
    features,
  );
  replaced.x.set(x, v.index * features);
  replaced.y[v.index] = y;
  if (replaced.yClean) replaced.yClean[v.index] = y;
  replaced.origin[v.index] = origin;
  data.train = replaced;
}
