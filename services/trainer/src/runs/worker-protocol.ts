// Messages between a run's worker thread (which owns the ORT session and the training loop) and the
// main thread (which owns the job store, the gRPC clients and the capacity accounting). Everything
// durable is written by the main thread, in the order the worker sent it.
import type { JobFailure } from '@gengap/job-store';
import type { QueryPlan } from './objective-spec.ts';

/** A parameter or optimizer tensor handed across threads (e.g. a teacher's or init_from's weights). */
export interface NamedArray {
  name: string;
  shape: number[];
  dtype: 'float32' | 'float64';
  data: Float32Array | Float64Array;
}

/** A split of the run's dataset, in shared memory (see datasets/dataset-cache.ts). */
export interface SharedSplit {
  x: Float32Array;
  xShape: number[];
  y: BigInt64Array;
}

/** Everything the worker needs to run; resolved by the main thread before the worker starts. */
export interface WorkerInput {
  runId: string;
  attempt: number;
  /** RunSpec.encode(spec) (structured-clone friendly). */
  spec: Uint8Array;
  specHash: string;
  runDir: string;
  threads: number;
  numClasses: number;
  inputShape: number[];
  /** Offline datasets: the train split (absent for online datasets) and the test split. */
  train?: SharedSplit;
  test?: SharedSplit;
  online: boolean;
  /** Teacher network (distillation): its model spec and parameters. */
  teacher?: { model: Uint8Array; parameters: NamedArray[] };
  /** Parameters to start from (fine-tuning; the fixed layers of an auto-encoder stage). */
  initFrom?: NamedArray[];
  /** Disagreement training: the base model, whose predictions the query set disagrees with. */
  base?: { model: Uint8Array; parameters: NamedArray[] };
  /** Disagreement training: the query dataset's split (whole; `plan` says which rows are queries). */
  query?: SharedSplit & { plan: QueryPlan };
  /** Resume checkpoints are written at least this often (steps) when the spec asks for "per epoch". */
  checkpointEverySteps: number;
  /** Int32Array over a SharedArrayBuffer: see ControlFlag. */
  control: SharedArrayBuffer;
}

/** Values of the shared control flag, read by the worker between Loop chunks. */
export const ControlFlag = {
  RUN: 0,
  /** The client cancelled the run: stop, end CANCELLED. */
  CANCEL: 1,
  /** The trainer is shutting down: stop, leave the run RUNNING so the next start resumes it. */
  SHUTDOWN: 2,
} as const;

export interface StoredEventMessage {
  key: string;
  /** RunEvent.encode(event) without a sequence number. */
  payload: Uint8Array;
}

export type WorkerOutcome =
  | { kind: 'succeeded'; summary: Uint8Array }
  | { kind: 'failed'; failure: JobFailure; summary: Uint8Array }
  | { kind: 'cancelled'; summary: Uint8Array }
  /** Stopped for a shutdown; resumes from its last checkpoint on the next start. */
  | { kind: 'interrupted' };

export type WorkerToMain =
  | { type: 'events'; events: StoredEventMessage[] }
  /** Asks the main thread to confirm that every earlier event is stored (before a checkpoint). */
  | { type: 'flush'; id: number }
  | { type: 'progress'; progress: number; phase: string; summary: Uint8Array }
  | { type: 'onlineBatches'; id: number; batchSize: number; startBatch: number; count: number }
  | { type: 'done'; outcome: WorkerOutcome };

export type MainToWorker =
  /** Starts the run (to a worker started ahead of need, without workerData). */
  | { type: 'start'; id?: undefined; input: WorkerInput }
  | { type: 'flushed'; id: number }
  | {
      type: 'onlineBatches';
      id: number;
      batches?: { x: Float32Array; xShape: number[]; y: BigInt64Array }[];
      error?: string;
    };
