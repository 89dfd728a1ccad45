// The analysis service started in-process on 127.0.0.1:0 with the generated client, and helpers to run
// an analysis to its end and read its artifacts.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serviceNames } from '@gengap/proto';
import { type Analysis, AnalysisSpec } from '@gengap/proto/analysis/v1/analysis';
import { AnalysisServiceClient } from '@gengap/proto/analysis/v1/analysis_service';
import { JobState } from '@gengap/proto/common/v1/job';
import {
  callUnary,
  closeClient,
  createClient,
  createRootLogger,
  readStream,
  type ServerSettings,
} from '@gengap/service-kit';
import { ChunkAssembler, type RawTensor } from '@gengap/tensor-io';
import {
  type AnalysisService,
  type AnalysisServiceOptions,
  buildAnalysisService,
} from '../../src/analysis-service.ts';

export const silentLog = createRootLogger({
  service: 'test',
  level: process.env.GENGAP_TEST_LOG ?? 'silent',
});

export function settingsFor(service: keyof typeof serviceNames): ServerSettings {
  return {
    log: silentLog,
    serviceNames: [serviceNames[service]],
    maxMessageBytes: 64 * 1024 * 1024,
    maxConcurrentStreams: 1000,
    maxUnaryDeadlineMs: 120_000,
    shutdownGraceMs: 2_000,
    drainDelayMs: 0,
  };
}

export function tempDir(prefix: string): { path: string; remove: () => void } {
  const path = mkdtempSync(join(tmpdir(), `gengap-${prefix}-`));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

export interface AnalysisHandle {
  address: string;
  client: AnalysisServiceClient;
  service: AnalysisService;
  /** Stops the server and the jobs (jobs left RUNNING resume on the next start with the same state dir). */
  close(): Promise<void>;
}

export async function startAnalysis(
  options: Partial<AnalysisServiceOptions> & { stateDir: string },
): Promise<AnalysisHandle> {
  const service = buildAnalysisService({
    settings: settingsFor('analysis'),
    log: silentLog,
    maxConcurrentAnalyses: 1,
    maxQueuedAnalyses: 16,
    defaultThreads: 1,
    datasetCacheBytes: 512 * 1024 * 1024,
    checkpointCacheBytes: 64 * 1024 * 1024,
    outboundDeadlineMs: 30_000,
    ...options,
  });
  const port = await service.server.listen('127.0.0.1', 0);
  await service.start?.();
  service.server.setServing(true);
  const address = `127.0.0.1:${port}`;
  const client = createClient(AnalysisServiceClient, address, { deadlineMs: 60_000 });
  return {
    address,
    client,
    service,
    async close() {
      closeClient(client);
      await service.server.shutdown();
      await service.close?.();
    },
  };
}

const TERMINAL = new Set<number>([
  JobState.JOB_STATE_SUCCEEDED,
  JobState.JOB_STATE_FAILED,
  JobState.JOB_STATE_CANCELLED,
]);

/** Starts an analysis and follows WatchAnalysis until it ends; returns the final record. */
export async function runAnalysis(
  client: AnalysisServiceClient,
  spec: Partial<AnalysisSpec>,
  key = `test-${Math.random().toString(36).slice(2)}`,
): Promise<Analysis> {
  const { analysis } = await callUnary(client, client.startAnalysis, {
    spec: AnalysisSpec.fromPartial(spec),
    idempotencyKey: key,
    labels: {},
  });
  const id = analysis!.analysisId;
  for await (const message of readStream(client, client.watchAnalysis, { analysisId: id, fromSequence: 0 })) {
    if (TERMINAL.has(message.event?.status?.state ?? 0)) break;
  }
  const { analysis: final } = await callUnary(client, client.getAnalysis, { analysisId: id });
  return final!;
}

/** Runs an analysis and throws with its error unless it succeeded. */
export async function runOk(client: AnalysisServiceClient, spec: Partial<AnalysisSpec>): Promise<Analysis> {
  const analysis = await runAnalysis(client, spec);
  if (analysis.status?.state !== JobState.JOB_STATE_SUCCEEDED) {
    throw new Error(
      `analysis ${analysis.analysisId} ended ${analysis.status?.state}: ${analysis.status?.error?.message}`,
    );
  }
  return analysis;
}

export async function readArtifact(
  client: AnalysisServiceClient,
  analysisId: string,
  artifact: string,
): Promise<{ mediaType: string; tensors: RawTensor[] }> {
  const assembler = new ChunkAssembler();
  let mediaType = '';
  for await (const m of readStream(client, client.readAnalysisArtifact, {
    analysisId,
    artifact,
    chunkBytes: 4096,
  })) {
    if (m.mediaType) mediaType = m.mediaType;
    if (m.chunk) assembler.push(m.chunk);
  }
  return { mediaType, tensors: assembler.finish() };
}

export function runCheckpoint(runId: string, step = 0) {
  return { source: { $case: 'run' as const, value: { runId, step } } };
}
