// Entry of a generation worker thread: generates one dataset into its staging directory and reports
// progress. Generation is CPU-bound for seconds, so it runs here rather than on the service's event
// loop; cancelling a job terminates the thread.
import { parentPort, workerData } from 'node:worker_threads';
import { DatasetManifest, DatasetSpec } from '@gengap/proto/data/v1/dataset';
import { SpecError } from '../validation/spec-error.ts';
import { generateDataset } from './generate.ts';
import { Code, type GenerationTask, type WorkerMessage } from './task.ts';
import { writeDataset } from './write-dataset.ts';

const WRITE_START = 0.8;

async function run(task: GenerationTask): Promise<WorkerMessage> {
  const spec = DatasetSpec.decode(task.spec);
  const post = (fraction: number, phase: string) =>
    parentPort?.postMessage({ type: 'progress', fraction, phase } satisfies WorkerMessage);
  const data = await generateDataset(spec, { cacheDir: task.cacheDir }, post);
  post(WRITE_START, 'writing files');
  const file = await writeDataset(
    task.stagingDir,
    { datasetId: task.datasetId, spec, canonicalSpecJson: task.canonicalSpecJson },
    data,
    (f) => post(WRITE_START + (1 - WRITE_START) * f, 'writing files'),
  );
  return { type: 'done', manifest: DatasetManifest.encode(file.manifest).finish() };
}

run(workerData as GenerationTask).then(
  (message) => parentPort?.postMessage(message),
  (err: unknown) => {
    const message: WorkerMessage =
      err instanceof SpecError
        ? { type: 'failed', code: Code.INVALID_ARGUMENT, message: err.message, field: err.field }
        : {
            type: 'failed',
            code: Code.INTERNAL,
            message: err instanceof Error ? (err.stack ?? err.message) : String(err),
          };
    parentPort?.postMessage(message);
  },
);
