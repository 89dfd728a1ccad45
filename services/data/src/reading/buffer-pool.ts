// Reusable read buffers for ReadDataset, and a cap on the bytes each stream has in flight.
//
// A buffer of n bytes is a view into an allocation with HEADROOM bytes before it and TAILROOM after,
// so that the response serializer can write the message's other fields around the data in place.
//
// Streaming allocates a chunk-sized buffer per read; at hundreds of MB/s those allocations (external
// memory to V8) trigger a full garbage collection every few chunks. Buffers come from here and go
// back once the response serializer has copied them into the outgoing message (handlers/wire.ts), so
// a stream reuses a handful of buffers.
//
// grpc-js queues up to 16 messages per stream before write() reports backpressure, so without a cap a
// stream of 4 MiB chunks could hold 64 MiB. A stream reads through a lease: a read waits while the
// stream's buffers not yet serialized exceed the lease's cap, so memory per stream is bounded by the
// cap (plus what HTTP/2 flow control lets through), whatever the chunk size or dataset size.

class Lease {
  private readonly pool: BufferPool;
  private readonly capBytes: number;
  private readonly signal: AbortSignal;
  private readonly buffers = new Set<ArrayBufferLike>();
  private readonly waiters = new Set<() => void>();
  private closed = false;
  inFlightBytes = 0;

  constructor(pool: BufferPool, capBytes: number, signal: AbortSignal) {
    this.pool = pool;
    this.capBytes = capBytes;
    this.signal = signal;
  }

  /** A buffer of `size` bytes, once the stream's in-flight bytes leave room for it. */
  async acquire(size: number): Promise<Buffer> {
    for (;;) {
      if (this.signal.aborted) throw this.signal.reason;
      if (this.closed) throw new Error('read after the stream ended');
      if (this.inFlightBytes === 0 || this.inFlightBytes + size <= this.capBytes) break;
      await new Promise<void>((resolve) => {
        const done = () => {
          this.signal.removeEventListener('abort', done);
          this.waiters.delete(done);
          resolve();
        };
        this.waiters.add(done);
        this.signal.addEventListener('abort', done, { once: true });
      });
    }
    const buffer = this.pool.take(size, this);
    this.buffers.add(buffer.buffer);
    this.inFlightBytes += size;
    return buffer;
  }

  /** Called by the pool when one of this lease's buffers has been serialized. */
  returned(backing: ArrayBufferLike, size: number): void {
    if (!this.buffers.delete(backing)) return;
    this.inFlightBytes -= size;
    for (const wake of [...this.waiters]) wake();
  }

  /** Ends the lease: buffers still queued (a cancelled call) are left to the garbage collector. */
  close(): void {
    for (const backing of this.buffers) this.pool.forget(backing);
    this.buffers.clear();
    this.inFlightBytes = 0;
    this.closed = true;
    for (const wake of [...this.waiters]) wake();
  }
}

export type { Lease };

/** Room before a pool buffer's data: an encoded message's tags, lengths and fields 1-5. */
export const HEADROOM = 256;
/** Room after it: fields 7-9 (CRC-32, last flag, 64-character sha256). */
export const TAILROOM = 128;

export class BufferPool {
  private readonly free = new Map<number, Buffer[]>();
  private readonly lent = new WeakMap<ArrayBufferLike, Lease | undefined>();
  private pooledBytes = 0;
  private readonly maxPooledBytes: number;

  constructor(maxPooledBytes = 64 * 1024 * 1024) {
    this.maxPooledBytes = maxPooledBytes;
  }

  /** A lease for one stream, holding at most `capBytes` not yet serialized. */
  lease(capBytes: number, signal: AbortSignal): Lease {
    return new Lease(this, capBytes, signal);
  }

  /** A buffer outside any lease (tests, one-off reads). */
  acquire(size: number): Buffer {
    return this.take(size, undefined);
  }

  /** @internal */
  take(size: number, lease: Lease | undefined): Buffer {
    const list = this.free.get(size);
    let buffer = list?.pop();
    if (buffer) {
      this.pooledBytes -= size;
      if (list?.length === 0) this.free.delete(size);
    } else {
      // HEADROOM is a multiple of 8, so the data stays aligned for typed-array views.
      buffer = Buffer.from(Buffer.allocUnsafeSlow(HEADROOM + size + TAILROOM).buffer, HEADROOM, size);
    }
    this.lent.set(buffer.buffer, lease);
    return buffer;
  }

  /** @internal A buffer that must never be reused (its lease closed while it was still queued). */
  forget(backing: ArrayBufferLike): void {
    this.lent.delete(backing);
  }

  /** Bytes free before and after a buffer this pool lent; undefined for any other view. */
  roomAround(view: Uint8Array): { before: number; after: number } | undefined {
    if (!this.isWhole(view)) return undefined;
    return { before: HEADROOM, after: TAILROOM };
  }

  private isWhole(view: Uint8Array): boolean {
    return (
      this.lent.has(view.buffer) &&
      view.byteOffset === HEADROOM &&
      view.byteLength + HEADROOM + TAILROOM === view.buffer.byteLength
    );
  }

  /** Returns a buffer this pool lent (the whole view it lent); anything else is ignored. */
  release(view: Uint8Array): void {
    const backing = view.buffer;
    if (!this.isWhole(view)) return;
    const lease = this.lent.get(backing);
    this.lent.delete(backing);
    lease?.returned(backing, view.byteLength);
    if (this.pooledBytes + view.byteLength > this.maxPooledBytes) return;
    const list = this.free.get(view.byteLength) ?? [];
    list.push(Buffer.from(backing, HEADROOM, view.byteLength));
    this.free.set(view.byteLength, list);
    this.pooledBytes += view.byteLength;
  }
}
