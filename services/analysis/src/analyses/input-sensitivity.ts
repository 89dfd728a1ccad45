// INPUT_SENSITIVITY: per analysed example, the loss sensitivity ||d loss_i / d x_i|| (Arpit et al.) and
// the Frobenius norm of the input-Jacobian of the logits ||d z / d x_i||_F (Badger's input stability,
// one logit-gradient pass per class), for the model as deployed (temperature 1; input-space.ts). For
// models reading integer codes the gradients are with respect to the embedding output. The histogram
// of the loss-gradient norms has `num_bins` equal bins over [min, max]; quantiles (where a few large
// values dominate the mean, as on a distilled network) are in details.
import { Series } from '@gengap/proto/analysis/v1/analysis';
import { histogram, mean, median, quantile } from '../numerics/distributions.ts';
import { requireAtMost } from './checks.ts';
import { deployedModel, nativeParameters } from './input-space.ts';
import { defineKind } from './kind.ts';

const FIELD = 'spec.input_sensitivity';
const BATCH = 1024;

function rowNorms(values: ArrayLike<number>, n: number): Float64Array {
  const row = values.length / n;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let j = i * row; j < (i + 1) * row; j++) s += values[j]! * values[j]!;
    out[i] = s;
  }
  return out;
}

export const inputSensitivityKind = defineKind({
  name: 'inputSensitivity',
  validate(v) {
    requireAtMost(`${FIELD}.num_bins`, v.numBins, 10_000);
  },
  async run(ctx, v) {
    const bins = v.numBins || 40;
    const model = await deployedModel(ctx);
    const examples = await ctx.inputs.examples();
    const parameters = nativeParameters(model);
    const n = examples.count;
    const outputs = model.engine.numOutputs;
    const lossNorms = new Float64Array(n);
    const losses = new Float64Array(n);
    const jacobianSquares = new Float64Array(n);
    let embedding = false;
    // Batches bound the gradients held at once to BATCH x the input size.
    for (let start = 0; start < n; start += BATCH) {
      const end = Math.min(n, start + BATCH);
      const x = examples.x.subarray(start * examples.rowSize, end * examples.rowSize);
      const progress = ctx.progress.span(start / n, end / n, `examples ${end}/${n}`);
      const loss = await model.engine.inputGradient(x, examples.y.subarray(start, end), { parameters });
      embedding = loss.embedding !== undefined;
      lossNorms.set(rowNorms(loss.gradient, end - start).map(Math.sqrt), start);
      if (loss.perExampleLoss) losses.set(loss.perExampleLoss, start);
      const classes = new Int32Array(end - start);
      for (let c = 0; c < outputs; c++) {
        classes.fill(c);
        const g = await model.engine.logitInputGradient(x, classes, { parameters });
        const squares = rowNorms(g.gradient, end - start);
        for (let i = 0; i < end - start; i++) jacobianSquares[start + i]! += squares[i]!;
        await progress.report((c + 1) / outputs, `Jacobian row ${c + 1}`);
      }
    }
    const jacobianNorms = jacobianSquares.map(Math.sqrt);
    const h = histogram(lossNorms, bins);
    const quantiles = (values: Float64Array) => ({
      min: quantile(values, 0),
      q10: quantile(values, 0.1),
      median: median(values),
      q90: quantile(values, 0.9),
      max: quantile(values, 1),
      zeros: values.filter((g) => g === 0).length,
    });
    return {
      result: {
        $case: 'inputSensitivity',
        value: {
          lossGradientNorms: [...lossNorms],
          jacobianNorms: [...jacobianNorms],
          meanLossGradientNorm: mean(lossNorms),
          meanJacobianNorm: mean(jacobianNorms),
          histogram: Series.fromPartial({ name: 'loss gradient norm', x: h.centres, y: h.counts }),
          // Filled only when subspace_basis names a basis to split the Jacobian along.
          alongJacobianNorms: [],
          transverseJacobianNorms: [],
          meanAlongJacobianNorm: 0,
          meanTransverseJacobianNorm: 0,
        },
      },
      plot: {
        $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
        title: `Loss sensitivity ||d loss / d x|| over ${n} examples`,
        data: { values: h.centres.map((centre, b) => ({ gradient_norm: centre, examples: h.counts[b]! })) },
        mark: 'bar',
        encoding: {
          x: { field: 'gradient_norm', type: 'quantitative', title: '||d loss / d x||' },
          y: { field: 'examples', type: 'quantitative', title: 'examples' },
        },
      },
      table: {
        columns: ['index', 'label', 'loss', 'loss_gradient_norm', 'jacobian_norm'],
        rows: [...lossNorms].map((g, i) => [i, examples.y[i]!, losses[i]!, g, jacobianNorms[i]!]),
      },
      details: {
        examples: n,
        temperature: 1,
        precision: model.precision,
        withRespectTo: embedding ? 'embedding output' : 'inputs',
        lossGradientNorm: quantiles(lossNorms),
        jacobianNorm: quantiles(jacobianNorms),
        histogramRange: [h.lo, h.hi],
      },
    };
  },
});
