// Datasets are immutable (their id is a hash of their spec), so splits read once are kept in memory
// for later runs, least recently used first out once the byte budget is exceeded. Concurrent reads
// of the same split share one download.
import type { DatasetInfo, DatasetReader, OnlineBatch, SplitName, SplitTensors } from './dataset-source.ts';

function splitBytes(split: SplitTensors): number {
  return split.x.byteLength + split.y.byteLength + (split.yClean?.byteLength ?? 0);
}

export class CachedDatasetReader implements DatasetReader {
  private readonly inner: DatasetReader;
  private readonly maxBytes: number;
  private readonly infos = new Map<string, DatasetInfo>();
  private readonly splits = new Map<string, { split: SplitTensors; bytes: number }>();
  private readonly pending = new Map<string, Promise<SplitTensors>>();
  private bytes = 0;

  constructor(inner: DatasetReader, maxBytes: number) {
    this.inner = inner;
    this.maxBytes = maxBytes;
  }

  async info(datasetId: string, signal?: AbortSignal): Promise<DatasetInfo> {
    const known = this.infos.get(datasetId);
    if (known) return known;
    const info = await this.inner.info(datasetId, signal);
    this.infos.set(datasetId, info);
    return info;
  }

  readSplit(datasetId: string, split: SplitName, signal?: AbortSignal): Promise<SplitTensors> {
    const key = `${datasetId}/${split}`;
    const hit = this.splits.get(key);
    if (hit) {
      // Map order is insertion order: re-inserting marks it most recently used.
      this.splits.delete(key);
      this.splits.set(key, hit);
      return Promise.resolve(hit.split);
    }
    let promise = this.pending.get(key);
    if (!promise) {
      promise = this.inner.readSplit(datasetId, split, signal).then(
        (tensors) => {
          this.pending.delete(key);
          this.remember(key, tensors);
          return tensors;
        },
        (err: unknown) => {
          this.pending.delete(key);
          throw err;
        },
      );
      this.pending.set(key, promise);
    }
    return promise;
  }

  onlineBatches(
    datasetId: string,
    batchSize: number,
    startBatch: number,
    count: number,
    signal?: AbortSignal,
  ): Promise<OnlineBatch[]> {
    return this.inner.onlineBatches(datasetId, batchSize, startBatch, count, signal);
  }

  private remember(key: string, split: SplitTensors): void {
    const bytes = splitBytes(split);
    if (bytes > this.maxBytes) return;
    this.splits.set(key, { split, bytes });
    this.bytes += bytes;
    for (const [oldKey, entry] of this.splits) {
      if (this.bytes <= this.maxBytes) break;
      this.splits.delete(oldKey);
      this.bytes -= entry.bytes;
    }
  }
}
