// A run's parameters before training, for analyses that compare "before and after" (inversion, parity
// progress): its init_from checkpoint when it has one, else the seeded initialisation the trainer
// performed (compileModel + initParameters(run seed), on a throwaway compiled model so the shared,
// cached one is never touched). CheckpointRef step 0 means "latest", so step 0 cannot be asked for.
import { compileModel } from '@gengap/engine';
import type { FloatArray } from '../adversarial/input-oracle.ts';
import { type AnalysisModel, flattenParameters } from '../inputs/analysis-model.ts';
import type { AnalysisContext } from './kind.ts';

export async function initialParameters(
  ctx: AnalysisContext,
  model: AnalysisModel,
): Promise<{ parameters: FloatArray; origin: string }> {
  const run = await ctx.inputs.run(model.checkpoint.runId);
  if (run.spec?.initFrom?.source) {
    const start = await ctx.inputs.checkpoint(run.spec.initFrom, 'run.spec.init_from');
    return { parameters: inModelDtype(model, flattenParameters(model.engine, start)), origin: start.origin };
  }
  const seed = Number(run.spec?.seed ?? 0);
  const fresh = await compileModel(model.checkpoint.model, { precision: model.precision });
  try {
    fresh.initParameters(seed);
    return {
      parameters: inModelDtype(model, Float64Array.from(fresh.parameters.data)),
      origin: `initialization(seed ${seed})`,
    };
  } finally {
    await fresh.dispose();
  }
}

/** Parameters of another checkpoint of the same architecture, flat, in the model's dtype. */
export async function checkpointParameters(
  ctx: AnalysisContext,
  model: AnalysisModel,
  runId: string,
  step: number,
): Promise<FloatArray> {
  const checkpoint = await ctx.inputs.checkpoint({ source: { $case: 'run', value: { runId, step } } });
  return inModelDtype(model, flattenParameters(model.engine, checkpoint));
}

function inModelDtype(model: AnalysisModel, flat: Float64Array): FloatArray {
  return model.precision === 'float32' ? Float32Array.from(flat) : flat;
}
