// A trainer killed with SIGKILL at seeded random points resumes its run from the last checkpoint when it
// starts again, and ends with exactly the parameters of an uninterrupted run (bitwise: CPU, one thread),
// with every metric stored once; also a disagreement run, whose batches mix training and query rows. The trainer runs as a child process (node services/trainer/src/main.ts);
// the data service runs in this process.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { JobState } from '@gengap/proto/common/v1/job';
import { type RunEvent, RunSpec } from '@gengap/proto/trainer/v1/run';
import { Rng } from '@gengap/random';
import { readStream } from '@gengap/service-kit';
import {
  createDataset,
  type DataService,
  killTrainers,
  mlpSpec,
  readParameters,
  spawnTrainer,
  startDataService,
  startRun,
  tempDir,
  waitForRun,
  watchAll,
} from './support/cluster.ts';

let dir: ReturnType<typeof tempDir>;
let data: DataService;
let datasetId: string;

before(async () => {
  dir = tempDir('crash');
  data = await startDataService(`${dir.path}/data`);
  datasetId = await createDataset(data, {
    source: {
      $case: 'gaussianMixture',
      value: { numClasses: 4, dimension: 16, trainSize: 1000, testSize: 200, separation: 3, clusterStd: 1 },
    },
    seed: 5,
  });
  await runReference();
});

after(async () => {
  killTrainers();
  await data?.close();
  dir?.remove();
});

// Momentum SGD with dropout and a step schedule, so optimizer state, dropout masks (seed, step) and the
// learning rate all have to be restored exactly. 20 epochs of 40 steps; a resume checkpoint every 30
// steps, so kills land both between and right after checkpoints, mid-epoch.
const spec = () =>
  mlpSpec(datasetId, 16, 4, {
    model: {
      inputShape: [16],
      numOutputs: 4,
      layers: [
        { kind: { $case: 'dense', value: { units: 64 } } },
        { kind: { $case: 'activation', value: { activation: 1 } } },
        { kind: { $case: 'dropout', value: { rate: 0.2 } } },
        { kind: { $case: 'dense', value: { units: 4 } } },
      ],
      defaultInitializer: { kind: 4 },
    },
    optimizer: { kind: 2, learningRate: 0.05, momentum: 0.9 },
    schedule: { kind: 2, stepSize: 200, gamma: 0.5 },
    batchSize: 25,
    stop: { maxEpochs: 20 },
    checkpoints: { everySteps: 30 },
    stepsPerCall: 8,
    threads: 1,
    seed: 99,
  });

const env = (stateDir: string) => ({
  GENGAP_STATE_DIR: stateDir,
  GENGAP_DATA_ADDRESS: data.address,
  GENGAP_THREADS_PER_RUN: '1',
  GENGAP_MAX_CONCURRENT_RUNS: '1',
});

async function finalParameters(client: Parameters<typeof readParameters>[0], runId: string) {
  const { tensors } = await readParameters(client, runId);
  return new Map([...tensors].map(([name, t]) => [name, Buffer.from(t.data).toString('hex')]));
}

let expected: Map<string, string>;
let referenceEvents: RunEvent[];

/** The uninterrupted reference run, in its own trainer process. */
async function runReference(): Promise<void> {
  const reference = await spawnTrainer(env(`${dir.path}/reference`));
  try {
    const { run } = await startRun(reference.client, spec(), 'reference');
    const done = await waitForRun(reference.client, run?.runId as string);
    assert.equal(done.status?.state, JobState.JOB_STATE_SUCCEEDED, done.status?.error?.message);
    expected = await finalParameters(reference.client, run?.runId as string);
    referenceEvents = await watchAll(reference.client, run?.runId as string);
  } finally {
    reference.stop();
  }
}

test('SIGKILL at seeded random points, then restart: same final parameters as an uninterrupted run, no duplicated metrics', async () => {
  // The same run, killed twice at seeded random steps.
  const stateDir = `${dir.path}/crashing`;
  const rng = new Rng(20241126, 'kill-points');
  const totalSteps = 20 * 40;
  const killAt = [80 + rng.int(300), 420 + rng.int(300)];
  let runId = '';
  for (const [attempt, step] of killAt.entries()) {
    const trainer = await spawnTrainer(env(stateDir));
    if (attempt === 0) runId = (await startRun(trainer.client, spec(), 'crashing')).run?.runId as string;
    // Follow the run's events and kill the trainer as soon as step `step` has been reported.
    const request = { runId, fromSequence: 0, skipStepMetrics: false };
    let killed = false;
    for await (const message of readStream(trainer.client, trainer.client.watchRun, request)) {
      const event = message.event?.event;
      if (event?.$case === 'step' && event.value.step >= step) {
        trainer.process.kill('SIGKILL');
        killed = true;
        break;
      }
    }
    assert.ok(killed, `the run reached step ${step} before finishing`);
    await new Promise((resolve) => trainer.process.once('exit', resolve));
    trainer.stop();
  }
  const restarted = await spawnTrainer(env(stateDir));
  try {
    const done = await waitForRun(restarted.client, runId);
    assert.equal(done.status?.state, JobState.JOB_STATE_SUCCEEDED, done.status?.error?.message);
    assert.equal(done.status?.attempt, 3);
    assert.equal(done.summary?.steps, totalSteps);
    const actual = await finalParameters(restarted.client, runId);
    assert.deepEqual([...actual.keys()].sort(), [...expected.keys()].sort());
    for (const [name, hex] of expected) assert.equal(actual.get(name), hex, `parameter ${name} differs`);

    // Every metric exactly once, with the values of the uninterrupted run.
    const events = await watchAll(restarted.client, runId);
    assert.deepEqual(
      events.map((e) => e.sequence),
      events.map((_, i) => i),
    );
    const steps = events.flatMap((e) => (e.event?.$case === 'step' ? [e.event.value] : []));
    const referenceSteps = referenceEvents.flatMap((e) => (e.event?.$case === 'step' ? [e.event.value] : []));
    assert.deepEqual(
      steps.map((s) => s.step),
      Array.from({ length: totalSteps }, (_, i) => i + 1),
    );
    assert.deepEqual(steps, referenceSteps);
    const epochs = events.flatMap((e) => (e.event?.$case === 'epoch' ? [e.event.value.epoch] : []));
    assert.deepEqual(
      epochs,
      Array.from({ length: 20 }, (_, i) => i + 1),
    );
    const statuses = events.flatMap((e) =>
      e.event?.$case === 'status' ? [[e.event.value.state, e.event.value.attempt]] : [],
    );
    assert.deepEqual(statuses, [
      [JobState.JOB_STATE_QUEUED, 0],
      [JobState.JOB_STATE_RUNNING, 1],
      [JobState.JOB_STATE_RUNNING, 2],
      [JobState.JOB_STATE_RUNNING, 3],
      [JobState.JOB_STATE_SUCCEEDED, 3],
    ]);
  } finally {
    restarted.stop();
  }
});

test('SIGTERM stops the trainer gracefully mid-run; the next start resumes the run to the same parameters', async () => {
  const stateDir = `${dir.path}/terminated`;
  const trainer = await spawnTrainer(env(stateDir));
  const runId = (await startRun(trainer.client, spec(), 'terminated')).run?.runId as string;
  const request = { runId, fromSequence: 0, skipStepMetrics: false };
  for await (const message of readStream(trainer.client, trainer.client.watchRun, request)) {
    const event = message.event?.event;
    if (event?.$case === 'step' && event.value.step >= 250) break;
  }
  const exited = new Promise<number | null>((resolve) =>
    trainer.process.once('exit', (code) => resolve(code)),
  );
  trainer.process.kill('SIGTERM');
  assert.equal(await exited, 0, 'graceful shutdown exits 0');
  trainer.stop();
  const restarted = await spawnTrainer(env(stateDir));
  try {
    const done = await waitForRun(restarted.client, runId);
    assert.equal(done.status?.state, JobState.JOB_STATE_SUCCEEDED, done.status?.error?.message);
    assert.equal(done.status?.attempt, 2);
    const actual = await finalParameters(restarted.client, runId);
    for (const [name, hex] of expected) assert.equal(actual.get(name), hex, `parameter ${name} differs`);
    const steps = (await watchAll(restarted.client, runId)).filter((e) => e.event?.$case === 'step');
    assert.equal(steps.length, 20 * 40);
  } finally {
    restarted.stop();
  }
});

test("a disagreement run (training rows and Detectron's query rows mixed in every batch) killed mid-way resumes to the parameters of an uninterrupted one", async () => {
  const stateDir = `${dir.path}/disagreement`;
  const queryId = await createDataset(data, {
    source: {
      $case: 'gaussianMixture',
      value: { numClasses: 4, dimension: 16, trainSize: 1000, testSize: 200, separation: 3, clusterStd: 1 },
    },
    seed: 5,
    corruptions: [
      { kind: { $case: 'covariateShift', value: { kind: 1, severity: 2, classes: [], splits: 2 } } },
    ],
  });
  let trainer = await spawnTrainer(env(stateDir));
  const baseSpec = RunSpec.fromPartial({ ...spec(), stop: { maxEpochs: 5 } });
  const base = (await startRun(trainer.client, baseSpec, 'disagreement-base')).run?.runId as string;
  assert.equal((await waitForRun(trainer.client, base)).status?.state, JobState.JOB_STATE_SUCCEEDED);
  const ref = { source: { $case: 'run' as const, value: { runId: base, step: 0 } } };
  // 1,000 training rows + 50 query rows in batches of 25: 42 steps per epoch, 6 epochs.
  const disagreementSpec = () =>
    RunSpec.fromPartial({
      ...spec(),
      initFrom: ref,
      disagreement: { base: ref, query: { datasetId: queryId }, querySize: 50 },
      stop: { maxEpochs: 6 },
      seed: 3,
    });
  const reference = (await startRun(trainer.client, disagreementSpec(), 'disagreement-reference')).run
    ?.runId as string;
  assert.equal((await waitForRun(trainer.client, reference)).status?.state, JobState.JOB_STATE_SUCCEEDED);
  const uninterrupted = await finalParameters(trainer.client, reference);

  const runId = (await startRun(trainer.client, disagreementSpec(), 'disagreement-crashing')).run
    ?.runId as string;
  const killAt = 60 + new Rng(7, 'disagreement-kill').int(120);
  for await (const message of readStream(trainer.client, trainer.client.watchRun, {
    runId,
    fromSequence: 0,
    skipStepMetrics: false,
  })) {
    const event = message.event?.event;
    if (event?.$case === 'step' && event.value.step >= killAt) {
      trainer.process.kill('SIGKILL');
      break;
    }
  }
  await new Promise((resolve) => trainer.process.once('exit', resolve));
  trainer.stop();
  trainer = await spawnTrainer(env(stateDir));
  try {
    const done = await waitForRun(trainer.client, runId);
    assert.equal(done.status?.state, JobState.JOB_STATE_SUCCEEDED, done.status?.error?.message);
    assert.equal(done.status?.attempt, 2);
    assert.equal(done.summary?.steps, 6 * 42);
    const actual = await finalParameters(trainer.client, runId);
    for (const [name, hex] of uninterrupted) assert.equal(actual.get(name), hex, `parameter ${name} differs`);
    const steps = (await watchAll(trainer.client, runId)).filter((e) => e.event?.$case === 'step');
    assert.equal(steps.length, 6 * 42, 'every step metric once');
  } finally {
    trainer.stop();
  }
});
