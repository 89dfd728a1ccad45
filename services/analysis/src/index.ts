// The analysis service as a package: its wiring (for in-process stacks and tests) and the plumbing
// analysis kinds are written against.

export type * from './analyses/kind.ts';
export { defineKind } from './analyses/kind.ts';
export {
  type AnalysisService,
  type AnalysisServiceOptions,
  buildAnalysisService,
} from './analysis-service.ts';
export { createServer } from './server.ts';
