// A run's helper thread that writes checkpoints (safetensors + manifest, fsynced, renamed into place)
// and prunes older resume checkpoints, so that the run's own thread keeps training meanwhile.
import { parentPort } from 'node:worker_threads';
import { type NewCheckpoint, pruneCheckpoints, writeCheckpoint } from './checkpoints.ts';
import type { NamedArray } from './worker-protocol.ts';

const port = parentPort as NonNullable<typeof parentPort>;

interface WriteRequest {
  id: number;
  runDir: string;
  checkpoint: NewCheckpoint;
  parameters: NamedArray[];
  optimizer: NamedArray[];
}

port.on('message', (request: WriteRequest) => {
  try {
    const written = writeCheckpoint(
      request.runDir,
      request.checkpoint,
      request.parameters,
      request.optimizer,
    );
    pruneCheckpoints(request.runDir, request.checkpoint.step);
    port.postMessage({ id: request.id, written });
  } catch (err) {
    port.postMessage({ id: request.id, error: (err as Error).message ?? String(err) });
  }
});
