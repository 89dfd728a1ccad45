// A client that cancels in the middle of every server stream of the four services (in this process, so
// the servers can be looked into): the handler stops (no handler left running, no call slot held) within
// a second, and after all of them the process holds no more sockets or timers than before.
// Each stream is live when cancelled: a watch on a job still running, reads with small chunks of
// big objects, the endless online-batch stream.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { AnalysisServiceClient, StartAnalysisRequest } from '@gengap/proto/analysis/v1/analysis_service';
import { JobState } from '@gengap/proto/common/v1/job';
import {
  CoordinatorServiceClient,
  StartExperimentRequest,
} from '@gengap/proto/coordinator/v1/coordinator_service';
import { CreateDatasetRequest, DataServiceClient } from '@gengap/proto/data/v1/data_service';
import { StartRunRequest, TrainerServiceClient } from '@gengap/proto/trainer/v1/trainer_service';
import { callUnary, closeClient, createClient, readStream } from '@gengap/service-kit';
import {
  activeResources,
  type InProcessService,
  type InProcessStack,
  startInProcessStack,
} from './support/inprocess.ts';
import { analysisSpec, datasetSpec, experimentSpecJson, runSpec, withField } from './support/requests.ts';
import { tempRoot } from './support/stack.ts';

const root = tempRoot('stream-cancel');
let stack: InProcessStack;

before(async () => {
  stack = await startInProcessStack(root.path);
});

after(async () => {
  await stack?.close();
  root.remove();
});

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 120_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const v = await probe();
    if (v !== undefined) return v;
    await sleep(100);
  }
  throw new Error(`timed out waiting for ${what}`);
}

interface Cancellation {
  name: string;
  server: InProcessService;
  open(signal: AbortSignal): AsyncIterable<unknown>;
}

test('cancelling every server stream mid-flight stops its handler; no sockets or timers are left behind', async () => {
  const data = createClient(DataServiceClient, stack.data.address);
  const trainer = createClient(TrainerServiceClient, stack.trainer.address, {
    maxMessageBytes: 64 * 1024 * 1024,
  });
  const analysis = createClient(AnalysisServiceClient, stack.analysis.address, {
    maxMessageBytes: 64 * 1024 * 1024,
  });
  const coordinator = createClient(CoordinatorServiceClient, stack.coordinator.address);

  const created = async (spec: Record<string, unknown>, key: string, wait: boolean) => {
    const r = await callUnary(
      data,
      data.createDataset,
      CreateDatasetRequest.fromPartial({ spec: spec as never, idempotencyKey: key }),
    );
    const id = r.dataset?.datasetId as string;
    if (wait) {
      await until(`dataset ${key}`, async () =>
        (await callUnary(data, data.getDataset, { datasetId: id })).dataset?.status?.state ===
        JobState.JOB_STATE_SUCCEEDED
          ? true
          : undefined,
      );
    }
    return id;
  };
  const small = await created(datasetSpec(), 'small', true);
  const big = await created(withField(datasetSpec(), 'source.value.trainSize', 100_000), 'big', true);
  const online = await created(
    {
      source: {
        $case: 'sparseParity',
        value: { numBits: 20, paritySize: 3, trainSize: 0, testSize: 100, online: true },
      },
      corruptions: [],
      seed: 1,
    },
    'online',
    true,
  );
  const generating = await created(
    withField(datasetSpec(), 'source.value.trainSize', 3_000_000),
    'generating',
    false,
  );

  // A finished run of a model with ~270k parameters (ReadParameters and the eigenvectors have something
  // to chunk), and a long run still training (WatchRun is live).
  const layers = [
    { name: '', kind: { $case: 'dense', value: { units: 512 } } },
    { name: '', kind: { $case: 'activation', value: { activation: 1 } } },
    { name: '', kind: { $case: 'dense', value: { units: 512 } } },
    { name: '', kind: { $case: 'activation', value: { activation: 1 } } },
    { name: '', kind: { $case: 'dense', value: { units: 3 } } },
  ];
  const wideDone = (
    await callUnary(
      trainer,
      trainer.startRun,
      StartRunRequest.fromPartial({
        spec: withField(withField(runSpec(small), 'stop', { maxEpochs: 2 }), 'model.layers', layers) as never,
        idempotencyKey: 'wide',
      }),
    )
  ).run?.runId as string;
  let succeededAt = 0;
  await until('the wide run and its final checkpoint', async () => {
    const r = (await callUnary(trainer, trainer.getRun, { runId: wideDone })).run;
    if (r?.status?.state !== JobState.JOB_STATE_SUCCEEDED) return undefined;
    succeededAt ||= Date.now();
    return r.checkpoints.length > 0 ? true : undefined;
  });
  if (Date.now() - succeededAt > 50)
    console.log(`# the final checkpoint was listed ${Date.now() - succeededAt} ms after SUCCEEDED`);
  const run = (
    await callUnary(
      trainer,
      trainer.startRun,
      StartRunRequest.fromPartial({
        spec: withField(runSpec(small), 'stop', { maxEpochs: 100_000 }) as never,
        idempotencyKey: 'long',
      }),
    )
  ).run?.runId as string;
  // An analysis with a big artifact (eigenvectors), finished; then a long one, running.
  const eigen = withField(
    withField(analysisSpec(wideDone), 'kind', {
      $case: 'hessianEigen',
      value: { topK: 4, maxIterations: 12, returnEigenvectors: true },
    }),
    'numExamples',
    16,
  );
  const done = (
    await callUnary(
      analysis,
      analysis.startAnalysis,
      StartAnalysisRequest.fromPartial({ spec: eigen as never, idempotencyKey: 'eigen' }),
    )
  ).analysis?.analysisId as string;
  const finished = await until('the eigen analysis', async () => {
    const a = (await callUnary(analysis, analysis.getAnalysis, { analysisId: done })).analysis;
    if (a?.status?.state === JobState.JOB_STATE_SUCCEEDED) return a;
    if ([4, 5].includes(a?.status?.state ?? 0))
      throw new Error(`eigen analysis ended ${a?.status?.error?.message}`);
    return undefined;
  });
  const artifacts = finished.result?.artifacts ?? [];
  const artifact = artifacts.find((a) => a.endsWith('.safetensors')) ?? artifacts[0] ?? 'result.json';
  const slow = withField(analysisSpec(wideDone), 'kind', {
    $case: 'spectralDensity',
    value: { numProbes: 200, lanczosSteps: 80 },
  });
  const running = (
    await callUnary(
      analysis,
      analysis.startAnalysis,
      StartAnalysisRequest.fromPartial({ spec: slow as never, idempotencyKey: 'slow' }),
    )
  ).analysis?.analysisId as string;
  const spec = experimentSpecJson('cancel');
  (spec.base as { run: { stop: unknown } }).run.stop = { maxEpochs: 100_000 };
  const experiment = (
    await callUnary(
      coordinator,
      coordinator.startExperiment,
      StartExperimentRequest.fromPartial({
        source: { $case: 'specText', value: JSON.stringify(spec) },
        idempotencyKey: 'cancel',
      }),
    )
  ).experiment?.experimentId as string;
  await sleep(500);

  const cases: Cancellation[] = [
    {
      name: 'WatchDataset',
      server: stack.data,
      open: (signal) =>
        readStream(data, data.watchDataset, { datasetId: generating, fromSequence: 0 }, { signal }),
    },
    {
      name: 'ReadDataset',
      server: stack.data,
      open: (signal) =>
        readStream(
          data,
          data.readDataset,
          { datasetId: big, split: 1, chunkBytes: 4096, inputDtype: 0, auxiliary: '' },
          { signal },
        ),
    },
    {
      name: 'ReadOnlineBatches',
      server: stack.data,
      open: (signal) =>
        readStream(
          data,
          data.readOnlineBatches,
          { datasetId: online, batchSize: 32, startBatch: 0, numBatches: 0 },
          { signal },
        ),
    },
    {
      name: 'WatchRun',
      server: stack.trainer,
      open: (signal) =>
        readStream(
          trainer,
          trainer.watchRun,
          { runId: run, fromSequence: 0, skipStepMetrics: false },
          { signal },
        ),
    },
    {
      name: 'ReadParameters',
      server: stack.trainer,
      open: (signal) =>
        readStream(
          trainer,
          trainer.readParameters,
          { checkpoint: { runId: wideDone, step: 0 }, chunkBytes: 4096, includeOptimizerState: false },
          { signal },
        ),
    },
    {
      name: 'WatchAnalysis',
      server: stack.analysis,
      open: (signal) =>
        readStream(analysis, analysis.watchAnalysis, { analysisId: running, fromSequence: 0 }, { signal }),
    },
    {
      name: 'ReadAnalysisArtifact',
      server: stack.analysis,
      open: (signal) =>
        readStream(
          analysis,
          analysis.readAnalysisArtifact,
          { analysisId: done, artifact, chunkBytes: 4096 },
          { signal },
        ),
    },
    {
      name: 'WatchExperiment',
      server: stack.coordinator,
      open: (signal) =>
        readStream(
          coordinator,
          coordinator.watchExperiment,
          { experimentId: experiment, fromSequence: 0 },
          { signal },
        ),
    },
  ];

  const baseline = activeResources();
  const results: string[] = [];
  for (const c of cases) {
    const limiter = c.server.server.limiter;
    const before = { slots: limiter.size, handlers: limiter.running };
    const controller = new AbortController();
    let received = 0;
    let endedByItself = false;
    const reading = (async () => {
      for await (const _ of c.open(controller.signal)) {
        received++;
        if (received === 2) controller.abort();
      }
      endedByItself = true;
    })().catch(() => {});
    await until(`${c.name}: two messages`, async () => (received >= 2 ? true : undefined), 30_000);
    await reading;
    assert.ok(!endedByItself, `${c.name} was still streaming when cancelled`);
    const started = Date.now();
    await until(
      `${c.name}: handler stopped`,
      async () => (limiter.running <= before.handlers && limiter.size <= before.slots ? true : undefined),
      5_000,
    );
    results.push(`${c.name} stopped in ${Date.now() - started} ms`);
  }
  for (const c of [data, trainer, analysis, coordinator]) closeClient(c);
  // Stop the long work so that its own timers are not counted.
  await sleep(1000);
  const afterAll = activeResources();
  console.log(`# stream cancel: ${results.join(', ')}`);
  console.log(`# handles before ${JSON.stringify(baseline)} after ${JSON.stringify(afterAll)}`);
  for (const kind of ['TCPSocketWrap', 'TCPServerWrap']) {
    assert.ok(
      (afterAll[kind] ?? 0) <= (baseline[kind] ?? 0),
      `${kind}: ${afterAll[kind]} after, ${baseline[kind]} before`,
    );
  }
  assert.ok(
    (afterAll.Timeout ?? 0) <= (baseline.Timeout ?? 0) + 2,
    `timers: ${afterAll.Timeout} after, ${baseline.Timeout} before`,
  );
});
