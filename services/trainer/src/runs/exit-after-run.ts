// GENGAP_TRAINER_EXIT_AFTER_RUN: a trainer started for one run (the pod of a Kubernetes Job) ends
// once that run has ended, so the Job completes instead of serving forever. "That run" is the
// oldest run in the trainer's store: the one the coordinator started, or, in a pod that replaced an
// evicted one, the run it resumed from the same state volume (ended already, if the old pod was
// evicted after the end: the new one then leaves at once, with the same code).
//
// The store is polled rather than hooked into the run service: it is the one place every way a run
// ends (finished, failed, cancelled, found terminal at start-up) is recorded, and a poll every few
// hundred milliseconds costs nothing next to a training run.
import { type JobRecord, type JobStore, TERMINAL_STATES } from '@gengap/job-store';
import { EXIT_RUN_FAILED } from '@gengap/service-kit';
import { RUN_KIND } from './run-records.ts';

export { EXIT_RUN_FAILED };

export interface RunEnded {
  runId: string;
  state: JobRecord['state'];
  /** 0 when the run succeeded, EXIT_RUN_FAILED otherwise. */
  exitCode: number;
}

/** Resolves once the trainer's first run is in a terminal state; rejects when `signal` aborts. */
export async function untilFirstRunEnds(
  store: JobStore,
  options: { pollMs: number; signal: AbortSignal },
): Promise<RunEnded> {
  for (;;) {
    options.signal.throwIfAborted();
    const [first] = store.inStates(RUN_KIND, ['QUEUED', 'RUNNING', 'SUCCEEDED', 'FAILED', 'CANCELLED']);
    if (first && TERMINAL_STATES.has(first.state))
      return {
        runId: first.id,
        state: first.state,
        exitCode: first.state === 'SUCCEEDED' ? 0 : EXIT_RUN_FAILED,
      };
    await new Promise((resolve) => setTimeout(resolve, options.pollMs).unref());
  }
}
