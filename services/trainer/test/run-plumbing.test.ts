// Pure parts of the run machinery: learning-rate schedules, data order with resumable RNG state,
// checkpoints (atomic write, verification, pruning), trajectory projections, capacity.
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { ScheduleKind } from '@gengap/proto/common/v1/model';
import {
  checkpointsDir,
  latestCheckpoint,
  listCheckpoints,
  loadCheckpoint,
  type NewCheckpoint,
  pruneCheckpoints,
  writeCheckpoint,
} from '../src/runs/checkpoints.ts';
import { chunkSteps, positionAfter } from '../src/runs/chunk-plan.ts';
import { DataOrder, gatherRows } from '../src/runs/data-order.ts';
import { learningRateSchedule } from '../src/runs/lr-schedule.ts';
import type { RunPlan } from '../src/runs/run-spec.ts';
import { RunScheduler } from '../src/runs/scheduler.ts';
import { TrajectoryProjection } from '../src/runs/trajectory.ts';

const schedule = (fields: Partial<Parameters<typeof learningRateSchedule>[1] & object>) => ({
  kind: ScheduleKind.SCHEDULE_KIND_CONSTANT,
  stepSize: 0,
  gamma: 0,
  totalSteps: 0,
  minFactor: 0,
  warmupSteps: 0,
  ...fields,
});

describe('learning-rate schedules', () => {
  test('constant, with linear warm-up reaching the base rate at the last warm-up step', () => {
    const lr = learningRateSchedule(1, schedule({ warmupSteps: 4 }), 100);
    assert.deepEqual([0, 1, 2, 3, 4, 50].map(lr), [0.25, 0.5, 0.75, 1, 1, 1]);
  });
  test('step decay multiplies by gamma every step_size steps', () => {
    const lr = learningRateSchedule(
      1,
      schedule({ kind: ScheduleKind.SCHEDULE_KIND_STEP, stepSize: 10, gamma: 0.5 }),
      100,
    );
    assert.deepEqual([0, 9, 10, 19, 20].map(lr), [1, 1, 0.5, 0.5, 0.25]);
  });
  test('cosine goes from 1 to min_factor over the budget after warm-up', () => {
    const lr = learningRateSchedule(
      2,
      schedule({ kind: ScheduleKind.SCHEDULE_KIND_COSINE, minFactor: 0.1, warmupSteps: 10 }),
      110,
    );
    assert.equal(lr(10), 2);
    assert.ok(Math.abs((lr(60) as number) - 2 * (0.1 + 0.9 * 0.5)) < 1e-12);
    assert.ok(Math.abs((lr(110) as number) - 0.2) < 1e-12);
    assert.ok(Math.abs((lr(500) as number) - 0.2) < 1e-12);
  });
});

describe('data order', () => {
  test('a resumed order draws the same permutations as an uninterrupted one', () => {
    const a = DataOrder.start(7, 10, true);
    const first = [...a.batch(0, 10)];
    assert.deepEqual(
      [...first].sort((x, y) => x - y),
      [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    );
    a.nextEpoch();
    const saved = a.state;
    const second = [...a.batch(0, 10)];
    a.nextEpoch();
    const third = [...a.batch(0, 10)];
    const b = DataOrder.resume(saved, 10, true);
    assert.deepEqual([...b.batch(0, 10)], second);
    b.nextEpoch();
    assert.deepEqual([...b.batch(0, 10)], third);
    assert.notDeepEqual(first, second);
  });
  test('without shuffling the stored order is kept; the last batch may be short', () => {
    const order = DataOrder.start(1, 5, false);
    assert.deepEqual([...order.batch(0, 2)], [0, 1]);
    assert.deepEqual([...order.batch(2, 2)], [4]);
  });
  test('gatherRows copies rows into place', () => {
    const source = Float32Array.from([0, 0, 1, 1, 2, 2]);
    const out = new Float32Array(6);
    gatherRows(source, 2, [2, 0], out, 1);
    assert.deepEqual([...out], [0, 0, 2, 2, 0, 0]);
  });
});

function checkpointAt(step: number, permanent = false): NewCheckpoint {
  return {
    runId: 'run-x',
    step,
    epoch: step / 10,
    epochIndex: Math.floor(step / 10),
    stepInEpoch: step % 10,
    dataOrderRngState: [1, 2, 3, 4],
    specHash: 'abc',
    permanent,
    final: false,
    precision: 'float32',
    model: {},
    loop: { note: 'x' },
  };
}

describe('checkpoints', () => {
  test('round-trip, verification, pruning of resume checkpoints, and damaged-file fallback', () => {
    const runDir = mkdtempSync(join(tmpdir(), 'gengap-ckpt-'));
    try {
      const params = (v: number) => [
        { name: 'w', shape: [2, 2], dtype: 'float32' as const, data: Float32Array.from([v, 2, 3, 4]) },
        { name: 'b', shape: [2], dtype: 'float32' as const, data: Float32Array.from([5, v]) },
      ];
      const optimizer = [
        { name: 'm.w', shape: [4], dtype: 'float64' as const, data: Float64Array.from([1, 2, 3, 4]) },
      ];
      writeCheckpoint(runDir, checkpointAt(10, true), params(1), optimizer);
      writeCheckpoint(runDir, checkpointAt(20), params(2), optimizer);
      const info = writeCheckpoint(runDir, checkpointAt(30), params(3), optimizer);
      assert.equal(info.sha256Hex.length, 64);
      pruneCheckpoints(runDir, 30);
      assert.deepEqual(
        listCheckpoints(runDir).map((c) => c.step),
        [10, 30],
      );
      const loaded = loadCheckpoint(runDir, 30);
      assert.deepEqual([...(loaded.parameters.find((p) => p.name === 'w')?.data ?? [])], [3, 2, 3, 4]);
      assert.deepEqual(loaded.parameters.map((p) => p.name).sort(), ['b', 'w']);
      assert.deepEqual([...(loaded.optimizer[0]?.data ?? [])], [1, 2, 3, 4]);
      assert.deepEqual(loaded.manifest.loop, { note: 'x' });
      // Rewriting an existing step (a replay after a crash) keeps it.
      writeCheckpoint(runDir, checkpointAt(30), params(3), optimizer);
      // A crash mid-write leaves a temporary folder, removed on the next resume.
      writeFileSync(join(checkpointsDir(runDir), '.tmp-40-dead'), '');
      // A damaged newest checkpoint falls back to the previous one.
      writeFileSync(join(checkpointsDir(runDir), '30', 'parameters.safetensors'), 'garbage');
      assert.throws(() => loadCheckpoint(runDir, 30), /damaged/);
      assert.equal(latestCheckpoint(runDir)?.manifest.step, 10);
      assert.ok(!readdirSync(checkpointsDir(runDir)).some((n) => n.startsWith('.tmp-')));
    } finally {
      rmSync(runDir, { recursive: true, force: true });
    }
  });
});

describe('trajectory projection', () => {
  test('is linear, seeded, and preserves norms on average', () => {
    const n = 1000;
    const theta = new Float32Array(n).map((_, i) => Math.sin(i));
    const a = new TrajectoryProjection(3, 64, n);
    const b = new TrajectoryProjection(3, 64, n);
    const pa = a.project(theta);
    assert.deepEqual(pa, b.project(theta));
    const doubled = a.project(theta.map((v) => 2 * v));
    for (const [i, v] of pa.entries()) assert.ok(Math.abs(2 * v - (doubled[i] as number)) < 1e-9);
    const norm2 = theta.reduce((s, v) => s + v * v, 0);
    const projected2 = pa.reduce((s, v) => s + v * v, 0);
    // Each of the d rows has variance ||theta||^2 / d, so E||P theta||^2 = ||theta||^2.
    assert.ok(projected2 > 0.5 * norm2 && projected2 < 1.5 * norm2, `${projected2} vs ${norm2}`);
  });
});

describe('capacity', () => {
  test('runs up to the limit, queues up to the queue limit, refuses beyond', async () => {
    const finishers = new Map<string, () => void>();
    const started: string[] = [];
    const scheduler = new RunScheduler({ maxConcurrent: 2, maxQueued: 1 }, (runId) => {
      started.push(runId);
      return { done: new Promise<void>((resolve) => finishers.set(runId, resolve)) };
    });
    assert.equal(scheduler.submit('a'), 'running');
    assert.equal(scheduler.submit('b'), 'running');
    assert.equal(scheduler.submit('c'), 'queued');
    assert.throws(() => scheduler.submit('d'), { name: 'ResourceExhaustedError' });
    finishers.get('a')?.();
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(started, ['a', 'b', 'c']);
    assert.equal(scheduler.queuedCount, 0);
    assert.equal(scheduler.submit('e'), 'queued');
    assert.ok(scheduler.dequeue('e'));
  });
});

describe('chunk plan', () => {
  const plan = (fields: Partial<RunPlan>): RunPlan =>
    ({
      trainSize: 130,
      batchSize: 32,
      stepsPerEpoch: 5,
      maxSteps: 12,
      stepsPerCall: 3,
      checkpointEverySteps: 1000,
      trajectoryEvery: 0,
      online: false,
      fullBatch: false,
      evalEveryEpochs: 1,
      keepEveryEpochs: 0,
      keepEpochs: new Set<number>(),
      ...fields,
    }) as RunPlan;

  function chunks(p: RunPlan): number[][] {
    const out: number[][] = [];
    let at = { step: 0, epochIndex: 0, stepInEpoch: 0 };
    while (at.step < p.maxSteps) {
      const steps = chunkSteps(p, at, false);
      out.push([at.step, steps]);
      at = positionAfter(p, { ...at, steps });
    }
    return out;
  }

  test('chunks stop at epoch ends, give the short last batch its own chunk, and end at the budget', () => {
    // 130 examples in batches of 32: 4 full batches and one of 2 per epoch.
    assert.deepEqual(chunks(plan({})), [
      [0, 3],
      [3, 1],
      [4, 1],
      [5, 3],
      [8, 1],
      [9, 1],
      [10, 2],
    ]);
  });

  test('checkpoint and trajectory steps are chunk boundaries', () => {
    const p = plan({
      trainSize: 320,
      batchSize: 32,
      stepsPerEpoch: 10,
      maxSteps: 20,
      stepsPerCall: 8,
      checkpointEverySteps: 6,
      trajectoryEvery: 4,
    });
    assert.deepEqual(
      chunks(p).map(([step]) => step),
      [0, 4, 6, 8, 10, 12, 16, 18],
    );
  });

  test('full-batch chunks span epochs up to the next evaluation or kept epoch', () => {
    const p = plan({
      fullBatch: true,
      stepsPerEpoch: 1,
      maxSteps: 20,
      stepsPerCall: 64,
      evalEveryEpochs: 5,
      keepEpochs: new Set([7]),
    });
    assert.deepEqual(chunks(p), [
      [0, 5],
      [5, 2],
      [7, 3],
      [10, 5],
      [15, 5],
    ]);
  });
});
