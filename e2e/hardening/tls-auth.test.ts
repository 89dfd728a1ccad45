// Security on the real processes: the four services with mutual TLS (certificates from
// scripts/dev-ca.sh) and bearer tokens with roles, calling each other with their own token over mTLS.
//   - a plaintext client, and a TLS client without a client certificate, are refused by the transport;
//   - no token: UNAUTHENTICATED; a read token: reads only (PERMISSION_DENIED on Start/Create/Cancel);
//     health and reflection stay open;
//   - the gengap CLI (--token, --tls-*) runs an experiment end to end: coordinator -> data,
//     coordinator -> trainer, trainer -> data all over mTLS with the services' token;
//   - the Python client (Debian python3-grpcio) lists presets with a token over TLS, and is refused
//     without one;
//   - no token appears in any process's output; the start-up line says what is on;
//   - a service refuses to listen on a non-loopback host without tokens (exit 78) unless
//     GENGAP_ALLOW_INSECURE=true.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  CoordinatorServiceClient,
  StartExperimentRequest,
} from '@gengap/proto/coordinator/v1/coordinator_service';
import { DataServiceClient } from '@gengap/proto/data/v1/data_service';
import { ListRunsRequest, TrainerServiceClient } from '@gengap/proto/trainer/v1/trainer_service';
import { callUnary, clientSecurityFrom, closeClient, createClient } from '@gengap/service-kit';
import { type ChannelCredentials, makeGenericClientConstructor, status } from '@grpc/grpc-js';
import { service as healthService } from 'grpc-health-check';
import { repoRoot, runServiceToExit, startServiceProcess } from '../support/processes.ts';
import {
  codeOf,
  type DevCa,
  makeDevCa,
  type ProcessStack,
  randomToken,
  startProcessStack,
  statusName,
  tempRoot,
  tinyExperimentSpec,
} from './support/stack.ts';

const root = tempRoot('tls-auth');
const tokens = { read: randomToken(), run: randomToken(), service: randomToken() };
let ca: DevCa;
let stack: ProcessStack;
const cliOutput: string[] = [];

function tlsClientCredentials(withClientCert = true): ChannelCredentials {
  const security = clientSecurityFrom({
    tlsCa: ca.ca,
    ...(withClientCert ? { tlsCert: ca.clientCert, tlsKey: ca.clientKey } : {}),
  });
  return security.credentials as ChannelCredentials;
}

function address(key: 'data' | 'trainer' | 'analysis' | 'coordinator'): string {
  const proc = stack.services[key];
  if (!proc) throw new Error(`${key} not started`);
  return proc.address;
}

const HealthClient = makeGenericClientConstructor(healthService, 'grpc.health.v1.Health');

function healthOver(addr: string, creds: ChannelCredentials): Promise<string> {
  const client = new HealthClient(addr, creds) as unknown as {
    check(r: object, o: object, cb: (e: Error | null, r?: { status: string }) => void): void;
    close(): void;
  };
  return new Promise((resolve, reject) =>
    client.check({ service: '' }, { deadline: Date.now() + 5000 }, (err, res) => {
      client.close();
      if (err) reject(err);
      else resolve(res?.status ?? '');
    }),
  );
}

function cli(args: string[], timeoutMs = 180_000): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      [
        join(repoRoot, 'services/coordinator/src/cli/main.ts'),
        '--coordinator',
        address('coordinator'),
        ...args,
      ],
      { env: { ...process.env, GENGAP_TOKEN: '' }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.stderr.on('data', (d) => {
      out += d;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      cliOutput.push(out);
      resolve({ code, out });
    });
  });
}

describe('mutual TLS and bearer tokens across the four services', () => {
  before(async () => {
    ca = makeDevCa(join(root.path, 'tls'));
    const tokenFile = join(root.path, 'tokens');
    writeFileSync(
      tokenFile,
      `# role:token\nread:${tokens.read}\nrun:${tokens.run}\nrun:${tokens.service}\n`,
      { mode: 0o600 },
    );
    stack = await startProcessStack({
      root: root.path,
      env: {
        GENGAP_TLS_CERT: ca.serviceCert,
        GENGAP_TLS_KEY: ca.serviceKey,
        GENGAP_TLS_CA: ca.ca,
        GENGAP_TLS_CLIENT_AUTH: 'require',
        GENGAP_AUTH_TOKENS: `@${tokenFile}`,
        GENGAP_OUTBOUND_TOKEN: tokens.service,
        GENGAP_LOG_LEVEL: 'debug',
      },
      perService: { coordinator: { GENGAP_HTTP_PORT: '0' } },
    });
  });

  after(() => {
    stack?.kill();
    root.remove();
  });

  test('the transport refuses plaintext clients and TLS clients without a certificate', async () => {
    const plain = createClient(DataServiceClient, address('data'), { token: tokens.read, deadlineMs: 5000 });
    const noCert = createClient(DataServiceClient, address('data'), {
      token: tokens.read,
      credentials: tlsClientCredentials(false),
      deadlineMs: 5000,
    });
    try {
      assert.equal(await codeOf(callUnary(plain, plain.listDatasets, {})), status.UNAVAILABLE);
      assert.equal(await codeOf(callUnary(noCert, noCert.listDatasets, {})), status.UNAVAILABLE);
    } finally {
      closeClient(plain);
      closeClient(noCert);
    }
  });

  test('tokens and roles on every service; health stays open', async () => {
    const creds = tlsClientCredentials();
    const make = <C extends object>(
      ctor: new (a: string, c: ChannelCredentials, o?: object) => C,
      key: 'data' | 'trainer' | 'coordinator',
      token?: string,
    ) => createClient(ctor, address(key), { credentials: creds, ...(token ? { token } : {}) });
    const cases: [string, () => Promise<unknown>, number][] = [];
    for (const [label, token, expectRead, expectRun] of [
      ['no token', undefined, status.UNAUTHENTICATED, status.UNAUTHENTICATED],
      ['unknown token', randomToken(), status.UNAUTHENTICATED, status.UNAUTHENTICATED],
      ['read token', tokens.read, status.OK, status.PERMISSION_DENIED],
    ] as const) {
      const data = make(DataServiceClient, 'data', token);
      const trainer = make(TrainerServiceClient, 'trainer', token);
      const coordinator = make(CoordinatorServiceClient, 'coordinator', token);
      cases.push(
        [`${label}: data ListDatasets`, () => callUnary(data, data.listDatasets, {}), expectRead],
        [
          `${label}: data CreateDataset`,
          () => callUnary(data, data.createDataset, { idempotencyKey: 'x' }),
          expectRun,
        ],
        [
          `${label}: trainer ListRuns`,
          () => callUnary(trainer, trainer.listRuns, ListRunsRequest.fromPartial({})),
          expectRead,
        ],
        [
          `${label}: trainer CancelRun`,
          () => callUnary(trainer, trainer.cancelRun, { runId: 'x' }),
          expectRun,
        ],
        [
          `${label}: coordinator ListPresets`,
          () => callUnary(coordinator, coordinator.listPresets, {}),
          expectRead,
        ],
        [
          `${label}: coordinator StartExperiment`,
          () =>
            callUnary(
              coordinator,
              coordinator.startExperiment,
              StartExperimentRequest.fromPartial({ idempotencyKey: 'x' }),
            ),
          expectRun,
        ],
      );
    }
    const failures: string[] = [];
    for (const [label, call, expected] of cases) {
      const code = await codeOf(call());
      if (code !== expected) failures.push(`${label}: ${statusName(code)}, expected ${statusName(expected)}`);
    }
    assert.deepEqual(failures, []);
    // With a run token the run methods get past authentication (to their own validation).
    const data = make(DataServiceClient, 'data', tokens.run);
    assert.equal(
      await codeOf(callUnary(data, data.createDataset, { idempotencyKey: 'x' })),
      status.INVALID_ARGUMENT,
    );
    closeClient(data);
    for (const key of ['data', 'trainer', 'analysis', 'coordinator'] as const) {
      assert.equal(await healthOver(address(key), creds), 'SERVING', `${key} health without a token`);
    }
  });

  test('the CLI runs an experiment over mutual TLS with a run token; a read token may list, not run', async () => {
    const specFile = join(root.path, 'spec.json');
    writeFileSync(specFile, JSON.stringify(tinyExperimentSpec('tls', [1], 2)));
    const tls = ['--tls-ca', ca.ca, '--tls-cert', ca.clientCert, '--tls-key', ca.clientKey];
    const refused = await cli([...tls, '--token', tokens.read, 'run', specFile, '--idempotency-key', 'ro']);
    assert.notEqual(refused.code, 0, refused.out);
    assert.match(refused.out, /PERMISSION_DENIED|permission|role/i);
    const ran = await cli([
      ...tls,
      '--token',
      tokens.run,
      '--json',
      'run',
      specFile,
      '--idempotency-key',
      'tls',
    ]);
    assert.equal(ran.code, 0, ran.out + stack.output().slice(-4000));
    const listed = await cli([...tls, '--token', tokens.read, '--json', 'ls']);
    assert.equal(listed.code, 0, listed.out);
    assert.match(listed.out, /tls/);
    const anonymous = await cli([...tls, 'ls']);
    assert.notEqual(anonymous.code, 0);
  });

  test('the Python client sends its token over TLS; without one it is refused', () => {
    const script = `
import sys, types
sys.path.insert(0, ${JSON.stringify(join(repoRoot, 'clients/python'))})
sys.path.insert(0, ${JSON.stringify(join(repoRoot, 'clients/python/examples'))})
import grpc, run_experiment as r
from gengap.coordinator.v1 import coordinator_service_pb2 as c, coordinator_service_pb2_grpc as cg
def presets(token):
    args = types.SimpleNamespace(tls_ca=${JSON.stringify(ca.ca)}, tls_cert=${JSON.stringify(ca.clientCert)},
        tls_key=${JSON.stringify(ca.clientKey)}, tls_server_name=None, token=token)
    with r.open_channel(${JSON.stringify(address('coordinator'))}, args, []) as ch:
        try:
            return len(cg.CoordinatorServiceStub(ch).ListPresets(c.ListPresetsRequest(), timeout=20).presets)
        except grpc.RpcError as e:
            return e.code().name
print(presets(${JSON.stringify(tokens.read)}), presets(None))
`;
    const py = spawnSync('/usr/bin/python3', ['-c', script], { encoding: 'utf8', timeout: 60_000 });
    if (py.status !== 0 && /No module named 'grpc'/.test(py.stderr)) {
      assert.fail('python3-grpcio is not installed (.ci/run installs it)');
    }
    assert.equal(py.status, 0, py.stderr);
    const [count, anonymous] = py.stdout.trim().split(' ');
    assert.ok(Number(count) > 0, py.stdout);
    assert.equal(anonymous, 'UNAUTHENTICATED');
  });

  test("the coordinator's report pages ask for a token too (Bearer, or Basic with the token as password)", async () => {
    const line = stack.services.coordinator
      ?.output()
      .split('\n')
      .find((l) => l.includes('"msg":"reports served"'));
    const url = (JSON.parse(line as string) as { url: string }).url;
    const get = (headers: Record<string, string> = {}) => fetch(`${url}/api/experiments`, { headers });
    const anonymous = await get();
    assert.equal(anonymous.status, 401);
    assert.match(anonymous.headers.get('www-authenticate') ?? '', /^Basic/);
    assert.equal((await get({ authorization: `Bearer ${randomToken()}` })).status, 401);
    assert.equal((await get({ authorization: `Bearer ${tokens.read}` })).status, 200);
    const basic = Buffer.from(`anyone:${tokens.read}`).toString('base64');
    assert.equal((await get({ authorization: `Basic ${basic}` })).status, 200);
  });

  test('no token in any log line; the start-up line reports TLS, mutual TLS and auth', () => {
    const text = stack.output() + cliOutput.join('\n');
    for (const [role, token] of Object.entries(tokens))
      assert.ok(!text.includes(token), `${role} token leaked`);
    for (const key of ['data', 'trainer', 'analysis', 'coordinator'] as const) {
      const line = stack.services[key]
        ?.output()
        .split('\n')
        .find((l) => l.includes('"msg":"security"'));
      assert.ok(line, `${key} logs its security settings`);
      const parsed = JSON.parse(line) as Record<string, unknown>;
      assert.equal(parsed.tls, true);
      assert.equal(parsed.mutualTls, true);
      assert.equal(parsed.auth, true);
      assert.deepEqual(parsed.tokens, { read: 1, run: 2 });
      assert.equal(parsed.outboundToken, true);
    }
  });
});

describe('exposure rule', () => {
  test('a non-loopback listener without tokens exits 78 unless GENGAP_ALLOW_INSECURE=true', async () => {
    const refused = await runServiceToExit('data', {
      GENGAP_HOST: '0.0.0.0',
      GENGAP_STATE_DIR: join(root.path, 'x'),
    });
    assert.equal(refused.code, 78, refused.output);
    assert.match(refused.output, /GENGAP_AUTH_TOKENS/);
    const allowed = await startServiceProcess('data', {
      GENGAP_HOST: '0.0.0.0',
      GENGAP_ALLOW_INSECURE: 'true',
      GENGAP_STATE_DIR: join(root.path, 'y'),
    });
    allowed.child.kill('SIGTERM');
    assert.equal(await allowed.exited, 0);
    assert.match(allowed.output(), /without authentication/);
    assert.ok(existsSync(join(root.path, 'y')) && readFileSync(join(root.path, 'y', 'ready.json'), 'utf8'));
  });

  test('a token file that cannot be read stops start-up with a message naming the variable', async () => {
    const res = await runServiceToExit('data', {
      GENGAP_AUTH_TOKENS: '@/nonexistent/tokens',
      GENGAP_STATE_DIR: join(root.path, 'z'),
    });
    assert.equal(res.code, 78);
    assert.match(res.output, /GENGAP_AUTH_TOKENS/);
  });
});
