// AnalysisService handlers: translate requests into AnalysisJobs calls and results into responses.
// Errors propagate to service-kit, which maps them to status codes in one place.
import type {
  CancelAnalysisRequest,
  CancelAnalysisResponse,
  GetAnalysisInfoResponse,
  GetAnalysisRequest,
  GetAnalysisResponse,
  ListAnalysesRequest,
  ListAnalysesResponse,
  ReadAnalysisArtifactRequest,
  ReadAnalysisArtifactResponse,
  StartAnalysisRequest,
  StartAnalysisResponse,
  WatchAnalysisRequest,
  WatchAnalysisResponse,
} from '@gengap/proto/analysis/v1/analysis_service';
import { type CallContext, InvalidArgumentError, type StreamSink } from '@gengap/service-kit';
import { DEFAULT_CHUNK_BYTES, toChunksFrom } from '@gengap/tensor-io';
import type { AnalysisJobs } from '../jobs/analysis-jobs.ts';

/** Reported by GetAnalysisInfo. */
export const SERVICE_VERSION = '0.1.0';

/** Largest chunk a client may ask for (well under the default 16 MiB message limit). */
export const MAX_ARTIFACT_CHUNK_BYTES = 4 * 1024 * 1024;

export function analysisHandlers(jobs: AnalysisJobs) {
  return {
    startAnalysis: (request: StartAnalysisRequest, ctx: CallContext): StartAnalysisResponse => {
      const out = jobs.start({
        spec: request.spec,
        idempotencyKey: request.idempotencyKey,
        labels: request.labels,
      });
      if (out.created) ctx.log.info({ analysisId: out.analysis.analysisId }, 'analysis accepted');
      return out;
    },

    watchAnalysis: async (
      request: WatchAnalysisRequest,
      ctx: CallContext,
      sink: StreamSink<WatchAnalysisResponse>,
    ): Promise<void> => {
      for await (const event of jobs.watch(request.analysisId, request.fromSequence, ctx.signal)) {
        await sink.write({ event });
      }
    },

    getAnalysis: (request: GetAnalysisRequest): GetAnalysisResponse => ({
      analysis: jobs.get(request.analysisId),
    }),

    listAnalyses: (request: ListAnalysesRequest): ListAnalysesResponse =>
      jobs.list({
        pageSize: request.page?.pageSize ?? 0,
        pageToken: request.page?.pageToken ?? '',
        state: request.state,
        labels: request.labels,
      }),

    getAnalysisInfo: (): GetAnalysisInfoResponse => ({ version: SERVICE_VERSION, ...jobs.info() }),

    cancelAnalysis: (request: CancelAnalysisRequest): CancelAnalysisResponse => ({
      analysis: jobs.cancel(request.analysisId),
    }),

    readAnalysisArtifact: async (
      request: ReadAnalysisArtifactRequest,
      _ctx: CallContext,
      sink: StreamSink<ReadAnalysisArtifactResponse>,
    ): Promise<void> => {
      if (request.chunkBytes > MAX_ARTIFACT_CHUNK_BYTES) {
        throw new InvalidArgumentError('chunk_bytes', `must be at most ${MAX_ARTIFACT_CHUNK_BYTES}`);
      }
      const artifact = await jobs.openArtifact(request.analysisId, request.artifact);
      let first = true;
      for await (const chunk of toChunksFrom(artifact.sources, request.chunkBytes || DEFAULT_CHUNK_BYTES)) {
        await sink.write({ chunk, mediaType: first ? artifact.mediaType : '' });
        first = false;
      }
    },
  };
}
