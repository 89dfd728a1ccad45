// SIGTERM while every service has long work in flight and a client watching it (real processes):
// each process reports NOT_SERVING, stops within GENGAP_SHUTDOWN_GRACE_MS plus a margin with exit code
// 0, and every open watch stream ends (never hangs). Restarting the whole stack on the same state
// folders carries the work on: the run, the analysis and the experiment finish.
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
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
import { status } from '@grpc/grpc-js';
import { type Fixtures, prepareFixtures } from './support/fixtures.ts';
import { analysisSpec, datasetSpec, experimentSpecJson, runSpec, withField } from './support/requests.ts';
import { ORDER, type ProcessStack, startProcessStack, tempRoot } from './support/stack.ts';

const GRACE_MS = 3000;
const root = tempRoot('sigterm');
let stack: ProcessStack;
let fx: Fixtures;
const env = {
  GENGAP_LOG_LEVEL: 'info',
  GENGAP_SHUTDOWN_GRACE_MS: String(GRACE_MS),
  GENGAP_DRAIN_DELAY_MS: '100',
};

before(async () => {
  stack = await startProcessStack({ root: root.path, env });
  fx = await prepareFixtures(stack, 'sigterm');
});

after(() => {
  stack?.kill();
  root.remove();
});

/** Reads a stream until it ends; resolves with its final status code (OK when it just ended). */
async function drain(stream: AsyncIterable<unknown>): Promise<number> {
  try {
    for await (const _ of stream) {
    }
    return status.OK;
  } catch (err) {
    return (err as { code?: number }).code ?? -1;
  }
}

test('SIGTERM with work in flight and watchers attached: NOT_SERVING, exit 0 within the grace period, streams end; the work carries on after a restart', async () => {
  const s = stack.services;
  const data = createClient(DataServiceClient, s.data?.address as string);
  const trainer = createClient(TrainerServiceClient, s.trainer?.address as string);
  const analysis = createClient(AnalysisServiceClient, s.analysis?.address as string);
  const coordinator = createClient(CoordinatorServiceClient, s.coordinator?.address as string);

  const dataset = await callUnary(
    data,
    data.createDataset,
    CreateDatasetRequest.fromPartial({
      spec: withField(datasetSpec(), 'source.value.trainSize', 2_000_000) as never,
      idempotencyKey: 'big',
    }),
  );
  const run = await callUnary(
    trainer,
    trainer.startRun,
    StartRunRequest.fromPartial({
      spec: withField(runSpec(fx.datasetId), 'stop', { maxEpochs: 400 }) as never,
      idempotencyKey: 'long-run',
    }),
  );
  const job = await callUnary(
    analysis,
    analysis.startAnalysis,
    StartAnalysisRequest.fromPartial({
      spec: withField(analysisSpec(fx.runId), 'kind', {
        $case: 'spectralDensity',
        value: { numProbes: 40, lanczosSteps: 60 },
      }) as never,
      idempotencyKey: 'long-analysis',
    }),
  );
  const spec = experimentSpecJson('sigterm');
  (spec.base as { run: { stop: unknown } }).run.stop = { maxEpochs: 200 };
  const experiment = await callUnary(
    coordinator,
    coordinator.startExperiment,
    StartExperimentRequest.fromPartial({
      source: { $case: 'specText', value: JSON.stringify(spec) },
      idempotencyKey: 'long-experiment',
    }),
  );
  const ids = {
    dataset: dataset.dataset?.datasetId as string,
    run: run.run?.runId as string,
    analysis: job.analysis?.analysisId as string,
    experiment: experiment.experiment?.experimentId as string,
  };
  await sleep(1500);
  const streams = [
    drain(readStream(data, data.watchDataset, { datasetId: ids.dataset, fromSequence: 0 })),
    drain(readStream(trainer, trainer.watchRun, { runId: ids.run, fromSequence: 0, skipStepMetrics: false })),
    drain(readStream(analysis, analysis.watchAnalysis, { analysisId: ids.analysis, fromSequence: 0 })),
    drain(
      readStream(coordinator, coordinator.watchExperiment, { experimentId: ids.experiment, fromSequence: 0 }),
    ),
  ];
  await sleep(300);

  // Stop in reverse dependency order, as a rolling update of the whole stack would.
  const stopped: Record<string, { code: number | null; ms: number }> = {};
  for (const key of [...ORDER].reverse()) {
    const proc = s[key];
    if (!proc) continue;
    const started = Date.now();
    proc.child.kill('SIGTERM');
    const code = await Promise.race([proc.exited, sleep(GRACE_MS + 10_000).then(() => 'timeout' as const)]);
    stopped[key] = { code: code === 'timeout' ? null : code, ms: Date.now() - started };
    assert.notEqual(
      code,
      'timeout',
      `${key} did not stop within the grace period\n${proc.output().slice(-2000)}`,
    );
    assert.equal(code, 0, `${key} exit code`);
    assert.match(proc.output(), /"msg":"draining"/);
  }
  const ended = await Promise.race([Promise.all(streams), sleep(10_000).then(() => 'hung' as const)]);
  assert.notEqual(ended, 'hung', 'every watch stream ended');
  // With a status a client knows to retry on (resuming from its last sequence), not OK as if the
  // job were over, nor a transport error. The dataset may have finished already (then its watch
  // ended OK after the terminal event); the 400-epoch run, the analysis and the experiment cannot.
  const [datasetWatch, ...longWatches] = ended;
  assert.ok(
    [status.OK, status.UNAVAILABLE].includes(datasetWatch as number),
    `dataset watch ${datasetWatch}`,
  );
  assert.deepEqual(longWatches, [status.UNAVAILABLE, status.UNAVAILABLE, status.UNAVAILABLE]);
  for (const c of [data, trainer, analysis, coordinator]) closeClient(c);
  console.log(
    `# SIGTERM: ${Object.entries(stopped)
      .map(([k, v]) => `${k} exit ${v.code} in ${v.ms} ms`)
      .join(', ')}`,
  );

  // Same state folders: everything resumes and finishes.
  for (const key of ORDER) rmSync(join(root.path, key, 'ready.json'), { force: true });
  stack = await startProcessStack({ root: root.path, env });
  const t = createClient(TrainerServiceClient, stack.services.trainer?.address as string);
  const a = createClient(AnalysisServiceClient, stack.services.analysis?.address as string);
  const c = createClient(CoordinatorServiceClient, stack.services.coordinator?.address as string);
  const deadline = Date.now() + 240_000;
  const states = { run: 0, analysis: 0, experiment: 0 };
  while (Date.now() < deadline) {
    states.run = (await callUnary(t, t.getRun, { runId: ids.run })).run?.status?.state ?? 0;
    states.analysis =
      (await callUnary(a, a.getAnalysis, { analysisId: ids.analysis })).analysis?.status?.state ?? 0;
    states.experiment =
      (await callUnary(c, c.getExperiment, { experimentId: ids.experiment })).experiment?.status?.state ?? 0;
    if (Object.values(states).every((v) => [3, 4, 5].includes(v))) break;
    await sleep(500);
  }
  for (const client of [t, a, c]) closeClient(client);
  assert.deepEqual(states, {
    run: JobState.JOB_STATE_SUCCEEDED,
    analysis: JobState.JOB_STATE_SUCCEEDED,
    experiment: JobState.JOB_STATE_SUCCEEDED,
  });
});
