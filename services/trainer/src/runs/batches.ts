// The inputs of K optimizer steps as one [K, B, ...] buffer for a Loop call. Offline data: rows picked
// by the epoch's permutation (consecutive batches are consecutive slices of it), gathered into shared
// buffers, the next chunk in the background while the current one trains; distillation: the teacher's
// soft labels picked alike; online data: fresh batches fetched by batch index (= global step), the next
// chunk's requested before the current one trains. Resumes fetch and gather exactly the same rows.
import type { Worker } from 'node:worker_threads';
import { BatchGatherer } from './batch-gatherer.ts';
import type { DataOrder } from './data-order.ts';
import type { ChunkBatches, LabelledSplit } from './training-backend.ts';

/** Where a chunk's batches come from: its first step, its epoch and position, its number of steps. */
export interface ChunkPosition {
  step: number;
  epochIndex: number;
  stepInEpoch: number;
  steps: number;
}

export class OfflineBatches {
  private readonly split: LabelledSplit;
  private readonly soft: Float32Array | undefined;
  private readonly batchSize: number;
  private readonly gatherer: BatchGatherer;

  constructor(
    split: LabelledSplit,
    soft: Float32Array | undefined,
    options: { classes: number; batchSize: number; maxSteps: number; helper?: Worker | undefined },
  ) {
    this.split = split;
    this.soft = soft;
    this.batchSize = options.batchSize;
    const shared = <T extends Float32Array | Int32Array>(a: T, make: (b: SharedArrayBuffer) => T): T => {
      if (a.buffer instanceof SharedArrayBuffer) return a;
      const copy = make(new SharedArrayBuffer(a.byteLength));
      copy.set(a as never);
      return copy;
    };
    this.gatherer = new BatchGatherer(
      {
        x: split.x,
        y: shared(split.y, (b) => new Int32Array(b)),
        ...(soft ? { soft: shared(soft, (b) => new Float32Array(b)) } : {}),
        rowSize: split.rowSize,
        classes: options.classes,
      },
      options.maxSteps * options.batchSize,
      options.helper,
    );
  }

  private key(at: ChunkPosition): string {
    return `${at.epochIndex}:${at.stepInEpoch}:${at.steps}`;
  }

  /** Starts gathering a later chunk in the background (`order` must already hold its epoch's permutation). */
  prefetch(at: ChunkPosition, rows: Uint32Array): void {
    this.gatherer.prefetch(this.key(at), rows);
  }

  /** Rows of the permutation that chunk `at` covers: `steps` consecutive batches. */
  rows(order: DataOrder, at: ChunkPosition, upcoming = false): Uint32Array {
    return order.rows(
      at.stepInEpoch * this.batchSize,
      (at.stepInEpoch + at.steps) * this.batchSize,
      upcoming,
    );
  }

  /**
   * The chunk's batches. All have `batchSize` rows except possibly the epoch's last, which the loop runs
   * as a chunk of its own.
   */
  async gather(order: DataOrder, at: ChunkPosition): Promise<ChunkBatches> {
    const rows = this.rows(order, at);
    const size = at.steps === 1 ? rows.length : this.batchSize;
    if (rows.length !== at.steps * size) throw new Error(`chunk ${this.key(at)} has ${rows.length} rows`);
    const gathered = await this.gatherer.take(this.key(at), rows);
    const out: ChunkBatches = { steps: at.steps, batchSize: size, x: gathered.x, labels: gathered.y };
    if (gathered.soft) out.soft = gathered.soft;
    return out;
  }

  /** The whole split as the batch of `steps` steps, without copying (full-batch gradient descent). */
  whole(steps: number): ChunkBatches {
    const n = this.split.n;
    const out: ChunkBatches = { steps, batchSize: n, x: this.split.x, labels: this.split.y, sameBatch: true };
    if (this.soft) out.soft = this.soft;
    return out;
  }

  close(): Promise<void> {
    return this.gatherer.close();
  }
}

export interface OnlineBatchSource {
  fetch(
    startBatch: number,
    count: number,
    batchSize: number,
  ): Promise<{ x: Float32Array; y: BigInt64Array }[]>;
}

/** Online data: batch b is the data service's batch b (b = global step). */
export class OnlineBatches {
  private readonly source: OnlineBatchSource;
  private readonly batchSize: number;
  private pending:
    | { step: number; steps: number; batches: ReturnType<OnlineBatchSource['fetch']> }
    | undefined;

  constructor(source: OnlineBatchSource, batchSize: number) {
    this.source = source;
    this.batchSize = batchSize;
  }

  /** Asks for a later chunk's batches now; the main thread fetches them while this one trains. */
  prefetch(at: ChunkPosition): void {
    if (this.pending) return;
    const batches = this.source.fetch(at.step, at.steps, this.batchSize);
    batches.catch(() => {}); // a failed prefetch is retried by gather()
    this.pending = { step: at.step, steps: at.steps, batches };
  }

  async gather(at: ChunkPosition): Promise<ChunkBatches> {
    const pending = this.pending;
    this.pending = undefined;
    let batches: Awaited<ReturnType<OnlineBatchSource['fetch']>>;
    try {
      if (!pending || pending.step !== at.step || pending.steps !== at.steps)
        throw new Error('not prefetched');
      batches = await pending.batches;
    } catch {
      batches = await this.source.fetch(at.step, at.steps, this.batchSize);
    }
    const b = this.batchSize;
    const rowSize = (batches[0]?.x.length ?? 0) / b;
    const x = new Float32Array(at.steps * b * rowSize);
    const labels = new Int32Array(at.steps * b);
    batches.forEach((batch, k) => {
      x.set(batch.x, k * b * rowSize);
      for (let i = 0; i < b; i++) labels[k * b + i] = Number(batch.y[i]);
    });
    return { steps: at.steps, batchSize: b, x, labels };
  }
}
