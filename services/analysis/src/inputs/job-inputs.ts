// AnalysisInputs for one job: resolves the spec's references (checkpoints, the dataset, runs) through
// the configured sources, with process-wide caches keyed by immutable ids, and leases compiled models
// for the length of the job.
import type { AnalysisSpec } from '@gengap/proto/analysis/v1/analysis';
import { Device, Precision } from '@gengap/proto/common/v1/model';
import { type CheckpointRef, Split } from '@gengap/proto/common/v1/refs';
import { DataType } from '@gengap/proto/common/v1/tensor';
import type { Run } from '@gengap/proto/trainer/v1/run';
import { FailedPreconditionError, InvalidArgumentError } from '@gengap/service-kit';
import type { AnalysisInputs, DataOptions, LoadedCheckpoint, ModelOptions } from '../analyses/kind.ts';
import { type AnalysisModel, analysisModel, type ModelCompiler, type ModelLease } from './analysis-model.ts';
import type { ByteLruCache } from './byte-cache.ts';
import { type ExampleSet, exampleSet, type SplitData, selectExamples } from './examples.ts';
import { historyFromEvents, type RunHistory } from './run-history.ts';
import {
  type AuxiliaryArray,
  type DatasetSource,
  type DerivedCheckpointSource,
  type RunSource,
  UnknownAuxiliaryError,
} from './sources.ts';

export interface InputServices {
  /** Absent when no trainer is configured: run checkpoints and histories are then unavailable. */
  runs: RunSource | undefined;
  /** Absent when no data service is configured. */
  datasets: DatasetSource | undefined;
  derived: DerivedCheckpointSource;
  compiler: ModelCompiler;
  checkpointCache: ByteLruCache<LoadedCheckpoint>;
  datasetCache: ByteLruCache<SplitData>;
}

export function checkpointBytes(c: LoadedCheckpoint): number {
  return c.parameters.reduce((a, t) => a + t.data.byteLength, 0);
}

export function splitBytes(s: SplitData): number {
  return s.x.byteLength + s.y.byteLength + (s.yClean?.byteLength ?? 0);
}

export class JobInputs implements AnalysisInputs {
  private readonly services: InputServices;
  private readonly spec: AnalysisSpec;
  private readonly signal: AbortSignal;
  private readonly threads: number;
  private readonly leases: ModelLease[] = [];
  private readonly runs = new Map<string, Promise<Run>>();
  private readonly histories = new Map<string, Promise<RunHistory>>();

  constructor(
    services: InputServices,
    spec: AnalysisSpec,
    options: { signal: AbortSignal; threads: number },
  ) {
    this.services = services;
    this.spec = spec;
    this.signal = options.signal;
    this.threads = options.threads;
  }

  /** Releases the models leased by this job. */
  dispose(): void {
    for (const lease of this.leases.splice(0)) lease.release();
  }

  private runSource(): RunSource {
    if (!this.services.runs) {
      throw new FailedPreconditionError(
        'this analysis service has no trainer configured (GENGAP_TRAINER_ADDRESS)',
      );
    }
    return this.services.runs;
  }

  run(runId: string): Promise<Run> {
    let run = this.runs.get(runId);
    if (!run) {
      run = this.runSource().getRun(runId, this.signal);
      this.runs.set(runId, run);
    }
    return run;
  }

  runHistory(runId: string): Promise<RunHistory> {
    let history = this.histories.get(runId);
    if (!history) {
      history = Promise.all([this.run(runId), this.runSource().events(runId, this.signal)]).then(
        ([run, events]) => historyFromEvents(run, events),
      );
      this.histories.set(runId, history);
    }
    return history;
  }

  async checkpoint(ref: CheckpointRef | undefined = this.spec.checkpoint, field = 'spec.checkpoint') {
    const source = ref?.source;
    if (source?.$case === 'analysisId') {
      if (!source.value) throw new InvalidArgumentError(`${field}.analysis_id`, 'is required');
      return this.services.derived.load(source.value, this.signal);
    }
    if (source?.$case !== 'run') throw new InvalidArgumentError(field, 'names no checkpoint');
    const { runId } = source.value;
    if (!runId) throw new InvalidArgumentError(`${field}.run.run_id`, 'is required');
    let step = source.value.step;
    if (step === 0) {
      const run = await this.run(runId);
      const last = run.checkpoints.reduce((m, c) => Math.max(m, c.step), -1);
      if (last < 0) throw new FailedPreconditionError(`run ${runId} has no checkpoint yet`);
      step = last;
    }
    const runs = this.runSource();
    return this.services.checkpointCache.getOrLoad(`run:${runId}@${step}`, async () => {
      const { model, parameters } = await runs.readParameters(runId, step, this.signal);
      return { model, parameters, runId, step, origin: `run:${runId}@${step}` };
    });
  }

  /** The precision analyses of this checkpoint run at: the spec's, else the source run's. */
  private async precisionFor(checkpoint: LoadedCheckpoint): Promise<Precision> {
    if (this.spec.precision !== Precision.PRECISION_UNSPECIFIED) return this.spec.precision;
    const run = await this.run(checkpoint.runId);
    return run.spec?.precision === Precision.PRECISION_FLOAT64
      ? Precision.PRECISION_FLOAT64
      : Precision.PRECISION_FLOAT32;
  }

  async model(ref?: CheckpointRef, options: ModelOptions = {}): Promise<AnalysisModel> {
    const checkpoint = await this.checkpoint(ref);
    const run = await this.run(checkpoint.runId);
    const lease = await this.services.compiler.acquire({
      model: checkpoint.model,
      loss: options.loss ?? run.spec?.loss,
      precision: await this.precisionFor(checkpoint),
      device: this.spec.device === Device.DEVICE_CUDA ? Device.DEVICE_CUDA : Device.DEVICE_CPU,
      threads: this.threads,
      chunkSize: options.chunkSize || 1000,
    });
    this.leases.push(lease);
    return analysisModel(lease.model, checkpoint);
  }

  /** The analysed dataset: the spec's, else the checkpoint run's training dataset. */
  private async datasetId(checkpoint: LoadedCheckpoint): Promise<string> {
    let datasetId = this.spec.dataset?.datasetId ?? '';
    if (!datasetId) {
      const run = await this.run(checkpoint.runId);
      datasetId = run.spec?.dataset?.datasetId ?? '';
      if (!datasetId) throw new FailedPreconditionError(`run ${checkpoint.runId} names no dataset`);
    }
    return datasetId;
  }

  private datasetSource(): DatasetSource {
    if (!this.services.datasets) {
      throw new FailedPreconditionError(
        'this analysis service has no data service configured (GENGAP_DATA_ADDRESS)',
      );
    }
    return this.services.datasets;
  }

  async auxiliary(name: string, field: string): Promise<AuxiliaryArray> {
    const datasetId = await this.datasetId(await this.checkpoint());
    try {
      return await this.datasetSource().readAuxiliary(datasetId, name, this.signal);
    } catch (err) {
      if (err instanceof UnknownAuxiliaryError) throw new InvalidArgumentError(field, err.message);
      throw err;
    }
  }

  async examples(options: DataOptions = {}): Promise<ExampleSet> {
    const checkpoint = await this.checkpoint();
    const datasetId = await this.datasetId(checkpoint);
    const datasets = this.datasetSource();
    const requested = options.split ?? this.spec.split;
    const split = requested === Split.SPLIT_TEST ? Split.SPLIT_TEST : Split.SPLIT_TRAIN;
    const float64 = (await this.precisionFor(checkpoint)) === Precision.PRECISION_FLOAT64;
    const codes = checkpoint.model.layers[0]?.kind?.$case === 'embedding';
    const dtype = float64 ? DataType.DATA_TYPE_FLOAT64 : DataType.DATA_TYPE_FLOAT32;
    const key = `${datasetId}/${split}/${codes ? 'int32' : float64 ? 'float64' : 'float32'}`;
    const data = await this.services.datasetCache.getOrLoad(key, async () => {
      const raw = await datasets.readSplit(datasetId, split, dtype, this.signal);
      return codes ? { ...raw, x: Int32Array.from(raw.x) } : raw;
    });
    const numExamples = options.numExamples ?? this.spec.numExamples;
    return selectExamples(exampleSet(data), numExamples, this.spec.shuffleExamples, this.spec.seed);
  }
}
