// Killing the coordinator mid-experiment (SIGKILL: no draining, no clean-up) and starting it again
// on the same state folder finishes the experiment with exactly one completed run per cell: no
// trainer run is started twice (the idempotency key of each attempt is stored before StartRun), no
// run is lost, and every run's epoch metrics are recorded once, without gaps.
// The same holds for the runs an experiment analysis adds (greedy layer-wise pre-training stages).
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { JobState } from '@gengap/proto/common/v1/job';
import { CoordinatorServiceClient } from '@gengap/proto/coordinator/v1/coordinator_service';
import { callUnary, closeClient, createClient, readStream } from '@gengap/service-kit';
import { RUN_LABELS } from '../src/orchestration/cell-runner.ts';
import { CoordinatorStore } from '../src/store/coordinator-store.ts';
import {
  type Running,
  spawnCoordinator,
  startData,
  startTrainer,
  tempDir,
  tinySpec,
  trainerClient,
  untilFinished,
} from './support/services.ts';

const dir = tempDir('coordinator-restart');
let data: Running;
let trainer: Running;

before(async () => {
  data = await startData(join(dir.path, 'data'));
  trainer = await startTrainer(join(dir.path, 'trainer'), data.address);
});

after(async () => {
  await trainer?.close();
  await data?.close();
  dir.remove();
});

test('a coordinator killed mid-experiment and restarted finishes it with one completed run per cell', async () => {
  const env = {
    GENGAP_STATE_DIR: join(dir.path, 'coordinator'),
    GENGAP_DATA_ADDRESS: data.address,
    GENGAP_TRAINER_ADDRESSES: trainer.address,
    GENGAP_MAX_CONCURRENT_RUNS: '2',
  };
  const first = await spawnCoordinator(env);
  let client = createClient(CoordinatorServiceClient, first.address, { deadlineMs: 30_000 });
  const spec = tinySpec({ name: 'restart', seeds: [1, 2, 3, 4] }, 12, 2048);
  const { experiment } = await callUnary(client, client.startExperiment, {
    source: { $case: 'specText', value: JSON.stringify(spec) },
    idempotencyKey: 'restart',
    labels: {},
  });
  const id = experiment?.experimentId as string;
  assert.equal(experiment?.runs.length, 4);

  // Kill it once one cell has finished and another is training.
  const succeeded = new Set<string>();
  const progressing = new Set<string>();
  for await (const message of readStream(client, client.watchExperiment, {
    experimentId: id,
    fromSequence: 0,
  })) {
    const event = message.event?.event;
    if (event?.$case === 'run' && event.value.status?.state === JobState.JOB_STATE_SUCCEEDED)
      succeeded.add(event.value.cellId);
    if (event?.$case === 'runProgress') progressing.add(event.value.cellId);
    if (succeeded.size >= 1 && [...progressing].some((c) => !succeeded.has(c))) break;
  }
  first.child.kill('SIGKILL');
  await new Promise((resolve) => first.child.once('exit', resolve));
  closeClient(client);

  const second = await spawnCoordinator(env);
  client = createClient(CoordinatorServiceClient, second.address, { deadlineMs: 30_000 });
  const { experiment: done, events } = await untilFinished(client, id);
  closeClient(client);
  second.child.kill('SIGTERM');
  await new Promise((resolve) => second.child.once('exit', resolve));

  assert.equal(done.status?.state, JobState.JOB_STATE_SUCCEEDED, done.status?.error?.message);
  assert.equal(done.runs.length, 4);
  for (const run of done.runs) {
    assert.equal(run.status?.state, JobState.JOB_STATE_SUCCEEDED);
    assert.equal(run.attempts, 1, `cell ${run.label} was not attempted again`);
    assert.ok(run.runId);
  }
  // The trainer saw exactly one run per cell: the restarted coordinator reused the stored keys.
  const trainers = trainerClient(trainer.address);
  const { runs } = await callUnary(trainers, trainers.listRuns, {
    labels: { [RUN_LABELS.experiment]: id },
    state: 0,
  });
  closeClient(trainers);
  assert.equal(runs.length, 4);
  assert.deepEqual(
    new Set(runs.map((r) => r.labels[RUN_LABELS.cell])),
    new Set(done.runs.map((r) => r.cellId)),
  );
  assert.ok(runs.every((r) => r.status?.state === JobState.JOB_STATE_SUCCEEDED));
  assert.deepEqual(new Set(runs.map((r) => r.runId)), new Set(done.runs.map((r) => r.runId)));

  // One "succeeded" event per cell in the log, and every epoch of every run recorded once.
  const succeededEvents = events.filter(
    (e) => e.event?.$case === 'run' && e.event.value.status?.state === JobState.JOB_STATE_SUCCEEDED,
  );
  assert.equal(succeededEvents.length, 4);
  const store = new CoordinatorStore(join(dir.path, 'coordinator', 'coordinator.sqlite'));
  try {
    for (const run of done.runs) {
      const epochs = store.epochs(id, run.cellId, run.runId);
      assert.deepEqual(
        epochs.map((e) => e.epoch),
        Array.from({ length: 12 }, (_, i) => i + 1),
        `epochs of ${run.label}`,
      );
    }
  } finally {
    store.close();
  }
});

test('a coordinator killed in the middle of greedy layer-wise pre-training resumes the chains without repeating a stage', async () => {
  const env = {
    GENGAP_STATE_DIR: join(dir.path, 'coordinator-pretraining'),
    GENGAP_DATA_ADDRESS: data.address,
    GENGAP_TRAINER_ADDRESSES: trainer.address,
    GENGAP_MAX_CONCURRENT_RUNS: '2',
  };
  const spec = tinySpec(
    {
      name: 'restart-pretraining',
      seeds: [1, 2],
      experimentAnalyses: [{ pretrainFinetune: { pretrainEpochs: 3 } }],
    },
    3,
    1024,
  );
  spec.base.run.model = {
    inputShape: [8],
    numOutputs: 3,
    layers: [
      { dense: { units: 16 } },
      { activation: { activation: 'ACTIVATION_RELU' } },
      { dense: { units: 8 } },
      { activation: { activation: 'ACTIVATION_RELU' } },
      { dense: { units: 3 } },
    ],
  };
  const first = await spawnCoordinator(env);
  let client = createClient(CoordinatorServiceClient, first.address, { deadlineMs: 30_000 });
  const { experiment } = await callUnary(client, client.startExperiment, {
    source: { $case: 'specText', value: JSON.stringify(spec) },
    idempotencyKey: 'restart-pretraining',
    labels: {},
  });
  const id = experiment?.experimentId as string;
  // Kill it once a second-layer stage exists: some chain is between its stages.
  for await (const message of readStream(client, client.watchExperiment, {
    experimentId: id,
    fromSequence: 0,
  })) {
    const event = message.event?.event;
    if (event?.$case === 'run' && event.value.label.startsWith('pre-training layer 2')) break;
  }
  first.child.kill('SIGKILL');
  await new Promise((resolve) => first.child.once('exit', resolve));
  closeClient(client);

  const second = await spawnCoordinator(env);
  client = createClient(CoordinatorServiceClient, second.address, { deadlineMs: 30_000 });
  const { experiment: done } = await untilFinished(client, id);
  closeClient(client);
  second.child.kill('SIGTERM');
  await new Promise((resolve) => second.child.once('exit', resolve));

  assert.equal(done.status?.state, JobState.JOB_STATE_SUCCEEDED, done.status?.error?.message);
  // Two seeds: each from scratch, two stages, fine-tuned.
  assert.equal(done.runs.length, 8);
  for (const run of done.runs) assert.equal(run.attempts, 1, `${run.label} was not attempted again`);
  const trainers = trainerClient(trainer.address);
  const { runs } = await callUnary(trainers, trainers.listRuns, {
    labels: { [RUN_LABELS.experiment]: id },
    state: 0,
  });
  closeClient(trainers);
  assert.equal(runs.length, 8, 'one trainer run per cell: no stage started twice');
  assert.deepEqual(new Set(runs.map((r) => r.runId)), new Set(done.runs.map((r) => r.runId)));
  const summary = done.experimentAnalyses.find((a) => a.name === 'pretrainFinetune0');
  assert.equal(JSON.parse(summary?.summaryJson ?? '{}').arms?.[0]?.pretrained?.n, 2);
});
