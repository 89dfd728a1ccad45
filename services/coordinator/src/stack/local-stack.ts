// The embedded stack: all four services as child processes on loopback, sharing one state folder
// (each service in its own subfolder). `gengap up` starts it and returns once every service reports
// SERVING; `gengap down` stops it with SIGTERM (the services drain) and SIGKILL after a grace period.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type ServiceKey, serviceNames } from '@gengap/proto';
import { credentials } from '@grpc/grpc-js';
import { HealthCheckResponse_ServingStatus, HealthClient } from './health-client.ts';

export const STACK_ORDER: readonly ServiceKey[] = ['data', 'trainer', 'analysis', 'coordinator'];

const servicesRoot = fileURLToPath(new URL('../../../', import.meta.url));

export type StackAddresses = Record<ServiceKey, string>;

export interface StackState {
  root: string;
  addresses: StackAddresses;
  pids: Record<ServiceKey, number>;
  startedAt: string;
}

export interface UpOptions {
  /** Folder holding every service's state, logs and the stack file. */
  root: string;
  /** Extra environment for every service. */
  env?: Record<string, string>;
  /** Per-service environment. */
  serviceEnv?: Partial<Record<ServiceKey, Record<string, string>>>;
  timeoutMs?: number;
}

export function stackFile(root: string): string {
  return join(root, 'stack.json');
}

export function readStack(root: string): StackState | undefined {
  const file = stackFile(root);
  if (!existsSync(file)) return undefined;
  return JSON.parse(readFileSync(file, 'utf8')) as StackState;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The running stack under `root`, if every one of its processes is alive. */
export function runningStack(root: string): StackState | undefined {
  const state = readStack(root);
  if (!state) return undefined;
  return STACK_ORDER.every((k) => isAlive(state.pids[k])) ? state : undefined;
}

/** Environment wiring each service to the ones it calls. */
function wiringFor(key: ServiceKey, addresses: Partial<StackAddresses>): Record<string, string> {
  const env: Record<string, string> = {};
  if (key !== 'data' && addresses.data) env.GENGAP_DATA_ADDRESS = addresses.data;
  if ((key === 'analysis' || key === 'coordinator') && addresses.trainer) {
    env.GENGAP_TRAINER_ADDRESS = addresses.trainer;
    env.GENGAP_TRAINER_ADDRESSES = addresses.trainer;
  }
  if ((key === 'coordinator' || key === 'trainer') && addresses.analysis) {
    env.GENGAP_ANALYSIS_ADDRESS = addresses.analysis;
  }
  return env;
}

async function waitForReadyFile(file: string, child: ChildProcess, deadline: number, logFile: string) {
  while (Date.now() < deadline) {
    if (child.exitCode !== null) {
      const tail = existsSync(logFile) ? readFileSync(logFile, 'utf8').split('\n').slice(-15).join('\n') : '';
      throw new Error(`service exited with code ${child.exitCode} during start-up; log tail:\n${tail}`);
    }
    if (existsSync(file)) {
      const text = readFileSync(file, 'utf8');
      if (text) return JSON.parse(text) as { port: number; pid: number };
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`service did not become ready within the timeout (log: ${logFile})`);
}

/** Polls grpc.health.v1 until the service reports SERVING. */
export async function waitForServing(address: string, service: string, timeoutMs: number): Promise<void> {
  const client = new HealthClient(address, credentials.createInsecure());
  const deadline = Date.now() + timeoutMs;
  try {
    while (Date.now() < deadline) {
      const status = await new Promise<string | undefined>((resolve) => {
        client.check({ service }, { deadline: Date.now() + 1000 }, (err, res) =>
          resolve(err ? undefined : res?.status),
        );
      });
      if (status === HealthCheckResponse_ServingStatus.SERVING) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`${service} at ${address} not SERVING after ${timeoutMs} ms`);
  } finally {
    client.close();
  }
}

/** Starts the stack unless it already runs; returns its addresses. */
export async function up(options: UpOptions): Promise<StackState> {
  const root = resolve(options.root);
  const existing = runningStack(root);
  if (existing) return existing;
  mkdirSync(join(root, 'logs'), { recursive: true });
  const addresses: Partial<StackAddresses> = {};
  const pids: Partial<Record<ServiceKey, number>> = {};
  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  try {
    for (const key of STACK_ORDER) {
      const readyFile = join(root, `${key}.ready.json`);
      rmSync(readyFile, { force: true });
      const logFile = join(root, 'logs', `${key}.log`);
      const log = openSync(logFile, 'a');
      const child = spawn(process.execPath, [join(servicesRoot, key, 'src', 'main.ts')], {
        detached: true,
        stdio: ['ignore', log, log],
        env: {
          ...process.env,
          GENGAP_HOST: '127.0.0.1',
          GENGAP_PORT: '0',
          GENGAP_STATE_DIR: join(root, key),
          GENGAP_READY_FILE: readyFile,
          ...wiringFor(key, addresses),
          ...options.env,
          ...options.serviceEnv?.[key],
        },
      });
      child.unref();
      pids[key] = child.pid as number;
      const ready = await waitForReadyFile(readyFile, child, deadline, logFile);
      addresses[key] = `127.0.0.1:${ready.port}`;
      await waitForServing(
        addresses[key] as string,
        serviceNames[key],
        Math.max(1000, deadline - Date.now()),
      );
    }
  } catch (err) {
    for (const pid of Object.values(pids)) if (pid && isAlive(pid)) process.kill(pid, 'SIGKILL');
    throw err;
  }
  const state: StackState = {
    root,
    addresses: addresses as StackAddresses,
    pids: pids as Record<ServiceKey, number>,
    startedAt: new Date().toISOString(),
  };
  writeFileSync(stackFile(root), JSON.stringify(state, null, 2));
  return state;
}

/** Stops the stack: SIGTERM in reverse order (each drains), then SIGKILL after `graceMs`. */
export async function down(root: string, graceMs = 15_000): Promise<{ stopped: ServiceKey[] }> {
  const state = readStack(resolve(root));
  if (!state) return { stopped: [] };
  const stopped: ServiceKey[] = [];
  for (const key of [...STACK_ORDER].reverse()) {
    const pid = state.pids[key];
    if (!isAlive(pid)) continue;
    process.kill(pid, 'SIGTERM');
    const deadline = Date.now() + graceMs;
    while (isAlive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    if (isAlive(pid)) process.kill(pid, 'SIGKILL');
    stopped.push(key);
  }
  rmSync(stackFile(state.root), { force: true });
  return { stopped };
}
