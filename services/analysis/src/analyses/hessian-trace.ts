// HESSIAN_TRACE: tr(H) by Hutchinson or Hutch++ (the default), with the standard error of the estimate.
import { TraceMethod, type TraceResult } from '@gengap/proto/analysis/v1/analysis';
import { InvalidArgumentError } from '@gengap/service-kit';
import { hutchinsonTrace, hutchPlusPlusTrace } from '../numerics/trace-estimators.ts';
import { requireAtMost } from './checks.ts';
import {
  hessianInputs,
  hessianOperator,
  resolveBlocks,
  validateBatchSizes,
  validateBlocks,
} from './hessian-operator.ts';
import { defineKind } from './kind.ts';
import { barChart } from './plots.ts';

const FIELD = 'spec.hessian_trace';
export const MAX_TRACE_QUERIES = 100_000;

export const hessianTraceKind = defineKind({
  name: 'hessianTrace',
  validate(v) {
    if (
      ![0, TraceMethod.TRACE_METHOD_HUTCHINSON, TraceMethod.TRACE_METHOD_HUTCH_PLUS_PLUS].includes(v.method)
    ) {
      throw new InvalidArgumentError(`${FIELD}.method`, `unknown method ${v.method}`);
    }
    requireAtMost(`${FIELD}.num_queries`, v.numQueries, MAX_TRACE_QUERIES);
    validateBatchSizes(v.miniBatchSize, v.hvpBatchSize, FIELD);
    validateBlocks(v.blocks, `${FIELD}.blocks`);
  },
  async run(ctx, v) {
    const queries = v.numQueries || 100;
    const hutchinson = v.method === TraceMethod.TRACE_METHOD_HUTCHINSON;
    const { model, examples, miniBatch, hvp } = await hessianInputs(ctx, v.miniBatchSize, v.hvpBatchSize);
    try {
      const blocks = resolveBlocks(model, v.blocks, `${FIELD}.blocks`);
      const results: TraceResult[] = [];
      const sketchRanks: Record<string, number> = {};
      for (const [i, block] of blocks.entries()) {
        const progress = ctx.progress.span(
          i / blocks.length,
          (i + 1) / blocks.length,
          block.name || 'all parameters',
        );
        const op = hessianOperator(hvp, model.numParameters, block, ctx.signal);
        const options = {
          queries,
          rng: ctx.rng(`trace:${block.name}`),
          signal: ctx.signal,
          onStep: (done: number, planned: number) =>
            progress.report(done / planned, `HVP ${done}/${planned}`),
        };
        const est = hutchinson ? await hutchinsonTrace(op, options) : await hutchPlusPlusTrace(op, options);
        sketchRanks[block.name] = est.sketchRank;
        results.push({
          block: block.name,
          trace: est.trace,
          standardError: est.standardError,
          queries: est.queries,
          sketchRank: est.sketchRank ?? 0,
        });
      }
      return {
        result: { $case: 'hessianTrace', value: { blocks: results } },
        plot: barChart({
          title: `Hessian trace (${hutchinson ? 'Hutchinson' : 'Hutch++'}, ${queries} HVPs per block)`,
          rows: results.map((r) => ({
            block: r.block || 'all',
            trace: r.trace,
            standard_error: r.standardError,
          })),
          x: { field: 'block', title: 'parameters' },
          y: { field: 'trace', title: 'trace' },
        }),
        table: {
          columns: ['block', 'trace', 'standard_error', 'queries'],
          rows: results.map((r) => [r.block || 'all', r.trace, r.standardError, r.queries]),
        },
        details: {
          method: hutchinson ? 'hutchinson' : 'hutch++',
          examples: examples.count,
          miniBatch,
          precision: model.precision,
          sketchRanks,
        },
      };
    } finally {
      hvp.release();
    }
  },
});
