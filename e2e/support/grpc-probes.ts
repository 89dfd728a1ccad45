// Probes that whole-system tests use against any GenGap endpoint: health (check and watch) and
// server reflection, through the standard grpc.health.v1 and grpc.reflection.v1 protocols, exactly as
// a Python or Go client would see them.
import { createRequire } from 'node:module';
import {
  type Client,
  type ClientDuplexStream,
  type ClientReadableStream,
  credentials,
  loadPackageDefinition,
  makeGenericClientConstructor,
  type ServiceError,
} from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { service as healthService } from 'grpc-health-check';

export type ServingStatus = 'UNKNOWN' | 'SERVING' | 'NOT_SERVING' | 'SERVICE_UNKNOWN';

interface HealthClient extends Client {
  check(
    req: { service: string },
    opts: { deadline: number },
    cb: (err: ServiceError | null, res?: { status: ServingStatus }) => void,
  ): void;
  watch(req: { service: string }): ClientReadableStream<{ status: ServingStatus }>;
}

const HealthCtor = makeGenericClientConstructor(healthService, 'grpc.health.v1.Health') as unknown as new (
  address: string,
  creds: ReturnType<typeof credentials.createInsecure>,
) => HealthClient;

export function healthClient(address: string): HealthClient {
  return new HealthCtor(address, credentials.createInsecure());
}

export function checkHealth(address: string, service = ''): Promise<ServingStatus> {
  const client = healthClient(address);
  return new Promise<ServingStatus>((resolve, reject) => {
    client.check({ service }, { deadline: Date.now() + 5000 }, (err, res) => {
      client.close();
      if (err) reject(err);
      else resolve(res?.status ?? 'UNKNOWN');
    });
  });
}

interface ReflectionClient extends Client {
  serverReflectionInfo(): ClientDuplexStream<
    { listServices?: string },
    { listServicesResponse?: { service: { name: string }[] } }
  >;
}

/** Names of the services a server lists through grpc.reflection.v1. */
export function listServicesByReflection(address: string): Promise<string[]> {
  const require = createRequire(import.meta.url);
  const protoPath = require.resolve('@grpc/reflection/build/proto/grpc/reflection/v1/reflection.proto');
  const pkg = loadPackageDefinition(loadSync(protoPath, { keepCase: false })) as unknown as {
    grpc: { reflection: { v1: { ServerReflection: new (a: string, c: unknown) => ReflectionClient } } };
  };
  const client = new pkg.grpc.reflection.v1.ServerReflection(address, credentials.createInsecure());
  return new Promise<string[]>((resolve, reject) => {
    const call = client.serverReflectionInfo();
    call.on('data', (res) => {
      resolve((res.listServicesResponse?.service ?? []).map((s: { name: string }) => s.name));
      call.end();
    });
    call.on('error', (err) => {
      client.close();
      reject(err);
    });
    call.on('end', () => client.close());
    call.write({ listServices: '*' });
  });
}

/** Calls a method by path with raw bytes (an empty request), to reach methods no stub knows. */
export function callRaw(address: string, path: string): Promise<{ code: number; details: string }> {
  const client = new (makeGenericClientConstructor({}, 'Raw'))(address, credentials.createInsecure());
  return new Promise((resolve) => {
    client.makeUnaryRequest(
      path,
      (b: Buffer) => b,
      (b: Buffer) => b,
      Buffer.alloc(0),
      { deadline: Date.now() + 5000 },
      (err) => {
        client.close();
        resolve({ code: err?.code ?? 0, details: err?.details ?? '' });
      },
    );
  });
}
