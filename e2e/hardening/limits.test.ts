// Configured limits on the real processes, each answered with RESOURCE_EXHAUSTED at once (never a
// hang, never a queue without end), and a repeated idempotent request still answered:
//   trainer      GENGAP_MAX_CONCURRENT_RUNS=1, GENGAP_MAX_QUEUED_RUNS=0
//   analysis     GENGAP_MAX_CONCURRENT_ANALYSES=1, GENGAP_MAX_QUEUED_ANALYSES=0
//   data         GENGAP_DATASET_CONCURRENCY=1, GENGAP_MAX_QUEUED_DATASETS=1
//   coordinator  GENGAP_MAX_ACTIVE_EXPERIMENTS=1
//   any service  GENGAP_MAX_CONCURRENT_STREAMS=4 calls in flight per connection (trainer here)
// (Message size and the unary deadline cap are covered by bad-input.test.ts and service-kit's tests.)
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { AnalysisServiceClient, StartAnalysisRequest } from '@gengap/proto/analysis/v1/analysis_service';
import {
  CoordinatorServiceClient,
  StartExperimentRequest,
} from '@gengap/proto/coordinator/v1/coordinator_service';
import { CreateDatasetRequest, DataServiceClient } from '@gengap/proto/data/v1/data_service';
import { StartRunRequest, TrainerServiceClient } from '@gengap/proto/trainer/v1/trainer_service';
import { callUnary, closeClient, createClient } from '@gengap/service-kit';
import { Metadata, status } from '@grpc/grpc-js';
import { cancelLiveJobs, type Fixtures, prepareFixtures } from './support/fixtures.ts';
import { analysisSpec, datasetSpec, experimentSpecJson, runSpec, withField } from './support/requests.ts';
import { codeOf, type ProcessStack, startProcessStack, statusName, tempRoot } from './support/stack.ts';

const root = tempRoot('limits');
let stack: ProcessStack;
let fx: Fixtures;

before(async () => {
  stack = await startProcessStack({
    root: root.path,
    env: { GENGAP_LOG_LEVEL: 'warn' },
    perService: {
      data: { GENGAP_DATASET_CONCURRENCY: '1', GENGAP_MAX_QUEUED_DATASETS: '1' },
      trainer: {
        GENGAP_MAX_CONCURRENT_RUNS: '1',
        GENGAP_MAX_QUEUED_RUNS: '0',
        GENGAP_MAX_CONCURRENT_STREAMS: '4',
      },
      analysis: { GENGAP_MAX_CONCURRENT_ANALYSES: '1', GENGAP_MAX_QUEUED_ANALYSES: '0' },
      coordinator: { GENGAP_MAX_ACTIVE_EXPERIMENTS: '1', GENGAP_MAX_CONCURRENT_RUNS: '1' },
    },
  });
  fx = await prepareFixtures(stack, 'limits');
});

after(() => {
  stack?.kill();
  root.remove();
});

const address = (k: 'data' | 'trainer' | 'analysis' | 'coordinator') => stack.services[k]?.address as string;

/** The code and how long the answer took. */
async function timed(p: Promise<unknown>): Promise<{ code: number; ms: number }> {
  const started = Date.now();
  const code = await codeOf(p);
  return { code, ms: Date.now() - started };
}

function assertExhaustedFast(r: { code: number; ms: number }, what: string) {
  assert.equal(r.code, status.RESOURCE_EXHAUSTED, `${what}: ${statusName(r.code)}`);
  assert.ok(r.ms < 2_000, `${what}: answered in ${r.ms} ms`);
}

test('trainer: a run beyond running + queued is refused at once; the same key is still answered; per-connection call limit', async () => {
  const client = createClient(TrainerServiceClient, address('trainer'));
  const long = withField(runSpec(fx.datasetId), 'stop', { maxEpochs: 100_000 });
  const first = await callUnary(
    client,
    client.startRun,
    StartRunRequest.fromPartial({ spec: long as never, idempotencyKey: 'long-1' }),
  );
  const second = await timed(
    callUnary(
      client,
      client.startRun,
      StartRunRequest.fromPartial({ spec: withField(long, 'seed', 2) as never, idempotencyKey: 'long-2' }),
    ),
  );
  assertExhaustedFast(second, 'second run');
  const again = await callUnary(
    client,
    client.startRun,
    StartRunRequest.fromPartial({ spec: long as never, idempotencyKey: 'long-1' }),
  );
  assert.equal(again.created, false);
  assert.equal(again.run?.runId, first.run?.runId);

  // Four WatchRun streams hold the connection's four call slots: the fifth call is refused at once,
  // on that connection only.
  const streams = Array.from({ length: 4 }, () => {
    const call = client.watchRun(
      { runId: first.run?.runId as string, fromSequence: 0, skipStepMetrics: true },
      new Metadata(),
    );
    call.on('error', () => {});
    return call;
  });
  try {
    await Promise.all(streams.map((s) => new Promise((r) => s.once('data', r))));
    assertExhaustedFast(
      await timed(callUnary(client, client.getTrainerInfo, {})),
      'fifth call on the connection',
    );
    const other = createClient(TrainerServiceClient, address('trainer'), {
      channelOptions: { 'grpc.use_local_subchannel_pool': 1 },
    });
    assert.equal(await codeOf(callUnary(other, other.getTrainerInfo, {})), status.OK);
    closeClient(other);
  } finally {
    for (const s of streams) s.cancel();
  }
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(await codeOf(callUnary(client, client.getTrainerInfo, {})), status.OK, 'slots come back');
  await callUnary(client, client.cancelRun, { runId: first.run?.runId as string });
  closeClient(client);
});

test('analysis: beyond running + queued is refused at once', async () => {
  const client = createClient(AnalysisServiceClient, address('analysis'));
  const heavy = withField(analysisSpec(fx.runId), 'kind', {
    $case: 'spectralDensity',
    value: { numProbes: 200, lanczosSteps: 80 },
  });
  await callUnary(
    client,
    client.startAnalysis,
    StartAnalysisRequest.fromPartial({ spec: heavy as never, idempotencyKey: 'heavy-1' }),
  );
  const second = await timed(
    callUnary(
      client,
      client.startAnalysis,
      StartAnalysisRequest.fromPartial({
        spec: withField(heavy, 'seed', 9) as never,
        idempotencyKey: 'heavy-2',
      }),
    ),
  );
  assertExhaustedFast(second, 'second analysis');
  closeClient(client);
  await cancelLiveJobs(stack);
});

test('data: beyond generating + queued is refused at once, and nothing is stored for it', async () => {
  const client = createClient(DataServiceClient, address('data'));
  const big = (seed: number) =>
    CreateDatasetRequest.fromPartial({
      spec: withField(withField(datasetSpec(), 'source.value.trainSize', 400_000), 'seed', seed) as never,
      idempotencyKey: `big-${seed}`,
    });
  await callUnary(client, client.createDataset, big(1));
  await callUnary(client, client.createDataset, big(2));
  const third = await timed(callUnary(client, client.createDataset, big(3)));
  assertExhaustedFast(third, 'third dataset');
  assert.equal(
    await codeOf(callUnary(client, client.getDataset, { datasetId: 'big-3' })),
    status.NOT_FOUND,
    'the refused dataset is not stored',
  );
  closeClient(client);
  await cancelLiveJobs(stack);
});

test('coordinator: a second running experiment is refused at once; the first key is still answered', async () => {
  const client = createClient(CoordinatorServiceClient, address('coordinator'));
  const spec = (name: string, epochs: number) => {
    const s = experimentSpecJson(name);
    (s.base as { run: { stop: unknown } }).run.stop = { maxEpochs: epochs };
    return JSON.stringify(s);
  };
  const start = (name: string) =>
    callUnary(
      client,
      client.startExperiment,
      StartExperimentRequest.fromPartial({
        source: { $case: 'specText', value: spec(name, 100_000) },
        idempotencyKey: name,
      }),
    );
  const first = await start('first');
  assertExhaustedFast(await timed(start('second')), 'second experiment');
  const again = await start('first');
  assert.equal(again.experiment?.experimentId, first.experiment?.experimentId);
  assert.equal(again.created, false);
  await callUnary(client, client.cancelExperiment, {
    experimentId: first.experiment?.experimentId as string,
  });
  closeClient(client);
  await cancelLiveJobs(stack);
});
