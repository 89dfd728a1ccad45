// Analyses started on the analysis service (StartAnalysis, idempotent on a key derived from the
// experiment and the analysis' name) and followed to their end. A kind the service answers
// UNIMPLEMENTED for is recorded as "not implemented yet": never faked, never retried.
import type { JobFailure, JobState } from '@gengap/job-store';
import type { Analysis, AnalysisSpec } from '@gengap/proto/analysis/v1/analysis';
import { type JobStatus, JobState as ProtoJobState } from '@gengap/proto/common/v1/job';
import { fromProtoState, type Logger } from '@gengap/service-kit';
import type { AnalysisApi } from '../clients/service-clients.ts';
import type { AnalysisRecord, CoordinatorStore } from '../store/coordinator-store.ts';
import type { ExperimentEvents } from './events.ts';
import {
  type BackoffPolicy,
  backoffMs,
  failureOf,
  isTransientCallError,
  RpcCode,
  rpcCodeOf,
  sleep,
} from './failures.ts';

const TERMINAL = new Set<JobState>(['SUCCEEDED', 'FAILED', 'CANCELLED']);
const TERMINAL_PROTO = new Set<number>([
  ProtoJobState.JOB_STATE_SUCCEEDED,
  ProtoJobState.JOB_STATE_FAILED,
  ProtoJobState.JOB_STATE_CANCELLED,
]);

export const NOT_IMPLEMENTED_NOTE = 'not implemented yet';

/** Kinds the analysis service has answered UNIMPLEMENTED for (shared by all experiments). */
export class AnalysisCapabilities {
  readonly unimplemented = new Set<string>();
}

export function analysisKindOf(spec: AnalysisSpec): string {
  return spec.kind?.$case ?? 'unknown';
}

export interface AnalysisRunnerDeps {
  store: CoordinatorStore;
  analysis: AnalysisApi | undefined;
  events: ExperimentEvents;
  log: Logger;
  backoff: BackoffPolicy;
  capabilities: AnalysisCapabilities;
  /** How long the analysis service may stay unreachable before an analysis is given up. */
  unreachableBudgetMs: number;
}

function failedStatus(failure: JobFailure): JobStatus {
  return {
    state: ProtoJobState.JOB_STATE_FAILED,
    progress: 0,
    phase: '',
    attempt: 0,
    error: { code: failure.code, message: failure.message, field: failure.field ?? '', step: 0 },
  };
}

export class AnalysisRunner {
  private readonly deps: AnalysisRunnerDeps;
  private readonly experimentId: string;

  constructor(experimentId: string, deps: AnalysisRunnerDeps) {
    this.experimentId = experimentId;
    this.deps = deps;
  }

  /**
   * Records an analysis the coordinator computes itself (over runs and other analyses), e.g. a shift
   * detection's p-values: its state, a one-line note and the result as JSON (summary_json).
   */
  record(name: string, patch: Parameters<CoordinatorStore['upsertAnalysis']>[2]): AnalysisRecord {
    const record = this.deps.store.upsertAnalysis(this.experimentId, name, patch);
    this.deps.events.analysis(record);
    return record;
  }

  /** Records an analysis that will not run, with the reason. */
  skip(
    name: string,
    cellId: string,
    note: string,
    code: number = RpcCode.UNIMPLEMENTED,
    spec?: AnalysisSpec,
  ): AnalysisRecord {
    const existing = this.deps.store.analysis(this.experimentId, name);
    if (existing && TERMINAL.has(existing.state)) return existing;
    return this.record(name, {
      cellId,
      state: 'FAILED',
      note,
      status: failedStatus({ code, message: note }),
      ...(spec ? { spec } : {}),
    });
  }

  /** Starts (or finds) the analysis and follows it to its end. */
  async run(name: string, cellId: string, spec: AnalysisSpec, signal: AbortSignal): Promise<AnalysisRecord> {
    const { store, log } = this.deps;
    const existing = store.analysis(this.experimentId, name);
    if (existing && TERMINAL.has(existing.state)) return existing;
    const kind = analysisKindOf(spec);
    const api = this.deps.analysis;
    if (!api)
      return this.skip(
        name,
        cellId,
        'no analysis service configured (GENGAP_ANALYSIS_ADDRESS)',
        RpcCode.UNAVAILABLE,
        spec,
      );
    if (this.deps.capabilities.unimplemented.has(kind))
      return this.skip(
        name,
        cellId,
        `${NOT_IMPLEMENTED_NOTE}: the analysis service does not implement ${kind}`,
        RpcCode.UNIMPLEMENTED,
        spec,
      );
    let record = existing ?? this.record(name, { cellId, spec, state: 'QUEUED' });
    let failingSince: number | undefined;
    for (let retry = 1; ; retry++) {
      try {
        if (!record.analysisId) {
          const started = await api.startAnalysis(
            {
              spec,
              idempotencyKey: `${this.experimentId}/${name}`,
              labels: {
                'gengap/experiment': this.experimentId,
                'gengap/cell': cellId,
                'gengap/analysis': name,
              },
            },
            signal,
          );
          const analysis = started.analysis;
          if (!analysis?.analysisId) throw new Error('StartAnalysis answered without an analysis id');
          record = this.record(name, {
            analysisId: analysis.analysisId,
            state: 'RUNNING',
            ...statusPatch(analysis),
          });
        }
        const done = await this.follow(api, record.analysisId, signal);
        return this.record(name, statusPatch(done));
      } catch (err) {
        if (signal.aborted) throw signal.reason;
        const code = rpcCodeOf(err);
        if (code === RpcCode.UNIMPLEMENTED) {
          this.deps.capabilities.unimplemented.add(kind);
          return this.skip(
            name,
            cellId,
            `${NOT_IMPLEMENTED_NOTE}: the analysis service does not implement ${kind}`,
          );
        }
        if (!isTransientCallError(err)) {
          const failure = failureOf(err);
          return this.record(name, { state: 'FAILED', status: failedStatus(failure), note: failure.message });
        }
        failingSince ??= Date.now();
        if (Date.now() - failingSince > this.deps.unreachableBudgetMs) {
          const failure = failureOf(err);
          return this.record(name, {
            state: 'FAILED',
            status: failedStatus(failure),
            note: `analysis service unreachable: ${failure.message}`,
          });
        }
        const wait = backoffMs(retry, this.deps.backoff);
        log.warn({ name, err, waitMs: wait }, 'analysis call failed; retrying');
        await sleep(wait, signal);
      }
    }
  }

  private async follow(api: AnalysisApi, analysisId: string, signal: AbortSignal): Promise<Analysis> {
    for await (const message of api.watchAnalysis(analysisId, 0, signal)) {
      if (TERMINAL_PROTO.has(message.event?.status?.state ?? 0)) break;
    }
    const analysis = (await api.getAnalysis(analysisId, signal)).analysis;
    if (!analysis || !TERMINAL_PROTO.has(analysis.status?.state ?? 0))
      throw Object.assign(new Error(`analysis ${analysisId} is not finished yet`), {
        code: RpcCode.UNAVAILABLE,
      });
    return analysis;
  }
}

function statusPatch(analysis: Analysis): { status?: JobStatus; state?: JobState } {
  const state = fromProtoState(analysis.status?.state);
  return {
    ...(analysis.status ? { status: analysis.status } : {}),
    ...(state ? { state } : {}),
  };
}
