// Zhang et al.'s observation on 2,000 MNIST images with a small MLP: the network fits random labels
// perfectly (reporting when: time-to-fit), and fits true labels in fewer epochs while generalising
// (test accuracy above 85%). Data come from the real data service; training runs through the trainer.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { JobState } from '@gengap/proto/common/v1/job';
import { OptimizerKind } from '@gengap/proto/common/v1/model';
import { SplitSelection } from '@gengap/proto/data/v1/dataset';
import type { Run, RunEvent } from '@gengap/proto/trainer/v1/run';
import {
  createDataset,
  type DataService,
  Dense,
  mlpSpec,
  Relu,
  startDataService,
  startRun,
  startTrainer,
  type TrainerHandle,
  tempDir,
  waitForRun,
  watchAll,
} from './support/cluster.ts';

let dir: ReturnType<typeof tempDir>;
let data: DataService;
let trainer: TrainerHandle;

before(async () => {
  dir = tempDir('mnist');
  data = await startDataService(`${dir.path}/data`);
  trainer = await startTrainer({
    stateDir: `${dir.path}/trainer`,
    dataAddress: data.address,
    maxConcurrentRuns: 1,
  });
});

after(async () => {
  await trainer?.close();
  await data?.close();
  dir?.remove();
});

/** 2,000 training and 2,000 test images, flattened, in [0, 1]; all training labels random when asked. */
function mnist2000(randomLabels: boolean): Promise<string> {
  return createDataset(data, {
    source: { $case: 'mnist', value: { scaling: 1, flatten: true } },
    corruptions: [
      { kind: { $case: 'subsample', value: { size: 2000, splits: SplitSelection.SPLIT_SELECTION_TRAIN } } },
      { kind: { $case: 'subsample', value: { size: 2000, splits: SplitSelection.SPLIT_SELECTION_TEST } } },
      ...(randomLabels
        ? [
            {
              kind: {
                $case: 'labelNoise' as const,
                value: {
                  fraction: 1,
                  splits: SplitSelection.SPLIT_SELECTION_TRAIN,
                  exactAndAlwaysWrong: false,
                },
              },
            },
          ]
        : []),
    ],
    seed: 7,
  });
}

/** 784-512-10 ReLU MLP, Adam at 2e-3, batches of 100, until train accuracy reaches 100%. */
async function fit(datasetId: string, key: string): Promise<{ run: Run; events: RunEvent[] }> {
  const spec = mlpSpec(datasetId, 784, 10, {
    model: {
      inputShape: [784],
      numOutputs: 10,
      layers: [Dense(512), Relu, Dense(10)],
      defaultInitializer: { kind: 4 },
    },
    optimizer: { kind: OptimizerKind.OPTIMIZER_KIND_ADAM, learningRate: 0.002 },
    batchSize: 100,
    stop: { maxEpochs: 300, targetTrainAccuracy: 1 },
    metrics: { stepEvery: 20 },
    checkpoints: { everySteps: 400 },
    seed: 11,
  });
  const { run } = await startRun(trainer.client, spec, key);
  const runId = run?.runId as string;
  const final = await waitForRun(trainer.client, runId, 600_000);
  assert.equal(final.status?.state, JobState.JOB_STATE_SUCCEEDED, final.status?.error?.message);
  return { run: final, events: await watchAll(trainer.client, runId, 0, { skipStepMetrics: true }) };
}

let randomEpochs = 0;

test('an MLP fits 2,000 MNIST images with random labels and reports its time-to-fit', async () => {
  const { run, events } = await fit(await mnist2000(true), 'random-labels');
  const summary = run.summary;
  assert.equal(summary?.stopReason, 'target_train_accuracy');
  assert.equal(summary?.finalTrainAccuracy, 1);
  const ttf = summary?.timeToFit;
  assert.ok(ttf?.reached);
  assert.equal(ttf?.epoch, summary?.epochs);
  assert.equal(ttf?.step, (ttf?.epoch ?? 0) * 20);
  assert.ok((ttf?.wallSeconds ?? 0) > 0);
  const ttfEvents = events.filter((e) => e.event?.$case === 'timeToFit');
  assert.equal(ttfEvents.length, 1);
  // Random labels cannot generalise: test accuracy stays near chance.
  assert.ok((summary?.finalTestAccuracy ?? 1) < 0.2, `test accuracy ${summary?.finalTestAccuracy}`);
  randomEpochs = ttf?.epoch ?? 0;
  console.log(
    `random labels: time-to-fit epoch ${ttf?.epoch} (step ${ttf?.step}, ${ttf?.wallSeconds.toFixed(1)} s)`,
  );
});

test('the same run with true labels fits in fewer epochs and tests above 85%', async () => {
  const { run } = await fit(await mnist2000(false), 'true-labels');
  const summary = run.summary;
  const epochs = summary?.timeToFit?.epoch ?? Infinity;
  assert.ok(summary?.timeToFit?.reached);
  assert.ok(randomEpochs > 0, 'the random-label test ran first');
  assert.ok(epochs < randomEpochs, `true labels fit at epoch ${epochs}, random at ${randomEpochs}`);
  assert.ok((summary?.finalTestAccuracy ?? 0) > 0.85, `test accuracy ${summary?.finalTestAccuracy}`);
  console.log(`true labels: time-to-fit epoch ${epochs}, test accuracy ${summary?.finalTestAccuracy}`);
});
