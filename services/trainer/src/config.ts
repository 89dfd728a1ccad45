// The trainer's own configuration (environment variables), on top of the settings every service has.
import { z } from 'zod';

const positiveInt = (fallback: number, max: number) =>
  z.coerce.number().int().min(1).max(max).default(fallback);

export const trainerConfigShape = {
  /** Runs that train at the same time; each gets its own worker thread and ORT session. */
  GENGAP_MAX_CONCURRENT_RUNS: positiveInt(1, 256),
  /** Runs accepted in state QUEUED beyond the running ones; a StartRun past this is RESOURCE_EXHAUSTED. */
  GENGAP_MAX_QUEUED_RUNS: z.coerce.number().int().min(0).max(100_000).default(100),
  /** ORT intra-op threads of a run whose spec leaves `threads` at 0. */
  GENGAP_THREADS_PER_RUN: positiveInt(1, 256),
  /** Address of the data service (host:port), where datasets are read. */
  GENGAP_DATA_ADDRESS: z.string().min(1).default('127.0.0.1:50051'),
  /** Address of the analysis service, for checkpoints made by analyses; unset: such references fail. */
  GENGAP_ANALYSIS_ADDRESS: z.string().min(1).optional(),
  /**
   * Longest stretch between resume checkpoints, in steps, for runs whose spec asks for one checkpoint
   * per epoch (checkpoints.every_steps = 0): long or online epochs still checkpoint this often.
   */
  GENGAP_CHECKPOINT_EVERY_STEPS: z.coerce.number().int().min(1).max(10_000_000).default(1000),
  /** Bytes of datasets kept in memory between runs (datasets are immutable, keyed by id). */
  GENGAP_DATASET_CACHE_BYTES: z.coerce
    .number()
    .int()
    .min(0)
    .default(2 * 1024 * 1024 * 1024),
  /**
   * Exit once the first run this trainer knows has ended (runs/exit-after-run.ts): 0 when it
   * succeeded, 3 otherwise. For a trainer started for one run, such as a Kubernetes Job's pod; a
   * trainer serving many runs leaves it off.
   */
  GENGAP_TRAINER_EXIT_AFTER_RUN: z
    .enum(['true', 'false', '1', '0'])
    .default('false')
    .transform((v) => v === 'true' || v === '1'),
  /**
   * With GENGAP_TRAINER_EXIT_AFTER_RUN, how long the trainer still serves after the run ended, so
   * whoever follows it (the coordinator's WatchRun, then GetRun) reads the outcome before it goes.
   */
  GENGAP_TRAINER_EXIT_GRACE_MS: z.coerce.number().int().min(0).max(3_600_000).default(30_000),
};
