// Reading part 2's results in tests: the kind's result message, the details of result.json, and the
// plot rendered to SVG.
import type { Analysis, AnalysisResult } from '@gengap/proto/analysis/v1/analysis';
import type { AnalysisServiceClient } from '@gengap/proto/analysis/v1/analysis_service';
import { parse, View } from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import { readArtifact } from './harness.ts';

type ResultKind = NonNullable<AnalysisResult['kind']>;
type ResultValues = { [R in ResultKind as R['$case']]: R['value'] };

/** The result of the expected kind, or a thrown error naming what came instead. */
export function resultOf<K extends keyof ResultValues>(analysis: Analysis, kind: K): ResultValues[K] {
  const result = analysis.result?.kind;
  if (result?.$case !== kind) throw new Error(`expected a ${kind} result, got ${result?.$case}`);
  return result.value as ResultValues[K];
}

// biome-ignore lint/suspicious/noExplicitAny: details are free-form per kind; tests read fields by name
type Details = Record<string, any>;

/** The `details` object of the analysis' result.json export. */
export async function detailsOf(client: AnalysisServiceClient, analysis: Analysis): Promise<Details> {
  const exported = await readArtifact(client, analysis.analysisId, 'result.json');
  return JSON.parse(new TextDecoder().decode(exported.tensors[0]!.data)).details;
}

/** Renders the analysis' Vega-Lite plot to SVG headlessly (as the coordinator's report does); returns the SVG. */
export async function renderedPlot(analysis: Analysis): Promise<string> {
  const spec = JSON.parse(analysis.result?.plotSpecJson || 'null') as TopLevelSpec | null;
  if (!spec) throw new Error(`analysis ${analysis.analysisId} has no plot`);
  const view = new View(parse(compile(spec).spec), { renderer: 'none', logLevel: 0 });
  try {
    const svg = await view.toSVG();
    if (!svg.includes('<svg')) throw new Error('no SVG');
    return svg;
  } finally {
    view.finalize();
  }
}
