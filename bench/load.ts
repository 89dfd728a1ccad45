// Load test of the coordinator and the trainer on loopback (both real processes, with the data
// service behind them): many concurrent watch streams held open on live jobs while unary calls are
// fired at both services from several connections. Latencies go into HDR histograms (microseconds).
// One JSON line per measurement (bench/report.ts):
//   gengap     p50 latency under load (ms)
//   reference  p50 latency of the same call, unloaded and sequential, measured first in this script
//   extra      p99, calls, errors by status code, calls per second, watchers, concurrency
// The load generator and the services share the machine's cores (no pinning): on a 2-core machine
// the numbers include that contention, and the trainer keeps one core busy training the watched run
// (the experiment's own run waits in the trainer's queue).
// Options: --seconds S (default 10) --watchers W (default 200) --concurrency C (default 32) --quick
import { parseArgs } from 'node:util';
import { JobState } from '@gengap/proto/common/v1/job';
import {
  CoordinatorServiceClient,
  StartExperimentRequest,
} from '@gengap/proto/coordinator/v1/coordinator_service';
import { CreateDatasetRequest, DataServiceClient } from '@gengap/proto/data/v1/data_service';
import {
  ListRunsRequest,
  StartRunRequest,
  TrainerServiceClient,
} from '@gengap/proto/trainer/v1/trainer_service';
import { callUnary, closeClient, createClient, readStream } from '@gengap/service-kit';
import { type ServiceError, status } from '@grpc/grpc-js';
import * as hdr from 'hdr-histogram-js';
import { type ServiceProcess, startServiceProcess } from '../e2e/support/processes.ts';
import { printBench } from './report.ts';

const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '10' },
    watchers: { type: 'string', default: '200' },
    concurrency: { type: 'string', default: '32' },
    quick: { type: 'boolean', default: false },
  },
});
const quick = args.quick === true;
const SECONDS = quick ? 4 : Number(args.seconds);
const WATCHERS = quick ? 40 : Number(args.watchers);
const CONCURRENCY = quick ? 8 : Number(args.concurrency);
const CHANNELS = 4;

const histogram = () =>
  hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 120_000_000,
    numberOfSignificantValueDigits: 3,
  });
type Histogram = ReturnType<typeof histogram>;
const ms = (h: Histogram, p: number) => Number((h.getValueAtPercentile(p) / 1000).toFixed(3));
const sleep = (t: number) => new Promise((r) => setTimeout(r, t));

const processes: ServiceProcess[] = [];
process.on('exit', () => {
  for (const p of processes) p.child.kill('SIGKILL');
});

async function start(service: 'data' | 'trainer' | 'coordinator', env: Record<string, string>) {
  const p = await startServiceProcess(
    service,
    { GENGAP_LOG_LEVEL: 'warn', GENGAP_HTTP_PORT: '-1', ...env },
    60_000,
  );
  processes.push(p);
  return p;
}

const data = await start('data', {});
// One run trains at a time (one core): the experiment's run waits in the trainer's queue, so its
// watchers follow a live experiment while the machine keeps a core for the services and the load.
const trainer = await start('trainer', {
  GENGAP_DATA_ADDRESS: data.address,
  GENGAP_MAX_CONCURRENT_RUNS: '1',
});
const coordinator = await start('coordinator', {
  GENGAP_DATA_ADDRESS: data.address,
  GENGAP_TRAINER_ADDRESSES: trainer.address,
  GENGAP_MAX_CONCURRENT_RUNS: '1',
});

// One client per channel: separate connections (a local subchannel pool each).
const channels = <C extends object>(ctor: new (...a: never[]) => C, address: string): C[] =>
  Array.from({ length: CHANNELS }, () =>
    createClient(ctor as never, address, { channelOptions: { 'grpc.use_local_subchannel_pool': 1 } }),
  ) as C[];
const trainers = channels(TrainerServiceClient, trainer.address);
const coordinators = channels(CoordinatorServiceClient, coordinator.address);
const dataClient = createClient(DataServiceClient, data.address);
const t0 = trainers[0] as TrainerServiceClient;
const c0 = coordinators[0] as CoordinatorServiceClient;

// ---- jobs to watch ------------------------------------------------------------------------------
const model = {
  inputShape: [8],
  numOutputs: 3,
  layers: [
    { name: '', kind: { $case: 'dense', value: { units: 16 } } },
    { name: '', kind: { $case: 'activation', value: { activation: 1 } } },
    { name: '', kind: { $case: 'dense', value: { units: 3 } } },
  ],
};
const datasetId = (
  await callUnary(
    dataClient,
    dataClient.createDataset,
    CreateDatasetRequest.fromPartial({
      spec: {
        source: {
          $case: 'gaussianMixture',
          value: {
            numClasses: 3,
            dimension: 8,
            trainSize: 1024,
            testSize: 256,
            separation: 4,
            clusterStd: 1,
          },
        },
        seed: 1,
      } as never,
      idempotencyKey: 'load',
    }),
  )
).dataset?.datasetId as string;
while ((await callUnary(dataClient, dataClient.getDataset, { datasetId })).dataset?.status?.state !== 3)
  await sleep(100);
const runId = (
  await callUnary(
    t0,
    t0.startRun,
    StartRunRequest.fromPartial({
      spec: {
        model,
        dataset: { datasetId },
        optimizer: { kind: 1, learningRate: 0.05 },
        batchSize: 32,
        stop: { maxEpochs: 1_000_000 },
        metrics: { stepEvery: 32 },
        threads: 1,
      } as never,
      idempotencyKey: 'load-run',
    }),
  )
).run?.runId as string;
const experimentSpec = {
  name: 'load',
  base: {
    dataset: {
      gaussianMixture: { numClasses: 3, dimension: 8, trainSize: 1024, testSize: 256, separation: 4 },
      seed: 2,
    },
    run: {
      model: {
        inputShape: [8],
        numOutputs: 3,
        layers: [
          { dense: { units: 16 } },
          { activation: { activation: 'ACTIVATION_RELU' } },
          { dense: { units: 3 } },
        ],
      },
      optimizer: { kind: 'OPTIMIZER_KIND_SGD', learningRate: 0.05 },
      batchSize: 32,
      stop: { maxEpochs: 1_000_000 },
      threads: 1,
    },
  },
};
const experimentId = (
  await callUnary(
    c0,
    c0.startExperiment,
    StartExperimentRequest.fromPartial({
      source: { $case: 'specText', value: JSON.stringify(experimentSpec) },
      idempotencyKey: 'load-experiment',
    }),
  )
).experiment?.experimentId as string;
while ((await callUnary(t0, t0.getRun, { runId })).run?.status?.state !== JobState.JOB_STATE_RUNNING)
  await sleep(100);
await sleep(1000);

// ---- calls ---------------------------------------------------------------------------------------
interface Op {
  name: string;
  call(i: number): Promise<unknown>;
}
const ops: Op[] = [
  {
    name: 'trainer GetRun',
    call: (i) =>
      callUnary(
        trainers[i % CHANNELS] as TrainerServiceClient,
        (trainers[i % CHANNELS] as TrainerServiceClient).getRun,
        { runId },
      ),
  },
  {
    name: 'trainer ListRuns',
    call: (i) => {
      const c = trainers[i % CHANNELS] as TrainerServiceClient;
      return callUnary(c, c.listRuns, ListRunsRequest.fromPartial({ page: { pageSize: 10 } }));
    },
  },
  {
    name: 'coordinator GetExperiment',
    call: (i) => {
      const c = coordinators[i % CHANNELS] as CoordinatorServiceClient;
      return callUnary(c, c.getExperiment, { experimentId });
    },
  },
  {
    name: 'coordinator ListPresets',
    call: (i) => {
      const c = coordinators[i % CHANNELS] as CoordinatorServiceClient;
      return callUnary(c, c.listPresets, {});
    },
  },
];

async function timed(h: Histogram, errors: Map<string, number>, p: Promise<unknown>): Promise<void> {
  const started = process.hrtime.bigint();
  try {
    await p;
    h.recordValue(Math.max(1, Number((process.hrtime.bigint() - started) / 1000n)));
  } catch (err) {
    const name = (status as unknown as Record<number, string>)[(err as ServiceError).code] ?? 'OTHER';
    errors.set(name, (errors.get(name) ?? 0) + 1);
  }
}

// Unloaded reference: each call alone, one after another.
const unloaded = new Map<string, Histogram>();
for (const op of ops) {
  const h = histogram();
  const errors = new Map<string, number>();
  for (let i = 0; i < (quick ? 100 : 300); i++) await timed(h, errors, op.call(i));
  unloaded.set(op.name, h);
}
const unloadedWatch = { trainer: histogram(), coordinator: histogram() };
for (let i = 0; i < 20; i++) {
  for (const [key, open] of [
    [
      'trainer',
      (s: AbortSignal) =>
        readStream(t0, t0.watchRun, { runId, fromSequence: 0, skipStepMetrics: true }, { signal: s }),
    ],
    [
      'coordinator',
      (s: AbortSignal) =>
        readStream(c0, c0.watchExperiment, { experimentId, fromSequence: 0 }, { signal: s }),
    ],
  ] as const) {
    const controller = new AbortController();
    const started = process.hrtime.bigint();
    try {
      for await (const _ of open(controller.signal)) {
        unloadedWatch[key].recordValue(Number((process.hrtime.bigint() - started) / 1000n));
        controller.abort();
      }
    } catch {
      // Our own cancel.
    }
  }
}

// ---- load: watchers held open, then unary calls from CONCURRENCY workers per service ---------------
const watchOpen = { trainer: histogram(), coordinator: histogram() };
const watchErrors = new Map<string, number>();
const watchControllers: AbortController[] = [];
let watchEvents = 0;
const watchers: Promise<void>[] = [];
for (let i = 0; i < WATCHERS; i++) {
  const key = i % 2 === 0 ? 'trainer' : 'coordinator';
  const controller = new AbortController();
  watchControllers.push(controller);
  const started = process.hrtime.bigint();
  const stream =
    key === 'trainer'
      ? readStream(
          trainers[i % CHANNELS] as TrainerServiceClient,
          (trainers[i % CHANNELS] as TrainerServiceClient).watchRun,
          { runId, fromSequence: 0, skipStepMetrics: false },
          { signal: controller.signal },
        )
      : readStream(
          coordinators[i % CHANNELS] as CoordinatorServiceClient,
          (coordinators[i % CHANNELS] as CoordinatorServiceClient).watchExperiment,
          { experimentId, fromSequence: 0 },
          { signal: controller.signal },
        );
  watchers.push(
    (async () => {
      let first = true;
      try {
        for await (const _ of stream) {
          if (first) {
            watchOpen[key].recordValue(Math.max(1, Number((process.hrtime.bigint() - started) / 1000n)));
            first = false;
          }
          watchEvents++;
        }
      } catch (err) {
        if (controller.signal.aborted) return;
        const name = (status as unknown as Record<number, string>)[(err as ServiceError).code] ?? 'OTHER';
        watchErrors.set(name, (watchErrors.get(name) ?? 0) + 1);
      }
    })(),
  );
}
await sleep(1000);

const loaded = new Map<string, { h: Histogram; errors: Map<string, number> }>();
for (const op of ops) loaded.set(op.name, { h: histogram(), errors: new Map() });
const until = Date.now() + SECONDS * 1000;
const workers: Promise<void>[] = [];
for (const op of ops) {
  const slot = loaded.get(op.name) as { h: Histogram; errors: Map<string, number> };
  for (let w = 0; w < CONCURRENCY / 2; w++) {
    workers.push(
      (async () => {
        let i = w;
        while (Date.now() < until) await timed(slot.h, slot.errors, op.call(i++));
      })(),
    );
  }
}
await Promise.all(workers);
const eventsDuringLoad = watchEvents;
for (const c of watchControllers) c.abort();
await Promise.all(watchers);

// ---- report --------------------------------------------------------------------------------------
const count = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0);
let totalErrors = count(watchErrors);
for (const op of ops) {
  const { h, errors } = loaded.get(op.name) as { h: Histogram; errors: Map<string, number> };
  const reference = unloaded.get(op.name) as Histogram;
  totalErrors += count(errors);
  printBench({
    bench: 'load',
    metric: `${op.name} p50 under load`,
    unit: 'ms',
    gengap: ms(h, 50),
    reference: ms(reference, 50),
    referenceName: `${op.name} p50 unloaded, sequential`,
    better: 'lower',
    extra: {
      p99: ms(h, 99),
      referenceP99: ms(reference, 99),
      calls: h.totalCount,
      callsPerSecond: Number((h.totalCount / SECONDS).toFixed(1)),
      errors: Object.fromEntries(errors),
      concurrency: CONCURRENCY / 2,
      watchers: WATCHERS,
    },
  });
}
for (const key of ['trainer', 'coordinator'] as const) {
  printBench({
    bench: 'load',
    metric: `${key} watch stream open (first event) p50 with ${WATCHERS} watchers`,
    unit: 'ms',
    gengap: ms(watchOpen[key], 50),
    reference: ms(unloadedWatch[key], 50),
    referenceName: 'one watch opened alone',
    better: 'lower',
    extra: { p99: ms(watchOpen[key], 99), streams: watchOpen[key].totalCount },
  });
}
printBench({
  bench: 'load',
  metric: 'errors during the load phase',
  unit: 'count',
  gengap: totalErrors,
  reference: 0,
  referenceName: 'none expected',
  better: 'lower',
  extra: {
    watchErrors: Object.fromEntries(watchErrors),
    watchEventsDelivered: eventsDuringLoad,
    seconds: SECONDS,
  },
});

await callUnary(c0, c0.cancelExperiment, { experimentId }).catch(() => {});
await callUnary(t0, t0.cancelRun, { runId }).catch(() => {});
for (const c of [...trainers, ...coordinators, dataClient]) closeClient(c);
for (const p of processes) p.child.kill('SIGTERM');
await Promise.all(processes.map((p) => p.exited));
process.exit(0);
