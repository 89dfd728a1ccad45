// Where a training attempt runs. The orchestration asks an executor to place each attempt and then
// talks TrainerService to the address it gets back: the default executor spreads attempts over
// long-running trainers; the Kubernetes executor runs each attempt in its own Job.
import type { JobFailure } from '@gengap/job-store';
import type { FailureKind } from '../orchestration/failures.ts';
import type { Placement } from '../store/coordinator-store.ts';

export type { Placement };

export interface AttemptRef {
  experimentId: string;
  cellId: string;
  attempt: number;
  /** The trainer run's idempotency key (stable across coordinator restarts). */
  idempotencyKey: string;
}

/** A failure the infrastructure reports for an attempt (a Kubernetes Job that failed). */
export interface InfraFailure {
  kind: FailureKind;
  failure: JobFailure;
}

export type AttemptOutcome = 'succeeded' | 'failed' | 'cancelled';

export interface Executor {
  readonly name: string;
  /**
   * Places the attempt and returns where its trainer listens. `previous` is the attempt's stored
   * placement (after a restart or a lost connection): an executor reuses it when it still holds.
   */
  place(ref: AttemptRef, previous: Placement | undefined, signal: AbortSignal): Promise<Placement>;
  /** A failure of the placement itself, if the infrastructure reports one. */
  check(ref: AttemptRef, placement: Placement, signal: AbortSignal): Promise<InfraFailure | undefined>;
  /** The attempt is over: free what it held (a Job, a share of a trainer). */
  release(ref: AttemptRef, placement: Placement, outcome: AttemptOutcome): Promise<void>;
  /**
   * At start-up: re-lists what the executor created earlier and frees what belongs to attempts that
   * are over. `isLive` says whether an attempt is still to be followed.
   */
  reconcile?(isLive: (experimentId: string, cellId: string, attempt: number) => boolean): Promise<unknown>;
  close(): Promise<void>;
}
