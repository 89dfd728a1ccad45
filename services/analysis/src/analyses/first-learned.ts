// FIRST_LEARNED (Arpit et al. 2017): from the run's per-example correctness records (ExampleCorrectness
// events, MetricsSpec.per_example_correctness), the epoch at which each training example is first
// classified correctly and stays so at every later evaluation (-1 if it is wrong at the last one), and
// the cumulative fraction of clean and of label-corrupted examples learned by each evaluated epoch.
// Example i is the i-th of the training split in stored order (the trainer evaluates the first
// `eval_train_subset` examples), so `shuffle_examples` is refused; corrupted means y != y_clean
// (the data service sends y_clean when label noise touched the split; without it every example is
// clean). Uses the run's training dataset unless the spec names one.
import { Series } from '@gengap/proto/analysis/v1/analysis';
import { Split } from '@gengap/proto/common/v1/refs';
import type { ExampleCorrectness } from '@gengap/proto/trainer/v1/run';
import { FailedPreconditionError, InvalidArgumentError } from '@gengap/service-kit';
import { defineKind } from './kind.ts';
import { lineChart } from './plots.ts';

/** Bit i of a little-endian-within-byte bitmap. */
export function bitAt(bitmap: Uint8Array, i: number): boolean {
  return ((bitmap[i >> 3]! >> (i & 7)) & 1) === 1;
}

/** First epoch from which each of the first `count` examples stays correct to the last record, or -1. */
export function firstLearnedEpochs(records: readonly ExampleCorrectness[], count: number): Float64Array {
  const out = new Float64Array(count).fill(-1);
  for (let i = 0; i < count; i++) {
    for (let e = records.length - 1; e >= 0; e--) {
      if (!bitAt(records[e]!.correctBitmap, i)) break;
      out[i] = records[e]!.epoch;
    }
  }
  return out;
}

/** Fraction of `members` learned (first-learned epoch in [0, epoch]) at each epoch. */
function cumulative(first: Float64Array, members: readonly number[], epochs: readonly number[]): number[] {
  return epochs.map((epoch) => {
    if (members.length === 0) return Number.NaN;
    let learned = 0;
    for (const i of members) if (first[i]! >= 0 && first[i]! <= epoch) learned++;
    return learned / members.length;
  });
}

export const firstLearnedKind = defineKind({
  name: 'firstLearned',
  validate(_v, spec) {
    if (spec.shuffleExamples) {
      throw new InvalidArgumentError(
        'spec.shuffle_examples',
        'must be false: first-learned epochs follow the stored order of the training split',
      );
    }
    if (spec.checkpoint?.source?.$case !== 'run') {
      throw new InvalidArgumentError(
        'spec.checkpoint',
        'must name a training run (first-learned epochs come from its history)',
      );
    }
  },
  async run(ctx) {
    const source = ctx.spec.checkpoint!.source!;
    const runId = source.$case === 'run' ? source.value.runId : '';
    const history = await ctx.inputs.runHistory(runId);
    const records = [...history.correctness].sort((a, b) => a.step - b.step);
    if (records.length === 0) {
      throw new FailedPreconditionError(
        `run ${runId} recorded no per-example correctness (set MetricsSpec.per_example_correctness)`,
      );
    }
    const recorded = records.reduce((m, r) => Math.min(m, r.numExamples), Number.POSITIVE_INFINITY);
    const train = await ctx.inputs.examples({ split: Split.SPLIT_TRAIN, numExamples: 0 });
    const count = Math.min(recorded, train.count, ctx.spec.numExamples || Number.POSITIVE_INFINITY);
    const first = firstLearnedEpochs(records, count);
    const clean: number[] = [];
    const corrupted: number[] = [];
    for (let i = 0; i < count; i++) {
      if (train.yClean && train.yClean[i] !== train.y[i]) corrupted.push(i);
      else clean.push(i);
    }
    const epochs = records.map((r) => r.epoch);
    const cleanCurve = cumulative(first, clean, epochs);
    const corruptedCurve = cumulative(first, corrupted, epochs);
    const meanEpoch = (members: number[]) => {
      const learned = members.filter((i) => first[i]! >= 0);
      return learned.length ? learned.reduce((a, i) => a + first[i]!, 0) / learned.length : Number.NaN;
    };
    const rows = epochs.flatMap((epoch, e) => [
      { epoch, examples: 'clean labels', learned: cleanCurve[e]! },
      ...(corrupted.length ? [{ epoch, examples: 'corrupted labels', learned: corruptedCurve[e]! }] : []),
    ]);
    return {
      result: {
        $case: 'firstLearned',
        value: {
          firstLearnedEpoch: [...first],
          cleanCumulative: Series.fromPartial({ name: 'clean labels', x: epochs, y: cleanCurve }),
          corruptedCumulative: Series.fromPartial({ name: 'corrupted labels', x: epochs, y: corruptedCurve }),
        },
      },
      plot: lineChart({
        title: `Examples learned (and kept) by epoch: ${clean.length} clean, ${corrupted.length} corrupted labels`,
        rows: rows.map((r) => ({ ...r, learned: Number.isFinite(r.learned) ? r.learned : null })),
        x: { field: 'epoch', title: 'epoch' },
        y: { field: 'learned', title: 'fraction learned' },
        color: { field: 'examples', title: '' },
      }),
      table: {
        columns: ['index', 'label', 'clean_label', 'corrupted', 'first_learned_epoch'],
        rows: [...first].map((epoch, i) => [
          i,
          train.y[i]!,
          train.yClean?.[i] ?? train.y[i]!,
          train.yClean ? train.yClean[i] !== train.y[i] : false,
          epoch,
        ]),
      },
      details: {
        examples: count,
        evaluations: records.length,
        clean: clean.length,
        corrupted: corrupted.length,
        meanFirstLearnedEpochClean: meanEpoch(clean),
        meanFirstLearnedEpochCorrupted: meanEpoch(corrupted),
        neverLearnedClean: clean.filter((i) => first[i]! < 0).length,
        neverLearnedCorrupted: corrupted.filter((i) => first[i]! < 0).length,
        labelsCorrupted: train.yClean !== undefined,
      },
    };
  },
});
