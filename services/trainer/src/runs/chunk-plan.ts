// Where the training loop cuts its Loop chunks: at most steps_per_call steps, never across an epoch
// end (full batch: never past the next epoch with an evaluation or a permanent checkpoint), a
// checkpoint step, a trajectory step or the step budget; the epoch's short last batch alone. A pure
// function of the position, so a resumed run cuts the same chunks and the next chunk is known ahead
// (for prefetching its batches).
import type { ChunkPosition } from './batches.ts';
import type { RunPlan } from './run-spec.ts';

export type Position = Omit<ChunkPosition, 'steps'>;

/** Epochs until the next one that evaluates or keeps a permanent checkpoint (full-batch chunking). */
function epochsToNextEpochWork(plan: RunPlan, epochIndex: number): number {
  const untilMultiple = (every: number) => every - (epochIndex % every);
  let k = untilMultiple(plan.evalEveryEpochs);
  if (plan.keepEveryEpochs > 0) k = Math.min(k, untilMultiple(plan.keepEveryEpochs));
  for (const keep of plan.keepEpochs) if (keep > epochIndex) k = Math.min(k, keep - epochIndex);
  return k;
}

/** Steps of the chunk starting at `at`. `augmenting`: full batches cannot be shared across steps. */
export function chunkSteps(plan: RunPlan, at: Position, augmenting: boolean): number {
  const until = (every: number) => every - (at.step % every);
  let k = plan.fullBatch
    ? Math.min(plan.stepsPerCall, epochsToNextEpochWork(plan, at.epochIndex))
    : Math.min(plan.stepsPerCall, plan.stepsPerEpoch - at.stepInEpoch);
  k = Math.min(k, until(plan.checkpointEverySteps));
  if (plan.fullBatch && augmenting) k = 1;
  if (plan.trajectoryEvery > 0) k = Math.min(k, until(plan.trajectoryEvery));
  if (Number.isFinite(plan.maxSteps)) k = Math.min(k, plan.maxSteps - at.step);
  if (!plan.online && !plan.fullBatch && plan.trainSize % plan.batchSize !== 0) {
    const lastBatch = plan.stepsPerEpoch - 1;
    if (at.stepInEpoch === lastBatch) return 1;
    k = Math.min(k, lastBatch - at.stepInEpoch);
  }
  return Math.max(1, k);
}

/** The position after a chunk (epochs roll over at their end). */
export function positionAfter(plan: RunPlan, chunk: ChunkPosition): Position {
  const step = chunk.step + chunk.steps;
  const stepInEpoch = chunk.stepInEpoch + chunk.steps;
  if (stepInEpoch < plan.stepsPerEpoch) return { step, epochIndex: chunk.epochIndex, stepInEpoch };
  return { step, epochIndex: chunk.epochIndex + stepInEpoch / plan.stepsPerEpoch, stepInEpoch: 0 };
}
