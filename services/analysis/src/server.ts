// Binds the analysis service's handlers to a gRPC server. Tests call createServer(deps) and listen on 127.0.0.1:0.
import { AnalysisServiceService } from '@gengap/proto/analysis/v1/analysis_service';
import { GenGapServer, type ServerSettings } from '@gengap/service-kit';

export interface AnalysisDeps {
  settings: ServerSettings;
}

export function createServer(deps: AnalysisDeps): GenGapServer {
  const server = new GenGapServer(deps.settings);
  // Handlers land with the analysis issue; until then every method answers UNIMPLEMENTED.
  server.addService(AnalysisServiceService, {});
  return server;
}
