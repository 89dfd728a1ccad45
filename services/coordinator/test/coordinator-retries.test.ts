// Transient failures: a trainer that goes away mid-run and comes back (its runs resume) is followed
// again with the same run, without a new attempt; a trainer that comes back without the run (state
// lost) makes the cell try again with a new attempt and a new idempotency key. Both finish.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { JobState } from '@gengap/proto/common/v1/job';
import type { CoordinatorServiceClient } from '@gengap/proto/coordinator/v1/coordinator_service';
import { callUnary, closeClient, readStream } from '@gengap/service-kit';
import { RUN_LABELS } from '../src/orchestration/cell-runner.ts';
import {
  type CoordinatorHandle,
  type Running,
  startCoordinator,
  startData,
  startTrainer,
  tempDir,
  tinySpec,
  trainerClient,
  untilFinished,
} from './support/services.ts';

const dir = tempDir('coordinator-retries');
let data: Running;
let trainer: Running;
let port: number;
let coordinator: CoordinatorHandle;
let client: CoordinatorServiceClient;

before(async () => {
  data = await startData(join(dir.path, 'data'));
  trainer = await startTrainer(join(dir.path, 'trainer'), data.address);
  port = Number(trainer.address.split(':')[1]);
  coordinator = await startCoordinator({
    stateDir: join(dir.path, 'coordinator'),
    dataAddress: data.address,
    trainerAddresses: [trainer.address],
  });
  client = coordinator.client;
});

after(async () => {
  await coordinator?.close();
  await trainer?.close();
  await data?.close();
  dir.remove();
});

/** Starts a one-cell experiment and returns once its run has reported an epoch. */
async function startAndWaitForTraining(name: string, epochs: number): Promise<string> {
  const spec = tinySpec({ name }, epochs, 2048);
  const { experiment } = await callUnary(client, client.startExperiment, {
    source: { $case: 'specText', value: JSON.stringify(spec) },
    idempotencyKey: name,
    labels: {},
  });
  const id = experiment?.experimentId as string;
  for await (const message of readStream(client, client.watchExperiment, {
    experimentId: id,
    fromSequence: 0,
  })) {
    if (message.event?.event?.$case === 'runProgress') break;
  }
  return id;
}

async function runsOnTrainer(experimentId: string) {
  const trainers = trainerClient(trainer.address);
  try {
    return (
      await callUnary(trainers, trainers.listRuns, {
        labels: { [RUN_LABELS.experiment]: experimentId },
        state: 0,
      })
    ).runs;
  } finally {
    closeClient(trainers);
  }
}

test('a trainer that stops mid-run and comes back: the same run is followed to its end', async () => {
  const id = await startAndWaitForTraining('trainer-restart', 120);
  await trainer.close();
  await new Promise((r) => setTimeout(r, 500));
  trainer = await startTrainer(join(dir.path, 'trainer'), data.address, port);
  const { experiment } = await untilFinished(client, id);
  const [run] = experiment.runs;
  assert.equal(experiment.status?.state, JobState.JOB_STATE_SUCCEEDED, experiment.status?.error?.message);
  assert.equal(run?.attempts, 1, 'an unreachable trainer is waited for, not replaced by a new attempt');
  const runs = await runsOnTrainer(id);
  assert.equal(runs.length, 1);
  assert.equal(runs[0]?.runId, run?.runId);
  assert.ok(
    (runs[0]?.status?.attempt ?? 0) >= 2,
    `the trainer resumed the run from its checkpoint (attempt ${runs[0]?.status?.attempt}, ${run?.summary?.wallSeconds} s)`,
  );
});

test('a trainer that comes back without the run: a new attempt with a new key finishes the cell', async () => {
  const id = await startAndWaitForTraining('trainer-lost', 40);
  await trainer.close();
  trainer = await startTrainer(join(dir.path, 'trainer-fresh'), data.address, port);
  const { experiment } = await untilFinished(client, id);
  const [run] = experiment.runs;
  assert.equal(experiment.status?.state, JobState.JOB_STATE_SUCCEEDED, experiment.status?.error?.message);
  assert.equal(run?.attempts, 2);
  const runs = await runsOnTrainer(id);
  assert.equal(runs.length, 1, 'the fresh trainer ran the second attempt only');
  assert.equal(runs[0]?.labels[RUN_LABELS.attempt], '2');
  assert.equal(runs[0]?.runId, run?.runId);
});
