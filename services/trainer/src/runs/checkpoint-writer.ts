// Writes a run's checkpoints in the background: the loop hands over a copy of the parameters and
// optimizer state and goes on training while a helper thread (checkpoint-writer-worker.ts) writes and
// fsyncs the files. Writes complete in the order they were asked for. Without a helper thread (tests,
// tools) writes happen on the spot.
import { Worker } from 'node:worker_threads';
import {
  type NewCheckpoint,
  pruneCheckpoints,
  type WrittenCheckpoint,
  writeCheckpoint,
} from './checkpoints.ts';
import type { NamedArray } from './worker-protocol.ts';

const WORKER_URL = new URL('./checkpoint-writer-worker.ts', import.meta.url);

/** The helper thread that writes checkpoints (one per training worker, kept across runs). */
export function startCheckpointWriterThread(): Worker {
  const worker = new Worker(WORKER_URL, { name: 'checkpoint writer' });
  worker.unref();
  return worker;
}

/** An own copy of each tensor (views of the flat arrays would drag the whole buffer along). */
function snapshot(tensors: readonly NamedArray[]): NamedArray[] {
  return tensors.map((t) => ({ ...t, shape: [...t.shape], data: t.data.slice() }));
}

export class CheckpointWriter {
  private readonly runDir: string;
  private readonly worker: Worker | undefined;
  private readonly waiting = new Map<
    number,
    (reply: { written?: WrittenCheckpoint; error?: string }) => void
  >();
  private nextId = 1;
  private last: Promise<unknown> = Promise.resolve();

  private readonly onReply = (reply: { id: number; written?: WrittenCheckpoint; error?: string }) => {
    this.waiting.get(reply.id)?.(reply);
    this.waiting.delete(reply.id);
  };

  /** `helper`: a writer thread (startCheckpointWriterThread); without one, writes happen on the spot. */
  constructor(runDir: string, helper?: Worker) {
    this.runDir = runDir;
    this.worker = helper;
    helper?.on('message', this.onReply);
  }

  /** Resolves once the checkpoint is durable and older resume checkpoints are pruned. */
  write(
    checkpoint: NewCheckpoint,
    parameters: readonly NamedArray[],
    optimizer: readonly NamedArray[],
  ): Promise<WrittenCheckpoint> {
    if (!this.worker) {
      const written = writeCheckpoint(this.runDir, checkpoint, parameters, optimizer);
      pruneCheckpoints(this.runDir, checkpoint.step);
      return Promise.resolve(written);
    }
    const params = snapshot(parameters);
    const state = snapshot(optimizer);
    const id = this.nextId++;
    const done = new Promise<WrittenCheckpoint>((resolve, reject) => {
      this.waiting.set(id, (reply) =>
        reply.written
          ? resolve(reply.written)
          : reject(new Error(`checkpoint ${checkpoint.step}: ${reply.error}`)),
      );
    });
    this.worker.postMessage(
      { id, runDir: this.runDir, checkpoint, parameters: params, optimizer: state },
      [...params, ...state].map((t) => t.data.buffer as ArrayBuffer),
    );
    this.last = done.catch(() => {});
    return done;
  }

  /** Resolves when every write asked for so far has finished. */
  idle(): Promise<void> {
    return this.last.then(() => {});
  }

  /** Waits for pending writes and lets go of the helper thread (which stays for the next run). */
  async close(): Promise<void> {
    await this.idle();
    this.worker?.off('message', this.onReply);
  }
}
