// The Hessian of the mean loss as a SymmetricOperator, for the whole model or a block of parameter
// tensors (H_BB v_B = (H [v_B; 0])_B), over all analysed examples (the engine accumulates exact
// forward-over-reverse HVPs over batches of `hvpBatchSize`) or over one seeded mini-batch.
import type { ParameterBlocks } from '@gengap/proto/analysis/v1/analysis';
import { InvalidArgumentError } from '@gengap/service-kit';
import type { AnalysisModel, PreparedHvp } from '../inputs/analysis-model.ts';
import { type ExampleSet, randomBatch } from '../inputs/examples.ts';
import type { SymmetricOperator } from '../numerics/operator.ts';
import type { AnalysisContext } from './kind.ts';

export const MAX_HVP_BATCH = 100_000;
/** Largest Krylov basis a Lanczos run may keep (vectors of float64). */
export const MAX_BASIS_BYTES = 4 * 1024 ** 3;
export const DEFAULT_HVP_BATCH = 1000;

/** A named set of parameter ranges of the flat parameter vector. */
export interface HessianBlock {
  /** "" for the whole model, a parameter name, or names joined by "+". */
  name: string;
  ranges: { offset: number; length: number }[];
  dimension: number;
}

export function validateBlocks(blocks: ParameterBlocks | undefined, field: string): void {
  const seen = new Set<string>();
  for (const [i, name] of (blocks?.names ?? []).entries()) {
    if (!name) throw new InvalidArgumentError(`${field}.names[${i}]`, 'must not be empty');
    if (seen.has(name)) throw new InvalidArgumentError(`${field}.names[${i}]`, `${name} is listed twice`);
    seen.add(name);
  }
}

export function validateBatchSizes(miniBatch: number, hvpBatch: number, field: string): void {
  if (hvpBatch > MAX_HVP_BATCH) {
    throw new InvalidArgumentError(`${field}.hvp_batch_size`, `must be at most ${MAX_HVP_BATCH}`);
  }
  if (miniBatch < 0) throw new InvalidArgumentError(`${field}.mini_batch_size`, 'must not be negative');
}

/**
 * The blocks ParameterBlocks asks for: the named parameters together (all of them when no names are
 * given), then, with per_parameter, each of those tensors on its own.
 */
export function resolveBlocks(
  model: AnalysisModel,
  blocks: ParameterBlocks | undefined,
  field: string,
): HessianBlock[] {
  const views = model.blocks;
  const names = blocks?.names ?? [];
  const chosen =
    names.length === 0
      ? views
      : names.map((name, i) => {
          const view = views.find((v) => v.name === name);
          if (!view) {
            throw new InvalidArgumentError(
              `${field}.names[${i}]`,
              `no parameter ${name}; the model has ${views.map((v) => v.name).join(', ')}`,
            );
          }
          return view;
        });
  const block = (name: string, selected: typeof chosen): HessianBlock => ({
    name,
    ranges: selected.map((v) => ({ offset: v.offset, length: v.size })),
    dimension: selected.reduce((a, v) => a + v.size, 0),
  });
  const out = [block(names.length === 0 ? '' : names.join('+'), chosen)];
  if (blocks?.perParameter) for (const v of chosen) out.push(block(v.name, [v]));
  return out;
}

export interface HessianOperator extends SymmetricOperator {
  /** HVPs done so far through this operator. */
  readonly calls: number;
}

/** The Hessian block as an operator on vectors of the block's dimension, over prepared HVPs. */
export function hessianOperator(
  hvp: PreparedHvp,
  numParameters: number,
  block: HessianBlock,
  signal: AbortSignal,
): HessianOperator {
  let next = 0;
  for (const r of block.ranges) next = r.offset === next ? next + r.length : Number.NaN;
  const whole = next === numParameters;
  const full = new Float64Array(whole ? 0 : numParameters);
  const op = {
    dimension: block.dimension,
    calls: 0,
    apply: async (v: Float64Array): Promise<Float64Array> => {
      signal.throwIfAborted();
      op.calls++;
      if (whole) return hvp.apply(v);
      full.fill(0);
      let at = 0;
      for (const r of block.ranges) {
        full.set(v.subarray(at, at + r.length), r.offset);
        at += r.length;
      }
      const hv = await hvp.apply(full);
      const out = new Float64Array(block.dimension);
      at = 0;
      for (const r of block.ranges) {
        out.set(hv.subarray(r.offset, r.offset + r.length), at);
        at += r.length;
      }
      return out;
    },
  };
  return op;
}

/**
 * The model, the examples and the prepared HVPs a Hessian analysis uses: the analysed examples, or one
 * seeded mini-batch of `miniBatch` of them; HVPs run over batches of `hvpBatch` examples. Release
 * `hvp` when done.
 */
export async function hessianInputs(
  ctx: AnalysisContext,
  miniBatch: number,
  hvpBatch: number,
): Promise<{ model: AnalysisModel; examples: ExampleSet; miniBatch: boolean; hvp: PreparedHvp }> {
  const model = await ctx.inputs.model(undefined, { chunkSize: hvpBatch || DEFAULT_HVP_BATCH });
  const all = await ctx.inputs.examples();
  const examples = miniBatch > 0 ? randomBatch(all, miniBatch, ctx.rng('mini-batch')) : all;
  await ctx.progress.report(0, 'preparing HVPs');
  const hvp = await model.prepareHvp(examples);
  return { model, examples, miniBatch: miniBatch > 0, hvp };
}

/** Refuses a Lanczos run whose stored basis (steps + 1 vectors of the largest block) would exceed MAX_BASIS_BYTES. */
export function checkBasisMemory(blocks: readonly HessianBlock[], steps: number, field: string): void {
  const largest = Math.max(...blocks.map((b) => b.dimension));
  const bytes = (steps + 1) * largest * 8;
  if (bytes > MAX_BASIS_BYTES) {
    throw new InvalidArgumentError(
      field,
      `${steps} Lanczos steps on ${largest} parameters need ${(bytes / 1024 ** 3).toFixed(1)} GiB for the basis; at most ${Math.floor(MAX_BASIS_BYTES / (8 * largest)) - 1} steps fit ${MAX_BASIS_BYTES / 1024 ** 3} GiB (or analyse parameter blocks)`,
    );
  }
}
