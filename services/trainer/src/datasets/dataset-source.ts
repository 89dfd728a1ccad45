// What the trainer needs from a dataset, independent of where it comes from. The gRPC adapter
// (clients/data-client.ts) reads the data service; the cache keeps immutable splits in shared memory
// so that every run's worker thread reads them without a copy.

export type SplitName = 'train' | 'test';

export interface DatasetInfo {
  datasetId: string;
  numClasses: number;
  /** Shape of one input, without the batch dimension. */
  inputShape: number[];
  trainSize: number;
  testSize: number;
  /** Online train split (sparse parity): fresh batches every step, no stored training examples. */
  online: boolean;
}

/** One split in memory: row-major float32 inputs and int64 labels, in SharedArrayBuffers. */
export interface SplitTensors {
  x: Float32Array;
  /** [N, ...inputShape] */
  xShape: number[];
  y: BigInt64Array;
  /** Uncorrupted labels, when the dataset corrupted them. */
  yClean?: BigInt64Array;
}

export interface OnlineBatch {
  batchIndex: number;
  x: Float32Array;
  xShape: number[];
  y: BigInt64Array;
}

export interface DatasetReader {
  /** The dataset's manifest; fails unless it has been generated. */
  info(datasetId: string, signal?: AbortSignal): Promise<DatasetInfo>;
  readSplit(datasetId: string, split: SplitName, signal?: AbortSignal): Promise<SplitTensors>;
  /** Batches start..start+count-1 of an online dataset (deterministic in the batch index). */
  onlineBatches(
    datasetId: string,
    batchSize: number,
    startBatch: number,
    count: number,
    signal?: AbortSignal,
  ): Promise<OnlineBatch[]>;
}

/** A copy of `bytes` in a SharedArrayBuffer, so worker threads can share it. */
export function sharedCopy(bytes: Uint8Array): SharedArrayBuffer {
  const buffer = new SharedArrayBuffer(bytes.byteLength);
  new Uint8Array(buffer).set(bytes);
  return buffer;
}
