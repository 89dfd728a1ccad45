// The experiment analyses that train runs of their own, against the real data, trainer and analysis
// services (in-process):
//  - pretrainFinetune (Erhan et al. 2010): per seed, one auto-encoder stage per hidden layer (each
//    reconstructing its layer's input over the frozen, earlier layers of the previous stage), then the
//    network fine-tuned from the last stage; the fine-tuned cells carry init = "pretrained", and the
//    comparison with the from-scratch cells is the analysis' summary_json;
//  - shiftDetection (Detectron): per trial a chain of disagreement classifiers fine-tuned from the base
//    run on a seeded query set, each leaving out the queries the ensemble so far rejected, scored by
//    EnsembleDisagreement on the same rows; p-values, power and false-positive rate in summary_json.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { JobState } from '@gengap/proto/common/v1/job';
import { Split } from '@gengap/proto/common/v1/refs';
import type { Experiment } from '@gengap/proto/coordinator/v1/experiment';
import type { Run } from '@gengap/proto/trainer/v1/run';
import type { TrainerServiceClient } from '@gengap/proto/trainer/v1/trainer_service';
import { callUnary, closeClient } from '@gengap/service-kit';
import { querySelection } from '@gengap/shift-detection';
import { RUN_LABELS } from '../src/orchestration/cell-runner.ts';
import {
  type CoordinatorHandle,
  type Running,
  startAnalysis,
  startCoordinator,
  startData,
  startTrainer,
  tempDir,
  tinySpec,
  trainerClient,
  untilFinished,
} from './support/services.ts';

const dir = tempDir('coordinator-objectives');
let data: Running;
let trainer: Running;
let analysis: Running;
let coordinator: CoordinatorHandle;
let trainers: TrainerServiceClient;

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
  trainers = trainerClient(trainer.address);
});

after(async () => {
  closeClient(trainers);
  await coordinator?.close();
  await analysis?.close();
  await trainer?.close();
  await data?.close();
  dir.remove();
});

const SUCCEEDED = JobState.JOB_STATE_SUCCEEDED;

async function run(spec: unknown, key: string): Promise<Experiment> {
  const { experiment } = await callUnary(coordinator.client, coordinator.client.startExperiment, {
    source: { $case: 'specText', value: JSON.stringify(spec) },
    idempotencyKey: key,
    labels: {},
  });
  const { experiment: done } = await untilFinished(coordinator.client, experiment?.experimentId as string);
  assert.equal(done.status?.state, SUCCEEDED, done.status?.error?.message);
  return done;
}

const trainerRun = async (runId: string): Promise<Run> =>
  (await callUnary(trainers, trainers.getRun, { runId })).run as Run;

const dense = (units: number) => ({ dense: { units } });
const relu = { activation: { activation: 'ACTIVATION_RELU' } };

test('pretrainFinetune: auto-encoder stages per hidden layer, then fine-tuning, against from scratch', async () => {
  const spec = tinySpec({
    name: 'pretraining',
    seeds: [0, 1, 2],
    sweeps: [{ axes: [{ path: 'label', name: 'init', values: ['scratch'] }] }],
    experimentAnalyses: [{ pretrainFinetune: { pretrainEpochs: 2, pretrainLearningRate: 0.05 } }],
  });
  spec.base.run.model = {
    inputShape: [8],
    numOutputs: 3,
    layers: [dense(16), relu, dense(8), relu, dense(3)],
  };
  const done = await run(spec, 'pretraining');
  const scratch = done.runs.filter((r) => r.parameters.init === '"scratch"');
  const finetuned = done.runs.filter((r) => r.parameters.init === '"pretrained"');
  const stages = done.runs.filter((r) => r.parameters.init === '"pre-training"');
  assert.equal(scratch.length, 3);
  assert.equal(finetuned.length, 3);
  assert.equal(stages.length, 6, 'two stages per seed');
  for (const r of done.runs) assert.equal(r.status?.state, SUCCEEDED, r.label);

  for (const parent of scratch) {
    const [first, second] = [0, 1].map((layer) =>
      stages.find((s) => s.seed === parent.seed && s.parameters.layer === String(layer)),
    );
    const one = await trainerRun(first?.runId as string);
    const two = await trainerRun(second?.runId as string);
    // Stage 1 reconstructs the input through hidden layer 1; stage 2 the output of hidden layer 1,
    // with it frozen and loaded from stage 1.
    assert.equal(one.spec?.reconstruction?.layer, 0);
    assert.equal(one.spec?.model?.numOutputs, 8);
    assert.equal(two.spec?.reconstruction?.layer, 2);
    assert.equal(two.spec?.model?.numOutputs, 16);
    assert.deepEqual(two.spec?.frozenParameters, ['0.dense.weight', '0.dense.bias']);
    assert.equal(
      two.spec?.initFrom?.source?.$case === 'run' && two.spec.initFrom.source.value.runId,
      first?.runId,
    );
    assert.ok((two.summary?.finalTrainLoss ?? Number.NaN) >= 0, 'a reconstruction error');
    const tuned = finetuned.find((f) => f.seed === parent.seed);
    const tunedRun = await trainerRun(tuned?.runId as string);
    assert.equal(
      tunedRun.spec?.initFrom?.source?.$case === 'run' && tunedRun.spec.initFrom.source.value.runId,
      second?.runId,
    );
    assert.deepEqual(tunedRun.spec?.frozenParameters, [], 'every layer fine-tuned');
    assert.deepEqual(
      tunedRun.spec?.model,
      (await trainerRun(parent.runId)).spec?.model,
      "the parent's network",
    );
  }

  const summary = done.experimentAnalyses.find((a) => a.name === 'pretrainFinetune0');
  assert.equal(summary?.status?.state, SUCCEEDED, summary?.status?.phase);
  const result = JSON.parse(summary?.summaryJson ?? '{}');
  assert.equal(result.arms.length, 1);
  assert.equal(result.arms[0].pretrained.n, 3);
  assert.equal(result.arms[0].scratch.n, 3);
  assert.equal(result.stages.length, 6);

  // Every cell ran exactly one trainer run.
  const { runs } = await callUnary(trainers, trainers.listRuns, {
    labels: { [RUN_LABELS.experiment]: done.experimentId },
    state: 0,
  });
  assert.equal(runs.length, done.runs.length);
});

test('pretrainFinetune with input masking: denoising stages, the same parameter names through to fine-tuning', async () => {
  const spec = tinySpec({
    name: 'denoising',
    seeds: [0],
    sweeps: [{ axes: [{ path: 'label', name: 'init', values: ['scratch'] }] }],
    experimentAnalyses: [
      { pretrainFinetune: { pretrainEpochs: 2, pretrainLearningRate: 0.05, inputMasking: 0.3 } },
    ],
  });
  spec.base.run.model = {
    inputShape: [8],
    numOutputs: 3,
    layers: [dense(16), relu, dense(8), relu, dense(3)],
  };
  // Stages, and the fine-tuning that loads the last one by parameter name, all succeed.
  const done = await run(spec, 'denoising');
  for (const r of done.runs) assert.equal(r.status?.state, SUCCEEDED, r.label);
  const stages = done.runs.filter((r) => r.parameters.init === '"pre-training"');
  assert.equal(stages.length, 2);
  const [one, two] = await Promise.all(
    [0, 1].map(async (layer) => {
      const stage = stages.find((s) => s.parameters.layer === String(layer));
      return (await trainerRun(stage?.runId as string)).spec;
    }),
  );
  // Stage 1: masking in front of the first dense layer, the target its clean input (the model input).
  assert.deepEqual(
    one?.model?.layers.map((l) => [l.name, l.kind?.$case]),
    [
      ['pretrain_masking_0', 'dropout'],
      ['0.dense', 'dense'],
      ['1.activation', 'activation'],
      ['pretrain_decoder_0', 'dense'],
    ],
  );
  assert.equal(one?.reconstruction?.layer, 0);
  const masking = one?.model?.layers[0]?.kind;
  assert.equal(masking?.$case === 'dropout' && masking.value.rate, 0.3);
  // Stage 2: the frozen first layer keeps its name, the masking sits in front of the second.
  assert.deepEqual(
    two?.model?.layers.map((l) => l.name),
    ['0.dense', '1.activation', 'pretrain_masking_1', '2.dense', '3.activation', 'pretrain_decoder_1'],
  );
  assert.equal(two?.reconstruction?.layer, 2);
  assert.deepEqual(two?.frozenParameters, ['0.dense.weight', '0.dense.bias']);
  const summary = done.experimentAnalyses.find((a) => a.name === 'pretrainFinetune0');
  assert.equal(summary?.status?.state, SUCCEEDED, summary?.status?.phase);

  // Out of range: refused with the field path.
  const bad = tinySpec({
    name: 'denoising-bad',
    experimentAnalyses: [{ pretrainFinetune: { inputMasking: 1 } }],
  });
  await assert.rejects(
    callUnary(coordinator.client, coordinator.client.startExperiment, {
      source: { $case: 'specText', value: JSON.stringify(bad) },
      idempotencyKey: 'denoising-bad',
      labels: {},
    }),
    (err: { code?: number; details?: string }) => err.code === 3 && /inputMasking/.test(err.details ?? ''),
  );
});

test('shiftDetection: CDC chains with refinement, scored on the same query rows; p-values, power, false-positive rate', async () => {
  const trials = 4;
  const spec = {
    name: 'detectron',
    base: {
      dataset: {
        gaussianMixture: { numClasses: 4, dimension: 64, trainSize: 500, testSize: 200, separation: 6 },
        seed: 5,
      },
      run: {
        model: { inputShape: [64], numOutputs: 4, layers: [dense(32), relu, dense(4)] },
        optimizer: { kind: 'OPTIMIZER_KIND_ADAM', learningRate: 0.003 },
        batchSize: 50,
        stop: { maxEpochs: 10 },
        threads: 1,
      },
    },
    experimentAnalyses: [
      {
        shiftDetection: {
          shift: { kind: 'SHIFT_KIND_NOISE', severity: 2 },
          ensembleSize: 2,
          querySize: 30,
          trials,
          significance: 0.25,
          finetuneEpochs: 15,
        },
      },
    ],
  };
  const done = await run(spec, 'detectron');
  const cdcs = done.runs.filter((r) => r.parameters.member !== undefined);
  assert.ok(cdcs.length > 2 * trials && cdcs.length <= 2 * trials * 2, `${cdcs.length} CDCs`);
  for (const c of cdcs) assert.equal(c.status?.state, SUCCEEDED, c.label);

  const summary = done.experimentAnalyses.find((a) => a.name === 'shiftDetection0');
  assert.equal(summary?.status?.state, SUCCEEDED, summary?.status?.phase);
  const result = JSON.parse(summary?.summaryJson ?? '{}');
  assert.equal(result.perTrial.length, 2 * trials);
  assert.equal(result.disagreement.nulls.length, trials);
  assert.equal(result.disagreement.pValues.length, trials);
  assert.equal(result.disagreement.nullPValues.length, trials);
  for (const p of [...result.disagreement.pValues, ...result.entropy.pValues]) assert.ok(p > 0 && p <= 1);
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  // The CDCs were trained on the rows EnsembleDisagreement scores: they disagree there on shifted data.
  assert.ok(mean(result.disagreement.shifted) >= 0.5, `shifted ${result.disagreement.shifted}`);
  assert.ok(
    mean(result.disagreement.nulls) < mean(result.disagreement.shifted) / 2,
    `null ${result.disagreement.nulls}`,
  );
  assert.equal(result.disagreement.power, 1, 'every shifted query set rejected at 0.25');
  assert.ok(result.disagreement.falsePositiveRate <= 0.5);

  // Refinement: a second CDC leaves out the queries its predecessor was scored as rejecting.
  const second = cdcs.find((c) => c.parameters.member === '1' && c.parameters.query === '"shifted"');
  const secondRun = await trainerRun(second?.runId as string);
  const objective = secondRun.spec?.disagreement;
  assert.ok(objective?.shuffleQuery);
  const selection = new Set(
    querySelection({
      count: 200,
      size: 30,
      shuffle: true,
      seed: objective?.querySeed ?? 0,
      split: Split.SPLIT_TEST,
    }),
  );
  assert.ok((objective?.excludedQueryIndices.length ?? 0) > 0, 'rejected queries are left out');
  assert.ok(
    objective?.excludedQueryIndices.every((i) => selection.has(i)),
    'indices of the query split',
  );
  assert.match(summary?.status?.phase ?? '', /power 1\.00/);
});
