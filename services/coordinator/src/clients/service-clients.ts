// The coordinator's view of the services it calls: one small interface per service, so the
// orchestration code never sees grpc-js. Every unary call has a deadline (service-kit's callUnary)
// and every call takes the AbortSignal of the work it serves.
import {
  AnalysisServiceClient,
  type CancelAnalysisResponse,
  type GetAnalysisInfoResponse,
  type GetAnalysisResponse,
  type ReadAnalysisArtifactResponse,
  type StartAnalysisRequest,
  type StartAnalysisResponse,
  type WatchAnalysisResponse,
} from '@gengap/proto/analysis/v1/analysis_service';
import {
  type CreateDatasetResponse,
  DataServiceClient,
  type GetDatasetResponse,
  type SampleDatasetRequest,
  type SampleDatasetResponse,
  type WatchDatasetResponse,
} from '@gengap/proto/data/v1/data_service';
import type { DatasetSpec } from '@gengap/proto/data/v1/dataset';
import {
  type CancelRunResponse,
  type GetRunResponse,
  type GetTrainerInfoResponse,
  type ListRunsRequest,
  type ListRunsResponse,
  type StartRunRequest,
  type StartRunResponse,
  TrainerServiceClient,
  type WatchRunResponse,
} from '@gengap/proto/trainer/v1/trainer_service';
import { type CallSettings, callUnary, closeClient, createClient, readStream } from '@gengap/service-kit';

export interface DataApi {
  createDataset(spec: DatasetSpec, signal?: AbortSignal): Promise<CreateDatasetResponse>;
  watchDataset(
    datasetId: string,
    fromSequence: number,
    signal: AbortSignal,
  ): AsyncIterable<WatchDatasetResponse>;
  getDataset(datasetId: string, signal?: AbortSignal): Promise<GetDatasetResponse>;
  sampleDataset(request: SampleDatasetRequest, signal?: AbortSignal): Promise<SampleDatasetResponse>;
}

export interface TrainerApi {
  readonly address: string;
  startRun(request: StartRunRequest, signal?: AbortSignal): Promise<StartRunResponse>;
  watchRun(runId: string, fromSequence: number, signal: AbortSignal): AsyncIterable<WatchRunResponse>;
  getRun(runId: string, signal?: AbortSignal): Promise<GetRunResponse>;
  listRuns(request: ListRunsRequest, signal?: AbortSignal): Promise<ListRunsResponse>;
  cancelRun(runId: string, signal?: AbortSignal): Promise<CancelRunResponse>;
  getTrainerInfo(signal?: AbortSignal): Promise<GetTrainerInfoResponse>;
}

export interface AnalysisApi {
  startAnalysis(request: StartAnalysisRequest, signal?: AbortSignal): Promise<StartAnalysisResponse>;
  watchAnalysis(
    analysisId: string,
    fromSequence: number,
    signal: AbortSignal,
  ): AsyncIterable<WatchAnalysisResponse>;
  getAnalysis(analysisId: string, signal?: AbortSignal): Promise<GetAnalysisResponse>;
  cancelAnalysis(analysisId: string, signal?: AbortSignal): Promise<CancelAnalysisResponse>;
  /** The kinds the service implements (UNIMPLEMENTED from services older than the RPC). */
  getAnalysisInfo(signal?: AbortSignal): Promise<GetAnalysisInfoResponse>;
  readArtifact(
    analysisId: string,
    artifact: string,
    signal: AbortSignal,
  ): AsyncIterable<ReadAnalysisArtifactResponse>;
}

export interface ClientOptions {
  deadlineMs: number;
  maxMessageBytes: number;
}

const settings = (signal: AbortSignal | undefined, deadlineMs: number): CallSettings =>
  signal ? { signal, deadlineMs } : { deadlineMs };

export function dataApi(address: string, options: ClientOptions): DataApi & { close(): void } {
  const c = createClient(DataServiceClient, address, { maxMessageBytes: options.maxMessageBytes });
  const d = options.deadlineMs;
  return {
    createDataset: (spec, signal) =>
      callUnary(c, c.createDataset, { spec, idempotencyKey: '' }, settings(signal, d)),
    watchDataset: (datasetId, fromSequence, signal) =>
      readStream(c, c.watchDataset, { datasetId, fromSequence }, { signal }),
    getDataset: (datasetId, signal) => callUnary(c, c.getDataset, { datasetId }, settings(signal, d)),
    sampleDataset: (request, signal) => callUnary(c, c.sampleDataset, request, settings(signal, d)),
    close: () => closeClient(c),
  };
}

export function trainerApi(address: string, options: ClientOptions): TrainerApi & { close(): void } {
  const c = createClient(TrainerServiceClient, address, { maxMessageBytes: options.maxMessageBytes });
  const d = options.deadlineMs;
  return {
    address,
    startRun: (request, signal) => callUnary(c, c.startRun, request, settings(signal, d)),
    watchRun: (runId, fromSequence, signal) =>
      readStream(c, c.watchRun, { runId, fromSequence, skipStepMetrics: false }, { signal }),
    getRun: (runId, signal) => callUnary(c, c.getRun, { runId }, settings(signal, d)),
    listRuns: (request, signal) => callUnary(c, c.listRuns, request, settings(signal, d)),
    cancelRun: (runId, signal) => callUnary(c, c.cancelRun, { runId }, settings(signal, d)),
    getTrainerInfo: (signal) => callUnary(c, c.getTrainerInfo, {}, settings(signal, d)),
    close: () => closeClient(c),
  };
}

export function analysisApi(address: string, options: ClientOptions): AnalysisApi & { close(): void } {
  const c = createClient(AnalysisServiceClient, address, { maxMessageBytes: options.maxMessageBytes });
  const d = options.deadlineMs;
  return {
    startAnalysis: (request, signal) => callUnary(c, c.startAnalysis, request, settings(signal, d)),
    watchAnalysis: (analysisId, fromSequence, signal) =>
      readStream(c, c.watchAnalysis, { analysisId, fromSequence }, { signal }),
    getAnalysis: (analysisId, signal) => callUnary(c, c.getAnalysis, { analysisId }, settings(signal, d)),
    cancelAnalysis: (analysisId, signal) =>
      callUnary(c, c.cancelAnalysis, { analysisId }, settings(signal, d)),
    getAnalysisInfo: (signal) => callUnary(c, c.getAnalysisInfo, {}, settings(signal, d)),
    readArtifact: (analysisId, artifact, signal) =>
      readStream(
        c,
        c.readAnalysisArtifact,
        { analysisId, artifact, chunkBytes: 0 },
        { signal, deadlineMs: d },
      ),
    close: () => closeClient(c),
  };
}

/** Trainer clients by address, made on first use (executors place attempts on addresses). */
export class TrainerPool {
  private readonly clients = new Map<string, TrainerApi & { close(): void }>();
  private readonly options: ClientOptions;

  constructor(options: ClientOptions) {
    this.options = options;
  }

  get(address: string): TrainerApi {
    let client = this.clients.get(address);
    if (!client) {
      client = trainerApi(address, this.options);
      this.clients.set(address, client);
    }
    return client;
  }

  close(): void {
    for (const c of this.clients.values()) c.close();
    this.clients.clear();
  }
}
