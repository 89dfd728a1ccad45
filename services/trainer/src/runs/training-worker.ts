// Entry point of a training worker thread (see worker-pool.ts): for each 'start' message, one run.
// Compiles the network, turns a teacher's outputs into soft labels if the run has one, runs the
// training loop, and reports events, progress and the outcome to the main thread; then releases the
// run's sessions and waits for the next. Stores nothing itself except checkpoint files.
import { parentPort, type Worker, workerData } from 'node:worker_threads';
import type { JobFailure } from '@gengap/job-store';
import { ModelSpec } from '@gengap/proto/common/v1/model';
import { RunSpec, RunSummary } from '@gengap/proto/trainer/v1/run';
import { Augmenter } from './augmentation.ts';
import { startGatherThread } from './batch-gatherer.ts';
import { OfflineBatches, OnlineBatches, type OnlineBatchSource } from './batches.ts';
import { CheckpointWriter, startCheckpointWriterThread } from './checkpoint-writer.ts';
import { createEngineBackend, createFrozenNetwork, engineFailure } from './engine-backend.ts';
import { NON_FINITE_FAILURE_CODE } from './errors.ts';
import { trainingSet } from './objectives.ts';
import { encodeEvent, type RunEventBody } from './run-records.ts';
import { planRun } from './run-spec.ts';
import { labelledSplit } from './training-backend.ts';
import { type LoopIO, type LoopResult, TrainingLoop } from './training-loop.ts';
import type {
  MainToWorker,
  NamedArray,
  StoredEventMessage,
  WorkerInput,
  WorkerOutcome,
  WorkerToMain,
} from './worker-protocol.ts';

const port = parentPort as NonNullable<typeof parentPort>;
// The current run: set by its 'start' message (or, for a worker started for one run, workerData).
let input: WorkerInput;
let control: Int32Array;
let active = false;

/** This worker's helper threads (batch gathering, checkpoint writing), started once, kept across runs. */
let helperThreads: { gather: Worker; writer: Worker } | undefined;
function helpers(): { gather: Worker; writer: Worker } {
  helperThreads ??= { gather: startGatherThread(), writer: startCheckpointWriterThread() };
  return helperThreads;
}

/** Events are sent in batches; a checkpoint or the end flushes them. */
const EVENT_BATCH = 256;
let buffered: StoredEventMessage[] = [];
let nextRequestId = 1;
const waiting = new Map<number, (reply: MainToWorker) => void>();

function post(message: WorkerToMain, transfer?: ArrayBuffer[]): void {
  port.postMessage(message, transfer ?? []);
}

function sendEvents(): void {
  if (buffered.length === 0) return;
  post({ type: 'events', events: buffered });
  buffered = [];
}

function request(message: WorkerToMain & { id: number }): Promise<MainToWorker> {
  return new Promise((resolve) => {
    waiting.set(message.id, resolve);
    post(message);
  });
}

port.on('message', (message: MainToWorker) => {
  if (message.type === 'start') {
    void begin(message.input, false);
    return;
  }
  const resolve = waiting.get(message.id);
  if (resolve) {
    waiting.delete(message.id);
    resolve(message);
  }
});

const io: LoopIO = {
  emit(key: string, event: RunEventBody) {
    buffered.push({ key, payload: encodeEvent(event) });
    if (buffered.length >= EVENT_BATCH) sendEvents();
  },
  async flush() {
    sendEvents();
    await request({ type: 'flush', id: nextRequestId++ });
  },
  progress(progress: number, phase: string, summary: RunSummary) {
    sendEvents();
    post({ type: 'progress', progress, phase, summary: RunSummary.encode(summary).finish() });
  },
  control: () => Atomics.load(control, 0),
};

const online: OnlineBatchSource = {
  async fetch(startBatch, count, batchSize) {
    const reply = await request({ type: 'onlineBatches', id: nextRequestId++, startBatch, count, batchSize });
    if (reply.type !== 'onlineBatches' || !reply.batches) {
      throw new Error(
        `online batches ${startBatch}..${startBatch + count - 1}: ${reply.type === 'onlineBatches' ? reply.error : 'no reply'}`,
      );
    }
    return reply.batches;
  },
};

function log(message: string, fields: Record<string, unknown> = {}): void {
  // Worker logs go to stderr as JSON lines tagged with the run; the main thread's pino owns stdout.
  process.stderr.write(
    `${JSON.stringify({ level: 'info', runId: input.runId, attempt: input.attempt, msg: message, ...fields })}\n`,
  );
}

async function train(): Promise<LoopResult> {
  const spec = RunSpec.decode(input.spec);
  const plan = planRun(
    spec,
    {
      datasetId: spec.dataset?.datasetId ?? '',
      numClasses: input.numClasses,
      inputShape: input.inputShape,
      trainSize: input.train?.y.length ?? 0,
      testSize: input.test?.y.length ?? 0,
      online: input.online,
    },
    input.checkpointEverySteps,
    input.query?.plan,
  );
  const backend = await createEngineBackend({ spec, plan, threads: input.threads });
  try {
    const testSplit = input.test ? labelledSplit(input.test.x, input.test.y) : undefined;
    const decodeNetwork = (n: { model: Uint8Array; parameters: NamedArray[] }) => ({
      model: ModelSpec.decode(n.model),
      parameters: n.parameters,
    });
    // Offline data: the rows and targets of the run's objective (online data has neither).
    const set = input.train
      ? await trainingSet({
          spec,
          plan,
          numClasses: input.numClasses,
          train: labelledSplit(input.train.x, input.train.y),
          ...(testSplit ? { test: testSplit } : {}),
          ...(input.teacher ? { teacher: decodeNetwork(input.teacher) } : {}),
          ...(input.base ? { base: decodeNetwork(input.base) } : {}),
          ...(input.query
            ? { query: labelledSplit(input.query.x, input.query.y), queryRows: input.query.plan.rows }
            : {}),
          ...(input.initFrom ? { initFrom: input.initFrom } : {}),
          frozenNetwork: (model, parameters, options) =>
            createFrozenNetwork(model, parameters, {
              threads: input.threads,
              precision: plan.precision,
              ...options,
            }),
        })
      : undefined;
    const reg = spec.regularizers;
    const augmentation =
      reg && (reg.augmentRandomShift > 0 || reg.augmentHorizontalFlip)
        ? { shift: reg.augmentRandomShift, flip: reg.augmentHorizontalFlip }
        : undefined;
    const batches = set
      ? new OfflineBatches(set.rows, set.soft, {
          classes: set.softWidth,
          batchSize: plan.batchSize,
          maxSteps: plan.fullBatch ? 1 : plan.stepsPerCall,
          helper: plan.fullBatch ? undefined : helpers().gather,
        })
      : undefined;
    const writer = new CheckpointWriter(input.runDir, helpers().writer);
    try {
      const loop = new TrainingLoop(
        {
          runId: input.runId,
          spec,
          specHash: input.specHash,
          plan,
          runDir: input.runDir,
          backend,
          writer,
          ...(set && batches ? { train: set.train, batches } : {}),
          ...(set?.test ? { test: set.test } : testSplit ? { test: testSplit } : {}),
          ...(input.online ? { online: new OnlineBatches(online, plan.batchSize) } : {}),
          ...(input.initFrom ? { initFrom: input.initFrom } : {}),
          ...(augmentation ? { augmenter: new Augmenter(spec.seed, input.inputShape, augmentation) } : {}),
          log,
        },
        io,
      );
      return await loop.run();
    } finally {
      await writer.close();
      await batches?.close();
    }
  } finally {
    await backend.dispose();
  }
}

function outcomeOf(result: LoopResult): WorkerOutcome {
  switch (result.kind) {
    case 'interrupted':
      return result;
    case 'succeeded':
    case 'cancelled':
      return { kind: result.kind, summary: RunSummary.encode(result.summary).finish() };
    case 'failed': {
      // A diverged run is deterministic: retrying would diverge again. The contract's code for a loss
      // or metric that became non-finite is OUT_OF_RANGE (JobError.code).
      const failure: JobFailure = {
        code: NON_FINITE_FAILURE_CODE,
        message: result.error.message,
        step: result.error.step,
      };
      return { kind: 'failed', failure, summary: RunSummary.encode(result.summary).finish() };
    }
  }
}

async function begin(given: WorkerInput, once: boolean): Promise<void> {
  if (active) throw new Error(`a training worker runs one run at a time (asked for ${given.runId})`);
  active = true;
  input = given;
  control = new Int32Array(input.control);
  let outcome: WorkerOutcome;
  try {
    outcome = outcomeOf(await train());
  } catch (err) {
    outcome = { kind: 'failed', failure: engineFailure(err), summary: new Uint8Array() };
  }
  sendEvents();
  // Nothing of this run outlives it: replies still on their way are for requests nobody awaits.
  waiting.clear();
  active = false;
  post({ type: 'done', outcome });
  if (once) port.close();
}

if (workerData) void begin(workerData as WorkerInput, true);
