// What every corruption receives: the dataset so far, its own random streams, and where it sits in
// the spec (for stream names and error paths).
import { SplitSelection } from '@gengap/proto/data/v1/dataset';
import type { Rng } from '@gengap/random';
import { streamOf } from '../datasets/draws.ts';
import type { DatasetData, ProgressFn, SplitData, SplitName } from '../datasets/types.ts';

export interface CorruptionContext {
  seed: number;
  data: DatasetData;
  /** Position in spec.corruptions (for error paths). */
  index: number;
  /** How many corruptions of the same kind came before this one (for stream names). */
  occurrence: number;
  kind: string;
  progress: ProgressFn;
}

/**
 * The corruption's own stream, named by kind and occurrence ("labelNoise#0/train"), so that adding,
 * removing or reordering other corruptions never changes the numbers this one draws.
 */
export function corruptionStream(ctx: CorruptionContext, suffix?: string): Rng {
  const base = `corruption.${ctx.kind}#${ctx.occurrence}`;
  return streamOf(ctx.seed, suffix === undefined ? base : `${base}/${suffix}`);
}

export function fieldOf(ctx: CorruptionContext, name?: string): string {
  const base = `spec.corruptions[${ctx.index}].${ctx.kind}`;
  return name === undefined ? base : `${base}.${name}`;
}

/** The splits a canonical selection names. */
export function splitsOf(selection: SplitSelection): SplitName[] {
  if (selection === SplitSelection.SPLIT_SELECTION_BOTH) return ['train', 'test'];
  return selection === SplitSelection.SPLIT_SELECTION_TEST ? ['test'] : ['train'];
}

/** The stored splits among `names` (an online train split is skipped: it is a generator). */
export function storedSplits(data: DatasetData, names: SplitName[]): { name: SplitName; split: SplitData }[] {
  const out: { name: SplitName; split: SplitData }[] = [];
  for (const name of names) {
    const split = name === 'train' ? data.train : data.test;
    if (split) out.push({ name, split });
  }
  return out;
}

export function setSplit(data: DatasetData, name: SplitName, split: SplitData): void {
  if (name === 'train') data.train = split;
  else data.test = split;
}

/** Mean and standard deviation of every input value of a split, accumulated in float64. */
export function inputMoments(x: Float32Array): { mean: number; std: number } {
  if (x.length === 0) return { mean: 0, std: 0 };
  let sum = 0;
  for (let i = 0; i < x.length; i++) sum += x[i] as number;
  const mean = sum / x.length;
  let sq = 0;
  for (let i = 0; i < x.length; i++) sq += ((x[i] as number) - mean) ** 2;
  return { mean, std: Math.sqrt(sq / x.length) };
}
