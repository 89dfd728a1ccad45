// Composition root of the data service: config, logger, job store, dataset storage, generation jobs,
// server, signals.
import { join } from 'node:path';
import { JobStore } from '@gengap/job-store';
import { serviceNames } from '@gengap/proto';
import { runServiceMain, serverSettingsFrom } from '@gengap/service-kit';
import { z } from 'zod';
import { runInWorker } from './generation/runner.ts';
import { DatasetJobs } from './jobs/dataset-jobs.ts';
import { createServer } from './server.ts';
import { LocalDatasetStorage } from './storage/local-storage.ts';
import { defaultLimits } from './validation/limits.ts';

const MiB = 1024 * 1024;

await runServiceMain({
  name: 'data',
  configShape: {
    /** Largest dataset (all of its files), in bytes; larger specs are refused with INVALID_ARGUMENT. */
    GENGAP_MAX_DATASET_BYTES: z.coerce.number().int().min(MiB).default(defaultLimits.maxDatasetBytes),
    /** Largest user CSV (TabularSource.csv_text), in bytes. */
    GENGAP_MAX_CSV_BYTES: z.coerce
      .number()
      .int()
      .min(1024)
      .max(512 * MiB)
      .default(defaultLimits.maxCsvBytes),
    /** Largest ReadDataset chunk a client may ask for (kept below GENGAP_MAX_MESSAGE_BYTES). */
    GENGAP_MAX_CHUNK_BYTES: z.coerce
      .number()
      .int()
      .min(4096)
      .max(256 * MiB)
      .default(defaultLimits.maxChunkBytes),
    /** Dataset generations running at once (each in its own worker thread). */
    GENGAP_DATASET_CONCURRENCY: z.coerce.number().int().min(1).max(64).default(1),
    /** Generations that may wait for a worker; a CreateDataset beyond is RESOURCE_EXHAUSTED at once. */
    GENGAP_MAX_QUEUED_DATASETS: z.coerce.number().int().min(0).max(100_000).default(64),
  },
  build(config, log) {
    const settings = serverSettingsFrom(config, log, [serviceNames.data]);
    const stateDir = config.GENGAP_STATE_DIR;
    const store = new JobStore(join(stateDir, 'data.sqlite'));
    const storage = new LocalDatasetStorage(join(stateDir, 'datasets'));
    const maxChunkBytes = Math.min(
      config.GENGAP_MAX_CHUNK_BYTES,
      config.GENGAP_MAX_MESSAGE_BYTES - 64 * 1024,
    );
    if (maxChunkBytes < config.GENGAP_MAX_CHUNK_BYTES) {
      log.warn({ maxChunkBytes }, 'GENGAP_MAX_CHUNK_BYTES lowered to fit GENGAP_MAX_MESSAGE_BYTES');
    }
    const jobs = new DatasetJobs({
      store,
      storage,
      limits: {
        maxDatasetBytes: config.GENGAP_MAX_DATASET_BYTES,
        maxCsvBytes: config.GENGAP_MAX_CSV_BYTES,
        maxChunkBytes,
        maxMessageBytes: config.GENGAP_MAX_MESSAGE_BYTES,
      },
      cacheDir: join(stateDir, 'cache'),
      concurrency: config.GENGAP_DATASET_CONCURRENCY,
      maxQueued: config.GENGAP_MAX_QUEUED_DATASETS,
      runner: runInWorker,
      log,
    });
    return {
      server: createServer({ settings, jobs, storage }),
      start: () => jobs.resume(),
      close: async () => {
        await jobs.close();
        store.close();
      },
    };
  },
});
