// Stability and generalization from training histories.
//  - STABILITY (Hardt et al. 2016): two runs (e.g. on datasets that differ in one example, same seed
//    and order); at every step where both kept a permanent checkpoint, ||w - w'||, the normalised
//    distance ||w - w'|| / (||w|| + ||w'||), and the absolute gaps |L(w) - L(w')| of their train and
//    test losses (on the analysed examples of the spec's dataset, by default the first run's).
//  - GENERALIZATION_GAP: train and test loss and accuracy of the checkpoint and their gaps.
//  - LATE_TRAINING_STATISTICS (statistical algorithmic stability of non-convergent training): per run,
//    the time average and variance of the evaluated training loss over the last `window_fraction` of
//    its steps (minibatch losses when the window holds no evaluation), the mean test loss there, and
//    the mean and variance of the time averages across runs.
import type { LateTrainingRun, StabilityPoint } from '@gengap/proto/analysis/v1/analysis';
import { Split } from '@gengap/proto/common/v1/refs';
import { FailedPreconditionError, InvalidArgumentError } from '@gengap/service-kit';
import { flattenParameters } from '../inputs/analysis-model.ts';
import type { RunHistory } from '../inputs/run-history.ts';
import { requireAtMost, requireNonNegative } from './checks.ts';
import { type AnalysisContext, defineKind } from './kind.ts';
import { barChart, finiteOrNull, lineChart, type Row } from './plots.ts';

function checkpointRunId(ctx: AnalysisContext, field: string): string {
  const source = ctx.spec.checkpoint?.source;
  if (source?.$case !== 'run') throw new InvalidArgumentError(field, 'must name a training run checkpoint');
  return source.value.runId;
}

function norm(v: Float64Array): number {
  let s = 0;
  for (const x of v) s += x * x;
  return Math.sqrt(s);
}

export const stabilityKind = defineKind({
  name: 'stability',
  validate(v, spec) {
    if (!v.otherRunId) throw new InvalidArgumentError('spec.stability.other_run_id', 'is required');
    if (spec.checkpoint?.source?.$case !== 'run') {
      throw new InvalidArgumentError('spec.checkpoint', 'must name a training run (stability compares runs)');
    }
  },
  async run(ctx, v) {
    const runA = checkpointRunId(ctx, 'spec.checkpoint');
    const runB = v.otherRunId;
    const [a, b] = await Promise.all([ctx.inputs.run(runA), ctx.inputs.run(runB)]);
    const permanent = (run: typeof a) =>
      new Map(run.checkpoints.filter((c) => c.permanent).map((c) => [c.step, c]));
    const stepsA = permanent(a);
    const stepsB = permanent(b);
    const common = [...stepsA.keys()].filter((s) => stepsB.has(s)).sort((x, y) => x - y);
    if (common.length === 0) {
      throw new FailedPreconditionError(
        `runs ${runA} and ${runB} share no step with a permanent checkpoint (set CheckpointSpec.keep_every_epochs on both)`,
      );
    }
    const model = await ctx.inputs.model();
    const train = await ctx.inputs.examples({ split: Split.SPLIT_TRAIN });
    const test = await ctx.inputs.examples({ split: Split.SPLIT_TEST });
    const points: StabilityPoint[] = [];
    for (const [i, step] of common.entries()) {
      const [ca, cb] = await Promise.all([
        ctx.inputs.checkpoint({ source: { $case: 'run', value: { runId: runA, step } } }),
        ctx.inputs.checkpoint(
          { source: { $case: 'run', value: { runId: runB, step } } },
          'spec.stability.other_run_id',
        ),
      ]);
      const wa = flattenParameters(model.engine, ca);
      const wb = flattenParameters(model.engine, cb);
      const diff = wa.map((x, j) => x - wb[j]!);
      const distance = norm(diff);
      const [trA, trB, teA, teB] = [
        await model.evaluate(train, wa),
        await model.evaluate(train, wb),
        await model.evaluate(test, wa),
        await model.evaluate(test, wb),
      ];
      points.push({
        step,
        epoch: stepsA.get(step)!.epoch,
        parameterDistance: distance,
        normalizedDistance: distance / (norm(wa) + norm(wb) || 1),
        trainLossGap: Math.abs(trA.loss - trB.loss),
        testLossGap: Math.abs(teA.loss - teB.loss),
      });
      await ctx.progress.report((i + 1) / common.length, `step ${step}`);
    }
    const rows: Row[] = points.flatMap((p) => [
      { epoch: p.epoch, series: 'normalised distance', value: finiteOrNull(p.normalizedDistance) },
      { epoch: p.epoch, series: 'train loss gap', value: finiteOrNull(p.trainLossGap) },
      { epoch: p.epoch, series: 'test loss gap', value: finiteOrNull(p.testLossGap) },
    ]);
    return {
      result: { $case: 'stability', value: { points } },
      plot: lineChart({
        title: `Divergence of ${runA} and ${runB}`,
        rows,
        x: { field: 'epoch', title: 'epoch' },
        y: { field: 'value', title: 'value' },
        color: { field: 'series', title: '' },
        points: true,
      }),
      table: {
        columns: [
          'step',
          'epoch',
          'parameter_distance',
          'normalized_distance',
          'train_loss_gap',
          'test_loss_gap',
        ],
        rows: points.map((p) => [
          p.step,
          p.epoch,
          p.parameterDistance,
          p.normalizedDistance,
          p.trainLossGap,
          p.testLossGap,
        ]),
      },
      details: {
        runs: [runA, runB],
        trainExamples: train.count,
        testExamples: test.count,
        normalizedDistance: "||w - w'|| / (||w|| + ||w'||)",
      },
    };
  },
});

export const generalizationGapKind = defineKind({
  name: 'generalizationGap',
  validate() {},
  async run(ctx) {
    const model = await ctx.inputs.model();
    const train = await ctx.inputs.examples({ split: Split.SPLIT_TRAIN });
    await ctx.progress.report(0.1, 'train split');
    const tr = await model.evaluate(train);
    await ctx.progress.report(0.5, 'test split');
    const test = await ctx.inputs.examples({ split: Split.SPLIT_TEST });
    const te = await model.evaluate(test);
    const value = {
      trainLoss: tr.loss,
      trainAccuracy: tr.accuracy,
      testLoss: te.loss,
      testAccuracy: te.accuracy,
      lossGap: te.loss - tr.loss,
      accuracyGap: tr.accuracy - te.accuracy,
    };
    return {
      result: { $case: 'generalizationGap', value },
      plot: barChart({
        title: `Train and test metrics of ${model.checkpoint.origin}`,
        rows: [
          { metric: 'train loss', value: tr.loss },
          { metric: 'test loss', value: te.loss },
          { metric: 'train accuracy', value: tr.accuracy },
          { metric: 'test accuracy', value: te.accuracy },
        ],
        x: { field: 'metric', title: '' },
        y: { field: 'value', title: 'value' },
      }),
      table: {
        columns: ['train_loss', 'train_accuracy', 'test_loss', 'test_accuracy', 'loss_gap', 'accuracy_gap'],
        rows: [
          [
            value.trainLoss,
            value.trainAccuracy,
            value.testLoss,
            value.testAccuracy,
            value.lossGap,
            value.accuracyGap,
          ],
        ],
      },
      details: { trainExamples: train.count, testExamples: test.count, checkpoint: model.checkpoint.origin },
    };
  },
});

function meanAndVariance(values: number[]): { mean: number; variance: number } {
  const n = values.length;
  if (n === 0) return { mean: Number.NaN, variance: Number.NaN };
  const mean = values.reduce((a, b) => a + b, 0) / n;
  const variance = n > 1 ? values.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1) : 0;
  return { mean, variance };
}

/** Late-window statistics of one run's training loss. */
export function lateWindow(
  history: RunHistory,
  windowFraction: number,
): LateTrainingRun & { source: string; points: number } {
  const lastStep = Math.max(
    history.run.summary?.steps ?? 0,
    ...history.epochs.map((e) => e.step),
    ...history.steps.map((s) => s.step),
  );
  const from = (1 - windowFraction) * lastStep;
  const epochs = history.epochs.filter((e) => e.step >= from);
  const useEpochs = epochs.length > 0;
  const losses = useEpochs
    ? epochs.map((e) => e.trainLoss)
    : history.steps.filter((s) => s.step >= from).map((s) => s.loss);
  const { mean, variance } = meanAndVariance(losses);
  return {
    runId: history.run.runId,
    meanLoss: mean,
    lossVariance: variance,
    meanTestLoss: useEpochs ? meanAndVariance(epochs.map((e) => e.testLoss)).mean : Number.NaN,
    source: useEpochs ? 'evaluations' : 'step metrics',
    points: losses.length,
  };
}

export const lateTrainingStatisticsKind = defineKind({
  name: 'lateTrainingStatistics',
  validate(v, spec) {
    const field = 'spec.late_training_statistics';
    requireNonNegative(`${field}.window_fraction`, v.windowFraction);
    requireAtMost(`${field}.window_fraction`, v.windowFraction, 1);
    for (const [i, id] of v.runIds.entries()) {
      if (!id) throw new InvalidArgumentError(`${field}.run_ids[${i}]`, 'must not be empty');
    }
    if (v.runIds.length === 0 && spec.checkpoint?.source?.$case !== 'run') {
      throw new InvalidArgumentError(`${field}.run_ids`, 'is required when the checkpoint is not a run');
    }
  },
  async run(ctx, v) {
    const windowFraction = v.windowFraction || 0.5;
    const source = ctx.spec.checkpoint?.source;
    const ids = [...new Set([...(source?.$case === 'run' ? [source.value.runId] : []), ...v.runIds])];
    const runs: ReturnType<typeof lateWindow>[] = [];
    const rows: Row[] = [];
    for (const [i, id] of ids.entries()) {
      const history = await ctx.inputs.runHistory(id);
      runs.push(lateWindow(history, windowFraction));
      for (const e of history.epochs)
        rows.push({ run: id, step: e.step, train_loss: finiteOrNull(e.trainLoss) });
      await ctx.progress.report((i + 1) / ids.length, `run ${id}`);
    }
    const across = meanAndVariance(runs.map((r) => r.meanLoss).filter(Number.isFinite));
    return {
      result: {
        $case: 'lateTrainingStatistics',
        value: {
          runs: runs.map(({ source: _s, points: _p, ...r }) => r),
          meanAcrossRuns: across.mean,
          varianceAcrossRuns: across.variance,
        },
      },
      plot: lineChart({
        title: `Training loss; statistics over the last ${Math.round(windowFraction * 100)}% of steps`,
        rows,
        x: { field: 'step', title: 'step' },
        y: { field: 'train_loss', title: 'train loss', scale: { type: 'log' } },
        color: { field: 'run', title: 'run' },
      }),
      table: {
        columns: ['run_id', 'mean_loss', 'loss_variance', 'mean_test_loss', 'source', 'points'],
        rows: runs.map((r) => [r.runId, r.meanLoss, r.lossVariance, r.meanTestLoss, r.source, r.points]),
      },
      details: {
        windowFraction,
        runs: runs.map((r) => ({ runId: r.runId, source: r.source, points: r.points })),
      },
    };
  },
});
