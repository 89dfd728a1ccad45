// A least-recently-used cache bounded in bytes, for inputs named by immutable ids (a dataset id and
// split, a run checkpoint at an exact step): the same key always means the same bytes, so a cached
// value never goes stale. Concurrent loads of one key share a single in-flight promise.

export class ByteLruCache<V> {
  private readonly entries = new Map<string, { value: V; bytes: number }>();
  private readonly loading = new Map<string, Promise<V>>();
  private total = 0;
  private readonly capacity: number;
  private readonly sizeOf: (value: V) => number;

  constructor(capacityBytes: number, sizeOf: (value: V) => number) {
    this.capacity = capacityBytes;
    this.sizeOf = sizeOf;
  }

  get bytes(): number {
    return this.total;
  }

  get(key: string): V | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    this.entries.delete(key);
    this.entries.set(key, entry);
    return entry.value;
  }

  set(key: string, value: V): void {
    const bytes = this.sizeOf(value);
    const old = this.entries.get(key);
    if (old) {
      this.total -= old.bytes;
      this.entries.delete(key);
    }
    if (bytes > this.capacity) return;
    this.entries.set(key, { value, bytes });
    this.total += bytes;
    for (const [k, e] of this.entries) {
      if (this.total <= this.capacity) break;
      this.entries.delete(k);
      this.total -= e.bytes;
    }
  }

  /** The cached value, or the result of `load` (stored unless it fails); one load per key at a time. */
  getOrLoad(key: string, load: () => Promise<V>): Promise<V> {
    const hit = this.get(key);
    if (hit !== undefined) return Promise.resolve(hit);
    let pending = this.loading.get(key);
    if (!pending) {
      pending = load().then(
        (value) => {
          this.loading.delete(key);
          this.set(key, value);
          return value;
        },
        (err: unknown) => {
          this.loading.delete(key);
          throw err;
        },
      );
      this.loading.set(key, pending);
    }
    return pending;
  }
}
