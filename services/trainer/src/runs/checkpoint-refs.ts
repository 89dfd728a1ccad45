// Resolves a CheckpointRef (a teacher, or init_from) to a model and its parameters: a run of this
// trainer is read from its checkpoint folder; a checkpoint made by an analysis (Dinh et al.'s
// rescaling) is fetched from the analysis service when one is configured.
import type { ModelSpec } from '@gengap/proto/common/v1/model';
import type { CheckpointRef } from '@gengap/proto/common/v1/refs';
import { FailedPreconditionError, InvalidArgumentError } from '@gengap/service-kit';
import { listCheckpoints, loadCheckpoint } from './checkpoints.ts';
import { UnknownCheckpointError } from './errors.ts';
import type { RunRecords } from './run-records.ts';
import type { NamedArray } from './worker-protocol.ts';

export interface ResolvedCheckpoint {
  model: ModelSpec;
  parameters: NamedArray[];
  /** Where it came from, for logs: "run-abc@1200" or "analysis:xyz". */
  origin: string;
}

/** A checkpoint produced by an analysis, read through the analysis service. */
export interface AnalysisCheckpointSource {
  read(analysisId: string, signal?: AbortSignal): Promise<{ runId: string; parameters: NamedArray[] }>;
}

export class CheckpointResolver {
  private readonly records: RunRecords;
  private readonly analyses: AnalysisCheckpointSource | undefined;

  constructor(records: RunRecords, analyses?: AnalysisCheckpointSource) {
    this.records = records;
    this.analyses = analyses;
  }

  /** Checks that the reference can be resolved now (StartRun), without loading tensors. */
  check(ref: CheckpointRef, field: string): void {
    const source = ref.source;
    if (source?.$case === 'analysisId') {
      if (!this.analyses) {
        throw new FailedPreconditionError(
          `${field}.analysis_id: this trainer has no analysis service configured (GENGAP_ANALYSIS_ADDRESS)`,
        );
      }
      return;
    }
    if (source?.$case !== 'run') throw new InvalidArgumentError(field, 'names no checkpoint');
    this.stepOf(source.value.runId, source.value.step, `${field}.run`);
  }

  private stepOf(runId: string, step: number, field: string): number {
    const job = this.records.get(runId);
    if (!job)
      throw new InvalidArgumentError(`${field}.run_id`, `run ${JSON.stringify(runId)} does not exist`);
    const available = listCheckpoints(this.records.runDir(runId));
    if (step === 0) {
      if (job.state !== 'SUCCEEDED') {
        throw new FailedPreconditionError(
          `${field}: run ${runId} has not finished (${job.state}); name a checkpoint step or wait for it`,
        );
      }
      const last = available.at(-1);
      if (!last) throw new UnknownCheckpointError(runId, 0);
      return last.step;
    }
    if (!available.some((c) => c.step === step)) {
      throw new InvalidArgumentError(`${field}.step`, `run ${runId} has no checkpoint at step ${step}`);
    }
    return step;
  }

  async resolve(ref: CheckpointRef, field: string, signal?: AbortSignal): Promise<ResolvedCheckpoint> {
    const source = ref.source;
    if (source?.$case === 'analysisId') {
      if (!this.analyses) this.check(ref, field);
      const { runId, parameters } = await (this.analyses as AnalysisCheckpointSource).read(
        source.value,
        signal,
      );
      const model = this.records.spec(this.records.require(runId)).model;
      if (!model) throw new FailedPreconditionError(`${field}: run ${runId} has no model`);
      return { model, parameters, origin: `analysis:${source.value}` };
    }
    if (source?.$case !== 'run') throw new InvalidArgumentError(field, 'names no checkpoint');
    const { runId } = source.value;
    const step = this.stepOf(runId, source.value.step, `${field}.run`);
    const loaded = loadCheckpoint(this.records.runDir(runId), step, false);
    const model = this.records.spec(this.records.require(runId)).model as ModelSpec;
    return { model, parameters: loaded.parameters, origin: `${runId}@${step}` };
  }
}
