// Analyses attached to runs and to the experiment, against the real analysis service: every k
// epochs on permanent checkpoints, filtered by cell label, repeated on a RESCALE's checkpoint;
// paired runs on neighbouring datasets (stability), statistics across runs, a teacher-student
// chain (the student is trained on the teacher's soft labels). Pre-training and shift detection, which
// train runs of their own, are in pretraining-and-shift-detection.test.ts.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { JobState } from '@gengap/proto/common/v1/job';
import { callUnary } from '@gengap/service-kit';
import {
  type CoordinatorHandle,
  type Running,
  startAnalysis,
  startCoordinator,
  startData,
  startTrainer,
  tempDir,
  tinySpec,
  untilFinished,
} from './support/services.ts';

const dir = tempDir('coordinator-analyses');
let data: Running;
let trainer: Running;
let analysis: Running;
let coordinator: CoordinatorHandle;

before(async () => {
  data = await startData(join(dir.path, 'data'));
  trainer = await startTrainer(join(dir.path, 'trainer'), data.address);
  analysis = await startAnalysis(join(dir.path, 'analysis'), trainer.address, data.address);
  coordinator = await startCoordinator({
    stateDir: join(dir.path, 'coordinator'),
    dataAddress: data.address,
    trainerAddresses: [trainer.address],
    analysisAddress: analysis.address,
  });
});

after(async () => {
  await coordinator?.close();
  await analysis?.close();
  await trainer?.close();
  await data?.close();
  dir.remove();
});

const SUCCEEDED = JobState.JOB_STATE_SUCCEEDED;

test('run-level and experiment-level analyses run where they apply', async () => {
  const base = tinySpec({}, 3).base;
  base.run.checkpoints = { keepEveryEpochs: 1 };
  const spec = tinySpec({
    name: 'analyses',
    sweeps: [
      {
        mode: 'SWEEP_MODE_ZIP',
        axes: [
          { path: 'label', name: 'dataset', values: ['original', 'neighbour'] },
          {
            path: 'dataset.corruptions',
            name: 'replaced',
            values: [[], [{ replaceOne: { index: 0, replacement: 0 } }]],
          },
        ],
      },
    ],
    analyses: [
      { spec: { generalizationGap: {} }, timing: 'ANALYSIS_TIMING_EVERY_K_EPOCHS', everyEpochs: 2 },
      { spec: { rescale: { firstLayer: 0, alpha: 4 } }, cellFilter: '^original$' },
      { spec: { hessianEigen: { topK: 1 }, numExamples: 64 }, cellFilter: '^original$' },
    ],
    experimentAnalyses: [
      { pairedRuns: { axis: 'dataset', first: 'original', second: 'neighbour', spec: { stability: {} } } },
      { acrossRuns: { spec: { lateTrainingStatistics: {} } } },
      {
        teacherStudent: {
          teacherFilter: '^original$',
          temperature: 2,
          student: { run: { ...base.run, loss: { kind: 'LOSS_KIND_CROSS_ENTROPY', temperature: 2 } } },
          analyses: [{ generalizationGap: {} }],
        },
      },
    ],
  });
  spec.base = { ...spec.base, run: base.run };
  const { experiment } = await callUnary(coordinator.client, coordinator.client.startExperiment, {
    source: { $case: 'specText', value: JSON.stringify(spec) },
    idempotencyKey: 'analyses',
    labels: {},
  });
  const { experiment: done } = await untilFinished(coordinator.client, experiment?.experimentId as string);
  assert.equal(done.status?.state, SUCCEEDED, done.status?.error?.message);

  const byLabel = new Map(done.runs.map((r) => [r.label, r]));
  const original = byLabel.get('original');
  const neighbour = byLabel.get('neighbour');
  const names = (run: typeof original) => new Map(run?.analyses.map((a) => [a.name, a.status?.state]));
  const originalAnalyses = names(original);
  for (const name of ['generalizationGap@epoch2', 'rescale', 'hessianEigen', 'hessianEigen@rescale'])
    assert.equal(originalAnalyses.get(name), SUCCEEDED, `${name}: ${JSON.stringify([...originalAnalyses])}`);
  assert.equal(originalAnalyses.has('generalizationGap@rescale'), false, 'every-k analyses stay on the run');
  assert.deepEqual([...names(neighbour).keys()], ['generalizationGap@epoch2'], 'the cell filter applies');

  const student = done.runs.find((r) => r.parameters.role === '"student"');
  assert.equal(student?.status?.state, SUCCEEDED);
  assert.equal(student?.label, 'student (T=2) of original');
  assert.equal(names(student).get('teacherStudent2:generalizationGap#1'), SUCCEEDED);
  assert.equal(originalAnalyses.get('teacherStudent2:generalizationGap#1'), SUCCEEDED);

  const experimentLevel = new Map(done.experimentAnalyses.map((a) => [a.name, a]));
  const paired = [...experimentLevel.values()].find((a) => a.name.startsWith('paired0:stability:'));
  assert.equal(paired?.status?.state, SUCCEEDED, JSON.stringify([...experimentLevel.keys()]));
  assert.equal(paired?.name, `paired0:stability:${original?.cellId}:${neighbour?.cellId}`);
  assert.equal(experimentLevel.get('across1:lateTrainingStatistics')?.status?.state, SUCCEEDED);
});
