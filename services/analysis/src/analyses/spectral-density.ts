// SPECTRAL_DENSITY: the Hessian's eigenvalue density by stochastic Lanczos quadrature with Gaussian
// smoothing, with the quadrature nodes and weights and the first two spectral moments (their standard
// errors over probes go to the JSON export).
import type { DensityResult } from '@gengap/proto/analysis/v1/analysis';
import { spectralDensity } from '../numerics/spectral-density.ts';
import { requireAtMost, requireNonNegative } from './checks.ts';
import {
  checkBasisMemory,
  hessianInputs,
  hessianOperator,
  resolveBlocks,
  validateBatchSizes,
  validateBlocks,
} from './hessian-operator.ts';
import { defineKind } from './kind.ts';
import { lineChart, type Row } from './plots.ts';

const FIELD = 'spec.spectral_density';

export const spectralDensityKind = defineKind({
  name: 'spectralDensity',
  validate(v) {
    requireAtMost(`${FIELD}.num_probes`, v.numProbes, 1000);
    requireAtMost(`${FIELD}.lanczos_steps`, v.lanczosSteps, 1000);
    requireAtMost(`${FIELD}.num_grid_points`, v.numGridPoints, 100_000);
    requireNonNegative(`${FIELD}.kernel_width`, v.kernelWidth);
    requireAtMost(`${FIELD}.kernel_width`, v.kernelWidth, 1);
    validateBatchSizes(v.miniBatchSize, v.hvpBatchSize, FIELD);
    validateBlocks(v.blocks, `${FIELD}.blocks`);
  },
  async run(ctx, v) {
    const probes = v.numProbes || 10;
    const steps = v.lanczosSteps || 80;
    const gridPoints = v.numGridPoints || 1000;
    const kernelWidth = v.kernelWidth || 0.01;
    const { model, examples, miniBatch, hvp } = await hessianInputs(ctx, v.miniBatchSize, v.hvpBatchSize);
    try {
      const blocks = resolveBlocks(model, v.blocks, `${FIELD}.blocks`);
      checkBasisMemory(blocks, steps, `${FIELD}.lanczos_steps`);
      const results: DensityResult[] = [];
      const moments: Record<string, unknown> = {};
      for (const [i, block] of blocks.entries()) {
        const progress = ctx.progress.span(
          i / blocks.length,
          (i + 1) / blocks.length,
          block.name || 'all parameters',
        );
        const op = hessianOperator(hvp, model.numParameters, block, ctx.signal);
        const est = await spectralDensity(op, {
          probes,
          lanczosSteps: steps,
          gridPoints,
          kernelWidth,
          rng: ctx.rng(`slq:${block.name}`),
          signal: ctx.signal,
          onStep: (done, planned) => progress.report(done / planned, `lanczos step ${done}/${planned}`),
        });
        moments[block.name] = {
          firstMoment: est.firstMoment,
          firstMomentStandardError: est.firstMomentStandardError,
          secondMoment: est.secondMoment,
          secondMomentStandardError: est.secondMomentStandardError,
          traceEstimate: est.firstMoment * block.dimension,
          traceStandardError: est.firstMomentStandardError * block.dimension,
          kernelSigma: est.sigma,
          hvpCalls: op.calls,
        };
        results.push({
          block: block.name,
          grid: [...est.grid],
          density: [...est.density],
          nodes: [...est.nodes],
          weights: [...est.weights],
          firstMoment: est.firstMoment,
          secondMoment: est.secondMoment,
          firstMomentStandardError: est.firstMomentStandardError,
          secondMomentStandardError: est.secondMomentStandardError,
        });
      }
      // The chart shows the density on a log scale, as is usual for Hessian spectra; zeros are floored.
      const rows: Row[] = results.flatMap((r) => {
        const peak = Math.max(...r.density);
        const floor = peak > 0 ? peak * 1e-8 : 1e-12;
        return r.grid.map((t, j) => ({
          block: r.block || 'all',
          eigenvalue: t,
          density: Math.max(r.density[j]!, floor),
        }));
      });
      return {
        result: { $case: 'spectralDensity', value: { blocks: results } },
        plot: lineChart({
          title: `Hessian spectral density (SLQ, ${probes} probes x ${steps} steps)`,
          rows,
          x: { field: 'eigenvalue', title: 'eigenvalue' },
          y: { field: 'density', title: 'density', scale: { type: 'log' } },
          color: { field: 'block', title: 'parameters' },
        }),
        table: {
          columns: ['block', 'eigenvalue', 'density'],
          rows: results.flatMap((r) => r.grid.map((t, j) => [r.block || 'all', t, r.density[j]!])),
        },
        details: { examples: examples.count, miniBatch, precision: model.precision, kernelWidth, moments },
      };
    } finally {
      hvp.release();
    }
  },
});
