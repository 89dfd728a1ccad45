// Status messages that quote the request stay deliverable: bounded in length (an oversized trailer
// makes the client reset the stream and its whole connection), well-formed UTF-16 (a lone surrogate
// made grpc-js throw an uncaught URIError while sending the status, ending the process), and the
// field trailer printable ASCII.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { DataServiceClient, DataServiceService } from '@gengap/proto/data/v1/data_service';
import { type ServiceError, status } from '@grpc/grpc-js';
import { pino } from 'pino';
import {
  callUnary,
  closeClient,
  createClient,
  FIELD_METADATA_KEY,
  GenGapServer,
  InvalidArgumentError,
  MAX_STATUS_DETAILS,
  NotFoundError,
  toServiceError,
} from '../src/index.ts';

let server: GenGapServer;
let client: DataServiceClient;

before(async () => {
  server = new GenGapServer({
    log: pino({ level: 'silent' }),
    serviceNames: [],
    maxMessageBytes: 4 * 1024 * 1024,
    maxConcurrentStreams: 100,
    maxUnaryDeadlineMs: 5000,
    shutdownGraceMs: 200,
    drainDelayMs: 0,
  });
  server.addService(DataServiceService, {
    getDataset: (req: { datasetId: string }) => {
      throw new NotFoundError('dataset', req.datasetId);
    },
    deleteDataset: (req: { datasetId: string }) => {
      throw new InvalidArgumentError(`labels.${req.datasetId}`, 'bad label');
    },
  });
  client = createClient(DataServiceClient, `127.0.0.1:${await server.listen('127.0.0.1', 0)}`);
});

after(async () => {
  closeClient(client);
  await server.shutdown();
});

async function failure(p: Promise<unknown>): Promise<ServiceError> {
  try {
    await p;
  } catch (err) {
    return err as ServiceError;
  }
  throw new Error('expected a failure');
}

test('toServiceError bounds and repairs messages', () => {
  const long = toServiceError(new NotFoundError('dataset', 'x'.repeat(100_000)));
  assert.ok((long.details?.length ?? 0) <= MAX_STATUS_DETAILS + 20);
  const cut = toServiceError(new NotFoundError('dataset', `${'a'.repeat(MAX_STATUS_DETAILS - 13)}😀😀`));
  assert.ok(cut.details?.isWellFormed(), 'no lone surrogate after the cut');
  const lone = toServiceError(new NotFoundError('dataset', 'a\uD800b'));
  assert.ok(lone.details?.isWellFormed());
});

test('a 100 000-character unicode id is answered NOT_FOUND and the connection stays usable', async () => {
  for (let i = 0; i < 3; i++) {
    const err = await failure(callUnary(client, client.getDataset, { datasetId: '😀'.repeat(50_000) }));
    assert.equal(err.code, status.NOT_FOUND, err.details);
  }
  const ok = await failure(callUnary(client, client.getDataset, { datasetId: 'short' }));
  assert.equal(ok.code, status.NOT_FOUND);
});

test('a unicode field path reaches the client escaped in the gengap-field trailer', async () => {
  const err = await failure(callUnary(client, client.deleteDataset, { datasetId: 'ключ😀' }));
  assert.equal(err.code, status.INVALID_ARGUMENT);
  const field = String(err.metadata.get(FIELD_METADATA_KEY)[0]);
  assert.equal(decodeURIComponent(field), 'labels.ключ😀');
});
