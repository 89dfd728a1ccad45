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
    this.epochStartState = this.rng.getState();
    this.permutation = this.draw();
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
