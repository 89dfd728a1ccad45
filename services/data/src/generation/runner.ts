// Runs a generation task in a worker thread; aborting the signal terminates the thread.
import { Worker } from 'node:worker_threads';
import { DatasetManifest } from '@gengap/proto/data/v1/dataset';
import { Code, type GenerationTask, type WorkerMessage } from './task.ts';

export class GenerationFailure extends Error {
  readonly code: number;
  readonly field: string | undefined;
  constructor(code: number, message: string, field?: string) {
    super(message);
    this.code = code;
    this.field = field;
    this.name = 'GenerationFailure';
  }
}

export type GenerationRunner = (
  task: GenerationTask,
  onProgress: (fraction: number, phase: string) => void,
  signal: AbortSignal,
) => Promise<DatasetManifest>;

const workerUrl = new URL('./worker.ts', import.meta.url);

export const runInWorker: GenerationRunner = (task, onProgress, signal) =>
  new Promise<DatasetManifest>((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason);
      return;
    }
    const worker = new Worker(workerUrl, { workerData: task });
    let settled = false;
    const settle = (fn: () => void) => {
      if (settled) return;
      settled = true;
      signal.removeEventListener('abort', onAbort);
      fn();
    };
    const onAbort = () => {
      settle(() => reject(signal.reason));
      void worker.terminate();
    };
    signal.addEventListener('abort', onAbort, { once: true });
    worker.on('message', (message: WorkerMessage) => {
      if (message.type === 'progress') {
        if (!settled) onProgress(message.fraction, message.phase);
      } else if (message.type === 'done') {
        settle(() => resolve(DatasetManifest.decode(message.manifest)));
      } else {
        settle(() => reject(new GenerationFailure(message.code, message.message, message.field)));
      }
    });
    worker.on('error', (err) =>
      settle(() => reject(new GenerationFailure(Code.INTERNAL, err.stack ?? err.message))),
    );
    worker.on('exit', (code) =>
      settle(() =>
        reject(new GenerationFailure(Code.INTERNAL, `generation worker exited with code ${code}`)),
      ),
    );
  });
