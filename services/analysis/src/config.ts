// The analysis service's GENGAP_* settings beyond the common ones (service-kit's commonConfigShape).
import { availableParallelism } from 'node:os';
import { z } from 'zod';

export const analysisConfigShape = {
  /** The data service, for dataset splits (ReadDataset); without it, analyses that need data fail. */
  GENGAP_DATA_ADDRESS: z.string().optional(),
  /** The trainer, for runs, their event logs and checkpoint parameters (GetRun, WatchRun, ReadParameters). */
  GENGAP_TRAINER_ADDRESS: z.string().optional(),
  /** Analyses run at once; more wait in the queue. */
  GENGAP_MAX_CONCURRENT_ANALYSES: z.coerce.number().int().min(1).max(64).default(1),
  /** Analyses that may wait; a StartAnalysis beyond that is refused with RESOURCE_EXHAUSTED. */
  GENGAP_MAX_QUEUED_ANALYSES: z.coerce.number().int().min(0).max(100_000).default(64),
  /** Intra-op threads per analysis when its spec says 0. */
  GENGAP_ANALYSIS_THREADS: z.coerce
    .number()
    .int()
    .min(1)
    .max(64)
    .default(Math.max(1, Math.min(4, availableParallelism()))),
  /** Bytes of dataset splits kept in memory between analyses. */
  GENGAP_DATASET_CACHE_BYTES: z.coerce
    .number()
    .int()
    .min(0)
    .default(1024 ** 3),
  /** Bytes of checkpoint parameters kept in memory between analyses. */
  GENGAP_CHECKPOINT_CACHE_BYTES: z.coerce
    .number()
    .int()
    .min(0)
    .default(256 * 1024 ** 2),
};
