// Runs one analysis attempt: builds its context (inputs, seeded generators, progress, artifacts), calls
// the kind, and turns its output into the stored AnalysisResult plus the JSON and CSV exports.
import {
  type AnalysisResult,
  AnalysisSpec,
  AnalysisResult as ResultCodec,
} from '@gengap/proto/analysis/v1/analysis';
import { Rng } from '@gengap/random';
import type { Logger } from 'pino';
import type { AnalysisContext, AnalysisKind, AnalysisOutput, ProgressReporter } from '../analyses/kind.ts';
import { protoFieldName } from '../analyses/registry.ts';
import { type InputServices, JobInputs } from '../inputs/job-inputs.ts';
import type { ArtifactStore } from './artifact-store.ts';

export interface ExecutionRequest {
  analysisId: string;
  spec: AnalysisSpec;
  kind: AnalysisKind;
  log: Logger;
  signal: AbortSignal;
  threads: number;
  progress: ProgressReporter;
  inputs: InputServices;
  artifacts: ArtifactStore;
}

function csvCell(value: string | number | boolean): string {
  const text = typeof value === 'number' && !Number.isFinite(value) ? String(value) : String(value);
  return /[",\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

export function toCsv(table: NonNullable<AnalysisOutput['table']>): string {
  const lines = [table.columns.map(csvCell).join(',')];
  for (const row of table.rows) lines.push(row.map(csvCell).join(','));
  return `${lines.join('\n')}\n`;
}

/** Builds the context a kind runs against. Exposed for tests and benchmarks that run kinds directly. */
export function analysisContext(
  request: Omit<ExecutionRequest, 'kind'>,
  written: string[],
): { context: AnalysisContext; inputs: JobInputs } {
  const inputs = new JobInputs(request.inputs, request.spec, {
    signal: request.signal,
    threads: request.threads,
  });
  const context: AnalysisContext = {
    analysisId: request.analysisId,
    spec: request.spec,
    log: request.log,
    signal: request.signal,
    threads: request.threads,
    rng: (stream) => new Rng(request.spec.seed, stream),
    inputs,
    progress: request.progress,
    artifacts: request.artifacts.writer(request.analysisId, written),
  };
  return { context, inputs };
}

export async function executeAnalysis(request: ExecutionRequest): Promise<AnalysisResult> {
  const started = performance.now();
  const written: string[] = [];
  const { context, inputs } = analysisContext(request, written);
  try {
    const kind = request.spec.kind!;
    const output = await (
      request.kind.run as (ctx: AnalysisContext, value: unknown) => Promise<AnalysisOutput>
    )(context, kind.value);
    request.signal.throwIfAborted();
    const result: AnalysisResult = {
      kind: output.result,
      plotSpecJson: output.plot ? JSON.stringify(output.plot) : '',
      artifacts: [...written],
      wallSeconds: (performance.now() - started) / 1000,
    };
    const exported = {
      analysisId: request.analysisId,
      kind: protoFieldName(kind.$case),
      spec: AnalysisSpec.toJSON(request.spec),
      result: ResultCodec.toJSON({ ...result, plotSpecJson: '' }),
      details: output.details ?? {},
    };
    const encoder = new TextEncoder();
    result.artifacts.push(
      await request.artifacts.writeBytes(
        request.analysisId,
        'result.json',
        encoder.encode(`${JSON.stringify(exported, null, 2)}\n`),
      ),
    );
    if (output.table) {
      result.artifacts.push(
        await request.artifacts.writeBytes(
          request.analysisId,
          'result.csv',
          encoder.encode(toCsv(output.table)),
        ),
      );
    }
    if (output.plot) {
      result.artifacts.push(
        await request.artifacts.writeBytes(
          request.analysisId,
          'plot.vl.json',
          encoder.encode(`${JSON.stringify(output.plot, null, 2)}\n`),
        ),
      );
    }
    return result;
  } finally {
    inputs.dispose();
  }
}
