// The in-memory form of a dataset while it is generated: one entry per split, inputs as row-major
// float32 and labels as int32 (stored as int64). Sources produce it; corruptions transform it.

export type SplitName = 'train' | 'test';

export interface SplitData {
  /** Number of examples. */
  n: number;
  /** [n, ...inputShape] row-major. */
  x: Float32Array;
  y: Int32Array;
  /** Labels before any label corruption, once a corruption changed them. */
  yClean: Int32Array | undefined;
  /** Index of every example in the source's split before any selection (subsample, balance...). */
  origin: Uint32Array;
}

/** One fresh example drawn from a synthetic source's unbounded held-out pool. */
export interface PoolExample {
  x: Float32Array;
  y: number;
}

export interface DatasetData {
  /** Shape of one input, without the batch dimension. */
  inputShape: number[];
  numClasses: number;
  /** Undefined for an online train split (a generator, not stored). */
  train: SplitData | undefined;
  test: SplitData;
  /** Image sources (also when stored flattened): [channels, height, width] and the input value of a
   * black pixel, which fills the corners a rotation uncovers. */
  image: { shape: [number, number, number]; background: number } | undefined;
  /** The source's train split before corruptions, for "replace one" neighbours of real data. */
  sourceTrain: SplitData | undefined;
  /** Held-out examples of a synthetic source, as many as asked for (candidate `r` is always the same). */
  pool: ((candidate: number) => PoolExample) | undefined;
  /** Extra arrays stored next to the splits (the subspace basis...), by file stem. */
  auxiliary: Map<
    string,
    { dtype: 'float32' | 'float64'; shape: number[]; data: Float32Array | Float64Array }
  >;
  /** Human-readable class names (tabular targets, Fashion-MNIST), when known. */
  classNames: string[] | undefined;
  /** Expected fraction of corrupted labels of an online train split (label noise on a generator). */
  onlineLabelCorruption: number;
  /** Source facts recorded in the manifest file for analyses (field names of a table...). */
  details: Record<string, unknown>;
}

export function featureCount(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

export function makeSplit(n: number, features: number): SplitData {
  const origin = new Uint32Array(n);
  for (let i = 0; i < n; i++) origin[i] = i;
  return { n, x: new Float32Array(n * features), y: new Int32Array(n), yClean: undefined, origin };
}

/** Keeps examples `keep` (indices into the split, in the order given). */
export function selectExamples(split: SplitData, keep: ArrayLike<number>, features: number): SplitData {
  const n = keep.length;
  const x = new Float32Array(n * features);
  const y = new Int32Array(n);
  const yClean = split.yClean ? new Int32Array(n) : undefined;
  const origin = new Uint32Array(n);
  for (let i = 0; i < n; i++) {
    const j = keep[i] as number;
    x.set(split.x.subarray(j * features, (j + 1) * features), i * features);
    y[i] = split.y[j] as number;
    if (yClean) yClean[i] = (split.yClean as Int32Array)[j] as number;
    origin[i] = split.origin[j] as number;
  }
  return { n, x, y, yClean, origin };
}

/** Reports progress of a long step as a fraction in [0, 1]. */
export type ProgressFn = (fraction: number) => void;
