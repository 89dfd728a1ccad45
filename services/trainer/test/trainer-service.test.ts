// The trainer service end to end on a small Gaussian-mixture dataset, through its gRPC API with the
// real data service: run lifecycle and metrics, idempotency, validation, CUDA refusal, capacity,
// cancellation, resumable watch streams, divergence, parameter streaming, chunking invariance, and
// teacher-student / fine-tuning runs.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { JobState } from '@gengap/proto/common/v1/job';
import { Device, LossKind, Precision, ScheduleKind } from '@gengap/proto/common/v1/model';
import type { RunEvent } from '@gengap/proto/trainer/v1/run';
import type { ListRunsRequest } from '@gengap/proto/trainer/v1/trainer_service';
import { callUnary, readStream } from '@gengap/service-kit';
import {
  createDataset,
  type DataService,
  getRun,
  mlpSpec,
  readParameters,
  type SpecFields,
  startDataService,
  startRun,
  startTrainer,
  type TrainerHandle,
  tempDir,
  waitForRun,
  waitUntil,
  watchAll,
} from './support/cluster.ts';

const FEATURES = 8;
const CLASSES = 3;

let dir: ReturnType<typeof tempDir>;
let data: DataService;
let trainer: TrainerHandle;
let datasetId: string;

before(async () => {
  dir = tempDir('trainer');
  data = await startDataService(`${dir.path}/data`);
  datasetId = await createDataset(data, {
    source: {
      $case: 'gaussianMixture',
      value: {
        numClasses: CLASSES,
        dimension: FEATURES,
        trainSize: 600,
        testSize: 300,
        separation: 4,
        clusterStd: 1,
      },
    },
    seed: 3,
  });
  trainer = await startTrainer({
    stateDir: `${dir.path}/trainer`,
    dataAddress: data.address,
    maxConcurrentRuns: 2,
  });
});

after(async () => {
  await trainer?.close();
  await data?.close();
  dir?.remove();
});

const spec = (fields: SpecFields = {}) => mlpSpec(datasetId, FEATURES, CLASSES, fields);

function statusCode(err: unknown): number | undefined {
  return (err as { code?: number }).code;
}

function fieldOf(err: unknown): string | undefined {
  return (err as { metadata?: { get(k: string): unknown[] } }).metadata?.get('gengap-field')[0] as
    | string
    | undefined;
}

type EventBody = NonNullable<RunEvent['event']>;
type ValueOf<C extends EventBody['$case']> = Extract<EventBody, { $case: C }>['value'];

function ofCase<C extends EventBody['$case']>(events: RunEvent[], c: C): ValueOf<C>[] {
  const out: ValueOf<C>[] = [];
  for (const e of events) if (e.event?.$case === c) out.push(e.event.value as ValueOf<C>);
  return out;
}

const listRuns = (fields: Partial<ListRunsRequest> = {}) =>
  callUnary(trainer.client, trainer.client.listRuns, {
    state: JobState.JOB_STATE_UNSPECIFIED,
    labels: {},
    ...fields,
  });

describe('runs', () => {
  let completedRunId: string;

  test('a run trains, streams per-step and per-epoch metrics, and ends with a summary and checkpoints', async () => {
    const { run, created } = await startRun(trainer.client, spec(), 'basic', { experiment: 'e1' });
    assert.ok(created);
    const runId = run?.runId as string;
    completedRunId = runId;
    const events = await watchAll(trainer.client, runId);
    assert.deepEqual(
      events.map((e) => e.sequence),
      events.map((_, i) => i),
      'sequence numbers start at 0 without gaps',
    );
    const statuses = ofCase(events, 'status').map((s) => s.state);
    assert.deepEqual(statuses, [
      JobState.JOB_STATE_QUEUED,
      JobState.JOB_STATE_RUNNING,
      JobState.JOB_STATE_SUCCEEDED,
    ]);
    const steps = ofCase(events, 'step');
    assert.equal(steps.length, 5 * 12, '600 examples / 50 per batch = 12 steps per epoch');
    assert.deepEqual(
      steps.map((s) => s.step),
      steps.map((_, i) => i + 1),
    );
    assert.ok(steps.every((s) => s.learningRate === 0.1 && s.gradientNorm > 0 && Number.isFinite(s.loss)));
    const epochs = ofCase(events, 'epoch');
    assert.deepEqual(
      epochs.map((e) => e.epoch),
      [1, 2, 3, 4, 5],
    );
    assert.ok(epochs.every((e) => e.parameterNorm > 0 && e.wallSeconds > 0 && e.testAccuracy >= 0));
    const final = await getRun(trainer.client, runId);
    const summary = final.summary;
    assert.equal(summary?.steps, 60);
    assert.equal(summary?.epochs, 5);
    assert.equal(summary?.stopReason, 'max_epochs');
    assert.ok((summary?.finalTrainAccuracy ?? 0) > 0.8, `train accuracy ${summary?.finalTrainAccuracy}`);
    assert.ok((summary?.finalTestAccuracy ?? 0) > 0.8, `test accuracy ${summary?.finalTestAccuracy}`);
    assert.ok((summary?.numParameters ?? 0) === FEATURES * 32 + 32 + 32 * CLASSES + CLASSES);
    assert.equal(final.labels.experiment, 'e1');
    const finalCheckpoint = final.checkpoints.at(-1);
    assert.equal(finalCheckpoint?.step, 60);
    assert.ok(finalCheckpoint?.permanent);
    assert.equal(finalCheckpoint?.sha256Hex.length, 64);
    // Resume checkpoints (one per epoch) were pruned as newer ones landed; the final one stays.
    assert.equal(final.checkpoints.filter((c) => !c.permanent).length, 0);
    const listed = await listRuns({ state: JobState.JOB_STATE_SUCCEEDED, labels: { experiment: 'e1' } });
    assert.deepEqual(
      listed.runs.map((r) => r.runId),
      [runId],
    );
  });

  test('StartRun is idempotent on the key and refuses the key with another spec', async () => {
    const first = await startRun(trainer.client, spec({ stop: { maxEpochs: 1 } }), 'idem');
    const again = await startRun(trainer.client, spec({ stop: { maxEpochs: 1 } }), 'idem');
    assert.equal(again.created, false);
    assert.equal(again.run?.runId, first.run?.runId);
    await assert.rejects(
      startRun(trainer.client, spec({ stop: { maxEpochs: 2 } }), 'idem'),
      (err) => statusCode(err) === 6,
    );
    await waitForRun(trainer.client, first.run?.runId as string);
  });

  test('invalid specs are refused with the field path, before anything is stored', async () => {
    const before = (await listRuns()).runs.length;
    const cases: [SpecFields, string][] = [
      [
        {
          optimizer: {
            kind: 1,
            learningRate: 0,
            momentum: 0,
            beta1: 0,
            beta2: 0,
            epsilon: 0,
            trustCoefficient: 0,
          },
        },
        'spec.optimizer.learning_rate',
      ],
      [
        {
          stop: {
            maxEpochs: 0,
            maxSteps: 0,
            targetTrainAccuracy: 0,
            targetTrainLoss: 0,
            maxWallSeconds: 0,
            patienceEpochs: 0,
          },
        },
        'spec.stop',
      ],
      [{ dataset: { datasetId: 'no-such-dataset' } }, 'spec.dataset.dataset_id'],
      [{ batchSize: 100_000 }, 'spec.batch_size'],
    ];
    for (const [fields, field] of cases) {
      await assert.rejects(startRun(trainer.client, spec(fields), `invalid-${field}`), (err) => {
        assert.equal(statusCode(err), 3, `${field}: ${(err as Error).message}`);
        assert.equal(fieldOf(err), field);
        return true;
      });
    }
    const wrongShape = spec();
    wrongShape.model = { ...(wrongShape.model as NonNullable<typeof wrongShape.model>), inputShape: [7] };
    await assert.rejects(
      startRun(trainer.client, wrongShape, 'invalid-shape'),
      (err) => fieldOf(err) === 'spec.model.input_shape',
    );
    await assert.rejects(startRun(trainer.client, spec(), ''), (err) => fieldOf(err) === 'idempotency_key');
    const afterCount = (await listRuns()).runs.length;
    assert.equal(afterCount, before);
  });

  test('a run asking for CUDA on a machine without it fails with FAILED_PRECONDITION', async () => {
    const info = await callUnary(trainer.client, trainer.client.getTrainerInfo, {});
    if (info.devices.includes(Device.DEVICE_CUDA)) return; // a GPU machine: nothing to refuse
    await assert.rejects(startRun(trainer.client, spec({ device: Device.DEVICE_CUDA }), 'cuda'), (err) => {
      assert.equal(statusCode(err), 9);
      assert.match((err as Error).message, /CUDA.*(setup:cuda|GPU)/);
      return true;
    });
  });

  test('a run whose loss diverges ends FAILED with the step and reason', async () => {
    const { run } = await startRun(
      trainer.client,
      spec({
        optimizer: {
          kind: 1,
          learningRate: 1e30,
          momentum: 0,
          beta1: 0,
          beta2: 0,
          epsilon: 0,
          trustCoefficient: 0,
        },
      }),
      'diverge',
    );
    const final = await waitForRun(trainer.client, run?.runId as string);
    assert.equal(final.status?.state, JobState.JOB_STATE_FAILED);
    const error = final.status?.error;
    assert.equal(error?.code, 11, 'OUT_OF_RANGE: a non-finite loss (JobError.code)');
    assert.ok((error?.step ?? 0) >= 1, `step ${error?.step}`);
    assert.match(error?.message ?? '', /non-finite at step \d+/);
    const events = await watchAll(trainer.client, run?.runId as string);
    const steps = ofCase(events, 'step');
    assert.ok(
      steps.every((s) => Number.isFinite(s.loss)),
      'no NaN curve is stored',
    );
    assert.ok(steps.length < (error?.step ?? 0));
  });

  test('ReadParameters streams a checkpoint as checksummed chunks, with the model spec', async () => {
    const { model, tensors } = await readParameters(trainer.client, completedRunId);
    assert.deepEqual((model as { inputShape: number[] }).inputShape, [FEATURES]);
    const names = [...tensors.keys()].sort();
    assert.equal(names.length, 4);
    const total = [...tensors.values()].reduce((n, t) => n + t.data.byteLength / 4, 0);
    assert.equal(total, FEATURES * 32 + 32 + 32 * CLASSES + CLASSES);
    const withOptimizer = await readParameters(trainer.client, completedRunId, 0, true);
    assert.ok(withOptimizer.tensors.size >= tensors.size);
    await assert.rejects(readParameters(trainer.client, completedRunId, 7), (err) => statusCode(err) === 5);
    await assert.rejects(readParameters(trainer.client, 'run-unknown'), (err) => statusCode(err) === 5);
  });

  test('the number of steps per Loop call does not change the result (bitwise)', async () => {
    const base = { stop: { maxEpochs: 2 }, batchSize: 64 };
    const a = await startRun(trainer.client, spec({ ...base, stepsPerCall: 1 }), 'chunks-1');
    const b = await startRun(trainer.client, spec({ ...base, stepsPerCall: 7 }), 'chunks-7');
    await waitForRun(trainer.client, a.run?.runId as string);
    await waitForRun(trainer.client, b.run?.runId as string);
    const pa = await readParameters(trainer.client, a.run?.runId as string);
    const pb = await readParameters(trainer.client, b.run?.runId as string);
    for (const [name, t] of pa.tensors) assert.deepEqual(t.data, pb.tensors.get(name)?.data, name);
    // Full batch: one shared batch for all K steps of a call (the engine's sameBatch).
    const full = { batchSize: 0, stop: { maxSteps: 12 }, metrics: { evalEveryEpochs: 6 } };
    const c = await startRun(trainer.client, spec({ ...full, stepsPerCall: 1 }), 'full-chunks-1');
    const d = await startRun(trainer.client, spec({ ...full, stepsPerCall: 0 }), 'full-chunks-auto');
    await waitForRun(trainer.client, c.run?.runId as string);
    await waitForRun(trainer.client, d.run?.runId as string);
    const pc = await readParameters(trainer.client, c.run?.runId as string);
    const pd = await readParameters(trainer.client, d.run?.runId as string);
    for (const [name, t] of pc.tensors) assert.deepEqual(t.data, pd.tensors.get(name)?.data, name);
  });

  test('full-batch gradient descent with a warm-up + cosine schedule', async () => {
    const { run } = await startRun(
      trainer.client,
      spec({
        batchSize: 0,
        stop: { maxSteps: 20 },
        schedule: {
          kind: ScheduleKind.SCHEDULE_KIND_COSINE,
          warmupSteps: 4,
          minFactor: 0,
          stepSize: 0,
          gamma: 0,
          totalSteps: 0,
        },
        metrics: { stepEvery: 1, evalEveryEpochs: 5 },
      }),
      'full-batch',
    );
    const events = await watchAll(trainer.client, run?.runId as string);
    const rates = ofCase(events, 'step').map((s) => s.learningRate);
    assert.equal(rates.length, 20);
    assert.ok(Math.abs((rates[0] as number) - 0.025) < 1e-12);
    assert.ok(Math.abs((rates[3] as number) - 0.1) < 1e-12);
    assert.ok((rates[19] as number) < 0.01);
    const epochs = ofCase(events, 'epoch');
    assert.deepEqual(
      epochs.map((e) => e.step),
      [5, 10, 15, 20],
    );
  });

  test('trajectory projections, per-example correctness and time-to-fit are recorded', async () => {
    const { run } = await startRun(
      trainer.client,
      spec({
        stop: { maxEpochs: 3 },
        metrics: {
          stepEvery: 4,
          trajectoryEvery: 6,
          trajectoryDimension: 16,
          trajectorySeed: 9,
          perExampleCorrectness: true,
          evalTrainSubset: 100,
        },
        checkpoints: { everySteps: 0, keepEpochs: [1], keepEveryEpochs: 0 },
      }),
      'trajectory',
    );
    const events = await watchAll(trainer.client, run?.runId as string);
    const trajectory = ofCase(events, 'trajectory');
    assert.deepEqual(
      trajectory.map((t) => t.step),
      [6, 12, 18, 24, 30, 36],
    );
    assert.ok(trajectory.every((t) => t.projection.length === 16));
    const correctness = ofCase(events, 'exampleCorrectness');
    assert.equal(correctness.length, 3);
    assert.ok(correctness.every((c) => c.numExamples === 100 && c.correctBitmap.byteLength === 13));
    assert.equal(ofCase(events, 'step').length, 9);
    const final = await getRun(trainer.client, run?.runId as string);
    assert.deepEqual(
      final.checkpoints.map((c) => [c.step, c.permanent]),
      [
        [12, true],
        [36, true],
      ],
    );
    const ttf = ofCase(events, 'timeToFit');
    assert.equal(ttf.length, final.summary?.timeToFit?.reached ? 1 : 0);
  });
});

describe('options', () => {
  test('float64 precision, frozen parameters and the full-gradient norm', async () => {
    const initial = await startRun(
      trainer.client,
      spec({ stop: { maxSteps: 1 }, optimizer: { kind: 1, learningRate: 1e-12 } }),
      'frozen-ref',
    );
    const { run } = await startRun(
      trainer.client,
      spec({
        precision: Precision.PRECISION_FLOAT64,
        frozenParameters: ['0.dense.weight'],
        metrics: { fullGradientNorm: true },
        stop: { maxEpochs: 2 },
      }),
      'float64-frozen',
    );
    const done = await waitForRun(trainer.client, run?.runId as string);
    assert.equal(done.status?.state, JobState.JOB_STATE_SUCCEEDED, done.status?.error?.message);
    const events = await watchAll(trainer.client, run?.runId as string);
    assert.ok(ofCase(events, 'epoch').every((e) => e.fullGradientNormSquared > 0));
    await waitForRun(trainer.client, initial.run?.runId as string);
    const trained = await readParameters(trainer.client, run?.runId as string);
    const start = await readParameters(trainer.client, initial.run?.runId as string);
    const weight = trained.tensors.get('0.dense.weight');
    assert.equal(weight?.data.byteLength, FEATURES * 32 * 8, 'float64 parameters');
    // Frozen: the float64 run starts from the same seeded values (initialised in float64), unchanged.
    const frozen = new Float64Array(new Uint8Array(weight?.data as Uint8Array).buffer);
    const reference = new Float32Array(
      new Uint8Array(start.tensors.get('0.dense.weight')?.data as Uint8Array).buffer,
    );
    for (let i = 0; i < frozen.length; i++)
      assert.ok(Math.abs((frozen[i] as number) - (reference[i] as number)) < 1e-6);
    const bias = new Float64Array(
      new Uint8Array(trained.tensors.get('0.dense.bias')?.data as Uint8Array).buffer,
    );
    const biasStart = new Float32Array(
      new Uint8Array(start.tensors.get('0.dense.bias')?.data as Uint8Array).buffer,
    );
    assert.ok(
      bias.some((v, i) => Math.abs(v - (biasStart[i] as number)) > 1e-4),
      'unfrozen parameters train',
    );
    await assert.rejects(
      startRun(trainer.client, spec({ frozenParameters: ['no.such.parameter'] }), 'frozen-unknown'),
      (err) => statusCode(err) === 3 && fieldOf(err) === 'spec.frozen_parameters',
    );
  });
});

describe('watch streams', () => {
  test('a watch resumed from any sequence number delivers every later event exactly once', async () => {
    const { run } = await startRun(trainer.client, spec({ stop: { maxEpochs: 6 } }), 'watch-resume');
    const runId = run?.runId as string;
    // Follow live, drop the stream after a few events, resume from the next sequence number, repeat.
    const seen: RunEvent[] = [];
    const terminal = new Set<number>([
      JobState.JOB_STATE_SUCCEEDED,
      JobState.JOB_STATE_FAILED,
      JobState.JOB_STATE_CANCELLED,
    ]);
    let ended = false;
    while (!ended) {
      const fromSequence = seen.length === 0 ? 0 : (seen.at(-1)?.sequence as number) + 1;
      let taken = 0;
      const request = { runId, fromSequence, skipStepMetrics: false };
      for await (const message of readStream(trainer.client, trainer.client.watchRun, request)) {
        seen.push(message.event as RunEvent);
        taken++;
        const event = message.event?.event;
        if (event?.$case === 'status' && terminal.has(event.value.state)) ended = true;
        if (taken === 5) break; // drops the stream (cancels the call)
      }
      if (taken < 5) ended = true;
    }
    const full = await watchAll(trainer.client, runId);
    assert.deepEqual(
      seen.map((e) => e.sequence),
      full.map((e) => e.sequence),
    );
    for (const from of [0, 1, 7, Math.floor(full.length / 2), full.length - 1, full.length]) {
      const tail = await watchAll(trainer.client, runId, from);
      assert.deepEqual(
        tail.map((e) => e.sequence),
        full.slice(from).map((e) => e.sequence),
        `from ${from}`,
      );
      assert.deepEqual(tail, full.slice(from));
    }
    const epochsOnly = await watchAll(trainer.client, runId, 0, { skipStepMetrics: true });
    assert.ok(epochsOnly.every((e) => e.event?.$case !== 'step'));
    assert.equal(epochsOnly.length, full.filter((e) => e.event?.$case !== 'step').length);
  });
});

describe('capacity and cancellation', () => {
  test('past max_concurrent_runs runs queue; past max_queued_runs StartRun is RESOURCE_EXHAUSTED', async () => {
    const small = await startTrainer({
      stateDir: `${dir.path}/capacity`,
      dataAddress: data.address,
      maxConcurrentRuns: 1,
      maxQueuedRuns: 1,
    });
    try {
      const long = spec({ stop: { maxEpochs: 100_000 } });
      const a = await startRun(small.client, long, 'cap-a');
      const b = await startRun(small.client, { ...long, seed: 2 }, 'cap-b');
      assert.equal(b.run?.status?.state, JobState.JOB_STATE_QUEUED);
      await assert.rejects(startRun(small.client, { ...long, seed: 3 }, 'cap-c'), (err) => {
        assert.equal(statusCode(err), 8);
        assert.match((err as Error).message, /capacity/);
        return true;
      });
      // A repeated key of an accepted run is still answered at capacity.
      assert.equal((await startRun(small.client, long, 'cap-a')).created, false);
      const info = await callUnary(small.client, small.client.getTrainerInfo, {});
      assert.equal(info.running, 1);
      assert.equal(info.queued, 1);
      assert.equal(info.maxConcurrentRuns, 1);
      const aId = a.run?.runId as string;
      await waitUntil(small.client, aId, (r) => (r.summary?.steps ?? 0) > 0);
      const started = performance.now();
      const cancelled = await callUnary(small.client, small.client.cancelRun, { runId: aId });
      assert.equal(cancelled.run?.status?.state, JobState.JOB_STATE_CANCELLED);
      assert.ok(performance.now() - started < 5_000, 'cancellation takes effect within one Loop chunk');
      // The queued run starts once capacity frees up; cancelling it works too.
      const bId = b.run?.runId as string;
      await waitUntil(small.client, bId, (r) => r.status?.state === JobState.JOB_STATE_RUNNING);
      const cancelledB = await callUnary(small.client, small.client.cancelRun, { runId: bId });
      assert.equal(cancelledB.run?.status?.state, JobState.JOB_STATE_CANCELLED);
      const events = await watchAll(small.client, aId);
      assert.equal(ofCase(events, 'status').at(-1)?.state, JobState.JOB_STATE_CANCELLED);
    } finally {
      await small.close();
    }
  });

  test('cancelling a queued run and an unknown run', async () => {
    await assert.rejects(
      callUnary(trainer.client, trainer.client.cancelRun, { runId: 'run-nope' }),
      (err) => statusCode(err) === 5,
    );
  });
});

describe('teacher-student and fine-tuning', () => {
  test('a student trains on a teacher run’s soft labels; another run starts from a checkpoint', async () => {
    const teacherRun = await startRun(trainer.client, spec({ stop: { maxEpochs: 4 } }), 'teacher');
    const teacherId = teacherRun.run?.runId as string;
    const teacher = await waitForRun(trainer.client, teacherId);
    assert.equal(teacher.status?.state, JobState.JOB_STATE_SUCCEEDED);
    const student = await startRun(
      trainer.client,
      spec({
        seed: 5,
        loss: { kind: LossKind.LOSS_KIND_CROSS_ENTROPY, temperature: 4 },
        teacher: {
          checkpoint: { source: { $case: 'run', value: { runId: teacherId, step: 0 } } },
          temperature: 0,
        },
        stop: { maxEpochs: 4 },
      }),
      'student',
    );
    const studentRun = await waitForRun(trainer.client, student.run?.runId as string);
    assert.equal(studentRun.status?.state, JobState.JOB_STATE_SUCCEEDED, studentRun.status?.error?.message);
    assert.ok((studentRun.summary?.finalTestAccuracy ?? 0) > 0.8);

    const fineTune = await startRun(
      trainer.client,
      spec({
        seed: 6,
        initFrom: { source: { $case: 'run', value: { runId: teacherId, step: 0 } } },
        stop: { maxEpochs: 1 },
        optimizer: {
          kind: 1,
          learningRate: 0.01,
          momentum: 0,
          beta1: 0,
          beta2: 0,
          epsilon: 0,
          trustCoefficient: 0,
        },
      }),
      'fine-tune',
    );
    const tuned = await waitForRun(trainer.client, fineTune.run?.runId as string);
    assert.equal(tuned.status?.state, JobState.JOB_STATE_SUCCEEDED);
    // Starting from the teacher's weights, one epoch at a small rate keeps its accuracy.
    assert.ok(
      (tuned.summary?.finalTrainAccuracy ?? 0) >= (teacher.summary?.finalTrainAccuracy ?? 1) - 0.05,
      `${tuned.summary?.finalTrainAccuracy} vs ${teacher.summary?.finalTrainAccuracy}`,
    );
    // A reference to a run that does not exist is refused up front.
    await assert.rejects(
      startRun(
        trainer.client,
        spec({ initFrom: { source: { $case: 'run', value: { runId: 'run-missing', step: 0 } } } }),
        'fine-tune-missing',
      ),
      (err) => statusCode(err) === 3 && fieldOf(err) === 'spec.init_from.run.run_id',
    );
    // An analysis checkpoint needs the analysis service, which this trainer is not configured with.
    await assert.rejects(
      startRun(
        trainer.client,
        spec({ initFrom: { source: { $case: 'analysisId', value: 'a1' } } }),
        'fine-tune-analysis',
      ),
      (err) => statusCode(err) === 9,
    );
  });
});

describe('online datasets', () => {
  test('sparse parity draws fresh batches each step, deterministically by step', async () => {
    const parity = await createDataset(data, {
      source: {
        $case: 'sparseParity',
        value: {
          numBits: 20,
          paritySize: 3,
          hiddenCoordinates: [],
          trainSize: 0,
          testSize: 500,
          online: true,
        },
      },
      seed: 4,
    });
    const onlineSpec = (fields: SpecFields = {}) =>
      mlpSpec(parity, 20, 2, {
        batchSize: 32,
        stop: { maxEpochs: 3 },
        metrics: { stepEvery: 5, onlineEpochSteps: 40 },
        optimizer: { kind: 1, learningRate: 0.1 },
        ...fields,
      });
    const a = await startRun(trainer.client, onlineSpec(), 'parity-a');
    const b = await startRun(trainer.client, onlineSpec({ stepsPerCall: 3 }), 'parity-b');
    const runA = await waitForRun(trainer.client, a.run?.runId as string);
    const runB = await waitForRun(trainer.client, b.run?.runId as string);
    assert.equal(runA.status?.state, JobState.JOB_STATE_SUCCEEDED, runA.status?.error?.message);
    assert.equal(runA.summary?.steps, 120);
    assert.equal(runA.summary?.epochs, 3);
    const events = await watchAll(trainer.client, a.run?.runId as string);
    const epochs = ofCase(events, 'epoch');
    assert.equal(epochs.length, 3);
    // Train metrics of an online epoch are the means over its fresh batches; test metrics use the stored split.
    assert.ok(epochs.every((e) => e.trainAccuracy > 0 && e.trainAccuracy <= 1 && e.testAccuracy > 0));
    const pa = await readParameters(trainer.client, runA.runId);
    const pb = await readParameters(trainer.client, runB.runId);
    for (const [name, t] of pa.tensors) assert.deepEqual(t.data, pb.tensors.get(name)?.data, name);
    await assert.rejects(
      startRun(trainer.client, onlineSpec({ batchSize: 0 }), 'parity-full'),
      (err) => fieldOf(err) === 'spec.batch_size',
    );
  });
});
