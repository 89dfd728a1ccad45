// Dataset life-cycle RPCs: validate, create, get, list, watch, cancel, delete. Thin: the domain
// (jobs/dataset-jobs.ts) does the work; errors map to statuses in service-kit.
import type {
  CancelDatasetRequest,
  CancelDatasetResponse,
  CreateDatasetRequest,
  CreateDatasetResponse,
  DeleteDatasetRequest,
  DeleteDatasetResponse,
  GetDatasetRequest,
  GetDatasetResponse,
  ListDatasetsRequest,
  ListDatasetsResponse,
  ValidateDatasetSpecRequest,
  ValidateDatasetSpecResponse,
  WatchDatasetRequest,
  WatchDatasetResponse,
} from '@gengap/proto/data/v1/data_service';
import type { CallContext, StreamSink } from '@gengap/service-kit';
import type { DatasetJobs } from '../jobs/dataset-jobs.ts';

export function datasetHandlers(jobs: DatasetJobs) {
  return {
    validateDatasetSpec(request: ValidateDatasetSpecRequest): ValidateDatasetSpecResponse {
      const validated = jobs.validate(request.spec);
      return { datasetId: validated.datasetId, canonicalSpecJson: validated.canonicalJson };
    },

    async createDataset(request: CreateDatasetRequest, ctx: CallContext): Promise<CreateDatasetResponse> {
      const { dataset, created } = await jobs.create(request.spec, request.idempotencyKey);
      ctx.log.info({ datasetId: dataset.datasetId, created }, 'create dataset');
      return { dataset, created };
    },

    getDataset(request: GetDatasetRequest): GetDatasetResponse {
      return { dataset: jobs.get(request.datasetId) };
    },

    listDatasets(request: ListDatasetsRequest): ListDatasetsResponse {
      return jobs.list(request.page?.pageSize ?? 0, request.page?.pageToken ?? '');
    },

    async watchDataset(
      request: WatchDatasetRequest,
      ctx: CallContext,
      sink: StreamSink<WatchDatasetResponse>,
    ): Promise<void> {
      for await (const event of jobs.watch(request.datasetId, request.fromSequence, ctx.signal)) {
        await sink.write(event);
      }
    },

    async cancelDataset(request: CancelDatasetRequest): Promise<CancelDatasetResponse> {
      return { dataset: await jobs.cancel(request.datasetId) };
    },

    async deleteDataset(request: DeleteDatasetRequest): Promise<DeleteDatasetResponse> {
      await jobs.delete(request.datasetId);
      return {};
    },
  };
}
