// Streaming a ~200 MB dataset split over loopback with ReadDataset, against a plain grpc-js peer.
//
//   npm run bench -- data-stream [--chunk-bytes N (default 1 MiB, as ReadDataset's 0)] [--runs N]
//
// 1. A data service (a child process running services/data/src/main.ts) generates a 200 MiB Gaussian
//    mixture (51,200 x 1,024 float32 inputs); it is then stopped and a fresh one started on the same
//    state directory, so that the server's peak RSS (VmHWM) covers start-up and streaming only.
// 2. A client in this process streams the train split (x and y), `runs` times after a warm-up, in
//    three ways (median MB/s of each, 1 MB = 10^6 bytes):
//    - read_mb_per_s: everything the contract promises is checked: ChunkAssembler verifies sequence
//      numbers, offsets, every chunk's CRC-32 and every tensor's sha256, and reassembles x and y.
//      The client decodes chunks without copying them (tensor-io's decodeChunkEnvelope) and opens a
//      16 MiB HTTP/2 flow-control window ('grpc-node.flow_control_window').
//    - read_mb_per_s_crc_only: the same client checks each chunk's sequence number and CRC-32 and
//      drops it (what a consumer that processes chunks as they come would pay).
//    - read_mb_per_s_generated_client: service-kit's createClient with the generated decoder (which
//      copies every chunk) and the same 16 MiB window (ClientSettings.channelOptions), verified.
//    - read_mb_per_s_default_window: createClient with its defaults (HTTP/2's 64 KiB window), verified.
// 3. Reference: a plain grpc-js server (another child process) streams the same x bytes as
//    pre-allocated buffers with an identity serializer, to a client with the same window that only
//    counts them: the transport's ceiling on this machine. Its runs alternate with ours.
// CPU milliseconds per MB of client and server are reported too: on a shared, busy machine they say
// more than wall-clock rates (the machine's 1-minute load average is printed with them).
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { crc32 } from 'node:zlib';
import { JobState } from '@gengap/proto/common/v1/job';
import { Split } from '@gengap/proto/common/v1/refs';
import { DataType } from '@gengap/proto/common/v1/tensor';
import { DataServiceClient, DataServiceService } from '@gengap/proto/data/v1/data_service';
import { DatasetSpec } from '@gengap/proto/data/v1/dataset';
import { callUnary, closeClient, createClient, readStream } from '@gengap/service-kit';
import { ChunkAssembler, decodeChunkEnvelope, readNpyFile } from '@gengap/tensor-io';
import * as grpc from '@grpc/grpc-js';
import { printBench } from './report.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const MiB = 1024 * 1024;
const WINDOW = 16 * MiB;

function option(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

const chunkBytes = option('chunk-bytes', MiB);
const runs = option('runs', 3);

// ---- the raw peer (child mode) ---------------------------------------------------------------
const identity = (x: Buffer) => x;
const rawDefinition = {
  stream: {
    path: '/bench.RawPeer/Stream',
    requestStream: false,
    responseStream: true,
    requestSerialize: identity,
    requestDeserialize: identity,
    responseSerialize: identity,
    responseDeserialize: identity,
  },
} as const;

async function rawPeer(file: string, chunk: number): Promise<void> {
  const tensor = await readNpyFile(file);
  const buffers: Buffer[] = [];
  for (let at = 0; at < tensor.data.byteLength; at += chunk) {
    buffers.push(Buffer.from(tensor.data.subarray(at, Math.min(at + chunk, tensor.data.byteLength))));
  }
  const server = new grpc.Server({ 'grpc.max_send_message_length': 64 * MiB });
  server.addService(rawDefinition, {
    stream(call: grpc.ServerWritableStream<Buffer, Buffer>) {
      let i = 0;
      const pump = () => {
        while (i < buffers.length) {
          if (!call.write(buffers[i++] as Buffer)) {
            call.once('drain', pump);
            return;
          }
        }
        call.end();
      };
      pump();
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) =>
      e ? reject(e) : resolve(p),
    ),
  );
  process.send?.({ port });
}

// ---- helpers ------------------------------------------------------------------------------------
interface Server {
  child: ChildProcess;
  pid: number;
  address: string;
}

async function startDataServer(stateDir: string): Promise<Server> {
  const ready = join(stateDir, `ready-${Date.now()}.json`);
  const child = spawn(process.execPath, [join(root, 'services/data/src/main.ts')], {
    env: {
      ...process.env,
      GENGAP_STATE_DIR: stateDir,
      GENGAP_PORT: '0',
      GENGAP_READY_FILE: ready,
      GENGAP_LOG_LEVEL: 'warn',
      GENGAP_MAX_MESSAGE_BYTES: String(64 * MiB),
      GENGAP_MAX_CHUNK_BYTES: String(32 * MiB),
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  for (let i = 0; i < 600 && !existsSync(ready); i++) await sleep(50);
  const { port, pid } = JSON.parse(readFileSync(ready, 'utf8')) as { port: number; pid: number };
  return { child, pid, address: `127.0.0.1:${port}` };
}

async function stopServer(server: Server): Promise<void> {
  const exited = new Promise((resolve) => server.child.once('exit', resolve));
  server.child.kill('SIGTERM');
  await exited;
}

function memoryOf(pid: number): { rssMb: number; peakRssMb: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string) => Number(new RegExp(`${key}:\\s+(\\d+) kB`).exec(status)?.[1] ?? 0);
  return { rssMb: kb('VmRSS') / 1024, peakRssMb: kb('VmHWM') / 1024 };
}

/** CPU seconds (user + system) a process has used, from /proc/<pid>/stat (clock ticks of 1/100 s). */
function cpuSecondsOf(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

const round = (v: number, digits = 1) => Number(v.toFixed(digits));

/** A DataService client that decodes ReadDataset chunks without copying and opens a 16 MiB window. */
function fastClient(address: string): DataServiceClient {
  const definition = {
    ...DataServiceService,
    readDataset: {
      ...DataServiceService.readDataset,
      responseDeserialize: (bytes: Buffer) => ({ chunk: decodeChunkEnvelope(bytes) }),
    },
  };
  const Client = grpc.makeGenericClientConstructor(
    definition,
    'DataService',
  ) as unknown as typeof DataServiceClient;
  return new Client(address, grpc.credentials.createInsecure(), {
    'grpc.max_receive_message_length': 64 * MiB,
    'grpc-node.flow_control_window': WINDOW,
  });
}

interface ReadResult {
  mbPerS: number;
  bytes: number;
  /** CPU milliseconds per MB spent by this (client) process and by the server process. */
  clientCpuMsPerMb: number;
  serverCpuMsPerMb: number;
}

/** Streams the train split once; `verify` reassembles with every check, else sequence + CRC only. */
async function readOnce(
  client: DataServiceClient,
  datasetId: string,
  serverPid: number,
  verify: boolean,
): Promise<ReadResult> {
  const assembler = new ChunkAssembler({ maxTensorBytes: 2 ** 31 });
  const request = {
    datasetId,
    split: Split.SPLIT_TRAIN,
    chunkBytes,
    inputDtype: DataType.DATA_TYPE_UNSPECIFIED,
    auxiliary: '',
  };
  const cpu = process.cpuUsage();
  const serverCpu = cpuSecondsOf(serverPid);
  const start = performance.now();
  let bytes = 0;
  let sequence = 0;
  for await (const message of readStream(client, client.readDataset, request)) {
    const chunk = message.chunk;
    if (!chunk) continue;
    bytes += chunk.data.byteLength;
    if (verify) {
      assembler.push(chunk);
    } else if (chunk.sequence !== sequence++ || crc32(chunk.data) !== chunk.crc32) {
      throw new Error(`chunk ${chunk.sequence} failed its check`);
    }
  }
  const seconds = (performance.now() - start) / 1000;
  const used = process.cpuUsage(cpu);
  const mb = bytes / 1e6;
  if (
    verify &&
    assembler
      .finish()
      .map((t) => t.name)
      .join() !== 'x,y'
  )
    throw new Error('unexpected tensors');
  return {
    mbPerS: mb / seconds,
    bytes,
    clientCpuMsPerMb: (used.user + used.system) / 1000 / mb,
    serverCpuMsPerMb: ((cpuSecondsOf(serverPid) - serverCpu) * 1000) / mb,
  };
}

async function rawOnce(address: string, expected: number, peerPid: number): Promise<ReadResult> {
  const Client = grpc.makeGenericClientConstructor(rawDefinition, 'RawPeer');
  const client = new Client(address, grpc.credentials.createInsecure(), {
    'grpc.max_receive_message_length': 64 * MiB,
    'grpc-node.flow_control_window': WINDOW,
  }) as unknown as { stream(req: Buffer): AsyncIterable<Buffer> } & grpc.Client;
  const cpu = process.cpuUsage();
  const serverCpu = cpuSecondsOf(peerPid);
  const start = performance.now();
  let bytes = 0;
  for await (const m of client.stream(Buffer.alloc(0))) bytes += m.byteLength;
  const seconds = (performance.now() - start) / 1000;
  const used = process.cpuUsage(cpu);
  client.close();
  if (bytes !== expected) throw new Error(`raw peer sent ${bytes} of ${expected} bytes`);
  const mb = bytes / 1e6;
  return {
    mbPerS: mb / seconds,
    bytes,
    clientCpuMsPerMb: (used.user + used.system) / 1000 / mb,
    serverCpuMsPerMb: ((cpuSecondsOf(peerPid) - serverCpu) * 1000) / mb,
  };
}

function summary(results: ReadResult[]) {
  return {
    allRuns: results.map((r) => round(r.mbPerS)),
    clientCpuMsPerMb: round(median(results.map((r) => r.clientCpuMsPerMb)), 3),
    serverCpuMsPerMb: round(median(results.map((r) => r.serverCpuMsPerMb)), 3),
  };
}

// ---- main ---------------------------------------------------------------------------------------
async function main(): Promise<void> {
  const stateDir = mkdtempSync(join(tmpdir(), 'gengap-bench-data-'));
  const loadAtStart = loadavg()[0] as number;
  try {
    const spec = DatasetSpec.fromPartial({
      source: {
        $case: 'gaussianMixture',
        value: { numClasses: 10, dimension: 1024, trainSize: 51_200, testSize: 1024, separation: 4 },
      },
      seed: 2017,
    });
    let server = await startDataServer(stateDir);
    let client = createClient(DataServiceClient, server.address, { maxMessageBytes: 64 * MiB });
    const generationStart = performance.now();
    const created = await callUnary(client, client.createDataset, { spec, idempotencyKey: '' });
    const datasetId = created.dataset?.datasetId as string;
    for await (const event of readStream(client, client.watchDataset, { datasetId, fromSequence: 0 })) {
      const state = event.status?.state;
      if (state === JobState.JOB_STATE_FAILED || state === JobState.JOB_STATE_CANCELLED) {
        throw new Error(`generation ended in state ${state}: ${event.status?.error?.message}`);
      }
    }
    const generationSeconds = (performance.now() - generationStart) / 1000;
    closeClient(client);
    await stopServer(server);

    // A fresh server: its peak RSS covers start-up and streaming only. The raw peer runs beside it,
    // and the runs alternate, so that both see the same machine load.
    server = await startDataServer(stateDir);
    client = createClient(DataServiceClient, server.address, { maxMessageBytes: 64 * MiB });
    const xFile = join(stateDir, 'datasets', datasetId, 'train_x.npy');
    const peer = spawn(
      process.execPath,
      [fileURLToPath(import.meta.url), '--raw-peer', xFile, String(chunkBytes)],
      {
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      },
    );
    const { port } = await new Promise<{ port: number }>((resolve) =>
      peer.once('message', (m) => resolve(m as { port: number })),
    );
    const xBytes = 51_200 * 1024 * 4;
    const idle = memoryOf(server.pid);
    const fast = fastClient(server.address);
    const warm = await readOnce(fast, datasetId, server.pid, true);
    await rawOnce(`127.0.0.1:${port}`, xBytes, peer.pid as number);
    const verified: ReadResult[] = [];
    const crcOnly: ReadResult[] = [];
    const generated: ReadResult[] = [];
    const defaultWindow: ReadResult[] = [];
    const raw: ReadResult[] = [];
    const windowed = createClient(DataServiceClient, server.address, {
      maxMessageBytes: 64 * MiB,
      channelOptions: { 'grpc-node.flow_control_window': WINDOW },
    });
    for (let r = 0; r < runs; r++) {
      verified.push(await readOnce(fast, datasetId, server.pid, true));
      raw.push(await rawOnce(`127.0.0.1:${port}`, xBytes, peer.pid as number));
      crcOnly.push(await readOnce(fast, datasetId, server.pid, false));
      generated.push(await readOnce(windowed, datasetId, server.pid, true));
      defaultWindow.push(await readOnce(client, datasetId, server.pid, true));
    }
    closeClient(windowed);
    const after = memoryOf(server.pid);
    closeClient(fast);
    closeClient(client);
    await stopServer(server);
    peer.kill();

    const reference = round(median(raw.map((r) => r.mbPerS)));
    const referenceName =
      'plain grpc-js stream of pre-allocated buffers (identity serializer, same chunk size, 16 MiB window)';
    const common = { datasetBytes: warm.bytes, chunkBytes, runs, loadAverage1m: round(loadAtStart, 2) };
    printBench({
      bench: 'data-stream',
      metric: 'read_mb_per_s',
      unit: 'MB/s',
      gengap: round(median(verified.map((r) => r.mbPerS))),
      reference,
      referenceName,
      better: 'higher',
      extra: {
        ...common,
        ...summary(verified),
        client:
          'zero-copy chunk decoder, 16 MiB window; ChunkAssembler: sequence, offsets, CRC-32, sha256, reassembly',
        referencePeer: summary(raw),
        generationSeconds: round(generationSeconds, 2),
      },
    });
    printBench({
      bench: 'data-stream',
      metric: 'read_mb_per_s_crc_only',
      unit: 'MB/s',
      gengap: round(median(crcOnly.map((r) => r.mbPerS))),
      reference,
      referenceName,
      better: 'higher',
      extra: {
        ...summary(crcOnly),
        client: 'zero-copy chunk decoder, 16 MiB window; sequence and CRC-32 per chunk',
      },
    });
    printBench({
      bench: 'data-stream',
      metric: 'read_mb_per_s_generated_client',
      unit: 'MB/s',
      gengap: round(median(generated.map((r) => r.mbPerS))),
      reference,
      referenceName,
      better: 'higher',
      extra: {
        ...summary(generated),
        client:
          'service-kit createClient with a 16 MiB window, generated decoder (copies each chunk); full verification',
      },
    });
    printBench({
      bench: 'data-stream',
      metric: 'read_mb_per_s_default_window',
      unit: 'MB/s',
      gengap: round(median(defaultWindow.map((r) => r.mbPerS))),
      reference,
      referenceName,
      better: 'higher',
      extra: {
        ...summary(defaultWindow),
        client:
          'service-kit createClient defaults (HTTP/2 64 KiB window), generated decoder; full verification',
      },
    });
    printBench({
      bench: 'data-stream',
      metric: 'server_peak_rss_mb',
      unit: 'MB',
      gengap: round(after.peakRssMb),
      reference: round(warm.bytes / 1e6),
      referenceName:
        'size of the streamed split (what a server holding it in memory would need on top of its idle RSS)',
      better: 'lower',
      extra: {
        idleRssMb: round(idle.rssMb),
        peakGrowthMb: round(after.peakRssMb - idle.rssMb),
        rssAfterStreamsMb: round(after.rssMb),
        streams: 1 + 4 * runs,
      },
    });
  } finally {
    rmSync(stateDir, { recursive: true, force: true });
  }
}

if (process.argv[2] === '--raw-peer') {
  await rawPeer(process.argv[3] as string, Number(process.argv[4]));
} else {
  await main();
}
