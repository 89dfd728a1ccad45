// Binds the trainer service's handlers to a gRPC server. Tests call createServer(deps) and listen on 127.0.0.1:0.
import { TrainerServiceService } from '@gengap/proto/trainer/v1/trainer_service';
import { GenGapServer, type ServerSettings } from '@gengap/service-kit';
import { trainerHandlers } from './handlers/trainer-handlers.ts';
import type { RunService } from './runs/run-service.ts';

export interface TrainerDeps {
  settings: ServerSettings;
  runs: RunService;
}

export function createServer(deps: TrainerDeps): GenGapServer {
  const server = new GenGapServer(deps.settings);
  server.addService(TrainerServiceService, trainerHandlers(deps.runs));
  return server;
}
