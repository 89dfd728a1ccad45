// The kit's security pieces on a real server: tokens and roles checked before any handler (health and
// reflection open), limits on calls in flight answered RESOURCE_EXHAUSTED at once, secrets absent from
// logs and configuration errors, and the loopback rule.
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import {
  DataServiceClient,
  DataServiceService,
  WatchDatasetResponse,
} from '@gengap/proto/data/v1/data_service';
import { Client, credentials, Metadata, type ServiceError, status } from '@grpc/grpc-js';
import {
  bearerTokenOf,
  type CallContext,
  ConfigError,
  callUnary,
  checkExposure,
  closeClient,
  commonConfigShape,
  createAuthenticator,
  createClient,
  createRootLogger,
  GenGapServer,
  isLoopbackHost,
  loadConfig,
  parseAuthTokens,
  readStream,
  requiredRole,
  type StreamSink,
  securityFrom,
} from '../src/index.ts';

const READ = 'read-token-0123456789abcdef';
const RUN = 'run-token-0123456789abcdef00';

async function failure(p: Promise<unknown>): Promise<ServiceError> {
  try {
    await p;
  } catch (err) {
    return err as ServiceError;
  }
  throw new Error('expected the call to fail');
}

test('roles by method name: reads are read, everything else needs run (fail closed)', () => {
  const cases: [string, 'read' | 'run'][] = [
    ['/gengap.data.v1.DataService/GetDataset', 'read'],
    ['/gengap.data.v1.DataService/ListDatasets', 'read'],
    ['/gengap.data.v1.DataService/WatchDataset', 'read'],
    ['/gengap.data.v1.DataService/ReadDataset', 'read'],
    ['/gengap.data.v1.DataService/ReadOnlineBatches', 'read'],
    ['/gengap.data.v1.DataService/SampleDataset', 'read'],
    ['/gengap.data.v1.DataService/ValidateDatasetSpec', 'read'],
    ['/gengap.trainer.v1.TrainerService/GetTrainerInfo', 'read'],
    ['/gengap.coordinator.v1.CoordinatorService/ListPresets', 'read'],
    ['/gengap.data.v1.DataService/CreateDataset', 'run'],
    ['/gengap.data.v1.DataService/DeleteDataset', 'run'],
    ['/gengap.trainer.v1.TrainerService/StartRun', 'run'],
    ['/gengap.trainer.v1.TrainerService/CancelRun', 'run'],
    ['/gengap.coordinator.v1.CoordinatorService/BuildReport', 'run'],
    ['/gengap.x.v1.X/Get', 'run'],
    ['/gengap.x.v1.X/Getaway', 'read'],
    ['/gengap.x.v1.X/Unknown', 'run'],
  ];
  for (const [method, role] of cases) assert.equal(requiredRole(method), role, method);
});

test('token lists: inline entries, comments, and errors that never quote the secret', () => {
  assert.deepEqual(parseAuthTokens(`read:${READ}, run:${RUN}\n# a comment\n`), [
    { role: 'read', token: READ },
    { role: 'run', token: RUN },
  ]);
  for (const bad of [`admin:${RUN}`, RUN, 'run:short']) {
    assert.throws(
      () => parseAuthTokens(bad),
      (err: unknown) =>
        err instanceof ConfigError && !err.message.includes(RUN) && !err.message.includes('short'),
    );
  }
  // A secret variable's bad value is not echoed by the config loader either.
  assert.throws(
    () => loadConfig(commonConfigShape, { GENGAP_OUTBOUND_TOKEN: 'tiny-secret' }),
    (err: unknown) => err instanceof ConfigError && !err.message.includes('tiny-secret'),
  );
});

test('the authenticator: bearer parsing, unknown tokens, roles', () => {
  const auth = createAuthenticator(parseAuthTokens(`read:${READ},run:${RUN}`));
  const md = (value?: string) => {
    const m = new Metadata();
    if (value !== undefined) m.set('authorization', value);
    return m;
  };
  assert.equal(bearerTokenOf(md(`Bearer ${READ}`)), READ);
  assert.equal(bearerTokenOf(md(`bearer   ${READ} `)), READ);
  assert.equal(bearerTokenOf(md(READ)), undefined);
  const code = (fn: () => unknown) => {
    try {
      fn();
      return status.OK;
    } catch (err) {
      return (err as { code: number }).code;
    }
  };
  assert.equal(
    code(() => auth('/p.S/GetX', md())),
    status.UNAUTHENTICATED,
  );
  assert.equal(
    code(() => auth('/p.S/GetX', md(`Bearer ${READ}x`))),
    status.UNAUTHENTICATED,
  );
  assert.equal(
    code(() => auth('/p.S/GetX', md(`Bearer ${READ}`))),
    status.OK,
  );
  assert.equal(
    code(() => auth('/p.S/StartX', md(`Bearer ${READ}`))),
    status.PERMISSION_DENIED,
  );
  assert.equal(
    code(() => auth('/p.S/StartX', md(`Bearer ${RUN}`))),
    status.OK,
  );
  const principal = auth('/p.S/GetX', md(`Bearer ${RUN}`));
  assert.deepEqual(principal.roles, ['read', 'run']);
  assert.match(principal.subject, /^run:[0-9a-f]{8}$/);
  assert.ok(!principal.subject.includes(RUN));
});

test('loopback rule: no auth on a reachable host is refused unless GENGAP_ALLOW_INSECURE', () => {
  for (const h of ['127.0.0.1', '127.1.2.3', 'localhost', '::1', '[::1]']) assert.ok(isLoopbackHost(h), h);
  for (const h of ['0.0.0.0', '10.0.0.1', '::', 'data', '192.168.1.2']) assert.ok(!isLoopbackHost(h), h);
  const config = (env: Record<string, string>) => loadConfig(commonConfigShape, env);
  const open = config({ GENGAP_HOST: '0.0.0.0' });
  assert.throws(() => checkExposure(open, securityFrom(open)), /GENGAP_ALLOW_INSECURE/);
  const allowed = config({ GENGAP_HOST: '0.0.0.0', GENGAP_ALLOW_INSECURE: 'true' });
  assert.equal(checkExposure(allowed, securityFrom(allowed)).length, 1);
  const withAuth = config({ GENGAP_HOST: '0.0.0.0', GENGAP_AUTH_TOKENS: `run:${RUN}` });
  assert.match(checkExposure(withAuth, securityFrom(withAuth))[0] ?? '', /plaintext/);
  const local = config({});
  assert.deepEqual(checkExposure(local, securityFrom(local)), []);
});

describe('a server with tokens and call limits', () => {
  let server: GenGapServer;
  let address: string;
  const logLines: string[] = [];
  let release: () => void = () => {};
  const held = new Promise<void>((r) => {
    release = r;
  });
  let handlerRuns = 0;

  before(async () => {
    const destination = new PassThrough();
    destination.on('data', (d: Buffer) => logLines.push(...d.toString('utf8').split('\n').filter(Boolean)));
    const log = createRootLogger({ service: 'test', level: 'trace', destination });
    server = new GenGapServer({
      log,
      serviceNames: ['gengap.data.v1.DataService'],
      maxMessageBytes: 1024 * 1024,
      maxConcurrentStreams: 4,
      maxInflightCalls: 6,
      maxUnaryDeadlineMs: 5_000,
      shutdownGraceMs: 500,
      drainDelayMs: 0,
      beforeCall: createAuthenticator(parseAuthTokens(`read:${READ},run:${RUN}`)),
    });
    server.addService(DataServiceService, {
      getDataset: (req: { datasetId: string }, ctx: CallContext) => {
        handlerRuns++;
        // Logging the call's metadata and a token-named field must not leak the secret.
        ctx.log.info(
          { metadata: { authorization: ctx.metadata.get('authorization')[0] }, token: READ },
          'get',
        );
        throw new Error(`not found ${req.datasetId}`);
      },
      deleteDataset: () => {
        handlerRuns++;
        return {};
      },
      watchDataset: async (_req: unknown, ctx: CallContext, sink: StreamSink<WatchDatasetResponse>) => {
        await sink.write(WatchDatasetResponse.fromPartial({ sequence: 0 }));
        await Promise.race([held, new Promise((r) => ctx.signal.addEventListener('abort', r))]);
      },
    });
    server.setServing(true);
    address = `127.0.0.1:${await server.listen('127.0.0.1', 0)}`;
  });

  after(async () => {
    release();
    await server.shutdown();
  });

  test('no token, an unknown token, a read token on a run method: refused before the handler', async () => {
    const none = createClient(DataServiceClient, address);
    const wrong = createClient(DataServiceClient, address, { token: `${RUN}-wrong` });
    const reader = createClient(DataServiceClient, address, { token: READ });
    const runner = createClient(DataServiceClient, address, { token: RUN });
    try {
      const before = handlerRuns;
      assert.equal(
        (await failure(callUnary(none, none.getDataset, { datasetId: 'x' }))).code,
        status.UNAUTHENTICATED,
      );
      assert.equal(
        (await failure(callUnary(wrong, wrong.getDataset, { datasetId: 'x' }))).code,
        status.UNAUTHENTICATED,
      );
      const denied = await failure(callUnary(reader, reader.deleteDataset, { datasetId: 'x' }));
      assert.equal(denied.code, status.PERMISSION_DENIED);
      assert.equal(handlerRuns, before, 'no handler ran for a refused call');
      // Streams are refused the same way.
      const streamErr = await failure(
        (async () => {
          for await (const _ of readStream(none, none.watchDataset, { datasetId: 'x', fromSequence: 0 })) {
          }
        })(),
      );
      assert.equal(streamErr.code, status.UNAUTHENTICATED);
      assert.equal(
        (await failure(callUnary(reader, reader.getDataset, { datasetId: 'x' }))).code,
        status.INTERNAL,
        'a read token reaches a read method',
      );
      await callUnary(runner, runner.deleteDataset, { datasetId: 'x' });
    } finally {
      for (const c of [none, wrong, reader, runner]) closeClient(c);
    }
  });

  test('a refused call is answered before its request is decoded', async () => {
    // Field 1 with a length of 2^32 - 1: no decoder accepts it.
    const undecodable = Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f]);
    const raw = new Client(address, credentials.createInsecure());
    const send = (token?: string) =>
      new Promise<ServiceError>((resolve, reject) => {
        const metadata = new Metadata();
        if (token) metadata.set('authorization', `Bearer ${token}`);
        raw.makeUnaryRequest(
          '/gengap.data.v1.DataService/GetDataset',
          (b: Buffer) => b,
          (b: Buffer) => b,
          undecodable,
          metadata,
          (err) => (err ? resolve(err) : reject(new Error('the garbage request succeeded'))),
        );
      });
    try {
      const before = handlerRuns;
      const anonymous = await send();
      assert.equal(anonymous.code, status.UNAUTHENTICATED, anonymous.details);
      // The same bytes from an authenticated caller do reach the decoder, which refuses them.
      const authenticated = await send(RUN);
      assert.equal(authenticated.code, status.INTERNAL, authenticated.details);
      assert.match(authenticated.details, /deserializ/i);
      assert.equal(handlerRuns, before);
    } finally {
      raw.close();
    }
  });

  test('health stays open without a token', async () => {
    const { checkHealth } = await import('../../../e2e/support/grpc-probes.ts');
    assert.equal(await checkHealth(address), 'SERVING');
  });

  test('calls beyond the per-connection limit are RESOURCE_EXHAUSTED at once, not queued', async () => {
    const client = createClient(DataServiceClient, address, { token: READ });
    const metadata = new Metadata();
    metadata.set('authorization', `Bearer ${READ}`);
    const calls = Array.from({ length: 4 }, () => {
      const call = client.watchDataset({ datasetId: 'x', fromSequence: 0 }, metadata);
      call.on('error', () => {});
      return call;
    });
    try {
      // Four streams open on this connection (each has sent its first message).
      await Promise.all(calls.map((c) => new Promise((r) => c.once('data', r))));
      assert.equal(server.limiter.size, 4);
      const started = Date.now();
      const err = await failure(callUnary(client, client.getDataset, { datasetId: 'x' }));
      assert.equal(err.code, status.RESOURCE_EXHAUSTED, err.details);
      assert.ok(Date.now() - started < 2_000, 'answered at once');
      // Another connection still gets through: the limit is per connection (the total is 6).
      const other = createClient(DataServiceClient, address, {
        token: READ,
        channelOptions: { 'grpc.use_local_subchannel_pool': 1 },
      });
      assert.equal(
        (await failure(callUnary(other, other.getDataset, { datasetId: 'x' }))).code,
        status.INTERNAL,
      );
      closeClient(other);
    } finally {
      for (const c of calls) c.cancel();
      closeClient(client);
    }
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(server.limiter.size, 0, 'every slot is given back once the streams are cancelled');
  });

  test('tokens never reach the log, and the subject (a fingerprint) does', () => {
    const text = logLines.join('\n');
    assert.ok(text.length > 0);
    assert.ok(!text.includes(READ), 'read token absent');
    assert.ok(!text.includes(RUN), 'run token absent');
    assert.match(text, /"subject":"read:[0-9a-f]{8}"/);
    assert.match(text, /\[redacted\]/);
  });
});
