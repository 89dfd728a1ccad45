// Training worker threads, kept between runs. Starting a worker thread loads its modules (the engine,
// onnxruntime, the contracts) anew, which costs a large part of a CPU-second; so a worker that has
// finished a run waits for the next one instead of exiting, and one worker is started ahead of the
// first run. A worker trains one run at a time and releases that run's sessions before it is reused;
// one that fails or is terminated is simply not reused.
import { Worker } from 'node:worker_threads';
import type { MainToWorker, WorkerInput } from './worker-protocol.ts';

const WORKER_URL = new URL('./training-worker.ts', import.meta.url);

export class WorkerPool {
  private readonly idle: Worker[] = [];
  private readonly maxIdle: number;
  private closed = false;

  /** `warm`: workers to start now; `maxIdle`: workers kept waiting between runs. */
  constructor(options: { warm: number; maxIdle: number }) {
    this.maxIdle = options.maxIdle;
    for (let i = 0; i < Math.min(options.warm, options.maxIdle); i++) this.park(this.spawn());
  }

  private spawn(): Worker {
    return new Worker(WORKER_URL, { name: 'training worker' });
  }

  /** Keeps an idle worker: it must not keep the process alive, and is dropped if it dies. */
  private park(worker: Worker): void {
    worker.unref();
    const drop = () => {
      const index = this.idle.indexOf(worker);
      if (index >= 0) this.idle.splice(index, 1);
    };
    worker.once('error', drop);
    worker.once('exit', drop);
    this.idle.push(worker);
  }

  /** A worker running `input`: an idle one when there is one, else a new one. */
  start(input: WorkerInput): Worker {
    const worker = this.idle.pop() ?? this.spawn();
    worker.removeAllListeners('error');
    worker.removeAllListeners('exit');
    worker.ref();
    worker.postMessage({ type: 'start', input } satisfies MainToWorker);
    return worker;
  }

  /** Takes back a worker whose run has ended normally (its 'done' message arrived). */
  release(worker: Worker): void {
    worker.removeAllListeners('message');
    worker.removeAllListeners('error');
    worker.removeAllListeners('exit');
    if (this.closed || this.idle.length >= this.maxIdle) {
      void worker.terminate();
      return;
    }
    this.park(worker);
  }

  async close(): Promise<void> {
    this.closed = true;
    const idle = this.idle.splice(0);
    await Promise.all(idle.map((w) => w.terminate()));
  }
}
