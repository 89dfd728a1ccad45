// Gathers the inputs of K optimizer steps into one [K, B, ...] buffer for a Loop call. Offline data:
// rows picked by the epoch's permutation; distillation: the teacher's soft labels picked alike;
// online data: fresh batches fetched by batch index (= global step), so resumes fetch the same ones.

import type { DataOrder } from './data-order.ts';
import { gatherRows } from './data-order.ts';
import type { ChunkBatches, LabelledSplit } from './training-backend.ts';

export interface OnlineBatchSource {
  fetch(
    startBatch: number,
    count: number,
    batchSize: number,
  ): Promise<{ x: Float32Array; y: BigInt64Array }[]>;
}

export class OfflineBatches {
  private readonly split: LabelledSplit;
  private readonly rowSize: number;
  private readonly soft: Float32Array | undefined;
  private readonly classes: number;

  constructor(split: LabelledSplit, soft: Float32Array | undefined, classes: number) {
    this.split = split;
    this.rowSize = split.rowSize;
    this.soft = soft;
    this.classes = classes;
  }

  /**
   * Batches `firstBatch`..`firstBatch + steps - 1` of the current epoch. All have `batchSize` rows
   * except possibly the epoch's last, which callers run as a chunk of its own.
   */
  gather(order: DataOrder, firstBatch: number, steps: number, batchSize: number): ChunkBatches {
    const rows = order.batch(firstBatch, batchSize).length;
    const size = steps === 1 ? rows : batchSize;
    const x = new Float32Array(steps * size * this.rowSize);
    const labels = new Int32Array(steps * size);
    const soft = this.soft ? new Float32Array(steps * size * this.classes) : undefined;
    for (let k = 0; k < steps; k++) {
      const indices = order.batch(firstBatch + k, batchSize);
      if (indices.length !== size)
        throw new Error(`batch ${firstBatch + k} has ${indices.length} rows, not ${size}`);
      gatherRows(this.split.x, this.rowSize, indices, x, k * size);
      gatherRows(this.split.y, 1, indices, labels, k * size);
      if (soft && this.soft) gatherRows(this.soft, this.classes, indices, soft, k * size);
    }
    const out: ChunkBatches = { steps, batchSize: size, x, labels };
    if (soft) out.soft = soft;
    return out;
  }

  /** The whole split as the batch of `steps` steps, without copying (full-batch gradient descent). */
  whole(steps: number): ChunkBatches {
    const n = this.split.n;
    const out: ChunkBatches = { steps, batchSize: n, x: this.split.x, labels: this.split.y, sameBatch: true };
    if (this.soft) out.soft = this.soft;
    return out;
  }
}

export async function gatherOnline(
  source: OnlineBatchSource,
  firstStep: number,
  steps: number,
  batchSize: number,
): Promise<ChunkBatches> {
  const batches = await source.fetch(firstStep, steps, batchSize);
  const rowSize = (batches[0]?.x.length ?? 0) / batchSize;
  const x = new Float32Array(steps * batchSize * rowSize);
  const labels = new Int32Array(steps * batchSize);
  batches.forEach((batch, k) => {
    x.set(batch.x, k * batchSize * rowSize);
    for (let i = 0; i < batchSize; i++) labels[k * batchSize + i] = Number(batch.y[i]);
  });
  return { steps, batchSize, x, labels };
}
