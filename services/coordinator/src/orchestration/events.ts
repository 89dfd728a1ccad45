// An experiment's event log (WatchExperiment): status changes, run changes, epoch progress and
// analysis changes, each with a dedupe key so that work replayed after a restart appends nothing.
import type { JobStatus } from '@gengap/proto/common/v1/job';
import type { EpochMetrics } from '@gengap/proto/trainer/v1/run';
import type { AnalysisRecord, CellRecord, CoordinatorStore } from '../store/coordinator-store.ts';
import { analysisRefOf, experimentRunOf } from './views.ts';

export class ExperimentEvents {
  private readonly store: CoordinatorStore;
  readonly experimentId: string;

  constructor(store: CoordinatorStore, experimentId: string) {
    this.store = store;
    this.experimentId = experimentId;
  }

  status(key: string, status: JobStatus): void {
    this.store.appendEvent(this.experimentId, `status:${key}`, {
      sequence: 0,
      event: { $case: 'status', value: status },
    });
  }

  /** A cell changed state (queued, running attempt n, succeeded, failed...). */
  run(cell: CellRecord): void {
    const key = `run:${cell.cellId}:${cell.attempt}:${cell.state}:${cell.runId}`;
    const run = experimentRunOf(cell, this.store.analyses(this.experimentId));
    this.store.appendEvent(this.experimentId, key, { sequence: 0, event: { $case: 'run', value: run } });
  }

  progress(cellId: string, runId: string, epoch: EpochMetrics, progress: number): void {
    this.store.appendEvent(this.experimentId, `progress:${cellId}:${runId}:${epoch.step}`, {
      sequence: 0,
      event: { $case: 'runProgress', value: { cellId, epoch, progress } },
    });
  }

  analysis(record: AnalysisRecord): void {
    const key = `analysis:${record.name}:${record.state}:${record.analysisId}`;
    this.store.appendEvent(this.experimentId, key, {
      sequence: 0,
      event: { $case: 'analysis', value: analysisRefOf(record) },
    });
  }
}
