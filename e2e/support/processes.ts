// Starts a GenGap service as a real child process (node <service>/src/main.ts) with a ready file, as
// `gengap up` and the containers do, so tests see start-up, signals and exit codes for real.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

export interface ServiceProcess {
  child: ChildProcess;
  address: string;
  port: number;
  stateDir: string;
  output: () => string;
  exited: Promise<number | null>;
}

export async function startServiceProcess(
  service: 'data' | 'trainer' | 'analysis' | 'coordinator',
  env: Record<string, string> = {},
  timeoutMs = 30_000,
): Promise<ServiceProcess> {
  const stateDir = env.GENGAP_STATE_DIR ?? mkdtempSync(join(tmpdir(), `gengap-${service}-`));
  const readyFile = join(stateDir, 'ready.json');
  let output = '';
  const child = spawn(process.execPath, [join(repoRoot, 'services', service, 'src', 'main.ts')], {
    env: {
      ...process.env,
      GENGAP_HOST: '127.0.0.1',
      GENGAP_PORT: '0',
      GENGAP_STATE_DIR: stateDir,
      GENGAP_READY_FILE: readyFile,
      GENGAP_LOG_LEVEL: 'info',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.on('data', (d) => {
    output += d;
  });
  child.stderr?.on('data', (d) => {
    output += d;
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${service} exited with ${child.exitCode}:\n${output}`);
    if (existsSync(readyFile) && readFileSync(readyFile, 'utf8')) {
      const { port } = JSON.parse(readFileSync(readyFile, 'utf8')) as { port: number };
      return { child, address: `127.0.0.1:${port}`, port, stateDir, output: () => output, exited };
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  child.kill('SIGKILL');
  throw new Error(`${service} not ready after ${timeoutMs} ms:\n${output}`);
}

/** Runs a service to completion (for start-up failures) and returns its exit code and output. */
export function runServiceToExit(
  service: 'data' | 'trainer' | 'analysis' | 'coordinator',
  env: Record<string, string>,
): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    let output = '';
    const child = spawn(process.execPath, [join(repoRoot, 'services', service, 'src', 'main.ts')], {
      env: { ...process.env, GENGAP_HOST: '127.0.0.1', GENGAP_PORT: '0', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout?.on('data', (d) => {
      output += d;
    });
    child.stderr?.on('data', (d) => {
      output += d;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}
