// CRITICAL_SAMPLE_RATIO (Arpit et al. 2017): the fraction of analysed examples x with a point in the
// L-inf box of radius r around x that the model (as deployed, temperature 1) classifies differently
// from x. Search: a seeded uniform start in the box (stream "critical-start"), then `steps` signed
// gradient-ascent steps of 2.5 r / steps on the loss against the clean prediction, projected onto the
// box (not clipped to the data range, as in the paper); every visited point is checked.
import { criticalSearch } from '../adversarial/gradient-attacks.ts';
import { argmaxRows, engineOracle } from '../adversarial/input-oracle.ts';
import { requireAtMost, requirePositive } from './checks.ts';
import { deployedModel, floatInputs, nativeParameters, requireContinuousInputs } from './input-space.ts';
import { defineKind } from './kind.ts';
import { barChart } from './plots.ts';

const FIELD = 'spec.critical_sample_ratio';
const BATCH = 512;

export const criticalSampleRatioKind = defineKind({
  name: 'criticalSampleRatio',
  validate(v) {
    requirePositive(`${FIELD}.radius`, v.radius);
    requireAtMost(`${FIELD}.steps`, v.steps, 10_000);
  },
  async run(ctx, v) {
    const steps = v.steps || 20;
    const model = await deployedModel(ctx);
    requireContinuousInputs(model, 'the critical sample ratio');
    const examples = await ctx.inputs.examples();
    const oracle = engineOracle(model.engine, nativeParameters(model));
    const x = floatInputs(examples, model);
    const row = examples.rowSize;
    const rng = ctx.rng('critical-start');
    const n = examples.count;
    const critical = new Uint8Array(n);
    const predictions = new Int32Array(n);
    for (let start = 0; start < n; start += BATCH) {
      const end = Math.min(n, start + BATCH);
      const xb = x.subarray(start * row, end * row);
      const clean = await oracle.evaluate(xb, examples.y.subarray(start, end));
      const predicted = argmaxRows(clean.logits, end - start, oracle.numClasses);
      predictions.set(predicted, start);
      const progress = ctx.progress.span(start / n, end / n, `searching ${end}/${n}`);
      const found = await criticalSearch(oracle, xb, predicted, {
        radius: v.radius,
        steps,
        stepSize: (2.5 * v.radius) / steps,
        rng,
        onStep: (done, total) => progress.report(done / total),
      });
      critical.set(found, start);
    }
    const count = critical.reduce((a, c) => a + c, 0);
    const ratio = n ? count / n : Number.NaN;
    return {
      result: { $case: 'criticalSampleRatio', value: { ratio, critical: count, examined: n } },
      plot: barChart({
        title: `Critical sample ratio at radius ${v.radius} (${steps} steps)`,
        rows: [
          { examples: 'critical', count },
          { examples: 'not critical', count: n - count },
        ],
        x: { field: 'examples', title: '' },
        y: { field: 'count', title: 'examples' },
      }),
      table: {
        columns: ['index', 'label', 'prediction', 'critical'],
        rows: [...critical].map((c, i) => [i, examples.y[i]!, predictions[i]!, c === 1]),
      },
      details: { radius: v.radius, steps, stepSize: (2.5 * v.radius) / steps, temperature: 1 },
    };
  },
});
