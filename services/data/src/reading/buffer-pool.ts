// Reusable read buffers for ReadDataset. Streaming allocates a chunk-sized buffer per read; at hundreds
// of MB/s those allocations (external memory to V8) trigger a full garbage collection every few
// chunks. Buffers come from here and go back once the response serializer has copied them into the
// outgoing message (see handlers/wire.ts), so a stream reuses a handful of buffers. Buffers the pool
// did not hand out are ignored on release; a buffer never released (a cancelled call) is simply
// garbage collected.

export class BufferPool {
  private readonly free = new Map<number, Buffer[]>();
  private readonly lent = new WeakSet<ArrayBufferLike>();
  private pooledBytes = 0;
  private readonly maxPooledBytes: number;

  constructor(maxPooledBytes = 64 * 1024 * 1024) {
    this.maxPooledBytes = maxPooledBytes;
  }

  acquire(size: number): Buffer {
    const list = this.free.get(size);
    let buffer = list?.pop();
    if (buffer) {
      this.pooledBytes -= size;
      if (list?.length === 0) this.free.delete(size);
    } else {
      // Unpooled allocation: offset 0 in its own ArrayBuffer, so aligned for typed-array views.
      buffer = Buffer.allocUnsafeSlow(size);
    }
    this.lent.add(buffer.buffer);
    return buffer;
  }

  /** Returns a buffer this pool lent (whole, from its first byte); anything else is ignored. */
  release(view: Uint8Array): void {
    const backing = view.buffer;
    if (!this.lent.has(backing) || view.byteOffset !== 0 || view.byteLength !== backing.byteLength) return;
    this.lent.delete(backing);
    if (this.pooledBytes + view.byteLength > this.maxPooledBytes) return;
    const list = this.free.get(view.byteLength) ?? [];
    list.push(Buffer.from(backing, 0, view.byteLength));
    this.free.set(view.byteLength, list);
    this.pooledBytes += view.byteLength;
  }
}
