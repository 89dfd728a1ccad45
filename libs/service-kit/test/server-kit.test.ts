// The kit's cross-cutting rules on a real server: one error mapping, clamped deadlines, streams that
// stop when the client cancels, and partial services answering UNIMPLEMENTED.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  DataServiceClient,
  DataServiceService,
  ReadDatasetRequest,
  SampleDatasetRequest,
} from '@gengap/proto/data/v1/data_service';
import { type ServiceError, status } from '@grpc/grpc-js';
import { pino } from 'pino';
import {
  ConfigError,
  callUnary,
  commonConfigShape,
  createClient,
  FIELD_METADATA_KEY,
  GenGapServer,
  InvalidArgumentError,
  loadConfig,
  NotFoundError,
  readStream,
  type StreamSink,
} from '../src/index.ts';

let server: GenGapServer;
let client: DataServiceClient;
let writesAfterCancel = 0;
let streamStoppedBy: string | undefined;

before(async () => {
  server = new GenGapServer({
    log: pino({ level: 'silent' }),
    serviceNames: ['gengap.data.v1.DataService'],
    maxMessageBytes: 4 * 1024 * 1024,
    maxConcurrentStreams: 100,
    maxUnaryDeadlineMs: 300,
    shutdownGraceMs: 1000,
    drainDelayMs: 0,
  });
  server.addService(DataServiceService, {
    getDataset: (req: { datasetId: string }) => {
      if (req.datasetId === 'bad') throw new InvalidArgumentError('dataset_id', 'must be 32 hex characters');
      if (req.datasetId === 'bug') throw new TypeError('secret internal detail');
      throw new NotFoundError('dataset', req.datasetId);
    },
    // Never answers: the clamped deadline must answer for it.
    listDatasets: () => new Promise(() => {}),
    readDataset: async (_req: unknown, _ctx: unknown, sink: StreamSink<{ chunk: unknown }>) => {
      let cancelledAt: number | undefined;
      try {
        for (let i = 0; ; i++) {
          await sink.write({ chunk: { sequence: i, data: Buffer.alloc(1024) } });
          if (sink.signal.aborted) cancelledAt ??= i;
          if (cancelledAt !== undefined) writesAfterCancel++;
        }
      } catch (err) {
        streamStoppedBy = (err as Error).name;
        throw err;
      }
    },
  });
  const port = await server.listen('127.0.0.1', 0);
  server.setServing(true);
  client = createClient(DataServiceClient, `127.0.0.1:${port}`);
});

after(async () => {
  client.close();
  await server.shutdown();
});

async function codeOf(p: Promise<unknown>): Promise<ServiceError> {
  try {
    await p;
  } catch (err) {
    return err as ServiceError;
  }
  throw new Error('expected the call to fail');
}

test('InvalidArgumentError becomes INVALID_ARGUMENT with the field path in message and metadata', async () => {
  const err = await codeOf(callUnary(client, client.getDataset, { datasetId: 'bad' }));
  assert.equal(err.code, status.INVALID_ARGUMENT);
  assert.match(err.details, /^dataset_id: must be 32 hex characters/);
  assert.deepEqual(err.metadata.get(FIELD_METADATA_KEY), ['dataset_id']);
});

test('NotFoundError becomes NOT_FOUND; an unexpected error becomes INTERNAL without its details', async () => {
  assert.equal(
    (await codeOf(callUnary(client, client.getDataset, { datasetId: 'x' }))).code,
    status.NOT_FOUND,
  );
  const bug = await codeOf(callUnary(client, client.getDataset, { datasetId: 'bug' }));
  assert.equal(bug.code, status.INTERNAL);
  assert.doesNotMatch(bug.details, /secret/);
});

test('a handler that never answers is cut at the server-side deadline cap', async () => {
  const started = Date.now();
  const err = await codeOf(callUnary(client, client.listDatasets, {}, { deadlineMs: 60_000 }));
  assert.equal(err.code, status.DEADLINE_EXCEEDED);
  assert.ok(Date.now() - started < 5_000, 'answered near the 300 ms cap, not the client deadline');
});

test('methods without handlers answer UNIMPLEMENTED', async () => {
  const err = await codeOf(
    callUnary(client, client.sampleDataset, SampleDatasetRequest.fromPartial({ datasetId: 'x' })),
  );
  assert.equal(err.code, status.UNIMPLEMENTED, err.details);
});

test('cancelling a stream stops the server writing', async () => {
  const controller = new AbortController();
  let received = 0;
  await assert.rejects(async () => {
    for await (const _ of readStream(
      client,
      client.readDataset,
      ReadDatasetRequest.fromPartial({ datasetId: 'x' }),
      {
        signal: controller.signal,
      },
    )) {
      if (++received === 50) controller.abort();
    }
  });
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(streamStoppedBy, 'CancelledError');
  assert.ok(writesAfterCancel <= 1, `server wrote ${writesAfterCancel} messages after the cancel`);
});

test('config: defaults apply and a bad value names its variable', () => {
  const config = loadConfig(commonConfigShape, {});
  assert.equal(config.GENGAP_HOST, '127.0.0.1');
  assert.equal(config.GENGAP_MAX_MESSAGE_BYTES, 16 * 1024 * 1024);
  assert.throws(
    () => loadConfig(commonConfigShape, { GENGAP_LOG_LEVEL: 'loud' }),
    (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.equal(err.variable, 'GENGAP_LOG_LEVEL');
      return true;
    },
  );
});
