// Trajectory statistics on synthetic fractional Brownian motion of known Hurst exponent (Hosking's
// exact method, support/fbm.ts): runs whose TrajectoryPoint events are 16-dimensional fBm paths of
// 4,096 steps with H = 0.3, 0.5 and 0.7, and whose last evaluation has a generalization gap that grows
// with H. Asserted: both estimators (corrected rescaled range, calibrated, and variogram) recover H
// within 0.05 for every run (seen: R/S 0.307 / 0.511 / 0.702, variogram 0.300 / 0.500 / 0.700), the
// Hurst-gap correlation across the runs is near 1, and the Hill tail index separates Gaussian from
// Pareto(1.5) increments.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { JobState } from '@gengap/proto/common/v1/job';
import type { RunEvent } from '@gengap/proto/trainer/v1/run';
import { Rng } from '@gengap/random';
import { fractionalBrownianPaths } from './support/fbm.ts';
import {
  type AnalysisHandle,
  runAnalysis,
  runCheckpoint,
  runOk,
  startAnalysis,
  tempDir,
} from './support/harness.ts';
import { LocalRuns } from './support/local-sources.ts';
import { detailsOf, renderedPlot, resultOf } from './support/results.ts';
import { mlp } from './support/train.ts';

const HURSTS = [0.3, 0.5, 0.7];
const STEPS = 4096;
const DIMENSION = 16;
let dir: ReturnType<typeof tempDir>;
let service: AnalysisHandle;

function trajectoryEvents(paths: readonly Float64Array[], gap: number): RunEvent[] {
  const events: RunEvent[] = [];
  for (let t = 0; t < paths[0]!.length; t++) {
    events.push({
      sequence: events.length,
      event: { $case: 'trajectory', value: { step: 10 * t, projection: paths.map((p) => p[t]!) } },
    });
  }
  const step = 10 * (paths[0]!.length - 1);
  events.push({
    sequence: events.length,
    event: {
      $case: 'epoch',
      value: {
        step,
        epoch: 10,
        trainLoss: 0.01,
        trainAccuracy: 1,
        testLoss: 0.5 + gap,
        testAccuracy: 1 - gap,
        parameterNorm: 1,
        wallSeconds: 1,
        fullGradientNormSquared: 0,
      },
    },
  });
  return events;
}

/** A path whose increments have Pareto(alpha) magnitudes with random signs (tail index alpha). */
function paretoPaths(alpha: number, n: number, dimension: number, seed: number): Float64Array[] {
  const rng = new Rng(seed, 'pareto');
  return Array.from({ length: dimension }, () => {
    const path = new Float64Array(n + 1);
    for (let t = 0; t < n; t++) {
      const magnitude = (1 - rng.uniform()) ** (-1 / alpha);
      path[t + 1] = path[t]! + (rng.uniform() < 0.5 ? -magnitude : magnitude);
    }
    return path;
  });
}

before(async () => {
  dir = tempDir('part2-trajectory');
  const runs = new LocalRuns();
  const spec = { model: mlp(4, [], 2) };
  for (const [i, hurst] of HURSTS.entries()) {
    const paths = fractionalBrownianPaths(hurst, STEPS, DIMENSION, 11 + i);
    runs.add(`fbm-${hurst}`, spec, [], trajectoryEvents(paths, 0.1 + 0.2 * hurst));
  }
  runs.add('pareto-1.5', spec, [], trajectoryEvents(paretoPaths(1.5, STEPS, 1, 5), 0.1));
  runs.add('gaussian', spec, [], trajectoryEvents(fractionalBrownianPaths(0.5, STEPS, 1, 5), 0.1));
  runs.add('short', spec, [], trajectoryEvents(fractionalBrownianPaths(0.5, 32, 2, 5), 0.1));
  service = await startAnalysis({ stateDir: dir.path, runs });
});

after(async () => {
  await service?.close();
  dir?.remove();
});

const trajectory = (runIds: string[], startFraction = 0) => ({
  checkpoint: runCheckpoint(runIds[0]!),
  kind: { $case: 'trajectory' as const, value: { runIds, startFraction } },
});

test('the Hurst estimators recover H within 0.05 on fractional Brownian motion (H = 0.3, 0.5, 0.7)', async (t) => {
  const analysis = await runOk(service.client, trajectory(HURSTS.map((h) => `fbm-${h}`)));
  await renderedPlot(analysis);
  const result = resultOf(analysis, 'trajectory');
  for (const [i, hurst] of HURSTS.entries()) {
    const run = result.runs[i]!;
    t.diagnostic(
      `H = ${hurst}: R/S ${run.hurstRescaledRange.toFixed(4)}, variogram ${run.hurstVariogram.toFixed(4)}, tail index ${run.tailIndex.toFixed(2)}`,
    );
    assert.ok(
      Math.abs(run.hurstRescaledRange - hurst) <= 0.05,
      `R/S ${run.hurstRescaledRange} for H = ${hurst}`,
    );
    assert.ok(
      Math.abs(run.hurstVariogram - hurst) <= 0.05,
      `variogram ${run.hurstVariogram} for H = ${hurst}`,
    );
  }
  t.diagnostic(
    `correlation with the gap: Hurst ${result.correlationHurstGap}, tail ${result.correlationTailIndexGap}`,
  );
  assert.ok(result.correlationHurstGap > 0.95, `Hurst-gap correlation ${result.correlationHurstGap}`);
  const details = await detailsOf(service.client, analysis);
  assert.equal(details.runs['fbm-0.5'].points, STEPS + 1);
  assert.equal(details.runs['fbm-0.5'].dimension, DIMENSION);
});

test('start_fraction keeps the end of the trajectory', async () => {
  const analysis = await runOk(service.client, trajectory(['fbm-0.7'], 0.5));
  const details = await detailsOf(service.client, analysis);
  assert.equal(details.runs['fbm-0.7'].firstStep, 10 * (STEPS / 2));
  assert.ok(Math.abs(resultOf(analysis, 'trajectory').runs[0]!.hurstVariogram - 0.7) <= 0.05);
  assert.ok(Number.isNaN(resultOf(analysis, 'trajectory').correlationHurstGap));
});

test('the tail index separates heavy-tailed from Gaussian increments', async (t) => {
  const result = resultOf(await runOk(service.client, trajectory(['pareto-1.5', 'gaussian'])), 'trajectory');
  const [pareto, gaussian] = result.runs;
  t.diagnostic(`tail index: Pareto(1.5) ${pareto!.tailIndex}, Gaussian ${gaussian!.tailIndex}`);
  assert.ok(Math.abs(pareto!.tailIndex - 1.5) <= 0.45, `Pareto tail index ${pareto!.tailIndex}`);
  assert.ok(gaussian!.tailIndex > 2 * pareto!.tailIndex, `Gaussian tail index ${gaussian!.tailIndex}`);
});

test('too short a trajectory fails with FAILED_PRECONDITION naming the run', async () => {
  const analysis = await runAnalysis(service.client, trajectory(['short']));
  assert.equal(analysis.status?.state, JobState.JOB_STATE_FAILED);
  assert.equal(analysis.status?.error?.code, 9);
  assert.match(analysis.status?.error?.message ?? '', /run short has 33 trajectory points/);
});
