// The four GenGap services as Docker containers for whole-system tests, started with testcontainers
// on a Docker network of their own, hardened as Kubernetes runs them (uid 65534, read-only root
// filesystem, all capabilities dropped, no privilege escalation), each with its state folder
// bind-mounted from a host folder so that a killed or restarted container carries on with the
// same state, and its gRPC port published on a fixed 127.0.0.1 port that survives restarts.
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  GenericContainer,
  Network,
  type StartedNetwork,
  type StartedTestContainer,
  Wait,
} from 'testcontainers';
import { type BuiltImage, buildImages, imageExists, imageTag } from '../../deploy/docker/build-images.ts';
import { checkHealth } from './grpc-probes.ts';

// testcontainers' reaper ("ryuk") comes from a registry image, which is unreachable offline.
process.env.TESTCONTAINERS_RYUK_DISABLED ??= 'true';

export const SERVICE_KEYS = ['data', 'trainer', 'analysis', 'coordinator'] as const;
export type ServiceKey = (typeof SERVICE_KEYS)[number];

export const GRPC_PORT = 50051;
const STATE_DIR = '/var/lib/gengap';
const SERVICE_UID = 65534;

let built: Promise<BuiltImage[]> | undefined;

/**
 * Builds the four images once per process (deploy/docker/build-images.ts: offline base image,
 * staged production dependencies). GENGAP_E2E_SKIP_BUILD=1 reuses images already tagged.
 */
export function ensureImages(log: (line: string) => void = () => {}): Promise<BuiltImage[]> {
  if (process.env.GENGAP_E2E_SKIP_BUILD === '1' && SERVICE_KEYS.every((k) => imageExists(imageTag(k)))) {
    return Promise.resolve([]);
  }
  built ??= Promise.resolve().then(() => buildImages({ log }));
  return built;
}

/** A free TCP port on 127.0.0.1 (published container ports stay fixed across restarts). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** A GenericContainer run the way the Kubernetes manifests run it. */
class HardenedContainer extends GenericContainer {
  constructor(image: string) {
    super(image);
    this.hostConfig.ReadonlyRootfs = true;
  }
}

function docker(...args: string[]): string {
  const result = spawnSync('docker', args, { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  if (result.status !== 0) throw new Error(`docker ${args.join(' ')}: ${result.stderr}`);
  return `${result.stdout}${result.stderr}`;
}

/** Environment wiring each service to the others by their network aliases. */
export function wiringFor(key: ServiceKey): Record<string, string> {
  const at = (k: ServiceKey) => `${k}:${GRPC_PORT}`;
  const env: Record<string, string> = {};
  if (key !== 'data') env.GENGAP_DATA_ADDRESS = at('data');
  if (key === 'analysis' || key === 'coordinator') {
    env.GENGAP_TRAINER_ADDRESS = at('trainer');
    env.GENGAP_TRAINER_ADDRESSES = at('trainer');
  }
  if (key === 'coordinator' || key === 'trainer') env.GENGAP_ANALYSIS_ADDRESS = at('analysis');
  return env;
}

export class ServiceContainer {
  readonly key: ServiceKey;
  readonly container: StartedTestContainer;
  /** Published gRPC address on the host, e.g. 127.0.0.1:43121 (fixed across restarts). */
  readonly address: string;
  /** Host folder mounted at the container's GENGAP_STATE_DIR. */
  readonly stateDir: string;
  /** Extra published ports: container port -> host port. */
  readonly ports: Record<number, number>;

  constructor(
    key: ServiceKey,
    container: StartedTestContainer,
    hostPort: number,
    stateDir: string,
    ports: Record<number, number>,
  ) {
    this.key = key;
    this.container = container;
    this.address = `127.0.0.1:${hostPort}`;
    this.stateDir = stateDir;
    this.ports = ports;
  }

  get id(): string {
    return this.container.getId();
  }

  /** Everything the container has logged, across restarts. */
  logs(): string {
    return docker('logs', this.id);
  }

  /** SIGKILL: no drain, no shutdown hooks, as when a node dies or the OOM killer strikes. */
  kill(): void {
    docker('kill', '--signal', 'KILL', this.id);
  }

  /** SIGTERM, then SIGKILL after `graceSeconds`: a rolling update or `docker stop`. */
  stop(graceSeconds = 20): void {
    docker('stop', '--time', String(graceSeconds), this.id);
  }

  /** Starts the (stopped or killed) container again and waits until it reports SERVING. */
  async start(timeoutMs = 90_000): Promise<void> {
    docker('start', this.id);
    await this.waitServing(timeoutMs);
  }

  running(): boolean {
    return docker('inspect', '-f', '{{.State.Running}}', this.id).trim() === 'true';
  }

  async waitServing(timeoutMs = 90_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last = '';
    while (Date.now() < deadline) {
      try {
        if ((await checkHealth(this.address)) === 'SERVING') return;
      } catch (err) {
        last = (err as Error).message;
      }
      await sleep(250);
    }
    throw new Error(
      `${this.key} not SERVING at ${this.address} after ${timeoutMs} ms (${last})\n${this.logs()}`,
    );
  }
}

export interface ContainerStackOptions {
  /** Per-service extra environment. */
  env?: Partial<Record<ServiceKey, Record<string, string>>>;
  /** Per-service extra container ports to publish on 127.0.0.1 (e.g. the coordinator's HTTP port). */
  extraPorts?: Partial<Record<ServiceKey, number[]>>;
  startupTimeoutMs?: number;
}

export class ContainerStack {
  readonly network: StartedNetwork;
  readonly services: Record<ServiceKey, ServiceContainer>;
  private readonly root: string;

  private constructor(network: StartedNetwork, services: Record<ServiceKey, ServiceContainer>, root: string) {
    this.network = network;
    this.services = services;
    this.root = root;
  }

  /** Starts data, trainer, analysis and coordinator (in that order) on a new Docker network. */
  static async start(options: ContainerStackOptions = {}): Promise<ContainerStack> {
    const root = mkdtempSync(join(tmpdir(), 'gengap-containers-'));
    chmodSync(root, 0o755);
    const network = await new Network().start();
    const services: Partial<Record<ServiceKey, ServiceContainer>> = {};
    try {
      for (const key of SERVICE_KEYS) {
        const stateDir = join(root, key);
        makeWritableFolder(stateDir);
        const hostPort = await freePort();
        const ports: Record<number, number> = {};
        const exposed = [{ container: GRPC_PORT, host: hostPort }];
        for (const port of options.extraPorts?.[key] ?? []) {
          ports[port] = await freePort();
          exposed.push({ container: port, host: ports[port] });
        }
        const container = await new HardenedContainer(imageTag(key))
          .withName(`gengap-e2e-${key}-${process.pid}-${Date.now().toString(36)}`)
          .withNetwork(network)
          .withNetworkAliases(key)
          .withEnvironment({
            GENGAP_LOG_LEVEL: 'info',
            ...wiringFor(key),
            ...options.env?.[key],
          })
          .withExposedPorts(...exposed)
          .withBindMounts([{ source: stateDir, target: STATE_DIR, mode: 'rw' }])
          .withTmpFs({ '/tmp': 'rw,nosuid,nodev,size=256m' })
          .withDroppedCapabilities('ALL')
          .withSecurityOpt('no-new-privileges')
          .withWaitStrategy(Wait.forLogMessage(/"msg":"serving"/))
          .withStartupTimeout(options.startupTimeoutMs ?? 120_000)
          .start();
        services[key] = new ServiceContainer(key, container, hostPort, stateDir, ports);
        await services[key].waitServing();
      }
    } catch (err) {
      for (const s of Object.values(services)) await s?.container.stop({ timeout: 0 }).catch(() => {});
      await network.stop().catch(() => {});
      throw err;
    }
    return new ContainerStack(network, services as Record<ServiceKey, ServiceContainer>, root);
  }

  /** Logs of every service (for failure messages). */
  logs(tailLines = 40): string {
    return SERVICE_KEYS.map((k) => {
      const lines = this.services[k].logs().trimEnd().split('\n');
      return `--- ${k} (last ${tailLines} lines)\n${lines.slice(-tailLines).join('\n')}`;
    }).join('\n');
  }

  async stop(): Promise<void> {
    for (const key of [...SERVICE_KEYS].reverse()) {
      await this.services[key].container.stop({ timeout: 5 }).catch(() => {});
    }
    await this.network.stop().catch(() => {});
    rmSync(this.root, { recursive: true, force: true });
  }
}

/** A host folder the containers' uid 65534 can write (owned by it when we are root). */
function makeWritableFolder(path: string): void {
  mkdirSync(path, { recursive: true });
  try {
    chownSync(path, SERVICE_UID, SERVICE_UID);
  } catch {
    chmodSync(path, 0o777);
  }
}
