// TrainerService handlers: translate requests to RunService calls and results to responses. Errors
// propagate to service-kit, which maps them to status codes in one place.
import type {
  CancelRunRequest,
  CancelRunResponse,
  GetRunRequest,
  GetRunResponse,
  GetTrainerInfoResponse,
  ListRunsRequest,
  ListRunsResponse,
  ReadParametersRequest,
  ReadParametersResponse,
  StartRunRequest,
  StartRunResponse,
  WatchRunRequest,
  WatchRunResponse,
} from '@gengap/proto/trainer/v1/trainer_service';
import { type CallContext, InvalidArgumentError, type StreamSink } from '@gengap/service-kit';
import type { RunService } from '../runs/run-service.ts';

function requireRunId(runId: string): string {
  if (!runId) throw new InvalidArgumentError('run_id', 'is required');
  return runId;
}

export function trainerHandlers(runs: RunService) {
  return {
    startRun: async (request: StartRunRequest, ctx: CallContext): Promise<StartRunResponse> => {
      const { run, created } = await runs.start(
        { spec: request.spec, idempotencyKey: request.idempotencyKey, labels: request.labels },
        ctx.signal,
      );
      if (created) ctx.log.info({ runId: run.runId }, 'run accepted');
      return { run, created };
    },

    watchRun: async (
      request: WatchRunRequest,
      ctx: CallContext,
      sink: StreamSink<WatchRunResponse>,
    ): Promise<void> => {
      const events = runs.watch(
        requireRunId(request.runId),
        request.fromSequence,
        request.skipStepMetrics,
        ctx.signal,
      );
      for await (const event of events) await sink.write({ event });
    },

    getRun: (request: GetRunRequest): GetRunResponse => ({ run: runs.get(requireRunId(request.runId)) }),

    listRuns: (request: ListRunsRequest): ListRunsResponse =>
      runs.list({
        pageSize: request.page?.pageSize ?? 0,
        pageToken: request.page?.pageToken ?? '',
        state: request.state,
        labels: request.labels,
      }),

    cancelRun: async (request: CancelRunRequest): Promise<CancelRunResponse> => ({
      run: await runs.cancel(requireRunId(request.runId)),
    }),

    readParameters: async (
      request: ReadParametersRequest,
      _ctx: CallContext,
      sink: StreamSink<ReadParametersResponse>,
    ): Promise<void> => {
      const { model, chunks } = runs.readParameters(
        request.checkpoint,
        request.chunkBytes,
        request.includeOptimizerState,
      );
      let first = true;
      for (const chunk of chunks) {
        await sink.write(first && model ? { chunk, model } : { chunk });
        first = false;
      }
    },

    getTrainerInfo: (): Promise<GetTrainerInfoResponse> => runs.info(),
  };
}
