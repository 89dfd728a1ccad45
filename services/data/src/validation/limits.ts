// Limits that validation enforces, from the service's configuration.

export interface DataLimits {
  /** Largest dataset (all stored files together), in bytes. */
  maxDatasetBytes: number;
  /** Largest user CSV text, in bytes. */
  maxCsvBytes: number;
  /** Largest ReadDataset chunk a client may ask for. */
  maxChunkBytes: number;
  /** The transport's message limit (SampleDataset and online batches must fit in one message). */
  maxMessageBytes: number;
}

export const defaultLimits: DataLimits = {
  maxDatasetBytes: 4 * 1024 ** 3,
  maxCsvBytes: 8 * 1024 ** 2,
  maxChunkBytes: 4 * 1024 ** 2,
  maxMessageBytes: 16 * 1024 ** 2,
};

/** Bounds on single fields, independent of configuration (the byte limit usually binds first). */
export const FIELD_LIMITS = {
  maxExamples: 100_000_000,
  maxFeatures: 1 << 24,
  maxClasses: 10_000,
  maxParityBits: 1 << 16,
  maxFieldWidth: 256,
  maxTargetBins: 1000,
};
