// GENGAP_TRAINER_EXIT_AFTER_RUN: a trainer process (node services/trainer/src/main.ts) started for
// one run keeps serving through the grace period after the run ends, so a follower still reads the
// outcome, then exits: 0 when the run succeeded, 3 when it failed. A replacement process on the same
// state folder leaves at once with the same code. Off by default: a plain trainer keeps serving.
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { JobState } from '@gengap/proto/common/v1/job';
import { loadConfig } from '@gengap/service-kit';
import { trainerConfigShape } from '../src/config.ts';
import { EXIT_RUN_FAILED } from '../src/runs/exit-after-run.ts';
import {
  createDataset,
  type DataService,
  getRun,
  killTrainers,
  mlpSpec,
  spawnTrainer,
  startDataService,
  startRun,
  tempDir,
  waitForRun,
} from './support/cluster.ts';

let dir: ReturnType<typeof tempDir>;
let data: DataService;
let datasetId: string;

before(async () => {
  dir = tempDir('exit-after-run');
  data = await startDataService(`${dir.path}/data`);
  datasetId = await createDataset(data, {
    source: {
      $case: 'gaussianMixture',
      value: { numClasses: 3, dimension: 8, trainSize: 300, testSize: 60, separation: 3, clusterStd: 1 },
    },
    seed: 3,
  });
});

after(async () => {
  killTrainers();
  await data?.close();
  dir?.remove();
});

const spec = (learningRate = 0.1) =>
  mlpSpec(datasetId, 8, 3, {
    optimizer: { kind: 1, learningRate },
    stop: { maxEpochs: 2 },
    threads: 1,
  });

const env = (stateDir: string, extra: Record<string, string> = {}) => ({
  GENGAP_STATE_DIR: stateDir,
  GENGAP_DATA_ADDRESS: data.address,
  GENGAP_THREADS_PER_RUN: '1',
  ...extra,
});

function exitOf(child: ChildProcess): Promise<{ code: number | null; signal: string | null }> {
  if (child.exitCode !== null || child.signalCode !== null)
    return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
}

describe('GENGAP_TRAINER_EXIT_AFTER_RUN', () => {
  test('is off by default, and its grace period is 30 s', () => {
    const config = loadConfig(trainerConfigShape, {});
    assert.equal(config.GENGAP_TRAINER_EXIT_AFTER_RUN, false);
    assert.equal(config.GENGAP_TRAINER_EXIT_GRACE_MS, 30_000);
    assert.equal(
      loadConfig(trainerConfigShape, { GENGAP_TRAINER_EXIT_AFTER_RUN: 'true' }).GENGAP_TRAINER_EXIT_AFTER_RUN,
      true,
    );
  });

  test('a succeeded run: the outcome is readable during the grace period, then the process exits 0', async () => {
    const stateDir = `${dir.path}/succeeds`;
    const extra = { GENGAP_TRAINER_EXIT_AFTER_RUN: 'true', GENGAP_TRAINER_EXIT_GRACE_MS: '1500' };
    const trainer = await spawnTrainer(env(stateDir, extra));
    const exited = exitOf(trainer.process);
    const { run } = await startRun(trainer.client, spec(), 'succeeds');
    const done = await waitForRun(trainer.client, run?.runId as string);
    assert.equal(done.status?.state, JobState.JOB_STATE_SUCCEEDED, done.status?.error?.message);
    const endedAt = Date.now();
    assert.equal(
      (await getRun(trainer.client, run?.runId as string)).status?.state,
      JobState.JOB_STATE_SUCCEEDED,
    );
    assert.deepEqual(await exited, { code: 0, signal: null });
    // The run ended at most a poll (250 ms) before waitForRun saw it; the grace is 1500 ms.
    assert.ok(Date.now() - endedAt >= 1000, `served through the grace period (${Date.now() - endedAt} ms)`);
    trainer.stop();

    // A replacement process on the same state (a pod evicted during the grace period) leaves at once.
    const again = await spawnTrainer(env(stateDir, { ...extra, GENGAP_TRAINER_EXIT_GRACE_MS: '0' }));
    assert.deepEqual(await exitOf(again.process), { code: 0, signal: null });
    again.stop();
  });

  test(`a failed run: the process exits ${EXIT_RUN_FAILED}`, async () => {
    const trainer = await spawnTrainer(
      env(`${dir.path}/fails`, { GENGAP_TRAINER_EXIT_AFTER_RUN: '1', GENGAP_TRAINER_EXIT_GRACE_MS: '0' }),
    );
    const exited = exitOf(trainer.process);
    // A learning rate that makes the loss diverge: the run ends FAILED.
    await startRun(trainer.client, spec(1e30), 'fails');
    assert.deepEqual(await exited, { code: EXIT_RUN_FAILED, signal: null });
    trainer.stop();
  });

  test('without it, the trainer keeps serving after its run ended', async () => {
    const trainer = await spawnTrainer(env(`${dir.path}/default`, { GENGAP_TRAINER_EXIT_GRACE_MS: '0' }));
    try {
      const { run } = await startRun(trainer.client, spec(), 'default');
      await waitForRun(trainer.client, run?.runId as string);
      await new Promise((r) => setTimeout(r, 1000));
      assert.equal(trainer.process.exitCode, null, 'still running');
      assert.equal(
        (await getRun(trainer.client, run?.runId as string)).status?.state,
        JobState.JOB_STATE_SUCCEEDED,
      );
    } finally {
      trainer.stop();
    }
  });
});
