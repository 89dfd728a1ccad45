// Where analysis inputs come from, as interfaces: the trainer (runs, their event logs, checkpoint
// parameters), the data service (dataset splits) and this service's own derived checkpoints. The gRPC
// implementations live in src/clients; tests and benchmarks may pass in-process ones.

import type { ModelSpec } from '@gengap/proto/common/v1/model';
import type { Split } from '@gengap/proto/common/v1/refs';
import type { DataType } from '@gengap/proto/common/v1/tensor';
import type { Run, RunEvent } from '@gengap/proto/trainer/v1/run';
import type { LoadedCheckpoint, NamedTensor } from '../analyses/kind.ts';
import type { SplitData } from './examples.ts';

export interface RunSource {
  getRun(runId: string, signal: AbortSignal): Promise<Run>;
  /**
   * The run's event log from sequence 0: the whole log for a finished run, the events stored so far
   * for a live one.
   */
  events(runId: string, signal: AbortSignal): Promise<RunEvent[]>;
  /** Parameters of the checkpoint at `step` (an exact step; resolve "latest" with getRun first). */
  readParameters(
    runId: string,
    step: number,
    signal: AbortSignal,
  ): Promise<{ model: ModelSpec; parameters: NamedTensor[] }>;
}

export interface DatasetSource {
  /** A whole split with inputs in `inputDtype` (FLOAT32 or FLOAT64; integer codes come as INT32). */
  readSplit(datasetId: string, split: Split, inputDtype: DataType, signal: AbortSignal): Promise<SplitData>;
  /**
   * One auxiliary array stored with the dataset (DatasetManifest.auxiliary_arrays: a subspace
   * source's "basis"...), as float64; UnknownAuxiliaryError when the dataset has no array of that name.
   */
  readAuxiliary(datasetId: string, name: string, signal: AbortSignal): Promise<AuxiliaryArray>;
}

export interface AuxiliaryArray {
  name: string;
  shape: number[];
  /** Row-major values (float32 arrays are widened exactly). */
  values: Float64Array;
}

/** The dataset stores no auxiliary array of the requested name (the message says which it has). */
export class UnknownAuxiliaryError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnknownAuxiliaryError';
  }
}

/** Checkpoints written by this service's own analyses (RESCALE), by analysis id. */
export interface DerivedCheckpointSource {
  load(analysisId: string, signal: AbortSignal): Promise<LoadedCheckpoint>;
}
