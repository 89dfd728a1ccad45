// Gathers chunk batches (rows picked by the epoch's permutation) into two reusable shared buffers. The
// loop asks for the next chunk before it trains on the current one; a helper thread (gather-worker.ts)
// fills the other buffer meanwhile. A chunk that was not prefetched is gathered on the spot. Either way
// the bytes are the same, so prefetching never changes a result.
import { Worker } from 'node:worker_threads';

/** The split's arrays, all in SharedArrayBuffers. */
export interface GatherSource {
  x: Float32Array;
  y: Int32Array;
  soft?: Float32Array;
  rowSize: number;
  classes: number;
}

export interface GatherSlot {
  x: Float32Array;
  y: Int32Array;
  soft?: Float32Array;
}

export interface GatheredRows {
  x: Float32Array;
  y: Int32Array;
  soft?: Float32Array;
}

function bytesOf(a: Float32Array): Buffer {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}

/** Copies rows `indices` of the source into the slot, in order (memcpy per row: Buffer.copy). */
export function gatherInto(source: GatherSource, indices: Uint32Array, slot: GatherSlot): void {
  const { rowSize, classes } = source;
  const rowBytes = rowSize * 4;
  const x = bytesOf(source.x);
  const out = bytesOf(slot.x);
  const soft = source.soft && slot.soft ? { from: bytesOf(source.soft), to: bytesOf(slot.soft) } : undefined;
  for (let i = 0; i < indices.length; i++) {
    const row = indices[i] as number;
    x.copy(out, i * rowBytes, row * rowBytes, (row + 1) * rowBytes);
    slot.y[i] = source.y[row] as number;
    if (soft) soft.from.copy(soft.to, i * classes * 4, row * classes * 4, (row + 1) * classes * 4);
  }
}

const WORKER_URL = new URL('./gather-worker.ts', import.meta.url);

/** The helper thread that gathers in the background (one per training worker, kept across runs). */
export function startGatherThread(): Worker {
  const worker = new Worker(WORKER_URL, { name: 'batch gatherer' });
  worker.unref();
  return worker;
}

function sharedFloat32(length: number): Float32Array {
  return new Float32Array(new SharedArrayBuffer(length * 4));
}

export class BatchGatherer {
  private readonly source: GatherSource;
  private readonly slots: GatherSlot[];
  private readonly worker: Worker | undefined;
  private readonly waiting = new Map<number, () => void>();
  private nextId = 1;
  /** Slot of the chunk handed out last (in use until the next take). */
  private current = 0;
  private pending: { key: string; slot: number; rows: number; done: Promise<void> } | undefined;

  private readonly onReply = ({ id }: { id: number }) => {
    this.waiting.get(id)?.();
    this.waiting.delete(id);
  };

  /**
   * `maxRows`: rows of the largest chunk (steps per call x batch size). `helper`: a gather thread
   * (startGatherThread) to prefetch with; without one, every chunk is gathered on the spot.
   */
  constructor(source: GatherSource, maxRows: number, helper?: Worker) {
    this.source = source;
    const slot = (): GatherSlot => {
      const s: GatherSlot = {
        x: sharedFloat32(maxRows * source.rowSize),
        y: new Int32Array(new SharedArrayBuffer(maxRows * 4)),
      };
      if (source.soft) s.soft = sharedFloat32(maxRows * source.classes);
      return s;
    };
    this.slots = [slot(), slot()];
    this.worker = helper;
    if (helper) {
      helper.postMessage({ type: 'setup', source, slots: this.slots });
      helper.on('message', this.onReply);
    }
  }

  /** Starts gathering the chunk `key` (rows `indices`) in the background. */
  prefetch(key: string, indices: Uint32Array): void {
    if (!this.worker || this.pending) return;
    const slot = 1 - this.current;
    const id = this.nextId++;
    const done = new Promise<void>((resolve) => this.waiting.set(id, resolve));
    this.worker.postMessage({ type: 'gather', id, slot, indices });
    this.pending = { key, slot, rows: indices.length, done };
  }

  /** The rows of chunk `key`: the prefetched buffer when it matches, else gathered now. */
  async take(key: string, indices: Uint32Array): Promise<GatheredRows> {
    let slot: number;
    const pending = this.pending;
    this.pending = undefined;
    if (pending) await pending.done;
    if (pending?.key === key && pending.rows === indices.length) {
      slot = pending.slot;
    } else {
      slot = 1 - this.current;
      gatherInto(this.source, indices, this.slots[slot] as GatherSlot);
    }
    this.current = slot;
    const s = this.slots[slot] as GatherSlot;
    const rows = indices.length;
    const out: GatheredRows = { x: s.x.subarray(0, rows * this.source.rowSize), y: s.y.subarray(0, rows) };
    if (s.soft) out.soft = s.soft.subarray(0, rows * this.source.classes);
    return out;
  }

  /** Waits for a prefetch in flight and lets go of the helper thread (which stays for the next run). */
  async close(): Promise<void> {
    await this.pending?.done;
    this.worker?.postMessage({ type: 'release' });
    this.worker?.off('message', this.onReply);
  }
}
