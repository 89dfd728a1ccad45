// A trainer that stops answering without closing its connections (SIGSTOP: the process is frozen, the
// kernel keeps its sockets open) mid-run, with two trainers behind one coordinator (all real processes):
//   - the coordinator notices through keepalive on its WatchRun stream (GENGAP_KEEPALIVE_*), waits
//     its unreachable budget, fails the attempt and re-dispatches the cell to the other trainer;
//   - the experiment completes with exactly one completed run per cell, every epoch of every final
//     run recorded once;
//   - SIGCONT: the frozen trainer comes back and carries on with its stale run; the coordinator, which
//     kept trying, cancels it there, so it never completes a second result, and nothing it reports
//     after the re-dispatch reaches the coordinator's records.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { JobState } from '@gengap/proto/common/v1/job';
import {
  CoordinatorServiceClient,
  StartExperimentRequest,
} from '@gengap/proto/coordinator/v1/coordinator_service';
import type { Experiment } from '@gengap/proto/coordinator/v1/experiment';
import { ListRunsRequest, TrainerServiceClient } from '@gengap/proto/trainer/v1/trainer_service';
import { callUnary, closeClient, createClient, readStream } from '@gengap/service-kit';
import { RUN_LABELS } from '../../services/coordinator/src/orchestration/cell-runner.ts';
import { CoordinatorStore } from '../../services/coordinator/src/store/coordinator-store.ts';
import { type ServiceProcess, startServiceProcess } from '../support/processes.ts';
import { tempRoot, tinyExperimentSpec } from './support/stack.ts';

const EPOCHS = 150;
const TRAIN_SIZE = 4096;
const root = tempRoot('sigstop');
let data: ServiceProcess;
let trainerA: ServiceProcess;
let trainerB: ServiceProcess;
let coordinator: ServiceProcess;

before(async () => {
  data = await startServiceProcess('data', { GENGAP_STATE_DIR: join(root.path, 'data') });
  const trainerEnv = (name: string) => ({
    GENGAP_STATE_DIR: join(root.path, name),
    GENGAP_DATA_ADDRESS: data.address,
    GENGAP_MAX_CONCURRENT_RUNS: '2',
  });
  trainerA = await startServiceProcess('trainer', trainerEnv('trainer-a'));
  trainerB = await startServiceProcess('trainer', trainerEnv('trainer-b'));
  coordinator = await startServiceProcess('coordinator', {
    GENGAP_STATE_DIR: join(root.path, 'coordinator'),
    GENGAP_DATA_ADDRESS: data.address,
    GENGAP_TRAINER_ADDRESSES: `${trainerA.address},${trainerB.address}`,
    GENGAP_MAX_CONCURRENT_RUNS: '2',
    GENGAP_HTTP_PORT: '-1',
    // Detect a silent trainer within ~2 s, give it 3 s more, retry quickly.
    GENGAP_KEEPALIVE_TIME_MS: '1000',
    GENGAP_KEEPALIVE_TIMEOUT_MS: '1000',
    GENGAP_CONNECT_TIMEOUT_MS: '2000',
    GENGAP_UNREACHABLE_BUDGET_MS: '3000',
    GENGAP_RETRY_BASE_MS: '200',
    GENGAP_RETRY_MAX_MS: '1000',
  });
});

after(() => {
  for (const p of [coordinator, trainerA, trainerB, data]) {
    if (p && p.child.exitCode === null) {
      p.child.kill('SIGCONT');
      p.child.kill('SIGKILL');
    }
  }
  root.remove();
});

async function runsOf(address: string, experimentId: string) {
  const client = createClient(TrainerServiceClient, address, { deadlineMs: 10_000 });
  try {
    const { runs } = await callUnary(
      client,
      client.listRuns,
      ListRunsRequest.fromPartial({ labels: { [RUN_LABELS.experiment]: experimentId } }),
    );
    return runs;
  } finally {
    closeClient(client);
  }
}

test('SIGSTOP of a trainer mid-run: detected, re-dispatched, one result per cell; its late run is cancelled', async () => {
  const client = createClient(CoordinatorServiceClient, coordinator.address, { deadlineMs: 30_000 });
  const spec = tinyExperimentSpec('sigstop', [1, 2], EPOCHS, TRAIN_SIZE);
  const { experiment } = await callUnary(
    client,
    client.startExperiment,
    StartExperimentRequest.fromPartial({
      source: { $case: 'specText', value: JSON.stringify(spec) },
      idempotencyKey: 'sigstop',
    }),
  );
  const id = experiment?.experimentId as string;

  // Both cells training (one per trainer: placement spreads attempts by load).
  const progressing = new Set<string>();
  for await (const m of readStream(client, client.watchExperiment, { experimentId: id, fromSequence: 0 })) {
    const e = m.event?.event;
    if (e?.$case === 'runProgress' && (e.value.epoch?.epoch ?? 0) >= 2) progressing.add(e.value.cellId);
    if (progressing.size === 2) break;
  }
  const onA = await runsOf(trainerA.address, id);
  const onBNow = await runsOf(trainerB.address, id);
  assert.equal(
    onA.length,
    1,
    `one cell runs on trainer A (A: ${onA.length}, B: ${onBNow.length})\n${coordinator.output().slice(-3000)}`,
  );
  const staleRun = onA[0] as (typeof onA)[number];
  const stoppedCell = staleRun.labels[RUN_LABELS.cell] as string;
  assert.equal(staleRun.status?.state, JobState.JOB_STATE_RUNNING);

  trainerA.child.kill('SIGSTOP');
  const stoppedAt = Date.now();
  let redispatchedAfterMs: number | undefined;
  let done: Experiment | undefined;
  const deadline = Date.now() + Number(process.env.SIGSTOP_DEADLINE_MS ?? 240_000);
  while (!done && Date.now() < deadline) {
    try {
      for await (const m of readStream(
        client,
        client.watchExperiment,
        { experimentId: id, fromSequence: 0 },
        { deadlineMs: deadline - Date.now() },
      )) {
        const e = m.event?.event;
        if (e?.$case === 'run' && e.value.cellId === stoppedCell && e.value.attempts >= 2)
          redispatchedAfterMs ??= Date.now() - stoppedAt;
      }
    } catch (err) {
      if (Date.now() < deadline) throw err;
    }
    const got = (await callUnary(client, client.getExperiment, { experimentId: id })).experiment;
    if (got && [3, 4, 5].includes(got.status?.state ?? 0)) done = got;
  }
  assert.ok(done, `the experiment finished\n${coordinator.output().slice(-6000)}`);
  assert.equal(done.status?.state, JobState.JOB_STATE_SUCCEEDED, done.status?.error?.message);
  const cell = done.runs.find((r) => r.cellId === stoppedCell);
  assert.equal(cell?.attempts, 2, 'the stopped cell was attempted again');
  assert.ok(
    redispatchedAfterMs !== undefined && redispatchedAfterMs < 30_000,
    `re-dispatched after ${redispatchedAfterMs} ms`,
  );

  const onB = await runsOf(trainerB.address, id);
  const succeededOnB = onB.filter((r) => r.status?.state === JobState.JOB_STATE_SUCCEEDED);
  assert.deepEqual(
    new Set(succeededOnB.map((r) => r.labels[RUN_LABELS.cell])),
    new Set(done.runs.map((r) => r.cellId)),
    'trainer B completed one run per cell',
  );
  assert.equal(succeededOnB.length, 2);
  assert.ok(succeededOnB.some((r) => r.runId === cell?.runId && r.labels[RUN_LABELS.attempt] === '2'));

  const store = new CoordinatorStore(join(root.path, 'coordinator', 'coordinator.sqlite'));
  const epochsBefore = new Map<string, number>();
  try {
    for (const run of done.runs) {
      const epochs = store.epochs(id, run.cellId, run.runId).map((e) => e.epoch);
      assert.deepEqual(
        epochs,
        Array.from({ length: EPOCHS }, (_, i) => i + 1),
        `epochs of ${run.label}`,
      );
    }
    epochsBefore.set(staleRun.runId, store.epochs(id, stoppedCell, staleRun.runId).length);
  } finally {
    store.close();
  }

  // The frozen trainer comes back: its stale run is cancelled, never completed.
  trainerA.child.kill('SIGCONT');
  let stale = staleRun;
  const cancelDeadline = Date.now() + 90_000;
  while (Date.now() < cancelDeadline) {
    stale = (await runsOf(trainerA.address, id))[0] ?? stale;
    if ([3, 4, 5].includes(stale.status?.state ?? 0)) break;
    await sleep(250);
  }
  assert.equal(
    stale.status?.state,
    JobState.JOB_STATE_CANCELLED,
    'the stale run was cancelled, not completed',
  );
  const allRuns = [...(await runsOf(trainerA.address, id)), ...(await runsOf(trainerB.address, id))];
  assert.equal(
    allRuns.filter((r) => r.status?.state === JobState.JOB_STATE_SUCCEEDED).length,
    2,
    'exactly one completed run per cell across both trainers',
  );
  // The coordinator's records did not move: same run per cell, nothing more from the stale run.
  const after = (await callUnary(client, client.getExperiment, { experimentId: id })).experiment;
  assert.deepEqual(
    after?.runs.map((r) => [r.cellId, r.runId, r.attempts]),
    done.runs.map((r) => [r.cellId, r.runId, r.attempts]),
  );
  const check = new CoordinatorStore(join(root.path, 'coordinator', 'coordinator.sqlite'));
  try {
    assert.equal(check.epochs(id, stoppedCell, staleRun.runId).length, epochsBefore.get(staleRun.runId));
  } finally {
    check.close();
  }
  closeClient(client);
  console.log(
    `# SIGSTOP: re-dispatched after ${redispatchedAfterMs} ms; stale run ${staleRun.runId} cancelled after SIGCONT`,
  );
});
