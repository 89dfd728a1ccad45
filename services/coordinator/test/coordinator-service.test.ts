// The coordinator end to end against the real data, trainer and analysis services (in-process, on
// 127.0.0.1:0): a sweep with a deliberately failing cell, validation errors with field paths over
// gRPC, idempotent starts, resumable watches, presets, cancellation, and the report.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { JobState } from '@gengap/proto/common/v1/job';
import type { CoordinatorServiceClient } from '@gengap/proto/coordinator/v1/coordinator_service';
import { ExperimentSpec } from '@gengap/proto/coordinator/v1/experiment';
import type { TrainerServiceClient } from '@gengap/proto/trainer/v1/trainer_service';
import { callUnary, closeClient, FIELD_METADATA_KEY, readStream } from '@gengap/service-kit';
import { RUN_LABELS } from '../src/orchestration/cell-runner.ts';
import { buildReport } from '../src/reports/index.ts';
import { sourceFromJson } from '../src/spec/parse.ts';
import { resolveExperiment } from '../src/spec/resolve.ts';
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

const dir = tempDir('coordinator');
let data: Running;
let trainer: Running;
let analysis: Running;
let coordinator: CoordinatorHandle;
let client: CoordinatorServiceClient;
let trainers: TrainerServiceClient;

before(async () => {
  data = await startData(`${dir.path}/data`);
  trainer = await startTrainer(`${dir.path}/trainer`, data.address);
  analysis = await startAnalysis(`${dir.path}/analysis`, trainer.address, data.address);
  coordinator = await startCoordinator({
    stateDir: `${dir.path}/coordinator`,
    dataAddress: data.address,
    trainerAddresses: [trainer.address],
    analysisAddress: analysis.address,
    buildReport,
  });
  client = coordinator.client;
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

const start = (spec: unknown, key: string, labels: Record<string, string> = {}) =>
  callUnary(client, client.startExperiment, {
    source: { $case: 'specText', value: JSON.stringify(spec) },
    idempotencyKey: key,
    labels,
  });

async function trainerRunsOf(experimentId: string) {
  const { runs } = await callUnary(trainers, trainers.listRuns, {
    labels: { [RUN_LABELS.experiment]: experimentId },
    state: 0,
  });
  return runs;
}

describe('a sweep with a deliberately failing cell', () => {
  test('finishes every other cell, fails that one without retries, and reports it', async () => {
    const spec = tinySpec({
      sweeps: [{ axes: [{ path: 'run.optimizer.learningRate', values: [0.1, 1e6, 0.05] }] }],
      analyses: [{ spec: { generalizationGap: {} } }],
      execution: { maxAttempts: 3 },
    });
    const { experiment: started } = await start(spec, 'failing-cell');
    const id = started?.experimentId as string;
    const { experiment, events } = await untilFinished(client, id);

    assert.equal(experiment.status?.state, JobState.JOB_STATE_FAILED);
    assert.match(
      experiment.status?.error?.message ?? '',
      /1 of 3 runs did not succeed \(learningRate=1000000: .*non-finite/,
    );
    const byLabel = new Map(experiment.runs.map((r) => [r.label, r]));
    for (const label of ['learningRate=0.1', 'learningRate=0.05']) {
      const run = byLabel.get(label);
      assert.equal(run?.status?.state, JobState.JOB_STATE_SUCCEEDED, label);
      assert.equal(run?.attempts, 1);
      assert.ok((run?.summary?.epochs ?? 0) >= 4, 'the summary is recorded');
      const gap = run?.analyses.find((a) => a.name === 'generalizationGap');
      assert.equal(gap?.status?.state, JobState.JOB_STATE_SUCCEEDED, 'the attached analysis ran');
    }
    const failed = byLabel.get('learningRate=1000000');
    assert.equal(failed?.status?.state, JobState.JOB_STATE_FAILED);
    assert.equal(failed?.attempts, 1, 'a non-finite loss is deterministic: no second attempt');
    assert.match(failed?.status?.error?.message ?? '', /non-finite/);
    assert.equal(failed?.status?.error?.code, 11, "the trainer's OUT_OF_RANGE reaches the cell");
    assert.equal(failed?.analyses.length, 0, 'no analyses on a failed run');

    // Exactly one trainer run per cell: nothing was retried or duplicated.
    const runs = await trainerRunsOf(id);
    assert.equal(runs.length, 3);
    assert.deepEqual(
      new Set(runs.map((r) => r.labels[RUN_LABELS.cell])),
      new Set(experiment.runs.map((r) => r.cellId)),
    );

    // Epoch progress streamed, and the report was written with the failure in it.
    assert.ok(events.some((e) => e.event?.$case === 'runProgress'));
    assert.ok(existsSync(experiment.reportPath), experiment.reportPath);
    // The report is written just before the experiment turns terminal; it shows the final state.
    const report = JSON.parse(readFileSync(join(dirname(experiment.reportPath), 'report.json'), 'utf8'));
    assert.equal(report.experiment.status.state, 'JOB_STATE_FAILED');
    assert.equal(report.experiment.status.phase, 'finished with failed runs');
  });
});

test('execution.failFast: the first failed cell cancels the others', async () => {
  const spec = tinySpec(
    {
      name: 'fail-fast',
      sweeps: [{ axes: [{ path: 'run.optimizer.learningRate', values: [1e6, 0.1, 0.05, 0.02] }] }],
      execution: { failFast: true, maxConcurrentRuns: 1 },
    },
    200,
    2048,
  );
  const { experiment: started } = await start(spec, 'fail-fast');
  const { experiment } = await untilFinished(client, started?.experimentId as string);
  assert.equal(experiment.status?.state, JobState.JOB_STATE_FAILED);
  const states = experiment.runs.map((r) => r.status?.state);
  assert.equal(states[0], JobState.JOB_STATE_FAILED);
  assert.ok(
    states.slice(1).every((s) => s === JobState.JOB_STATE_CANCELLED),
    `the others are cancelled: ${JSON.stringify(states)}`,
  );
  assert.match(experiment.runs[1]?.status?.error?.message ?? '', /failFast/);
});

describe('validation', () => {
  test('StartExperiment rejects an invalid spec with INVALID_ARGUMENT and the field path', async () => {
    const bad = tinySpec();
    bad.base.run.optimizer.learningRate = -1;
    await assert.rejects(
      start(bad, 'bad'),
      (err: { code: number; metadata: { get(k: string): unknown[] } }) => {
        assert.equal(err.code, 3);
        assert.deepEqual(err.metadata.get(FIELD_METADATA_KEY), ['base.run.optimizer.learningRate']);
        return true;
      },
    );
    await assert.rejects(
      callUnary(client, client.validateExperiment, { source: { $case: 'specText', value: 'base: [' } }),
      (err: { code: number; details: string }) => err.code === 3 && /specText/.test(err.details),
    );
    const { experiments } = await callUnary(client, client.listExperiments, { state: 0 });
    assert.ok(!experiments.some((e) => e.spec?.name === 'tiny' && e.runs.length === 0));
  });

  test('ValidateExperiment resolves a preset into its cells without starting anything', async () => {
    const before = (await callUnary(client, client.listExperiments, { state: 0 })).experiments.length;
    const res = await callUnary(client, client.validateExperiment, {
      source: { $case: 'preset', value: { name: 'zhang2017', size: 'quick' } },
    });
    assert.match(res.experimentId, /^[0-9a-f]{32}$/);
    assert.equal(res.cells.length, 9);
    assert.equal(res.resolvedSpec?.schemaVersion, 1);
    assert.equal((await callUnary(client, client.listExperiments, { state: 0 })).experiments.length, before);
  });
});

describe('experiments as jobs', () => {
  test('a repeated idempotency key returns the same experiment; another key starts another', async () => {
    const spec = tinySpec({ name: 'idempotent' }, 2);
    const first = await start(spec, 'key-a', { owner: 'test' });
    const again = await start(spec, 'key-a');
    assert.equal(first.created, true);
    assert.equal(again.created, false);
    assert.equal(again.experiment?.experimentId, first.experiment?.experimentId);
    const other = await start(spec, 'key-b');
    assert.equal(other.created, true);
    assert.notEqual(other.experiment?.experimentId, first.experiment?.experimentId);
    assert.ok(other.experiment?.experimentId.startsWith(first.experiment?.experimentId as string));
    assert.deepEqual(first.experiment?.labels, { owner: 'test' });
    await untilFinished(client, first.experiment?.experimentId as string);
    await untilFinished(client, other.experiment?.experimentId as string);
  });

  test('WatchExperiment replays from any sequence, in order, without gaps', async () => {
    const { experiment } = await start(tinySpec({ name: 'watch' }, 2), 'watch');
    const id = experiment?.experimentId as string;
    const all = (await untilFinished(client, id)).events;
    assert.deepEqual(
      all.map((e) => e.sequence),
      all.map((_, i) => i),
    );
    const tail = (await untilFinished(client, id, 5)).events;
    assert.deepEqual(tail, all.slice(5));
    const last = all.at(-1)?.event;
    assert.equal(last?.$case === 'status' && last.value.state, JobState.JOB_STATE_SUCCEEDED);
  });

  test('CancelExperiment stops the experiment and cancels its trainer runs', async () => {
    const { experiment } = await start(
      tinySpec({ name: 'cancel', seeds: [1, 2, 3] }, 100_000, 2048),
      'cancel',
    );
    const id = experiment?.experimentId as string;
    for await (const message of readStream(client, client.watchExperiment, {
      experimentId: id,
      fromSequence: 0,
    })) {
      if (message.event?.event?.$case === 'runProgress') break;
    }
    const cancelled = (await callUnary(client, client.cancelExperiment, { experimentId: id })).experiment;
    assert.equal(cancelled?.status?.state, JobState.JOB_STATE_CANCELLED);
    assert.ok(cancelled?.runs.every((r) => r.status?.state === JobState.JOB_STATE_CANCELLED));
    for (let i = 0; i < 50; i++) {
      const runs = await trainerRunsOf(id);
      if (runs.every((r) => r.status?.state === JobState.JOB_STATE_CANCELLED)) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const runs = await trainerRunsOf(id);
    assert.ok(runs.length >= 1);
    assert.ok(
      runs.every((r) => r.status?.state === JobState.JOB_STATE_CANCELLED),
      'its trainer runs are cancelled',
    );
  });

  test('GetExperiment and CancelExperiment answer NOT_FOUND for unknown ids, INVALID_ARGUMENT for none', async () => {
    await assert.rejects(callUnary(client, client.getExperiment, { experimentId: 'nope' }), { code: 5 });
    await assert.rejects(callUnary(client, client.cancelExperiment, { experimentId: '' }), { code: 3 });
  });
});

test('an experiment stored without its cells (a crash in between) gets them back when resumed', async () => {
  const resolved = resolveExperiment(sourceFromJson(tinySpec({ name: 'no-cells' }, 2)));
  coordinator.service.store.createExperiment(
    {
      id: resolved.experimentId,
      idempotencyKey: 'no-cells',
      specHash: resolved.experimentId,
      spec: ExperimentSpec.encode(resolved.spec).finish(),
    },
    '',
  );
  await coordinator.service.coordinator.resumeAll();
  const { experiment } = await untilFinished(client, resolved.experimentId);
  assert.equal(experiment.status?.state, JobState.JOB_STATE_SUCCEEDED);
  assert.deepEqual(
    experiment.runs.map((r) => r.cellId),
    resolved.cells.map((c) => c.cellId),
  );
});

test('ListPresets lists the fifteen presets and what each cannot run here', async () => {
  const { presets } = await callUnary(client, client.listPresets, {});
  assert.equal(presets.length, 15);
  const zhang = presets.find((p) => p.name === 'zhang2017');
  assert.deepEqual(zhang?.sizes, ['quick', 'full']);
  assert.deepEqual(zhang?.missingAnalyses, [], 'zhang2017 needs only what exists');
  const erhan = presets.find((p) => p.name === 'erhan2010');
  assert.ok(!erhan?.missingAnalyses.some((m) => m.startsWith('pretrainFinetune')), 'pre-training runs');
  assert.deepEqual(presets.find((p) => p.name === 'detectron')?.missingAnalyses, []);
});

test('BuildReport rebuilds the report of a finished experiment', async () => {
  const { experiment } = await start(tinySpec({ name: 'report' }, 2), 'report');
  const id = experiment?.experimentId as string;
  await untilFinished(client, id);
  const built = await callUnary(client, client.buildReport, { experimentId: id });
  assert.ok(built.reportPath.endsWith(`${id}/index.html`));
  assert.ok(existsSync(built.reportPath));
});
