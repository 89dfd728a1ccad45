// Checkpoints made by the analysis service (Dinh et al.'s rescaling): GetAnalysis names the run the
// analysed checkpoint came from (whose model the new parameters fit) and the artifact holding them;
// ReadAnalysisArtifact streams the parameters as checksummed tensor chunks.
import { AnalysisServiceClient } from '@gengap/proto/analysis/v1/analysis_service';
import { DataType } from '@gengap/proto/common/v1/tensor';
import {
  callUnary,
  closeClient,
  createClient,
  FailedPreconditionError,
  readStream,
} from '@gengap/service-kit';
import { ChunkAssembler } from '@gengap/tensor-io';
import type { AnalysisCheckpointSource } from '../runs/checkpoint-refs.ts';
import type { NamedArray } from '../runs/worker-protocol.ts';

export class AnalysisServiceCheckpoints implements AnalysisCheckpointSource {
  private readonly client: AnalysisServiceClient;

  constructor(address: string, options: { deadlineMs?: number } = {}) {
    this.client = createClient(AnalysisServiceClient, address, {
      deadlineMs: options.deadlineMs ?? 30_000,
      maxMessageBytes: 64 * 1024 * 1024,
    });
  }

  close(): void {
    closeClient(this.client);
  }

  async read(analysisId: string, signal?: AbortSignal): Promise<{ runId: string; parameters: NamedArray[] }> {
    const settings = signal ? { signal } : {};
    const { analysis } = await callUnary(this.client, this.client.getAnalysis, { analysisId }, settings);
    const source = analysis?.spec?.checkpoint?.source;
    if (source?.$case !== 'run') {
      throw new FailedPreconditionError(`analysis ${analysisId} did not analyse a training run's checkpoint`);
    }
    const result = analysis?.result;
    const artifact =
      result?.kind?.$case === 'rescale' ? result.kind.value.artifact : (result?.artifacts[0] ?? undefined);
    if (!artifact)
      throw new FailedPreconditionError(`analysis ${analysisId} has no checkpoint artifact (yet)`);
    const assembler = new ChunkAssembler();
    const request = { analysisId, artifact, chunkBytes: 0 };
    for await (const message of readStream(
      this.client,
      this.client.readAnalysisArtifact,
      request,
      settings,
    )) {
      if (message.chunk) assembler.push(message.chunk);
    }
    const parameters = assembler.finish().map((t): NamedArray => {
      const bytes = t.data.slice();
      if (t.dtype === DataType.DATA_TYPE_FLOAT64) {
        return { name: t.name, shape: t.shape, dtype: 'float64', data: new Float64Array(bytes.buffer) };
      }
      if (t.dtype !== DataType.DATA_TYPE_FLOAT32) {
        throw new FailedPreconditionError(`analysis artifact tensor ${t.name} is not floating point`);
      }
      return { name: t.name, shape: t.shape, dtype: 'float32', data: new Float32Array(bytes.buffer) };
    });
    return { runId: source.value.runId, parameters };
  }
}
