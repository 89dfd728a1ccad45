// The hardening suite's stack: the four services as real child processes (node <service>/src/main.ts,
// e2e/support/processes.ts) wired to each other, with extra environment per service (TLS, tokens,
// limits), plus small helpers: a dev CA, random tokens, a tiny experiment spec, status codes of calls.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type ServiceError, status } from '@grpc/grpc-js';
import { repoRoot, type ServiceProcess, startServiceProcess } from '../../support/processes.ts';

export const ORDER = ['data', 'trainer', 'analysis', 'coordinator'] as const;
export type ServiceKey = (typeof ORDER)[number];

export function tempRoot(prefix: string): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), `gengap-${prefix}-`));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

export interface DevCa {
  dir: string;
  ca: string;
  serviceCert: string;
  serviceKey: string;
  clientCert: string;
  clientKey: string;
}

/** Runs scripts/dev-ca.sh into `dir`. */
export function makeDevCa(dir: string): DevCa {
  const result = spawnSync('sh', [join(repoRoot, 'scripts', 'dev-ca.sh'), dir], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`dev-ca.sh failed: ${result.stderr}`);
  return {
    dir,
    ca: join(dir, 'ca.crt'),
    serviceCert: join(dir, 'service.crt'),
    serviceKey: join(dir, 'service.key'),
    clientCert: join(dir, 'client.crt'),
    clientKey: join(dir, 'client.key'),
  };
}

export function randomToken(): string {
  return randomBytes(24).toString('hex');
}

/** Wiring of one service to the ones started before it. */
function wiring(
  key: ServiceKey,
  started: Partial<Record<ServiceKey, ServiceProcess>>,
): Record<string, string> {
  const env: Record<string, string> = {};
  if (key !== 'data' && started.data) env.GENGAP_DATA_ADDRESS = started.data.address;
  if ((key === 'analysis' || key === 'coordinator') && started.trainer) {
    env.GENGAP_TRAINER_ADDRESS = started.trainer.address;
    env.GENGAP_TRAINER_ADDRESSES = started.trainer.address;
  }
  if (key === 'coordinator' && started.analysis) env.GENGAP_ANALYSIS_ADDRESS = started.analysis.address;
  return env;
}

export interface ProcessStack {
  services: Partial<Record<ServiceKey, ServiceProcess>>;
  /** Every line every process wrote (stdout and stderr). */
  output(): string;
  kill(): void;
}

/** Starts `keys` (in dependency order) as child processes; `env` applies to all, `perService` to one. */
export async function startProcessStack(options: {
  root: string;
  keys?: readonly ServiceKey[];
  env?: Record<string, string>;
  perService?: Partial<Record<ServiceKey, Record<string, string>>>;
}): Promise<ProcessStack> {
  const services: Partial<Record<ServiceKey, ServiceProcess>> = {};
  const stack: ProcessStack = {
    services,
    output: () =>
      Object.entries(services)
        .map(([k, p]) => `--- ${k}\n${p?.output() ?? ''}`)
        .join('\n'),
    kill: () => {
      for (const p of Object.values(services)) if (p && p.child.exitCode === null) p.child.kill('SIGKILL');
    },
  };
  try {
    for (const key of options.keys ?? ORDER) {
      const stateDir = join(options.root, key);
      mkdirSync(stateDir, { recursive: true });
      services[key] = await startServiceProcess(
        key,
        {
          GENGAP_STATE_DIR: stateDir,
          GENGAP_HTTP_PORT: '-1',
          ...wiring(key, services),
          ...options.env,
          ...options.perService?.[key],
        },
        60_000,
      );
    }
  } catch (err) {
    stack.kill();
    throw err;
  }
  return stack;
}

/** The status code a call ends with (OK when it succeeds). */
export async function codeOf(promise: Promise<unknown>): Promise<number> {
  try {
    await promise;
    return status.OK;
  } catch (err) {
    const code = (err as ServiceError).code;
    return typeof code === 'number' ? code : -1;
  }
}

export const statusName = (code: number) =>
  (status as unknown as Record<number, string>)[code] ?? `CODE_${code}`;

/** A Gaussian-mixture experiment of `seeds.length` cells that trains in a few seconds per cell. */
export function tinyExperimentSpec(name: string, seeds: number[], epochs = 3, trainSize = 256) {
  return {
    name,
    base: {
      dataset: {
        gaussianMixture: { numClasses: 3, dimension: 8, trainSize, testSize: 128, separation: 4 },
        seed: 3,
      },
      run: {
        model: {
          inputShape: [8],
          numOutputs: 3,
          layers: [
            { dense: { units: 16 } },
            { activation: { activation: 'ACTIVATION_RELU' } },
            { dense: { units: 3 } },
          ],
        },
        optimizer: { kind: 'OPTIMIZER_KIND_SGD', learningRate: 0.1 },
        batchSize: 32,
        stop: { maxEpochs: epochs },
        threads: 1,
      },
    },
    seeds,
  };
}
