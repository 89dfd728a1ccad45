// A training run's history, sorted out of its event log (trainer WatchRun): evaluations, step metrics,
// trajectory projections, checkpoints, per-example correctness. Kinds that study training over time
// (stability, late-training statistics, trajectories, first-learned epochs) read this.
import type { JobStatus } from '@gengap/proto/common/v1/job';
import type {
  CheckpointInfo,
  EpochMetrics,
  ExampleCorrectness,
  Run,
  RunEvent,
  StepMetrics,
  TimeToFit,
  TrajectoryPoint,
} from '@gengap/proto/trainer/v1/run';

export type RunInfo = Run;

export interface RunHistory {
  run: Run;
  epochs: EpochMetrics[];
  steps: StepMetrics[];
  trajectory: TrajectoryPoint[];
  /** Every checkpoint written (permanent and resume), by step, deduplicated. */
  checkpoints: CheckpointInfo[];
  correctness: ExampleCorrectness[];
  timeToFit: TimeToFit | undefined;
  statuses: JobStatus[];
}

export function historyFromEvents(run: Run, events: readonly RunEvent[]): RunHistory {
  const history: RunHistory = {
    run,
    epochs: [],
    steps: [],
    trajectory: [],
    checkpoints: [],
    correctness: [],
    timeToFit: undefined,
    statuses: [],
  };
  const checkpoints = new Map<number, CheckpointInfo>();
  for (const info of run.checkpoints) checkpoints.set(info.step, info);
  for (const event of events) {
    const e = event.event;
    switch (e?.$case) {
      case 'epoch':
        history.epochs.push(e.value);
        break;
      case 'step':
        history.steps.push(e.value);
        break;
      case 'trajectory':
        history.trajectory.push(e.value);
        break;
      case 'checkpoint':
        if (e.value.checkpoint && !checkpoints.has(e.value.checkpoint.step)) {
          checkpoints.set(e.value.checkpoint.step, e.value.checkpoint);
        }
        break;
      case 'exampleCorrectness':
        history.correctness.push(e.value);
        break;
      case 'timeToFit':
        history.timeToFit = e.value;
        break;
      case 'status':
        history.statuses.push(e.value);
        break;
      default:
        break;
    }
  }
  history.checkpoints = [...checkpoints.values()].sort((a, b) => a.step - b.step);
  return history;
}
