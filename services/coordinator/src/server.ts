// Binds the coordinator service's handlers to a gRPC server. Tests call createServer(deps) and listen on 127.0.0.1:0.
import { CoordinatorServiceService } from '@gengap/proto/coordinator/v1/coordinator_service';
import { GenGapServer, type ServerSettings } from '@gengap/service-kit';
import { coordinatorHandlers } from './handlers/coordinator-handlers.ts';
import type { Coordinator } from './orchestration/coordinator.ts';

export interface CoordinatorDeps {
  settings: ServerSettings;
  coordinator: Coordinator;
}

export function createServer(deps: CoordinatorDeps): GenGapServer {
  const server = new GenGapServer(deps.settings);
  server.addService(CoordinatorServiceService, coordinatorHandlers(deps.coordinator));
  return server;
}
