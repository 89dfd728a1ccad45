// Binds the coordinator service's handlers to a gRPC server. Tests call createServer(deps) and listen on 127.0.0.1:0.
import { CoordinatorServiceService } from '@gengap/proto/coordinator/v1/coordinator_service';
import { GenGapServer, type ServerSettings } from '@gengap/service-kit';

export interface CoordinatorDeps {
  settings: ServerSettings;
}

export function createServer(deps: CoordinatorDeps): GenGapServer {
  const server = new GenGapServer(deps.settings);
  // Handlers land with the coordinator issue; until then every method answers UNIMPLEMENTED.
  server.addService(CoordinatorServiceService, {});
  return server;
}
