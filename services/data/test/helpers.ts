// Test fixture: the real data service on 127.0.0.1:0 with its own state directory, and helpers that
// call it through the generated client.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { JobStore } from '@gengap/job-store';
import { JobState } from '@gengap/proto/common/v1/job';
import { Split } from '@gengap/proto/common/v1/refs';
import { DataType } from '@gengap/proto/common/v1/tensor';
import { DataServiceClient } from '@gengap/proto/data/v1/data_service';
import { type Dataset, DatasetSpec, type DeepPartial } from '@gengap/proto/data/v1/dataset';
import {
  callUnary,
  closeClient,
  createClient,
  createRootLogger,
  type GenGapServer,
  readStream,
} from '@gengap/service-kit';
import { ChunkAssembler, type RawTensor } from '@gengap/tensor-io';
import { runInWorker } from '../src/generation/runner.ts';
import { DatasetJobs } from '../src/jobs/dataset-jobs.ts';
import { createServer } from '../src/server.ts';
import { LocalDatasetStorage } from '../src/storage/local-storage.ts';
import { type DataLimits, defaultLimits } from '../src/validation/limits.ts';

export interface TestService {
  server: GenGapServer;
  client: DataServiceClient;
  jobs: DatasetJobs;
  store: JobStore;
  storage: LocalDatasetStorage;
  stateDir: string;
  address: string;
  /** Stops the server (jobs stay as they are) and removes nothing. */
  stop(): Promise<void>;
  /** Stops and removes the state directory. */
  close(): Promise<void>;
}

export function tempStateDir(prefix = 'gengap-data-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export async function startService(
  options: { stateDir?: string; limits?: Partial<DataLimits>; concurrency?: number } = {},
): Promise<TestService> {
  const stateDir = options.stateDir ?? tempStateDir();
  const log = createRootLogger({ service: 'data-test', level: process.env.GENGAP_TEST_LOG ?? 'silent' });
  const store = new JobStore(join(stateDir, 'data.sqlite'));
  const storage = new LocalDatasetStorage(join(stateDir, 'datasets'));
  const limits = { ...defaultLimits, ...options.limits };
  const jobs = new DatasetJobs({
    store,
    storage,
    limits,
    cacheDir: join(stateDir, 'cache'),
    concurrency: options.concurrency ?? 2,
    runner: runInWorker,
    log,
  });
  const server = createServer({
    settings: {
      log,
      serviceNames: ['gengap.data.v1.DataService'],
      maxMessageBytes: limits.maxMessageBytes,
      maxConcurrentStreams: 100,
      maxUnaryDeadlineMs: 60_000,
      shutdownGraceMs: 1000,
      drainDelayMs: 0,
    },
    jobs,
    storage,
  });
  const port = await server.listen('127.0.0.1', 0);
  await jobs.resume();
  server.setServing(true);
  const address = `127.0.0.1:${port}`;
  const client = createClient(DataServiceClient, address, { maxMessageBytes: 64 * 1024 * 1024 });
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    closeClient(client);
    await server.shutdown();
    await jobs.close();
    store.close();
  };
  return {
    server,
    client,
    jobs,
    store,
    storage,
    stateDir,
    address,
    stop,
    close: async () => {
      await stop();
      rmSync(stateDir, { recursive: true, force: true });
    },
  };
}

const mainModule = fileURLToPath(new URL('../src/main.ts', import.meta.url));

export interface Process {
  child: ChildProcess;
  client: DataServiceClient;
  stateDir: string;
  port: number;
}

/** The data service as a separate process (services/data/src/main.ts), for crash and identity tests. */
export async function startProcess(stateDir = tempStateDir('gengap-data-proc-')): Promise<Process> {
  const ready = join(stateDir, `ready-${Date.now()}.json`);
  const child = spawn(process.execPath, [mainModule], {
    env: {
      ...process.env,
      GENGAP_STATE_DIR: stateDir,
      GENGAP_PORT: '0',
      GENGAP_READY_FILE: ready,
      GENGAP_LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  for (let i = 0; i < 400 && !existsSync(ready); i++) await sleep(50);
  const { port } = JSON.parse(readFileSync(ready, 'utf8')) as { port: number };
  return { child, client: createClient(DataServiceClient, `127.0.0.1:${port}`), stateDir, port };
}

/** Stops the process with `signal` (SIGKILL simulates a crash); removes its state unless `keep`. */
export async function stopProcess(
  p: Process,
  signal: NodeJS.Signals = 'SIGTERM',
  keep = false,
): Promise<void> {
  closeClient(p.client);
  const exited = new Promise((resolve) => p.child.once('exit', resolve));
  p.child.kill(signal);
  await exited;
  if (!keep) rmSync(p.stateDir, { recursive: true, force: true });
}

/** A spec from a partial object (unset fields take their proto defaults). */
export function spec(partial: DeepPartial<DatasetSpec>): DatasetSpec {
  return DatasetSpec.fromPartial(partial as never);
}

const TERMINAL: number[] = [
  JobState.JOB_STATE_SUCCEEDED,
  JobState.JOB_STATE_FAILED,
  JobState.JOB_STATE_CANCELLED,
];

/** Follows WatchDataset until the job is terminal; returns the final Dataset. */
export async function waitForDataset(client: DataServiceClient, datasetId: string): Promise<Dataset> {
  for await (const event of readStream(client, client.watchDataset, { datasetId, fromSequence: 0 })) {
    if (TERMINAL.includes(event.status?.state ?? 0)) break;
  }
  const { dataset } = await callUnary(client, client.getDataset, { datasetId });
  if (!dataset) throw new Error('no dataset');
  return dataset;
}

/** Creates a dataset and waits for it; fails the test unless it succeeded. */
export async function createAndWait(client: DataServiceClient, s: DatasetSpec): Promise<Dataset> {
  const { dataset } = await callUnary(client, client.createDataset, { spec: s, idempotencyKey: '' });
  if (!dataset) throw new Error('no dataset');
  const done = await waitForDataset(client, dataset.datasetId);
  if (done.status?.state !== JobState.JOB_STATE_SUCCEEDED) {
    throw new Error(`dataset ${done.datasetId} ended ${done.status?.state}: ${done.status?.error?.message}`);
  }
  return done;
}

export interface SplitRead {
  tensors: Map<string, RawTensor>;
  x: Float32Array;
  y: number[];
  yClean: number[] | undefined;
  shape: number[];
}

function labels(t: RawTensor | undefined): number[] | undefined {
  if (!t) return undefined;
  const v = new BigInt64Array(t.data.buffer, t.data.byteOffset, t.data.byteLength / 8);
  return Array.from(v, Number);
}

export async function readSplit(
  client: DataServiceClient,
  datasetId: string,
  split: 'train' | 'test',
  options: { chunkBytes?: number; inputDtype?: DataType } = {},
): Promise<SplitRead> {
  const assembler = new ChunkAssembler();
  const request = {
    datasetId,
    split: split === 'train' ? Split.SPLIT_TRAIN : Split.SPLIT_TEST,
    chunkBytes: options.chunkBytes ?? 0,
    inputDtype: options.inputDtype ?? DataType.DATA_TYPE_UNSPECIFIED,
    auxiliary: '',
  };
  for await (const message of readStream(client, client.readDataset, request)) {
    if (message.chunk) assembler.push(message.chunk);
  }
  const tensors = new Map(assembler.finish().map((t) => [t.name, t]));
  const x = tensors.get('x') as RawTensor;
  return {
    tensors,
    x: new Float32Array(x.data.slice().buffer),
    y: labels(tensors.get('y')) ?? [],
    yClean: labels(tensors.get('y_clean')),
    shape: x.shape.map(Number),
  };
}

/** Calls a unary method and returns the gRPC error it fails with (or throws if it succeeds). */
export async function expectError(
  promise: Promise<unknown>,
): Promise<{ code: number; details: string; field: string }> {
  try {
    await promise;
  } catch (err) {
    const e = err as { code: number; details: string; metadata?: { get(k: string): unknown[] } };
    const field = String(e.metadata?.get('gengap-field')?.[0] ?? '');
    return { code: e.code, details: e.details, field };
  }
  throw new Error('expected the call to fail');
}
