// Learning rate of every optimizer step: base rate times warm-up times the schedule's factor. A pure
// function of the step index, so a resumed run recomputes exactly the rates of an uninterrupted one.
import { type LearningRateSchedule, ScheduleKind } from '@gengap/proto/common/v1/model';

export type LearningRateAt = (step: number) => number;

/**
 * `step` counts from 0 (the first update). Warm-up is linear over `warmup_steps` updates, reaching
 * the base rate at the last of them: factor (step + 1) / warmup_steps. The schedule proper starts
 * after warm-up. `budgetSteps` is the run's step budget (cosine's length when total_steps is 0).
 */
export function learningRateSchedule(
  baseRate: number,
  schedule: LearningRateSchedule | undefined,
  budgetSteps: number,
): LearningRateAt {
  const warmup = schedule?.warmupSteps ?? 0;
  const kind = schedule?.kind ?? ScheduleKind.SCHEDULE_KIND_CONSTANT;
  const gamma = schedule?.gamma ?? 1;
  const stepSize = schedule?.stepSize ?? 0;
  const minFactor = schedule?.minFactor ?? 0;
  const cosineLength = Math.max(1, schedule?.totalSteps || budgetSteps - warmup);
  const factorAfterWarmup = (t: number): number => {
    switch (kind) {
      case ScheduleKind.SCHEDULE_KIND_STEP:
        return gamma ** Math.floor(t / stepSize);
      case ScheduleKind.SCHEDULE_KIND_COSINE: {
        const progress = Math.min(t, cosineLength) / cosineLength;
        return minFactor + (1 - minFactor) * 0.5 * (1 + Math.cos(Math.PI * progress));
      }
      default:
        return 1;
    }
  };
  return (step: number) => {
    if (step < warmup) return (baseRate * (step + 1)) / warmup;
    return baseRate * factorAfterWarmup(step - warmup);
  };
}
