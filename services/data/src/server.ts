// Binds the data service's handlers to a gRPC server. Tests call createServer(deps) and listen on 127.0.0.1:0.
import { DataServiceService } from '@gengap/proto/data/v1/data_service';
import { GenGapServer, type ServerSettings } from '@gengap/service-kit';
import { datasetHandlers } from './handlers/datasets.ts';
import { readHandlers } from './handlers/reads.ts';
import { readDatasetSerializer } from './handlers/wire.ts';
import type { DatasetJobs } from './jobs/dataset-jobs.ts';
import { BufferPool } from './reading/buffer-pool.ts';
import type { DatasetStorage } from './storage/dataset-storage.ts';

export interface DataDeps {
  settings: ServerSettings;
  jobs: DatasetJobs;
  storage: DatasetStorage;
}

export function createServer(deps: DataDeps): GenGapServer {
  const server = new GenGapServer(deps.settings);
  const pool = new BufferPool();
  // The generated definition, with ReadDataset's responses encoded by the one-copy serializer that
  // recycles read buffers.
  const definition = {
    ...DataServiceService,
    readDataset: { ...DataServiceService.readDataset, responseSerialize: readDatasetSerializer(pool) },
  };
  server.addService(definition, {
    ...datasetHandlers(deps.jobs),
    ...readHandlers(deps.jobs, deps.storage, pool),
  });
  return server;
}
