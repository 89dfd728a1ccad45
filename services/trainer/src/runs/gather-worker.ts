// A training worker's helper thread that gathers the rows of the next chunk's batches into a shared
// buffer while the training thread is inside onnxruntime (whose run() blocks the calling thread), so
// gathering costs no training time. Kept across runs; each run sets up its source and buffers first.
// See batch-gatherer.ts for the protocol.
import { parentPort } from 'node:worker_threads';
import { type GatherSlot, type GatherSource, gatherInto } from './batch-gatherer.ts';

const port = parentPort as NonNullable<typeof parentPort>;
let source: GatherSource | undefined;
let slots: GatherSlot[] = [];

type Request =
  | { type: 'setup'; source: GatherSource; slots: GatherSlot[] }
  | { type: 'release' }
  | { type: 'gather'; id: number; slot: number; indices: Uint32Array };

port.on('message', (request: Request) => {
  if (request.type === 'setup') {
    source = request.source;
    slots = request.slots;
  } else if (request.type === 'release') {
    source = undefined;
    slots = [];
  } else {
    if (source) gatherInto(source, request.indices, slots[request.slot] as GatherSlot);
    port.postMessage({ id: request.id });
  }
});
