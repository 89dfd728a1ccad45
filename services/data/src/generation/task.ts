// The messages between the service and a generation worker (structured-clone friendly).

export interface GenerationTask {
  datasetId: string;
  /** DatasetSpec.encode of the canonical spec. */
  spec: Uint8Array;
  canonicalSpecJson: string;
  stagingDir: string;
  cacheDir: string;
}

export type WorkerMessage =
  | { type: 'progress'; fraction: number; phase: string }
  /** DatasetManifest.encode of the written manifest. */
  | { type: 'done'; manifest: Uint8Array }
  | { type: 'failed'; code: number; message: string; field?: string };

/** google.rpc.Code values recorded in a failed job's JobError. */
export const Code = { INVALID_ARGUMENT: 3, INTERNAL: 13, UNAVAILABLE: 14 } as const;
