// In-process input sources for tests that train with the engine directly (the issue allows it where
// the numbers under test are the analyses'): runs with their specs and checkpoints, and dataset splits,
// behind the same interfaces the trainer and data clients implement. The gRPC path is covered by
// service.test.ts against the real trainer and data services.
import { JobState } from '@gengap/proto/common/v1/job';
import type { ModelSpec } from '@gengap/proto/common/v1/model';
import { Split } from '@gengap/proto/common/v1/refs';
import { DataType } from '@gengap/proto/common/v1/tensor';
import { type Run, type RunEvent, RunSpec } from '@gengap/proto/trainer/v1/run';
import { NotFoundError } from '@gengap/service-kit';
import type { NamedTensor } from '../../src/analyses/kind.ts';
import type { SplitData } from '../../src/inputs/examples.ts';
import {
  type AuxiliaryArray,
  type DatasetSource,
  type RunSource,
  UnknownAuxiliaryError,
} from '../../src/inputs/sources.ts';

export interface LocalCheckpoint {
  step: number;
  epoch: number;
  permanent: boolean;
  parameters: NamedTensor[];
}

export class LocalRuns implements RunSource {
  private readonly runs = new Map<string, { run: Run; checkpoints: LocalCheckpoint[]; events: RunEvent[] }>();
  /** Parameter reads served (to check caching). */
  reads = 0;

  add(
    runId: string,
    spec: Partial<RunSpec> & { model: ModelSpec },
    checkpoints: LocalCheckpoint[],
    events: RunEvent[] = [],
  ): void {
    const run: Run = {
      runId,
      spec: RunSpec.fromPartial(spec),
      status: { state: JobState.JOB_STATE_SUCCEEDED, progress: 1, phase: 'done', attempt: 1 },
      labels: {},
      summary: undefined,
      checkpoints: checkpoints.map((c) => ({
        step: c.step,
        epoch: c.epoch,
        permanent: c.permanent,
        sha256Hex: '',
      })),
    };
    this.runs.set(runId, { run, checkpoints, events });
  }

  private require(runId: string) {
    const entry = this.runs.get(runId);
    if (!entry) throw new NotFoundError('run', runId);
    return entry;
  }

  async getRun(runId: string): Promise<Run> {
    return this.require(runId).run;
  }

  async events(runId: string): Promise<RunEvent[]> {
    return this.require(runId).events;
  }

  async readParameters(runId: string, step: number) {
    const entry = this.require(runId);
    const c = entry.checkpoints.find((k) => k.step === step);
    if (!c) throw new NotFoundError('checkpoint', `${runId}@${step}`);
    this.reads++;
    return { model: entry.run.spec!.model!, parameters: c.parameters };
  }
}

export class LocalDatasets implements DatasetSource {
  private readonly splits = new Map<string, SplitData>();
  private readonly arrays = new Map<string, AuxiliaryArray>();

  /** An auxiliary array of `datasetId` (the data service's ReadDatasetRequest.auxiliary). */
  addAuxiliary(datasetId: string, array: AuxiliaryArray): void {
    this.arrays.set(`${datasetId}/${array.name}`, array);
  }

  async readAuxiliary(datasetId: string, name: string): Promise<AuxiliaryArray> {
    const array = this.arrays.get(`${datasetId}/${name}`);
    if (!array)
      throw new UnknownAuxiliaryError(`dataset ${datasetId} has no auxiliary array ${JSON.stringify(name)}`);
    return array;
  }

  add(datasetId: string, split: Split, data: Omit<SplitData, 'datasetId' | 'split'>): void {
    this.splits.set(`${datasetId}/${split}`, { ...data, datasetId, split });
  }

  async readSplit(datasetId: string, split: Split, inputDtype: DataType): Promise<SplitData> {
    const data = this.splits.get(
      `${datasetId}/${split === Split.SPLIT_TEST ? Split.SPLIT_TEST : Split.SPLIT_TRAIN}`,
    );
    if (!data) throw new NotFoundError('dataset', `${datasetId} split ${split}`);
    const x =
      inputDtype === DataType.DATA_TYPE_FLOAT64 ? Float64Array.from(data.x) : Float32Array.from(data.x);
    return { ...data, x };
  }
}
