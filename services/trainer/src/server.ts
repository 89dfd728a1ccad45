// Binds the trainer service's handlers to a gRPC server. Tests call createServer(deps) and listen on 127.0.0.1:0.
import { TrainerServiceService } from '@gengap/proto/trainer/v1/trainer_service';
import { GenGapServer, type ServerSettings } from '@gengap/service-kit';

export interface TrainerDeps {
  settings: ServerSettings;
}

export function createServer(deps: TrainerDeps): GenGapServer {
  const server = new GenGapServer(deps.settings);
  // Handlers land with the trainer issue; until then every method answers UNIMPLEMENTED.
  server.addService(TrainerServiceService, {});
  return server;
}
