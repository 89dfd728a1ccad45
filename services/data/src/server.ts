// Binds the data service's handlers to a gRPC server. Tests call createServer(deps) and listen on 127.0.0.1:0.
import { DataServiceService } from '@gengap/proto/data/v1/data_service';
import { GenGapServer, type ServerSettings } from '@gengap/service-kit';

export interface DataDeps {
  settings: ServerSettings;
}

export function createServer(deps: DataDeps): GenGapServer {
  const server = new GenGapServer(deps.settings);
  // Handlers land with the data issue; until then every method answers UNIMPLEMENTED.
  server.addService(DataServiceService, {});
  return server;
}
