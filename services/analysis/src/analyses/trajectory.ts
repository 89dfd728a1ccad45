// TRAJECTORY (the fBm / Hurst / heavy-tail papers): statistics of each run's projected parameter
// trajectory (TrajectoryPoint events, recorded with MetricsSpec.trajectory_every), from
// `start_fraction` of its last recorded step onwards, every coordinate of the projection treated as one
// realisation:
//  - hurst_rescaled_range: corrected R/S on the increments (numerics/hurst.ts);
//  - hurst_variogram: half the log-log slope of the mean squared displacement over lags 1..16;
//  - tail_index: Hill's estimator on the norms of the increment vectors (numerics/distributions.ts);
//  - generalization_gap: train accuracy - test accuracy at the run's last evaluation (the loss gap,
//    test - train, is in details);
// and, across runs, Pearson correlations of the R/S Hurst exponent and of the tail index with the gap
// (NaN with fewer than 3 runs; the variogram's correlation is in details).
import type { TrajectoryRun } from '@gengap/proto/analysis/v1/analysis';
import { FailedPreconditionError, InvalidArgumentError } from '@gengap/service-kit';
import type { RunHistory } from '../inputs/run-history.ts';
import { hillTailIndex, pearson } from '../numerics/distributions.ts';
import { hurstRescaledRange, hurstVariogram } from '../numerics/hurst.ts';
import { requireFinite } from './checks.ts';
import { defineKind } from './kind.ts';
import { finiteOrNull, pointChart } from './plots.ts';

const FIELD = 'spec.trajectory';
/** Fewest trajectory points analysed (R/S needs three window sizes of at least 8 increments). */
export const MIN_TRAJECTORY_POINTS = 64;

export interface TrajectoryStatistics {
  points: number;
  firstStep: number;
  lastStep: number;
  hurstRescaledRange: number;
  hurstVariogram: number;
  tailIndex: number;
  tailOrder: number;
}

/** Per-coordinate paths of the trajectory points from `startFraction` of the last step on, by step. */
export function trajectoryPaths(
  history: RunHistory,
  startFraction: number,
): { steps: number[]; paths: Float64Array[] } {
  const byStep = new Map<number, readonly number[]>();
  for (const p of history.trajectory) byStep.set(p.step, p.projection);
  const steps = [...byStep.keys()].sort((a, b) => a - b);
  const last = steps[steps.length - 1] ?? 0;
  const kept = steps.filter((s) => s >= startFraction * last);
  const dimension = kept.length ? byStep.get(kept[0]!)!.length : 0;
  const paths = Array.from({ length: dimension }, () => new Float64Array(kept.length));
  for (const [t, step] of kept.entries()) {
    const projection = byStep.get(step)!;
    if (projection.length !== dimension) {
      throw new FailedPreconditionError(
        `run ${history.run.runId}: trajectory point at step ${step} has ${projection.length} coordinates, not ${dimension}`,
      );
    }
    for (let k = 0; k < dimension; k++) paths[k]![t] = projection[k]!;
  }
  return { steps: kept, paths };
}

export function trajectoryStatistics(steps: number[], paths: Float64Array[]): TrajectoryStatistics {
  const increments = paths.map((p) => p.subarray(1).map((v, t) => v - p[t]!));
  const norms = new Float64Array(steps.length - 1);
  for (const inc of increments) for (let t = 0; t < norms.length; t++) norms[t]! += inc[t]! * inc[t]!;
  const tail = hillTailIndex(norms.map(Math.sqrt));
  return {
    points: steps.length,
    firstStep: steps[0]!,
    lastStep: steps[steps.length - 1]!,
    hurstRescaledRange: hurstRescaledRange(increments).hurst,
    hurstVariogram: hurstVariogram(paths).hurst,
    tailIndex: tail.alpha,
    tailOrder: tail.k,
  };
}

/** Train - test accuracy and test - train loss at the run's last evaluation (else its summary). */
function generalizationGaps(history: RunHistory): { accuracy: number; loss: number } {
  const last = [...history.epochs].sort((a, b) => a.step - b.step).pop();
  if (last) return { accuracy: last.trainAccuracy - last.testAccuracy, loss: last.testLoss - last.trainLoss };
  const s = history.run.summary;
  if (s)
    return { accuracy: s.finalTrainAccuracy - s.finalTestAccuracy, loss: s.finalTestLoss - s.finalTrainLoss };
  return { accuracy: Number.NaN, loss: Number.NaN };
}

export const trajectoryKind = defineKind({
  name: 'trajectory',
  validate(v, spec) {
    requireFinite(`${FIELD}.start_fraction`, v.startFraction);
    if (v.startFraction < 0 || v.startFraction >= 1) {
      throw new InvalidArgumentError(`${FIELD}.start_fraction`, `must be in [0, 1), got ${v.startFraction}`);
    }
    for (const [i, id] of v.runIds.entries()) {
      if (!id) throw new InvalidArgumentError(`${FIELD}.run_ids[${i}]`, 'must not be empty');
    }
    if (v.runIds.length === 0 && spec.checkpoint?.source?.$case !== 'run') {
      throw new InvalidArgumentError(
        `${FIELD}.run_ids`,
        'is required when the checkpoint is not a training run',
      );
    }
  },
  async run(ctx, v) {
    const source = ctx.spec.checkpoint?.source;
    const runIds = v.runIds.length
      ? [...new Set(v.runIds)]
      : source?.$case === 'run'
        ? [source.value.runId]
        : [];
    const runs: TrajectoryRun[] = [];
    const lossGaps: number[] = [];
    const spans: Record<string, unknown> = {};
    for (const [i, runId] of runIds.entries()) {
      await ctx.progress.report(i / runIds.length, `run ${runId}`);
      const history = await ctx.inputs.runHistory(runId);
      const { steps, paths } = trajectoryPaths(history, v.startFraction);
      if (steps.length < MIN_TRAJECTORY_POINTS || paths.length === 0) {
        throw new FailedPreconditionError(
          `run ${runId} has ${steps.length} trajectory points from ${v.startFraction} of training on; at least ${MIN_TRAJECTORY_POINTS} are needed (set MetricsSpec.trajectory_every)`,
        );
      }
      const stats = trajectoryStatistics(steps, paths);
      const gaps = generalizationGaps(history);
      runs.push({
        runId,
        hurstRescaledRange: stats.hurstRescaledRange,
        hurstVariogram: stats.hurstVariogram,
        tailIndex: stats.tailIndex,
        generalizationGap: gaps.accuracy,
      });
      lossGaps.push(gaps.loss);
      spans[runId] = { ...stats, dimension: paths.length, lossGap: gaps.loss };
    }
    const gap = runs.map((r) => r.generalizationGap);
    const result = {
      runs,
      correlationHurstGap: pearson(
        runs.map((r) => r.hurstRescaledRange),
        gap,
      ),
      correlationTailIndexGap: pearson(
        runs.map((r) => r.tailIndex),
        gap,
      ),
      correlationVariogramGap: pearson(
        runs.map((r) => r.hurstVariogram),
        gap,
      ),
    };
    const rows = runs.flatMap((r) => [
      {
        run: r.runId,
        estimator: 'rescaled range',
        hurst: finiteOrNull(r.hurstRescaledRange),
        gap: finiteOrNull(r.generalizationGap),
      },
      {
        run: r.runId,
        estimator: 'variogram',
        hurst: finiteOrNull(r.hurstVariogram),
        gap: finiteOrNull(r.generalizationGap),
      },
    ]);
    return {
      result: { $case: 'trajectory', value: result },
      plot: pointChart({
        title: `Hurst exponent of the parameter trajectory vs generalization gap (${runs.length} runs)`,
        rows,
        x: { field: 'gap', title: 'train - test accuracy' },
        y: { field: 'hurst', title: 'Hurst exponent' },
        color: { field: 'estimator', title: 'estimator' },
      }),
      table: {
        columns: [
          'run_id',
          'hurst_rescaled_range',
          'hurst_variogram',
          'tail_index',
          'generalization_gap',
          'loss_gap',
        ],
        rows: runs.map((r, i) => [
          r.runId,
          r.hurstRescaledRange,
          r.hurstVariogram,
          r.tailIndex,
          r.generalizationGap,
          lossGaps[i]!,
        ]),
      },
      details: {
        startFraction: v.startFraction,
        runs: spans,
        correlationVariogramGap: pearson(
          runs.map((r) => r.hurstVariogram),
          gap,
        ),
        correlationHurstLossGap: pearson(
          runs.map((r) => r.hurstRescaledRange),
          lossGaps,
        ),
      },
    };
  },
});
