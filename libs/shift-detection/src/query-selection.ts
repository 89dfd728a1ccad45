// Which examples of a stored split make a query set: the first `size` (0 = all) in stored order, or
// after a seeded shuffle. The shuffle is Rng(seed, `examples:<split>`).permutation(count) with
// <split> the gengap.common.v1.Split number (1 train, 2 test): exactly the selection of an
// AnalysisSpec with shuffle_examples and that seed in the analysis service, so that a trainer's
// Detectron query set (RunSpec.disagreement.shuffle_query, query_seed) and the examples an
// EnsembleDisagreement analysis scores are the same rows, in the same order.
import { Rng } from '@gengap/random';

export interface QuerySelection {
  /** Examples in the split. */
  count: number;
  /** Examples to take; 0 means all. */
  size: number;
  shuffle: boolean;
  seed: number;
  /** gengap.common.v1.Split number of the split (1 train, 2 test). */
  split: number;
}

/** Indices into the split (stored order) of the query set's examples, in query order. */
export function querySelection(s: QuerySelection): Uint32Array {
  const take = s.size > 0 ? Math.min(s.size, s.count) : s.count;
  if (!s.shuffle) return Uint32Array.from({ length: take }, (_, i) => i);
  return new Rng(s.seed, `examples:${s.split}`).permutation(s.count).slice(0, take);
}
