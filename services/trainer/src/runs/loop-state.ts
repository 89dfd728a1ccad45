// What the training loop carries from checkpoint to checkpoint besides tensors and position (saved in
// each manifest as "loop"), and the run summary it implies.
import type { RunSummary, TimeToFit } from '@gengap/proto/trainer/v1/run';

/** Loop state saved in each checkpoint's manifest ("loop"). */
export interface LoopState {
  /** Training wall time up to the checkpoint (summed over attempts). */
  wallSeconds: number;
  samples: number;
  timeToFit?: { step: number; epoch: number; wallSeconds: number };
  /** Epoch at which target_train_accuracy was first reached (patience counts from it). */
  targetReachedEpoch?: number;
  lastEval?: {
    step: number;
    epoch: number;
    trainLoss: number;
    trainAccuracy: number;
    testLoss: number;
    testAccuracy: number;
  };
  /** Online datasets: running sums of the current epoch's batch losses and accuracies. */
  onlineSums?: { loss: number; accuracy: number; steps: number };
  /** Set in the final checkpoint: why training stopped. */
  stopReason?: string;
}

export function runSummary(
  state: LoopState,
  at: { steps: number; epochs: number; wallSeconds: number; numParameters: number },
): RunSummary {
  const last = state.lastEval;
  const ttf = state.timeToFit;
  const timeToFit: TimeToFit = ttf
    ? { reached: true, step: ttf.step, epoch: ttf.epoch, wallSeconds: ttf.wallSeconds }
    : { reached: false, step: 0, epoch: 0, wallSeconds: 0 };
  return {
    steps: at.steps,
    epochs: at.epochs,
    finalTrainLoss: last?.trainLoss ?? 0,
    finalTrainAccuracy: last?.trainAccuracy ?? 0,
    finalTestLoss: last?.testLoss ?? 0,
    finalTestAccuracy: last?.testAccuracy ?? 0,
    timeToFit,
    wallSeconds: at.wallSeconds,
    numParameters: at.numParameters,
    samplesPerSecond: at.wallSeconds > 0 ? state.samples / at.wallSeconds : 0,
    stopReason: state.stopReason ?? '',
    samples: state.samples,
  };
}
