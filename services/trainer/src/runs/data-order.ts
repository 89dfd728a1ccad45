// The order in which a run visits its training examples: one permutation per epoch, drawn from the
// run's "data-order" random stream. The stream's state at the start of the current epoch is saved in
// every checkpoint, so a resumed run draws the same permutation and continues mid-epoch.
import { Rng } from '@gengap/random';

export class DataOrder {
  private rng: Rng;
  private readonly size: number;
  private readonly shuffle: boolean;
  private epochStartState: number[];
  private permutation: Uint32Array;
  private upcoming: { rng: Rng; startState: number[]; permutation: Uint32Array } | undefined;

  private constructor(rng: Rng, size: number, shuffle: boolean) {
    this.rng = rng;
    this.size = size;
    this.shuffle = shuffle;
    this.epochStartState = rng.getState();
    this.permutation = this.draw();
  }

  /** The order of the first epoch of a run. */
  static start(seed: number, size: number, shuffle: boolean): DataOrder {
    return new DataOrder(new Rng(seed, 'data-order'), size, shuffle);
  }

  /** The order of the epoch whose start state a checkpoint saved. */
  static resume(epochStartState: readonly number[], size: number, shuffle: boolean): DataOrder {
    return new DataOrder(Rng.fromState(epochStartState), size, shuffle);
  }

  private draw(): Uint32Array {
    if (this.shuffle) return this.rng.permutation(this.size);
    const identity = new Uint32Array(this.size);
    for (let i = 0; i < this.size; i++) identity[i] = i;
    return identity;
  }

  /** Moves to the next epoch's order. */
  nextEpoch(): void {
    const upcoming = this.upcomingEpoch();
    this.rng = upcoming.rng;
    this.epochStartState = upcoming.startState;
    this.permutation = upcoming.permutation;
    this.upcoming = undefined;
  }

  /** The next epoch's order, drawn ahead on a copy of the stream (for prefetching); nextEpoch uses it. */
  private upcomingEpoch(): { rng: Rng; startState: number[]; permutation: Uint32Array } {
    if (!this.upcoming) {
      const startState = this.rng.getState();
      const saved = this.rng;
      this.rng = Rng.fromState(startState);
      const permutation = this.draw();
      this.upcoming = { rng: this.rng, startState, permutation };
      this.rng = saved;
    }
    return this.upcoming;
  }

  /** Rows [start, end) of the current epoch's order, or of the next epoch's with `upcoming`. */
  rows(start: number, end: number, upcoming = false): Uint32Array {
    const permutation = upcoming ? this.upcomingEpoch().permutation : this.permutation;
    return permutation.subarray(start, Math.min(end, this.size));
  }

  /** The random stream's state at the start of the current epoch (saved in checkpoints). */
  get state(): number[] {
    return [...this.epochStartState];
  }

  /** Example indices of batch `index` of the current epoch (the last batch may be smaller). */
  batch(index: number, batchSize: number): Uint32Array {
    const start = index * batchSize;
    return this.permutation.subarray(start, Math.min(start + batchSize, this.size));
  }
}

/** Copies rows `indices` of a row-major [N, rowSize] array into `out` starting at row `outRow`. */
export function gatherRows<T extends Float32Array | Float64Array | Int32Array>(
  source: T,
  rowSize: number,
  indices: ArrayLike<number>,
  out: T,
  outRow = 0,
): void {
  for (let i = 0; i < indices.length; i++) {
    const from = (indices[i] as number) * rowSize;
    out.set(source.subarray(from, from + rowSize) as never, (outRow + i) * rowSize);
  }
}
