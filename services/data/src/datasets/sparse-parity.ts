// (n, k)-sparse parity: x uniform in {-1, +1}^n; the label is the XOR of the bits b_i = (x_i == -1) at
// the k hidden coordinates, i.e. 1 when the product of those coordinates is -1. Example j of a split
// is a function of (seed, split, j) only, so the online generator yields batch b of size B as
// examples b*B .. b*B+B-1 on every call, whatever was asked before.
import type { SparseParitySource } from '@gengap/proto/data/v1/dataset';
import type { Rng } from '@gengap/random';
import { drawDistinct, itemStream, streamOf } from './draws.ts';
import { type DatasetData, makeSplit, type PoolExample, type ProgressFn, type SplitData } from './types.ts';

const STREAM = 'source.sparseParity';
export const ONLINE_TRAIN_STREAM = `${STREAM}.online`;

/** The hidden subset the seed draws when the spec gives none (sorted). */
export function drawHiddenCoordinates(seed: number, numBits: number, paritySize: number): number[] {
  return [...drawDistinct(streamOf(seed, `${STREAM}.hidden`), numBits, paritySize)].sort((a, b) => a - b);
}

/** Writes n coordinates in {-1, +1} at out[at..] from rng's bits and returns the parity label. */
export function drawParityExample(
  rng: Rng,
  numBits: number,
  hidden: readonly number[],
  out: Float32Array,
  at: number,
): number {
  let word = 0;
  for (let i = 0; i < numBits; i++) {
    if (i % 32 === 0) word = rng.nextUint32();
    out[at + i] = (word >>> (i % 32)) & 1 ? -1 : 1;
  }
  let label = 0;
  for (const h of hidden) if (out[at + h] === -1) label ^= 1;
  return label;
}

/** Example `index` of the named stream (each example from its own generator). */
export function parityExample(
  seed: number,
  stream: string,
  index: number,
  source: SparseParitySource,
  out: Float32Array,
  at: number,
): number {
  return drawParityExample(
    itemStream(seed, stream, index),
    source.numBits,
    source.hiddenCoordinates,
    out,
    at,
  );
}

function split(
  seed: number,
  name: string,
  n: number,
  source: SparseParitySource,
  progress: ProgressFn,
): SplitData {
  const data = makeSplit(n, source.numBits);
  const step = Math.max(1, Math.floor(n / 50));
  for (let i = 0; i < n; i++) {
    data.y[i] = parityExample(seed, `${STREAM}.${name}`, i, source, data.x, i * source.numBits);
    if (i % step === 0) progress(i / n);
  }
  progress(1);
  return data;
}

/** `source` must be canonical (hidden coordinates resolved, train size 0 when online). */
export function sparseParityDataset(
  seed: number,
  source: SparseParitySource,
  progress: ProgressFn,
): DatasetData {
  const total = source.trainSize + source.testSize;
  const train = source.online
    ? undefined
    : split(seed, 'train', source.trainSize, source, (f) => progress((f * source.trainSize) / total));
  const test = split(seed, 'test', source.testSize, source, (f) =>
    progress((source.trainSize + f * source.testSize) / total),
  );
  const pool = (candidate: number): PoolExample => {
    const x = new Float32Array(source.numBits);
    const y = parityExample(seed, `${STREAM}.pool`, candidate, source, x, 0);
    return { x, y };
  };
  return {
    inputShape: [source.numBits],
    numClasses: 2,
    train,
    test,
    image: undefined,
    sourceTrain: train,
    pool,
    auxiliary: new Map(),
    classNames: undefined,
    onlineLabelCorruption: 0,
    details: { hiddenCoordinates: source.hiddenCoordinates },
  };
}
