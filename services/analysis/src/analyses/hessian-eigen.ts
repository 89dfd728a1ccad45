// HESSIAN_EIGEN: the top-k eigenvalues (and optionally eigenvectors) of the loss Hessian by Lanczos
// with full reorthogonalisation, for the whole model and/or parameter blocks, over all analysed
// examples or one mini-batch, each with its residual norms as the error estimate.
import type { EigenResult } from '@gengap/proto/analysis/v1/analysis';
import { DataType } from '@gengap/proto/common/v1/tensor';
import { InvalidArgumentError } from '@gengap/service-kit';
import { artifactSafe } from '../jobs/artifact-store.ts';
import { topEigenpairs } from '../numerics/lanczos.ts';
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
import { pointChart, type Row } from './plots.ts';

const FIELD = 'spec.hessian_eigen';
export const MAX_TOP_K = 50;
export const MAX_LANCZOS_ITERATIONS = 2000;

export const hessianEigenKind = defineKind({
  name: 'hessianEigen',
  validate(v) {
    requireAtMost(`${FIELD}.top_k`, v.topK, MAX_TOP_K);
    const k = v.topK || 1;
    requireAtMost(`${FIELD}.max_iterations`, v.maxIterations, MAX_LANCZOS_ITERATIONS);
    if (v.maxIterations !== 0 && v.maxIterations < k) {
      throw new InvalidArgumentError(`${FIELD}.max_iterations`, `must be at least top_k (${k})`);
    }
    requireNonNegative(`${FIELD}.tolerance`, v.tolerance);
    validateBatchSizes(v.miniBatchSize, v.hvpBatchSize, FIELD);
    validateBlocks(v.blocks, `${FIELD}.blocks`);
  },
  async run(ctx, v) {
    const k = v.topK || 1;
    const maxIterations = v.maxIterations || Math.max(3 * k, 30);
    const tolerance = v.tolerance || 1e-6;
    const { model, examples, miniBatch, hvp } = await hessianInputs(ctx, v.miniBatchSize, v.hvpBatchSize);
    try {
      const blocks = resolveBlocks(model, v.blocks, `${FIELD}.blocks`);
      checkBasisMemory(blocks, maxIterations, `${FIELD}.max_iterations`);
      const results: EigenResult[] = [];
      const converged: Record<string, boolean> = {};
      for (const [i, block] of blocks.entries()) {
        const label = block.name || 'all parameters';
        const progress = ctx.progress.span(i / blocks.length, (i + 1) / blocks.length, label);
        const op = hessianOperator(hvp, model.numParameters, block, ctx.signal);
        const eig = await topEigenpairs(op, {
          k,
          maxIterations,
          tolerance,
          rng: ctx.rng(`lanczos:${block.name}`),
          returnVectors: v.returnEigenvectors,
          signal: ctx.signal,
          onStep: (done, planned) => progress.report(done / planned, `lanczos iteration ${done}`),
        });
        const artifacts: string[] = [];
        for (const [j, vector] of (eig.vectors ?? []).entries()) {
          artifacts.push(
            await ctx.artifacts.writeTensor(
              `eigenvector-${artifactSafe(block.name || 'all')}-${j}.safetensors`,
              {
                dtype: DataType.DATA_TYPE_FLOAT64,
                shape: [vector.length],
                data: vector,
              },
            ),
          );
        }
        converged[block.name] = eig.converged;
        results.push({
          block: block.name,
          eigenvalues: eig.values,
          residualNorms: eig.residualNorms,
          iterations: eig.iterations,
          hvpCalls: op.calls,
          eigenvectorArtifacts: artifacts,
          converged: eig.converged,
        });
      }
      const rows: Row[] = results.flatMap((r) =>
        r.eigenvalues.map((value, j) => ({
          block: r.block || 'all',
          index: j + 1,
          eigenvalue: value,
          residual_norm: r.residualNorms[j] ?? null,
        })),
      );
      return {
        result: { $case: 'hessianEigen', value: { blocks: results } },
        plot: pointChart({
          title: `Top ${k} Hessian eigenvalues (${miniBatch ? `mini-batch of ${examples.count}` : `${examples.count} examples`})`,
          rows,
          x: { field: 'index', title: 'rank', type: 'ordinal' },
          y: { field: 'eigenvalue', title: 'eigenvalue' },
          color: { field: 'block', title: 'parameters' },
        }),
        table: {
          columns: ['block', 'index', 'eigenvalue', 'residual_norm'],
          rows: rows.map((r) => [
            r.block as string,
            r.index as number,
            r.eigenvalue as number,
            r.residual_norm as number,
          ]),
        },
        details: {
          examples: examples.count,
          miniBatch,
          precision: model.precision,
          tolerance,
          maxIterations,
          converged,
          checkpoint: model.checkpoint.origin,
        },
      };
    } finally {
      hvp.release();
    }
  },
});
