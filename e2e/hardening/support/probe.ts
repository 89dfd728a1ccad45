// Calls any method of a GenGap service with raw request bytes (a generic client with an identity
// serializer, the way grpc-js's own server-error tests send garbage), and the invariants the
// hardening suite checks after every batch: the process lives, health is SERVING, and the service
// stored nothing for the requests it rejected.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import {
  type Client,
  credentials,
  Metadata,
  makeGenericClientConstructor,
  type ServiceError,
  status,
} from '@grpc/grpc-js';
import { checkHealth } from '../../support/grpc-probes.ts';
import type { ServiceProcess } from '../../support/processes.ts';

/** One method of a ts-proto generated service definition. */
export interface MethodDef {
  path: string;
  requestStream: boolean;
  responseStream: boolean;
  requestSerialize(value: never): Buffer;
  requestDeserialize(value: Buffer): unknown;
}

export type ServiceDef = Record<string, MethodDef>;

export interface CallOutcome {
  code: number;
  details: string;
  /** Messages received (streams). */
  messages: number;
  ms: number;
}

const identity = (b: Buffer) => b;

export class RawCaller {
  private readonly client: Client;

  constructor(address: string) {
    const Ctor = makeGenericClientConstructor({}, 'Raw');
    this.client = new Ctor(address, credentials.createInsecure(), {
      'grpc.max_send_message_length': 64 * 1024 * 1024,
      'grpc.max_receive_message_length': 64 * 1024 * 1024,
    });
  }

  close(): void {
    this.client.close();
  }

  /**
   * Sends `bytes` to `method`. Streams are read for at most `maxMessages` messages, then cancelled
   * (reported as OK: the server was answering). Every call carries a deadline.
   */
  call(
    method: MethodDef,
    bytes: Uint8Array,
    options: { deadlineMs?: number; maxMessages?: number } = {},
  ): Promise<CallOutcome> {
    const started = Date.now();
    const deadline = Date.now() + (options.deadlineMs ?? 10_000);
    const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    return new Promise((resolve) => {
      const done = (code: number, details: string, messages = 0) =>
        resolve({ code, details, messages, ms: Date.now() - started });
      if (!method.responseStream) {
        this.client.makeUnaryRequest(
          method.path,
          identity,
          identity,
          buffer,
          new Metadata(),
          { deadline },
          (err: ServiceError | null) => done(err ? err.code : status.OK, err?.details ?? ''),
        );
        return;
      }
      const call = this.client.makeServerStreamRequest(
        method.path,
        identity,
        identity,
        buffer,
        new Metadata(),
        {
          deadline,
        },
      );
      let messages = 0;
      let stoppedByUs = false;
      call.on('data', () => {
        messages++;
        if (messages >= (options.maxMessages ?? 3) && !stoppedByUs) {
          stoppedByUs = true;
          call.cancel();
        }
      });
      call.on('status', (s: { code: number; details: string }) => {
        if (stoppedByUs) done(status.OK, 'stopped by the client', messages);
        else done(s.code, s.details, messages);
      });
      call.on('error', () => {});
    });
  }
}

/** grpc-js's answer to bytes it could not decode (or a request too large): deliberate, not a bug. */
export function isTransportRejection(outcome: CallOutcome): boolean {
  return (
    (outcome.code === status.INTERNAL && /deserializ|parse/i.test(outcome.details)) ||
    outcome.code === status.RESOURCE_EXHAUSTED
  );
}

/** A handler's unexpected error: service-kit answers INTERNAL with this text (details only in the log). */
export function isHandlerBug(outcome: CallOutcome): boolean {
  return (
    outcome.code === status.UNKNOWN || (outcome.code === status.INTERNAL && !isTransportRejection(outcome))
  );
}

/** Files under a service's state folder, minus its databases, ready file and caches. */
export function storedFiles(stateDir: string): string[] {
  const out: string[] = [];
  const walk = (dir: string, rel: string) => {
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      return;
    }
    for (const name of names) {
      if (/\.sqlite(-wal|-shm|-journal)?$/.test(name) || name === 'ready.json' || name === 'cache') continue;
      const path = join(dir, name);
      const relPath = rel ? `${rel}/${name}` : name;
      if (statSync(path).isDirectory()) walk(path, relPath);
      else out.push(relPath);
    }
  };
  walk(stateDir, '');
  return out.sort();
}

/** The process is alive and reports SERVING. */
export async function assertHealthy(proc: ServiceProcess, what: string): Promise<void> {
  if (proc.child.exitCode !== null || proc.child.signalCode !== null) {
    throw new Error(
      `${what}: the process died (${proc.child.exitCode ?? proc.child.signalCode})\n${proc.output().slice(-4000)}`,
    );
  }
  const health = await checkHealth(proc.address);
  if (health !== 'SERVING') throw new Error(`${what}: health is ${health}`);
}
