// CoordinatorService handlers: check the request's own fields, call the domain, return. Errors
// propagate to service-kit's one mapping.
import type {
  BuildReportRequest,
  BuildReportResponse,
  CancelExperimentRequest,
  CancelExperimentResponse,
  GetExperimentRequest,
  GetExperimentResponse,
  ListExperimentsRequest,
  ListExperimentsResponse,
  ListPresetsResponse,
  StartExperimentRequest,
  StartExperimentResponse,
  ValidateExperimentRequest,
  ValidateExperimentResponse,
  WatchExperimentRequest,
  WatchExperimentResponse,
} from '@gengap/proto/coordinator/v1/coordinator_service';
import { type CallContext, InvalidArgumentError, type StreamSink } from '@gengap/service-kit';
import type { Coordinator } from '../orchestration/coordinator.ts';

function requireId(id: string): string {
  if (!id) throw new InvalidArgumentError('experimentId', 'required');
  return id;
}

export function coordinatorHandlers(coordinator: Coordinator) {
  return {
    startExperiment: (request: StartExperimentRequest): StartExperimentResponse => coordinator.start(request),

    async watchExperiment(
      request: WatchExperimentRequest,
      ctx: CallContext,
      sink: StreamSink<WatchExperimentResponse>,
    ): Promise<void> {
      for await (const event of coordinator.watch(
        requireId(request.experimentId),
        request.fromSequence,
        ctx.signal,
      )) {
        await sink.write({ event });
      }
    },

    getExperiment: (request: GetExperimentRequest): GetExperimentResponse => ({
      experiment: coordinator.get(requireId(request.experimentId)),
    }),

    listExperiments: (request: ListExperimentsRequest): ListExperimentsResponse => coordinator.list(request),

    async cancelExperiment(request: CancelExperimentRequest): Promise<CancelExperimentResponse> {
      return { experiment: await coordinator.cancel(requireId(request.experimentId)) };
    },

    validateExperiment: (request: ValidateExperimentRequest): ValidateExperimentResponse =>
      coordinator.validate(request),

    async listPresets(_request: unknown, ctx: CallContext): Promise<ListPresetsResponse> {
      return { presets: await coordinator.listPresets(ctx.signal) };
    },

    buildReport: (request: BuildReportRequest, ctx: CallContext): Promise<BuildReportResponse> =>
      coordinator.buildReport(requireId(request.experimentId), ctx.signal),
  };
}
