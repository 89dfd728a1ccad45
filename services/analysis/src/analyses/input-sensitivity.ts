// INPUT_SENSITIVITY: per analysed example, the loss sensitivity ||d loss_i / d x_i|| (Arpit et al.) and
// the Frobenius norm of the input-Jacobian of the logits ||d z / d x_i||_F (Badger's input stability,
// one logit-gradient pass per class), for the model as deployed (temperature 1; input-space.ts). For
// models reading integer codes the gradients are with respect to the embedding output. The histogram
// of the loss-gradient norms has `num_bins` equal bins over [min, max]; quantiles (where a few large
// values dominate the mean, as on a distilled network) are in details.
//
// With `subspace_basis` (a [d, k] auxiliary array of the dataset with orthonormal columns U, d the
// model's flattened input size), each Jacobian J is also split into J U (along the subspace) and
// J (I - U U^T) (across it): ||J U||_F^2 + ||J (I - U U^T)||_F^2 = ||J||_F^2. Both parts are computed
// from each logit-gradient row in float64 (the transverse one as the residual g - U (U^T g) itself,
// not as a difference of squares, so a function of the subspace coordinates alone gives ~0, not
// cancellation noise).
import { Series } from '@gengap/proto/analysis/v1/analysis';
import { InvalidArgumentError } from '@gengap/service-kit';
import { histogram, mean, median, quantile } from '../numerics/distributions.ts';
import { requireAtMost } from './checks.ts';
import { deployedModel, nativeParameters, readsCodes } from './input-space.ts';
import { type AnalysisContext, defineKind } from './kind.ts';
import { pointChart } from './plots.ts';

const FIELD = 'spec.input_sensitivity';
const BASIS_FIELD = `${FIELD}.subspace_basis`;
const BATCH = 1024;
/** Largest |U^T U - I| entry accepted as orthonormal (a float32-rounded basis is within ~1e-7). */
const ORTHONORMAL_TOLERANCE = 1e-5;

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

/** A [d, k] row-major basis with orthonormal columns. */
export interface SubspaceBasis {
  name: string;
  d: number;
  k: number;
  u: Float64Array;
  /** max |U^T U - I| of the stored basis. */
  orthonormalityError: number;
}

/** Checks a basis against the model's flattened input size d: shape [d, k], 1 <= k <= d, U^T U = I. */
export function checkBasis(
  name: string,
  shape: readonly number[],
  u: Float64Array,
  inputShape: readonly number[],
): SubspaceBasis {
  const d = inputShape.reduce((a, b) => a * b, 1);
  const inputs = `the model's input [${inputShape.join(', ')}] has ${d} features`;
  if (shape.length !== 2 || shape[0] !== d) {
    throw new InvalidArgumentError(
      BASIS_FIELD,
      `auxiliary array ${JSON.stringify(name)} has shape [${shape.join(', ')}]; ${inputs}, so a basis must be [${d}, k]`,
    );
  }
  const k = shape[1]!;
  if (k < 1 || k > d)
    throw new InvalidArgumentError(
      BASIS_FIELD,
      `basis ${JSON.stringify(name)} has ${k} columns; needs 1..${d}`,
    );
  let error = 0;
  for (let a = 0; a < k; a++) {
    for (let b = a; b < k; b++) {
      let dot = 0;
      for (let i = 0; i < d; i++) dot += u[i * k + a]! * u[i * k + b]!;
      error = Math.max(error, Math.abs(dot - (a === b ? 1 : 0)));
    }
  }
  if (!(error <= ORTHONORMAL_TOLERANCE)) {
    throw new InvalidArgumentError(
      BASIS_FIELD,
      `the columns of ${JSON.stringify(name)} are not orthonormal (max |U^T U - I| = ${error})`,
    );
  }
  return { name, d, k, u, orthonormalityError: error };
}

/**
 * Adds ||U^T g||^2 and ||g - U U^T g||^2 of each row g of `gradient` ([n, d]) to along[start + i] and
 * transverse[start + i].
 */
export function accumulateSplit(
  basis: SubspaceBasis,
  gradient: ArrayLike<number>,
  n: number,
  along: Float64Array,
  transverse: Float64Array,
  start: number,
): void {
  const { d, k, u } = basis;
  const coordinates = new Float64Array(k);
  for (let r = 0; r < n; r++) {
    const row = r * d;
    coordinates.fill(0);
    for (let i = 0; i < d; i++) {
      const g = gradient[row + i]!;
      if (g === 0) continue;
      for (let j = 0; j < k; j++) coordinates[j]! += u[i * k + j]! * g;
    }
    let a2 = 0;
    for (let j = 0; j < k; j++) a2 += coordinates[j]! * coordinates[j]!;
    let t2 = 0;
    for (let i = 0; i < d; i++) {
      let projected = 0;
      for (let j = 0; j < k; j++) projected += u[i * k + j]! * coordinates[j]!;
      const residual = gradient[row + i]! - projected;
      t2 += residual * residual;
    }
    along[start + r]! += a2;
    transverse[start + r]! += t2;
  }
}

async function subspaceBasis(
  ctx: AnalysisContext,
  name: string,
  model: Awaited<ReturnType<typeof deployedModel>>,
): Promise<SubspaceBasis | undefined> {
  if (!name) return undefined;
  if (readsCodes(model)) {
    throw new InvalidArgumentError(
      BASIS_FIELD,
      `model ${model.checkpoint.origin} reads integer codes (an embedding first): its input Jacobian is taken at the embedding output, which a basis of the input space does not describe`,
    );
  }
  const basis = await ctx.inputs.auxiliary(name, BASIS_FIELD);
  return checkBasis(name, basis.shape, basis.values, model.engine.inputShape);
}

export const inputSensitivityKind = defineKind({
  name: 'inputSensitivity',
  validate(v) {
    requireAtMost(`${FIELD}.num_bins`, v.numBins, 10_000);
  },
  async run(ctx, v) {
    const bins = v.numBins || 40;
    const model = await deployedModel(ctx);
    const basis = await subspaceBasis(ctx, v.subspaceBasis, model);
    const examples = await ctx.inputs.examples();
    const parameters = nativeParameters(model);
    const n = examples.count;
    const outputs = model.engine.numOutputs;
    const lossNorms = new Float64Array(n);
    const losses = new Float64Array(n);
    const jacobianSquares = new Float64Array(n);
    const alongSquares = new Float64Array(basis ? n : 0);
    const transverseSquares = new Float64Array(basis ? n : 0);
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
        // Row c of every example's Jacobian: d logit_c / d x.
        const g = await model.engine.logitInputGradient(x, classes, { parameters });
        const squares = rowNorms(g.gradient, end - start);
        for (let i = 0; i < end - start; i++) jacobianSquares[start + i]! += squares[i]!;
        if (basis) accumulateSplit(basis, g.gradient, end - start, alongSquares, transverseSquares, start);
        await progress.report((c + 1) / outputs, `Jacobian row ${c + 1}`);
      }
    }
    const jacobianNorms = jacobianSquares.map(Math.sqrt);
    const alongNorms = alongSquares.map(Math.sqrt);
    const transverseNorms = transverseSquares.map(Math.sqrt);
    const h = histogram(lossNorms, bins);
    const quantiles = (values: Float64Array) => ({
      min: quantile(values, 0),
      q10: quantile(values, 0.1),
      median: median(values),
      q90: quantile(values, 0.9),
      max: quantile(values, 1),
      zeros: values.filter((g) => g === 0).length,
    });
    const histogramPlot = {
      $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
      title: `Loss sensitivity ||d loss / d x|| over ${n} examples`,
      data: { values: h.centres.map((centre, b) => ({ gradient_norm: centre, examples: h.counts[b]! })) },
      mark: 'bar',
      encoding: {
        x: { field: 'gradient_norm', type: 'quantitative', title: '||d loss / d x||' },
        y: { field: 'examples', type: 'quantitative', title: 'examples' },
      },
    };
    const columns = ['index', 'label', 'loss', 'loss_gradient_norm', 'jacobian_norm'];
    const rows = [...lossNorms].map((g, i) => [i, examples.y[i]!, losses[i]!, g, jacobianNorms[i]!]);
    if (basis) {
      columns.push('along_jacobian_norm', 'transverse_jacobian_norm');
      rows.forEach((row, i) => {
        row.push(alongNorms[i]!, transverseNorms[i]!);
      });
    }
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
          alongJacobianNorms: [...alongNorms],
          transverseJacobianNorms: [...transverseNorms],
          meanAlongJacobianNorm: basis ? mean(alongNorms) : 0,
          meanTransverseJacobianNorm: basis ? mean(transverseNorms) : 0,
        },
      },
      plot: basis
        ? pointChart({
            title: `Input-Jacobian norm along the ${basis.k}-dimensional subspace and across it (${n} examples)`,
            rows: [...alongNorms].map((a, i) => ({
              along_jacobian_norm: a,
              transverse_jacobian_norm: transverseNorms[i]!,
              label: String(examples.y[i]!),
            })),
            x: { field: 'along_jacobian_norm', title: '||J U||_F (along)' },
            y: { field: 'transverse_jacobian_norm', title: '||J (I - U U^T)||_F (transverse)' },
            color: { field: 'label', title: 'label' },
          })
        : histogramPlot,
      table: { columns, rows },
      details: {
        examples: n,
        temperature: 1,
        precision: model.precision,
        withRespectTo: embedding ? 'embedding output' : 'inputs',
        lossGradientNorm: quantiles(lossNorms),
        jacobianNorm: quantiles(jacobianNorms),
        histogramRange: [h.lo, h.hi],
        ...(basis
          ? {
              subspace: {
                basis: basis.name,
                ambientDimension: basis.d,
                subspaceDimension: basis.k,
                orthonormalityError: basis.orthonormalityError,
                alongJacobianNorm: quantiles(alongNorms),
                transverseJacobianNorm: quantiles(transverseNorms),
              },
            }
          : {}),
      },
    };
  },
});
