// Soak: the four services in one child process (started through their own composition code, so its
// heap and handles can be read), driven for --seconds (default 90) by thousands of unary calls and
// hundreds of streams cancelled mid-flight (watches on live jobs, chunked reads, endless online
// batches) from several connections. Heap (after a forced GC) and active handles of the service
// process are read at a baseline after warm-up and again after the load stopped and the clients
// closed; the process's call slots and running handlers must be back at zero.
// Prints JSON lines (bench/report.ts): heap used after vs baseline, handles after vs baseline, plus a
// summary line with counts; exits 1 when handles did not come back to the baseline or the heap grew
// by more than --max-heap-growth-mb (default 32).
//   node bench/soak.ts [--seconds 90] [--max-heap-growth-mb 32]
// e2e/hardening/soak.test.ts runs it for 20 s in the test suite.
import { fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { AnalysisServiceClient, StartAnalysisRequest } from '@gengap/proto/analysis/v1/analysis_service';
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
import type { ServiceError } from '@grpc/grpc-js';
import { printBench } from './report.ts';

interface Stats {
  heapUsed: number;
  rss: number;
  handles: Record<string, number>;
  slots: number;
  handlers: number;
}
interface Addresses {
  data: string;
  trainer: string;
  analysis: string;
  coordinator: string;
}

const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '90' },
    'max-heap-growth-mb': { type: 'string', default: '32' },
    server: { type: 'string' },
  },
});

/** Per key, the smaller count of the two (a key missing from either counts 0 and is dropped). */
function fewest(a: Record<string, number>, b: Record<string, number>): Record<string, number> {
  return Object.fromEntries(
    Object.entries(a)
      .map(([k, v]): [string, number] => [k, Math.min(v, b[k] ?? 0)])
      .filter(([, v]) => v > 0),
  );
}

// ---- server mode: the four services in this (child) process ----------------------------------------
if (args.server) {
  const { startInProcessStack } = await import('../e2e/hardening/support/inprocess.ts');
  const stack = await startInProcessStack(args.server);
  const servers = [stack.data, stack.trainer, stack.analysis, stack.coordinator];
  const send = (m: unknown) => process.send?.(m);
  process.on('message', async (m: { type: string }) => {
    if (m.type === 'stats') {
      for (let i = 0; i < 3; i++) {
        (globalThis as { gc?: () => void }).gc?.();
        await new Promise((r) => setTimeout(r, 50));
      }
      // Per type, the fewest seen over five samples: a callback queued for this turn (the live run's
      // training loop yields with setImmediate) shows up in one sample and is gone by the next; a
      // leaked socket or timer is in every one.
      let handles: Record<string, number> | undefined;
      for (let i = 0; i < 5; i++) {
        const sample: Record<string, number> = {};
        for (const name of process.getActiveResourcesInfo()) sample[name] = (sample[name] ?? 0) + 1;
        handles = handles ? fewest(handles, sample) : sample;
        await new Promise((r) => setTimeout(r, 20));
      }
      const stats: Stats = {
        heapUsed: process.memoryUsage().heapUsed,
        rss: process.memoryUsage().rss,
        handles: handles ?? {},
        slots: servers.reduce((n, s) => n + s.server.limiter.size, 0),
        handlers: servers.reduce((n, s) => n + s.server.limiter.running, 0),
      };
      send({ type: 'stats', stats });
    } else if (m.type === 'stop') {
      await stack.close();
      process.exit(0);
    }
  });
  send({
    type: 'ready',
    addresses: {
      data: stack.data.address,
      trainer: stack.trainer.address,
      analysis: stack.analysis.address,
      coordinator: stack.coordinator.address,
    } satisfies Addresses,
  });
  await new Promise(() => {});
}

// ---- driver -----------------------------------------------------------------------------------------
const SECONDS = Number(args.seconds);
const MAX_HEAP_GROWTH = Number(args['max-heap-growth-mb']) * 1024 * 1024;
const sleep = (t: number) => new Promise((r) => setTimeout(r, t));
const stateDir = mkdtempSync(join(tmpdir(), 'gengap-soak-'));
const child = fork(new URL(import.meta.url).pathname, ['--server', stateDir], {
  execArgv: ['--expose-gc'],
  stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
});
process.on('exit', () => {
  child.kill('SIGKILL');
  rmSync(stateDir, { recursive: true, force: true });
});
const messages: { type: string; [k: string]: unknown }[] = [];
const waiters: ((m: { type: string; [k: string]: unknown }) => void)[] = [];
child.on('message', (m: { type: string }) => {
  const waiter = waiters.shift();
  if (waiter) waiter(m);
  else messages.push(m);
});
const next = () =>
  new Promise<{ type: string; [k: string]: unknown }>((resolve) => {
    const m = messages.shift();
    if (m) resolve(m);
    else waiters.push(resolve);
  });
const stats = async (): Promise<Stats> => {
  child.send({ type: 'stats' });
  return (await next()).stats as Stats;
};

const ready = await next();
const addresses = ready.addresses as Addresses;
const CHANNELS = 4;
const own = { channelOptions: { 'grpc.use_local_subchannel_pool': 1 } };
const make = () => ({
  data: Array.from({ length: CHANNELS }, () => createClient(DataServiceClient, addresses.data, own)),
  trainer: Array.from({ length: CHANNELS }, () => createClient(TrainerServiceClient, addresses.trainer, own)),
  analysis: Array.from({ length: CHANNELS }, () =>
    createClient(AnalysisServiceClient, addresses.analysis, own),
  ),
  coordinator: Array.from({ length: CHANNELS }, () =>
    createClient(CoordinatorServiceClient, addresses.coordinator, own),
  ),
});
let clients = make();
const pick = <T>(list: T[], i: number) => list[i % list.length] as T;

// Jobs: a dataset, an online dataset, a finished run, a live run, a finished analysis, a live experiment.
const d0 = pick(clients.data, 0);
const t0 = pick(clients.trainer, 0);
const a0 = pick(clients.analysis, 0);
const c0 = pick(clients.coordinator, 0);
const gaussian = (trainSize: number, seed: number) => ({
  source: {
    $case: 'gaussianMixture',
    value: { numClasses: 3, dimension: 8, trainSize, testSize: 128, separation: 4, clusterStd: 1 },
  },
  seed,
});
const createDataset = async (spec: unknown, key: string) => {
  const id = (
    await callUnary(
      d0,
      d0.createDataset,
      CreateDatasetRequest.fromPartial({ spec: spec as never, idempotencyKey: key }),
    )
  ).dataset?.datasetId as string;
  while ((await callUnary(d0, d0.getDataset, { datasetId: id })).dataset?.status?.state !== 3)
    await sleep(100);
  return id;
};
const datasetId = await createDataset(gaussian(20_000, 1), 'soak');
const onlineId = await createDataset(
  {
    source: {
      $case: 'sparseParity',
      value: { numBits: 20, paritySize: 3, trainSize: 0, testSize: 100, online: true },
    },
    seed: 1,
  },
  'soak-online',
);
const runSpec = (maxEpochs: number) => ({
  model: {
    inputShape: [8],
    numOutputs: 3,
    layers: [
      { name: '', kind: { $case: 'dense', value: { units: 32 } } },
      { name: '', kind: { $case: 'activation', value: { activation: 1 } } },
      { name: '', kind: { $case: 'dense', value: { units: 3 } } },
    ],
  },
  dataset: { datasetId },
  optimizer: { kind: 1, learningRate: 0.05 },
  batchSize: 64,
  stop: { maxEpochs },
  threads: 1,
});
const startRun = async (maxEpochs: number, key: string) =>
  (
    await callUnary(
      t0,
      t0.startRun,
      StartRunRequest.fromPartial({ spec: runSpec(maxEpochs) as never, idempotencyKey: key }),
    )
  ).run?.runId as string;
const finishedRun = await startRun(2, 'soak-finished');
while ((await callUnary(t0, t0.getRun, { runId: finishedRun })).run?.status?.state !== 3) await sleep(100);
const liveRun = await startRun(1_000_000, 'soak-live');
const analysisId = (
  await callUnary(
    a0,
    a0.startAnalysis,
    StartAnalysisRequest.fromPartial({
      spec: {
        checkpoint: { source: { $case: 'run', value: { runId: finishedRun, step: 0 } } },
        numExamples: 64,
        threads: 1,
        kind: { $case: 'hessianEigen', value: { topK: 2, maxIterations: 10, returnEigenvectors: true } },
      } as never,
      idempotencyKey: 'soak-analysis',
    }),
  )
).analysis?.analysisId as string;
while ((await callUnary(a0, a0.getAnalysis, { analysisId })).analysis?.status?.state !== 3) await sleep(100);
const experimentId = (
  await callUnary(
    c0,
    c0.startExperiment,
    StartExperimentRequest.fromPartial({
      source: {
        $case: 'specText',
        value: JSON.stringify({
          name: 'soak',
          base: {
            dataset: {
              gaussianMixture: { numClasses: 3, dimension: 8, trainSize: 512, testSize: 128, separation: 4 },
              seed: 5,
            },
            run: {
              model: {
                inputShape: [8],
                numOutputs: 3,
                layers: [
                  { dense: { units: 8 } },
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
        }),
      },
      idempotencyKey: 'soak-experiment',
    }),
  )
).experiment?.experimentId as string;

// ---- one round of work ---------------------------------------------------------------------------------
let unaryCalls = 0;
let streamsCancelled = 0;
const errors = new Map<string, number>();
const note = (err: unknown) => {
  const code = String((err as ServiceError).code ?? 'other');
  errors.set(code, (errors.get(code) ?? 0) + 1);
};
const unary = async (p: Promise<unknown>) => {
  unaryCalls++;
  await p.catch(note);
};
let expectedNotFound = 0;
/** A call that must fail NOT_FOUND (an unknown id). */
const unknown = async (p: Promise<unknown>) => {
  unaryCalls++;
  await p.then(
    () => note({ code: 'unexpected OK' }),
    (err) => ((err as ServiceError).code === 5 ? expectedNotFound++ : note(err)),
  );
};
/** Opens a stream, takes up to `take` messages, cancels it. */
const cancelled = async (open: (signal: AbortSignal) => AsyncIterable<unknown>, take: number) => {
  const controller = new AbortController();
  let n = 0;
  try {
    for await (const _ of open(controller.signal)) if (++n >= take) controller.abort();
  } catch (err) {
    if (!controller.signal.aborted) note(err);
  }
  streamsCancelled++;
};

async function round(i: number): Promise<void> {
  const d = pick(clients.data, i);
  const t = pick(clients.trainer, i);
  const a = pick(clients.analysis, i);
  const c = pick(clients.coordinator, i);
  await Promise.all([
    unary(callUnary(d, d.getDataset, { datasetId })),
    unary(callUnary(d, d.sampleDataset, { datasetId, split: 1, count: 8, renderPng: false, seed: i })),
    unary(callUnary(t, t.getRun, { runId: liveRun })),
    unary(callUnary(t, t.listRuns, ListRunsRequest.fromPartial({ page: { pageSize: 5 } }))),
    unary(callUnary(t, t.getTrainerInfo, {})),
    unary(callUnary(a, a.getAnalysis, { analysisId })),
    unary(callUnary(c, c.getExperiment, { experimentId })),
    unary(callUnary(c, c.listPresets, {})),
    unknown(callUnary(d, d.getDataset, { datasetId: `no-such-${i}` })),
    cancelled(
      (s) =>
        readStream(t, t.watchRun, { runId: liveRun, fromSequence: 0, skipStepMetrics: false }, { signal: s }),
      3,
    ),
    cancelled((s) => readStream(c, c.watchExperiment, { experimentId, fromSequence: 0 }, { signal: s }), 2),
    cancelled(
      (s) =>
        readStream(
          d,
          d.readDataset,
          { datasetId, split: 1, chunkBytes: 4096, inputDtype: 0, auxiliary: '' },
          { signal: s },
        ),
      3,
    ),
    cancelled(
      (s) =>
        readStream(
          d,
          d.readOnlineBatches,
          { datasetId: onlineId, batchSize: 16, startBatch: i, numBatches: 0 },
          { signal: s },
        ),
      2,
    ),
    cancelled(
      (s) =>
        readStream(
          t,
          t.readParameters,
          { checkpoint: { runId: finishedRun, step: 0 }, chunkBytes: 1024, includeOptimizerState: false },
          { signal: s },
        ),
      1,
    ),
    cancelled(
      (s) =>
        readStream(
          a,
          a.readAnalysisArtifact,
          { analysisId, artifact: 'result.json', chunkBytes: 256 },
          { signal: s },
        ),
      1,
    ),
    cancelled((s) => readStream(a, a.watchAnalysis, { analysisId, fromSequence: 0 }, { signal: s }), 1),
  ]);
}

// Warm-up (caches, compiled models, lazy modules), then the baseline.
for (let i = 0; i < 20; i++) await round(i);
for (const list of Object.values(clients)) for (const cl of list) closeClient(cl);
await sleep(1000);
const baseline = await stats();
clients = make();

const started = Date.now();
let rounds = 0;
const PARALLEL = 4;
await Promise.all(
  Array.from({ length: PARALLEL }, async (_, w) => {
    while (Date.now() - started < SECONDS * 1000) await round(rounds++ * PARALLEL + w);
  }),
);
const during = await stats();
for (const list of Object.values(clients)) for (const cl of list) closeClient(cl);
await sleep(2000);
const after = await stats();

// Stop the live work before closing.
clients = make();
await callUnary(pick(clients.coordinator, 0), pick(clients.coordinator, 0).cancelExperiment, {
  experimentId,
}).catch(() => {});
await callUnary(pick(clients.trainer, 0), pick(clients.trainer, 0).cancelRun, { runId: liveRun }).catch(
  () => {},
);
for (const list of Object.values(clients)) for (const cl of list) closeClient(cl);
child.send({ type: 'stop' });

const mb = (n: number) => Number((n / 2 ** 20).toFixed(1));
const total = (h: Record<string, number>) => Object.values(h).reduce((a, b) => a + b, 0);
const handleDiff: Record<string, number> = Object.fromEntries(
  [...new Set([...Object.keys(baseline.handles), ...Object.keys(after.handles)])]
    .map((k): [string, number] => [k, (after.handles[k] ?? 0) - (baseline.handles[k] ?? 0)])
    .filter(([, v]) => v !== 0),
);
printBench({
  bench: 'soak',
  metric: 'service heap used after the soak (after GC)',
  unit: 'MiB',
  gengap: mb(after.heapUsed),
  reference: mb(baseline.heapUsed),
  referenceName: 'baseline after warm-up',
  better: 'lower',
  extra: { duringMiB: mb(during.heapUsed), rssBaselineMiB: mb(baseline.rss), rssAfterMiB: mb(after.rss) },
});
printBench({
  bench: 'soak',
  metric: 'service active handles after the soak',
  unit: 'count',
  gengap: total(after.handles),
  reference: total(baseline.handles),
  referenceName: 'baseline after warm-up',
  better: 'lower',
  extra: { baseline: baseline.handles, after: after.handles, during: during.handles, difference: handleDiff },
});
const summary = {
  seconds: SECONDS,
  rounds,
  unaryCalls,
  streamsCancelled,
  expectedNotFound,
  errors: Object.fromEntries(errors),
  // The coordinator's own WatchRun on the live run holds a slot on the trainer throughout.
  slots: { baseline: baseline.slots, after: after.slots },
  handlers: { baseline: baseline.handlers, after: after.handlers },
};
console.log(JSON.stringify({ bench: 'soak', metric: 'summary', ...summary }));
const leaked =
  Object.values(handleDiff).some((v) => v > 0) ||
  after.slots > baseline.slots ||
  after.handlers > baseline.handlers ||
  after.heapUsed - baseline.heapUsed > MAX_HEAP_GROWTH;
await new Promise((r) => child.once('exit', r));
process.exit(leaked ? 1 : 0);
