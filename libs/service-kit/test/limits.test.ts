// Message-size limits on both ends and the unary deadline for calls that bring none, on a real server:
// a request over the server's GENGAP_MAX_MESSAGE_BYTES and a response over the client's
// maxMessageBytes are RESOURCE_EXHAUSTED (never a hang or a crash); a unary call sent without any
// deadline is cut at the server's cap.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  DataServiceClient,
  DataServiceService,
  SampleDatasetResponse,
  ValidateDatasetSpecRequest,
} from '@gengap/proto/data/v1/data_service';
import { type ServiceError, status } from '@grpc/grpc-js';
import { pino } from 'pino';
import { callUnary, closeClient, createClient, GenGapServer } from '../src/index.ts';

let server: GenGapServer;
let address: string;

before(async () => {
  server = new GenGapServer({
    log: pino({ level: 'silent' }),
    serviceNames: [],
    maxMessageBytes: 1024 * 1024,
    maxConcurrentStreams: 100,
    maxUnaryDeadlineMs: 300,
    shutdownGraceMs: 200,
    drainDelayMs: 0,
  });
  server.addService(DataServiceService, {
    // 900 KiB: under the server's send limit, over a 256 KiB client's receive limit.
    sampleDataset: () => SampleDatasetResponse.fromPartial({ png: Buffer.alloc(900 * 1024) }),
    getDataset: () => new Promise(() => {}),
    validateDatasetSpec: () => ({ datasetId: 'x', canonicalSpecJson: '{}' }),
  });
  address = `127.0.0.1:${await server.listen('127.0.0.1', 0)}`;
});

after(async () => {
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

test("a request over the server's message limit is RESOURCE_EXHAUSTED", async () => {
  const client = createClient(DataServiceClient, address, { maxMessageBytes: 8 * 1024 * 1024 });
  const big = ValidateDatasetSpecRequest.fromPartial({
    spec: {
      source: {
        $case: 'tabular',
        value: { table: { $case: 'csvText', value: 'x'.repeat(2 * 1024 * 1024) } },
      },
    },
  });
  const err = await failure(callUnary(client, client.validateDatasetSpec, big));
  assert.equal(err.code, status.RESOURCE_EXHAUSTED, err.details);
  closeClient(client);
});

test("a response over the client's message limit is RESOURCE_EXHAUSTED at the client", async () => {
  const small = createClient(DataServiceClient, address, { maxMessageBytes: 256 * 1024 });
  const err = await failure(
    callUnary(small, small.sampleDataset, { datasetId: 'x', split: 0, count: 1, renderPng: false, seed: 0 }),
  );
  assert.equal(err.code, status.RESOURCE_EXHAUSTED, err.details);
  closeClient(small);
  const roomy = createClient(DataServiceClient, address, { maxMessageBytes: 2 * 1024 * 1024 });
  const ok = await callUnary(roomy, roomy.sampleDataset, {
    datasetId: 'x',
    split: 0,
    count: 1,
    renderPng: false,
    seed: 0,
  });
  assert.equal(ok.png.length, 900 * 1024);
  closeClient(roomy);
});

test('a unary call sent without a deadline gets the server cap', async () => {
  const client = createClient(DataServiceClient, address);
  const started = Date.now();
  const err = await new Promise<ServiceError>((resolve) => {
    // No deadline at all (callUnary always sets one): the raw generated method.
    client.getDataset({ datasetId: 'x' }, (e) => resolve(e as ServiceError));
  });
  assert.equal(err.code, status.DEADLINE_EXCEEDED);
  assert.ok(Date.now() - started < 3000, `answered after ${Date.now() - started} ms`);
  closeClient(client);
});
