// Binds the analysis service's handlers to a gRPC server. Tests call createServer(deps) and listen on 127.0.0.1:0.
import { AnalysisServiceService } from '@gengap/proto/analysis/v1/analysis_service';
import { GenGapServer, type ServerSettings } from '@gengap/service-kit';
import { analysisHandlers } from './handlers/analysis-handlers.ts';
import type { AnalysisJobs } from './jobs/analysis-jobs.ts';

export interface AnalysisDeps {
  settings: ServerSettings;
  analyses: AnalysisJobs;
}

export function createServer(deps: AnalysisDeps): GenGapServer {
  const server = new GenGapServer(deps.settings);
  server.addService(AnalysisServiceService, analysisHandlers(deps.analyses));
  return server;
}
