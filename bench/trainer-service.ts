// Trainer-service benchmark: end-to-end training throughput of a run through the trainer (StartRun over
// gRPC, a worker thread, batches gathered from the data service's MNIST split, per-step metrics stored,
// per-epoch resume checkpoints, a final evaluation and checkpoint) against the engine's in-process figure
// (CompiledModel.trainSteps on ready-made batches, same model, batch size, steps per call and thread
// count). Prints one JSON line (bench/report.ts); the service should keep at least 90% of the engine.
//   gengap     samples / (time from StartRun to the SUCCEEDED status event, seen by a watching client)
//   reference  samples / (time of the same sequence of trainSteps calls, in process)
// Rounds alternate reference and service, so both see the same load on a shared machine; the best round
// of each side is reported (competing processes only ever slow a round down), and the median ratio of
// paired rounds as `pairedRatio`, and the median ratio of samples per CPU-second of the process as
// `cpuTimeRatio`. A warm-up run first fills the trainer's dataset cache (datasets are
// immutable, so a real sweep pays the download once) and is not timed.
// Options: --epochs E (default 15) --repeats R (default 3) --train-size N (default 10240) --quick
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { compileModel } from '@gengap/engine';
import { JobStore } from '@gengap/job-store';
import { serviceNames } from '@gengap/proto';
import { JobState } from '@gengap/proto/common/v1/job';
import { Activation, Device, type ModelSpec, OptimizerKind } from '@gengap/proto/common/v1/model';
import { DataServiceClient } from '@gengap/proto/data/v1/data_service';
import { SplitSelection } from '@gengap/proto/data/v1/dataset';
import { RunSpec } from '@gengap/proto/trainer/v1/run';
import { TrainerServiceClient } from '@gengap/proto/trainer/v1/trainer_service';
import {
  callUnary,
  closeClient,
  createClient,
  createRootLogger,
  readStream,
  type ServerSettings,
} from '@gengap/service-kit';
import { runInWorker } from '../services/data/src/generation/runner.ts';
import { DatasetJobs } from '../services/data/src/jobs/dataset-jobs.ts';
import { createServer as createDataServer } from '../services/data/src/server.ts';
import { LocalDatasetStorage } from '../services/data/src/storage/local-storage.ts';
import { defaultLimits } from '../services/data/src/validation/limits.ts';
import { buildTrainer } from '../services/trainer/src/trainer.ts';
import { printBench } from './report.ts';

const { values: args } = parseArgs({
  options: {
    epochs: { type: 'string', default: '15' },
    repeats: { type: 'string', default: '3' },
    'train-size': { type: 'string', default: '10240' },
    quick: { type: 'boolean', default: false },
  },
});
const quick = args.quick === true;
const EPOCHS = quick ? 3 : Number(args.epochs);
const REPEATS = quick ? 1 : Number(args.repeats);
const TRAIN_SIZE = Number(args['train-size']);
const WIDTHS = [784, 256, 256, 10];
const BATCH = 128;
const STEPS_PER_CALL = 50;
const LEARNING_RATE = 0.01;

const log = createRootLogger({ service: 'bench', level: 'warn' });

function settings(service: keyof typeof serviceNames): ServerSettings {
  return {
    log,
    serviceNames: [serviceNames[service]],
    maxMessageBytes: 64 * 1024 * 1024,
    maxConcurrentStreams: 1000,
    maxUnaryDeadlineMs: 120_000,
    shutdownGraceMs: 1000,
    drainDelayMs: 0,
  };
}

function mlp(): ModelSpec {
  const layers: ModelSpec['layers'] = [];
  WIDTHS.slice(1).forEach((units, i) => {
    layers.push({ name: '', kind: { $case: 'dense', value: { units, noBias: false } } });
    if (i < WIDTHS.length - 2) {
      layers.push({
        name: '',
        kind: { $case: 'activation', value: { activation: Activation.ACTIVATION_RELU } },
      });
    }
  });
  return { inputShape: [WIDTHS[0] as number], numOutputs: WIDTHS.at(-1) as number, layers };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
}

/** Steps per chunk as the trainer cuts them: at most STEPS_PER_CALL, never across an epoch end. */
function chunksPerEpoch(stepsPerEpoch: number): number[] {
  const chunks: number[] = [];
  for (let left = stepsPerEpoch; left > 0; left -= STEPS_PER_CALL)
    chunks.push(Math.min(STEPS_PER_CALL, left));
  return chunks;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'gengap-bench-trainer-'));
  const store = new JobStore(join(dir, 'data', 'data.sqlite'));
  const storage = new LocalDatasetStorage(join(dir, 'data', 'datasets'));
  const jobs = new DatasetJobs({
    store,
    storage,
    limits: { ...defaultLimits, maxMessageBytes: 64 * 1024 * 1024 },
    cacheDir: join(dir, 'data', 'cache'),
    concurrency: 1,
    runner: runInWorker,
    log,
  });
  const dataServer = createDataServer({ settings: settings('data'), jobs, storage });
  const dataAddress = `127.0.0.1:${await dataServer.listen('127.0.0.1', 0)}`;
  jobs.resume();
  dataServer.setServing(true);
  const trainer = buildTrainer({
    settings: settings('trainer'),
    log,
    stateDir: join(dir, 'trainer'),
    dataAddress,
    maxConcurrentRuns: 1,
    maxQueuedRuns: 10,
    threadsPerRun: 1,
    checkpointEverySteps: 1000,
    datasetCacheBytes: 1024 * 1024 * 1024,
    outboundDeadlineMs: 60_000,
  });
  const trainerAddress = `127.0.0.1:${await trainer.server.listen('127.0.0.1', 0)}`;
  trainer.start();
  trainer.server.setServing(true);
  const data = createClient(DataServiceClient, dataAddress, { deadlineMs: 120_000 });
  const client = createClient(TrainerServiceClient, trainerAddress, { deadlineMs: 120_000 });
  const engine = await compileModel(mlp(), { threads: 1 });
  try {
    // MNIST, flattened, TRAIN_SIZE training images and 1,000 test images.
    const { dataset } = await callUnary(data, data.createDataset, {
      spec: {
        source: { $case: 'mnist', value: { scaling: 1, flatten: true } },
        corruptions: [
          {
            kind: {
              $case: 'subsample',
              value: { size: TRAIN_SIZE, splits: SplitSelection.SPLIT_SELECTION_TRAIN },
            },
          },
          {
            kind: { $case: 'subsample', value: { size: 1000, splits: SplitSelection.SPLIT_SELECTION_TEST } },
          },
        ],
        seed: 1,
      },
      idempotencyKey: '',
    });
    const datasetId = dataset?.datasetId as string;
    for await (const m of readStream(data, data.watchDataset, { datasetId, fromSequence: 0 })) {
      if (m.status?.state === JobState.JOB_STATE_SUCCEEDED) break;
      if (m.status?.state === JobState.JOB_STATE_FAILED) throw new Error(m.status.error?.message);
    }
    const stepsPerEpoch = Math.ceil(TRAIN_SIZE / BATCH);
    const spec = (epochs: number, seed: number) =>
      RunSpec.fromPartial({
        model: mlp(),
        dataset: { datasetId },
        optimizer: { kind: OptimizerKind.OPTIMIZER_KIND_SGD, learningRate: LEARNING_RATE },
        batchSize: BATCH,
        stop: { maxEpochs: epochs },
        seed,
        device: Device.DEVICE_CPU,
        threads: 1,
        stepsPerCall: STEPS_PER_CALL,
        // Evaluate at the last epoch only; per-step metrics at the default interval (10).
        metrics: { evalEveryEpochs: epochs },
      });

    /** One run through the service; samples per second seen by the client. */
    let runs = 0;
    const serviceRound = async (epochs: number) => {
      const cpu = process.cpuUsage();
      const started = performance.now();
      const { run } = await callUnary(client, client.startRun, {
        spec: spec(epochs, ++runs),
        idempotencyKey: `bench-${runs}`,
        labels: {},
      });
      const request = { runId: run?.runId as string, fromSequence: 0, skipStepMetrics: true };
      for await (const m of readStream(client, client.watchRun, request)) {
        const event = m.event?.event;
        if (event?.$case === 'status' && event.value.state >= JobState.JOB_STATE_SUCCEEDED) {
          if (event.value.state !== JobState.JOB_STATE_SUCCEEDED) throw new Error(event.value.error?.message);
          break;
        }
      }
      const seconds = (performance.now() - started) / 1000;
      const used = process.cpuUsage(cpu);
      const { run: done } = await callUnary(client, client.getRun, { runId: run?.runId as string });
      const samples = (done?.summary?.steps ?? 0) * BATCH;
      return {
        samplesPerSecond: samples / seconds,
        samplesPerCpuSecond: samples / ((used.user + used.system) / 1e6),
        workerSamplesPerSecond: done?.summary?.samplesPerSecond ?? 0,
      };
    };

    // The engine alone: the same chunks of steps on ready-made batches.
    const x = new Float32Array(STEPS_PER_CALL * BATCH * 784).map((_, i) => Math.sin(i * 0.618) * 0.5 + 0.5);
    const y = Int32Array.from({ length: STEPS_PER_CALL * BATCH }, (_, i) => (i * 7) % 10);
    const chunks = chunksPerEpoch(stepsPerEpoch);
    const referenceRound = async (epochs: number) => {
      engine.initParameters(0);
      const cpu = process.cpuUsage();
      const started = performance.now();
      for (let e = 0; e < epochs; e++) {
        for (const k of chunks) {
          await engine.trainSteps({
            x: x.subarray(0, k * BATCH * 784),
            y: y.subarray(0, k * BATCH),
            learningRates: new Array<number>(k).fill(LEARNING_RATE),
          });
        }
      }
      const samples = epochs * stepsPerEpoch * BATCH;
      const used = process.cpuUsage(cpu);
      return {
        samplesPerSecond: samples / ((performance.now() - started) / 1000),
        samplesPerCpuSecond: samples / ((used.user + used.system) / 1e6),
      };
    };

    await serviceRound(1);
    await referenceRound(1);
    const rounds: { reference: number; service: number; worker: number; cpuRatio: number }[] = [];
    for (let r = 0; r < REPEATS; r++) {
      const reference = await referenceRound(EPOCHS);
      const service = await serviceRound(EPOCHS);
      rounds.push({
        reference: reference.samplesPerSecond,
        service: service.samplesPerSecond,
        worker: service.workerSamplesPerSecond,
        cpuRatio: service.samplesPerCpuSecond / reference.samplesPerCpuSecond,
      });
    }
    if (process.env.GENGAP_BENCH_VERBOSE) console.error(JSON.stringify(rounds));
    const best = (key: 'reference' | 'service' | 'worker') => Math.max(...rounds.map((r) => r[key]));
    printBench({
      bench: 'trainer-service',
      metric: 'train_samples_per_s',
      unit: 'samples/s',
      gengap: Math.round(best('service')),
      reference: Math.round(best('reference')),
      referenceName: 'engine in-process (CompiledModel.trainSteps, same chunks)',
      better: 'higher',
      extra: {
        widths: WIDTHS,
        batch: BATCH,
        stepsPerCall: STEPS_PER_CALL,
        threads: 1,
        epochs: EPOCHS,
        trainSize: TRAIN_SIZE,
        rounds: REPEATS,
        pairedRatio: Number(median(rounds.map((r) => r.service / r.reference)).toFixed(3)),
        // Samples per CPU-second of the whole process (every thread), service over engine: the figure
        // least disturbed by other processes on a shared machine.
        cpuTimeRatio: Number(median(rounds.map((r) => r.cpuRatio)).toFixed(3)),
        // Throughput inside the worker (summary.samples_per_second), without start-up and the client hop.
        workerSamplesPerSecond: Math.round(best('worker')),
      },
    });
  } finally {
    await engine.dispose();
    closeClient(client);
    closeClient(data);
    await trainer.server.shutdown();
    await trainer.close();
    await dataServer.shutdown();
    await jobs.close();
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
