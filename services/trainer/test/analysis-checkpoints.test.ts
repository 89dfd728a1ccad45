// CheckpointRef.analysis_id: a run starts from a checkpoint made by the analysis service (Dinh et al.'s
// function-preserving rescaling of a trained run), fetched over ReadAnalysisArtifact. The data service,
// the trainer and the analysis service all run in-process, each on 127.0.0.1:0 (the analysis service's
// port picked first, since trainer and analysis service each need the other's address).
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { after, before, test } from 'node:test';
import { AnalysisSpec } from '@gengap/proto/analysis/v1/analysis';
import { AnalysisServiceClient } from '@gengap/proto/analysis/v1/analysis_service';
import { JobState } from '@gengap/proto/common/v1/job';
import { callUnary, closeClient, createClient } from '@gengap/service-kit';
import { type AnalysisService, buildAnalysisService } from '../../analysis/src/analysis-service.ts';
import {
  createDataset,
  type DataService,
  mlpSpec,
  readParameters,
  settingsFor,
  silentLog,
  startDataService,
  startRun,
  startTrainer,
  type TrainerHandle,
  tempDir,
  waitForRun,
} from './support/cluster.ts';

let dir: ReturnType<typeof tempDir>;
let data: DataService;
let trainer: TrainerHandle;
let analysis: AnalysisService;
let analysisClient: AnalysisServiceClient;
let datasetId: string;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

before(async () => {
  dir = tempDir('analysis-ckpt');
  data = await startDataService(`${dir.path}/data`);
  datasetId = await createDataset(data, {
    source: {
      $case: 'gaussianMixture',
      value: { numClasses: 3, dimension: 8, trainSize: 300, testSize: 100, separation: 4, clusterStd: 1 },
    },
    seed: 8,
  });
  const analysisAddress = `127.0.0.1:${await freePort()}`;
  trainer = await startTrainer({
    stateDir: `${dir.path}/trainer`,
    dataAddress: data.address,
    analysisAddress,
  });
  analysis = buildAnalysisService({
    settings: settingsFor('analysis'),
    log: silentLog,
    stateDir: `${dir.path}/analysis`,
    trainerAddress: trainer.address,
    dataAddress: data.address,
    maxConcurrentAnalyses: 1,
    maxQueuedAnalyses: 10,
    defaultThreads: 1,
    datasetCacheBytes: 64 * 1024 * 1024,
    checkpointCacheBytes: 64 * 1024 * 1024,
    outboundDeadlineMs: 30_000,
  });
  await analysis.server.listen('127.0.0.1', Number(analysisAddress.split(':')[1]));
  await analysis.start?.();
  analysis.server.setServing(true);
  analysisClient = createClient(AnalysisServiceClient, analysisAddress, { deadlineMs: 60_000 });
});

after(async () => {
  if (analysisClient) closeClient(analysisClient);
  await analysis?.server.shutdown();
  await analysis?.close?.();
  await trainer?.close();
  await data?.close();
  dir?.remove();
});

test('a run starts from a rescaled checkpoint made by the analysis service', async () => {
  const spec = mlpSpec(datasetId, 8, 3, { stop: { maxEpochs: 2 } });
  const trained = await startRun(trainer.client, spec, 'to-rescale');
  const runId = trained.run?.runId as string;
  assert.equal((await waitForRun(trainer.client, runId)).status?.state, JobState.JOB_STATE_SUCCEEDED);

  const alpha = 10;
  const started = await callUnary(analysisClient, analysisClient.startAnalysis, {
    spec: AnalysisSpec.fromPartial({
      checkpoint: { source: { $case: 'run', value: { runId, step: 0 } } },
      kind: { $case: 'rescale', value: { firstLayer: 0, alpha } },
    }),
    idempotencyKey: 'rescale',
    labels: {},
  });
  const analysisId = started.analysis?.analysisId as string;
  let state = started.analysis?.status?.state;
  for (let i = 0; i < 600 && state !== JobState.JOB_STATE_SUCCEEDED; i++) {
    assert.notEqual(state, JobState.JOB_STATE_FAILED);
    await new Promise((r) => setTimeout(r, 100));
    const got = await callUnary(analysisClient, analysisClient.getAnalysis, { analysisId });
    state = got.analysis?.status?.state;
    if (state === JobState.JOB_STATE_FAILED) assert.fail(got.analysis?.status?.error?.message);
  }

  // One step at a negligible learning rate: the run's parameters are the rescaled ones.
  const fineTune = await startRun(
    trainer.client,
    mlpSpec(datasetId, 8, 3, {
      initFrom: { source: { $case: 'analysisId', value: analysisId } },
      optimizer: { kind: 1, learningRate: 1e-12 },
      stop: { maxSteps: 1 },
    }),
    'from-analysis',
  );
  const done = await waitForRun(trainer.client, fineTune.run?.runId as string);
  assert.equal(done.status?.state, JobState.JOB_STATE_SUCCEEDED, done.status?.error?.message);
  const original = await readParameters(trainer.client, runId);
  const rescaled = await readParameters(trainer.client, done.runId);
  const values = (p: typeof original, name: string) =>
    new Float32Array(new Uint8Array(p.tensors.get(name)?.data as Uint8Array).buffer);
  const w0 = values(original, '0.dense.weight');
  const w0r = values(rescaled, '0.dense.weight');
  const w2 = values(original, '2.dense.weight');
  const w2r = values(rescaled, '2.dense.weight');
  for (let i = 0; i < w0.length; i++)
    assert.ok(Math.abs((w0r[i] as number) - alpha * (w0[i] as number)) < 1e-4);
  for (let i = 0; i < w2.length; i++)
    assert.ok(Math.abs((w2r[i] as number) - (w2[i] as number) / alpha) < 1e-5);
  // Same function: the rescaled network fits the data exactly as well.
  assert.ok(
    Math.abs(
      (done.summary?.finalTrainAccuracy ?? 0) -
        ((await waitForRun(trainer.client, runId)).summary?.finalTrainAccuracy ?? 1),
    ) < 1e-9,
  );
});
