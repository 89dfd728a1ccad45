// The trainer as a RunSource: GetRun, the event log through WatchRun, and checkpoint parameters
// through ReadParameters (checksummed chunks, the model on the first message).
import type { ModelSpec } from '@gengap/proto/common/v1/model';
import type { Run, RunEvent } from '@gengap/proto/trainer/v1/run';
import { TrainerServiceClient } from '@gengap/proto/trainer/v1/trainer_service';
import {
  callUnary,
  closeClient,
  createClient,
  FailedPreconditionError,
  NotFoundError,
  readStream,
} from '@gengap/service-kit';
import { ChunkAssembler } from '@gengap/tensor-io';
import type { NamedTensor } from '../analyses/kind.ts';
import type { RunSource } from '../inputs/sources.ts';
import { floatArrayOf } from './tensors.ts';

const TERMINAL = new Set([3, 4, 5]);

export class TrainerRunSource implements RunSource {
  private readonly client: TrainerServiceClient;
  private readonly deadlineMs: number;
  /** How long a live run's log may stay quiet before the snapshot read stops. */
  private readonly liveIdleMs: number;

  constructor(address: string, options: { deadlineMs?: number; liveIdleMs?: number } = {}) {
    this.deadlineMs = options.deadlineMs ?? 30_000;
    this.liveIdleMs = options.liveIdleMs ?? 500;
    this.client = createClient(TrainerServiceClient, address, {
      deadlineMs: this.deadlineMs,
      maxMessageBytes: 64 * 1024 * 1024,
    });
  }

  close(): void {
    closeClient(this.client);
  }

  async getRun(runId: string, signal: AbortSignal): Promise<Run> {
    const { run } = await callUnary(this.client, this.client.getRun, { runId }, { signal });
    if (!run) throw new NotFoundError('run', runId);
    return run;
  }

  async events(runId: string, signal: AbortSignal): Promise<RunEvent[]> {
    const run = await this.getRun(runId, signal);
    const live = !TERMINAL.has(run.status?.state ?? 0);
    const controller = new AbortController();
    const onAbort = () => controller.abort(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    const events: RunEvent[] = [];
    let idle: NodeJS.Timeout | undefined;
    const arm = () => {
      if (!live) return;
      clearTimeout(idle);
      idle = setTimeout(() => controller.abort(new Error('snapshot complete')), this.liveIdleMs);
    };
    try {
      arm();
      const stream = readStream(
        this.client,
        this.client.watchRun,
        { runId, fromSequence: 0, skipStepMetrics: false },
        { signal: controller.signal },
      );
      for await (const message of stream) {
        if (message.event) events.push(message.event);
        arm();
      }
    } catch (err) {
      if (signal.aborted || !controller.signal.aborted) throw err;
      // A live run's snapshot ended by the idle timer: the events stored so far.
    } finally {
      clearTimeout(idle);
      signal.removeEventListener('abort', onAbort);
    }
    return events;
  }

  async readParameters(
    runId: string,
    step: number,
    signal: AbortSignal,
  ): Promise<{ model: ModelSpec; parameters: NamedTensor[] }> {
    const assembler = new ChunkAssembler();
    let model: ModelSpec | undefined;
    const stream = readStream(
      this.client,
      this.client.readParameters,
      { checkpoint: { runId, step }, chunkBytes: 0, includeOptimizerState: false },
      { signal, deadlineMs: 10 * this.deadlineMs },
    );
    for await (const message of stream) {
      if (message.model) model ??= message.model;
      if (message.chunk) assembler.push(message.chunk);
    }
    if (!model) throw new FailedPreconditionError(`trainer sent no model for run ${runId} step ${step}`);
    const parameters = assembler
      .finish()
      .filter((t) => !t.name.startsWith('optimizer.'))
      .map((t) => ({ name: t.name, shape: t.shape.map(Number), data: floatArrayOf(t) }));
    return { model, parameters };
  }
}
