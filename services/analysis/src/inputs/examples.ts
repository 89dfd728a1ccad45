// A set of examples as the engine takes them: flat row-major inputs (float features, or Int32 codes
// for models that start with an embedding) and Int32 labels, with the selection rules of AnalysisSpec
// (seeded shuffle, first N) applied in one place.
import type { Split } from '@gengap/proto/common/v1/refs';
import type { DatasetSpec } from '@gengap/proto/data/v1/dataset';
import { Rng } from '@gengap/random';

export type ExampleInputs = Float32Array | Float64Array | Int32Array;

export interface ExampleSet {
  readonly datasetId: string;
  readonly split: Split;
  /** [count, ...inputShape] row-major. */
  readonly x: ExampleInputs;
  readonly y: Int32Array;
  readonly count: number;
  readonly inputShape: readonly number[];
  readonly rowSize: number;
  readonly numClasses: number;
  /** Labels before any label corruption, row for row (only when the split's labels were corrupted). */
  readonly yClean?: Int32Array | undefined;
  /** The dataset's canonical spec (from its manifest), when the source knows it. */
  readonly datasetSpec?: DatasetSpec | undefined;
}

/** A split as stored by the data service (all of it). */
export interface SplitData {
  datasetId: string;
  split: Split;
  x: ExampleInputs;
  y: Int32Array;
  inputShape: number[];
  numClasses: number;
  yClean?: Int32Array | undefined;
  datasetSpec?: DatasetSpec | undefined;
}

function copyRows(x: ExampleInputs, rowSize: number, indices: ArrayLike<number>): ExampleInputs {
  const out = new (x.constructor as { new (n: number): ExampleInputs })(indices.length * rowSize);
  for (let i = 0; i < indices.length; i++) {
    const r = indices[i]!;
    out.set(x.subarray(r * rowSize, (r + 1) * rowSize), i * rowSize);
  }
  return out;
}

export function exampleSet(data: SplitData): ExampleSet {
  const rowSize = data.inputShape.reduce((a, d) => a * d, 1);
  return {
    datasetId: data.datasetId,
    split: data.split,
    x: data.x,
    y: data.y,
    count: data.y.length,
    inputShape: data.inputShape,
    rowSize,
    numClasses: data.numClasses,
    yClean: data.yClean,
    datasetSpec: data.datasetSpec,
  };
}

/** The rows `indices` of a set, in that order (copied). */
export function selectRows(set: ExampleSet, indices: ArrayLike<number>): ExampleSet {
  const y = new Int32Array(indices.length);
  for (let i = 0; i < indices.length; i++) y[i] = set.y[indices[i]!]!;
  const yClean = set.yClean ? Int32Array.from(indices, (r) => set.yClean![r]!) : undefined;
  return { ...set, x: copyRows(set.x, set.rowSize, indices), y, yClean, count: indices.length };
}

/** Rows [start, end) without copying. */
export function sliceRows(set: ExampleSet, start: number, end: number): ExampleSet {
  return {
    ...set,
    x: set.x.subarray(start * set.rowSize, end * set.rowSize),
    y: set.y.subarray(start, end),
    yClean: set.yClean?.subarray(start, end),
    count: end - start,
  };
}

/**
 * AnalysisSpec's selection: the first `numExamples` (0 = all) after a shuffle seeded by `seed` when
 * `shuffle` is set. The same (seed, split) always selects the same rows.
 */
export function selectExamples(
  set: ExampleSet,
  numExamples: number,
  shuffle: boolean,
  seed: number,
): ExampleSet {
  const take = numExamples > 0 ? Math.min(numExamples, set.count) : set.count;
  if (!shuffle) return take === set.count ? set : sliceRows(set, 0, take);
  const order = new Rng(seed, `examples:${set.split}`).permutation(set.count);
  return selectRows(set, order.subarray(0, take));
}

/** A seeded random subset of `size` rows (a mini-batch), in random order. */
export function randomBatch(set: ExampleSet, size: number, rng: Rng): ExampleSet {
  if (size >= set.count) return set;
  return selectRows(set, rng.permutation(set.count).subarray(0, size));
}
