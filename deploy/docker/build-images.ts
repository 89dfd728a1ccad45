// Builds GenGap's service images from the host's installed workspace, offline: stages each service
// (deploy/docker/stage-app.ts) and builds its target of deploy/docker/Dockerfile on a local base
// image, which deploy/docker/build-base-image.sh makes when it is missing.
//
//   node deploy/docker/build-images.ts [--base IMAGE] [--only data,trainer] [--cuda] [--json]
//     --base    base image (default: $GENGAP_BASE_IMAGE, else gengap/node-base:24 built offline;
//               online, node:24-bookworm-slim works too)
//     --cuda    also build gengap/trainer-cuda (needs `npm run setup:cuda` first and
//               --cuda-base or $GENGAP_CUDA_BASE_IMAGE pullable or present locally)
// Tags: <prefix><service>:<version>, prefix $GENGAP_IMAGE_PREFIX (default "gengap/"), version from
// the root package.json. The Kubernetes manifests name exactly these images (deploy/test checks it).
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot, SERVICES, type Service, stageService } from './stage-app.ts';

export const IMAGE_TARGETS = [...SERVICES, 'trainer-cuda'] as const;
export type ImageTarget = (typeof IMAGE_TARGETS)[number];

export const DEFAULT_BASE_IMAGE = 'gengap/node-base:24';
export const DOCKERFILE = join(repoRoot, 'deploy/docker/Dockerfile');

export function imageVersion(): string {
  return (JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { version: string }).version;
}

/** The repository part of a target's image name ("gengap/trainer"). */
export function imageRepository(target: ImageTarget, prefix = process.env.GENGAP_IMAGE_PREFIX ?? 'gengap/') {
  return `${prefix}${target}`;
}

/** The tag the build gives a target's image ("gengap/trainer:0.1.0"). */
export function imageTag(target: ImageTarget, version = imageVersion()): string {
  return `${imageRepository(target)}:${version}`;
}

export interface BuiltImage {
  target: ImageTarget;
  tag: string;
  sizeBytes: number;
  seconds: number;
  undeclared: string[];
}

export interface BuildOptions {
  base?: string;
  cudaBase?: string;
  only?: readonly Service[];
  cuda?: boolean;
  /** Where staged contexts go (default .gengap/images, git-ignored). */
  stagingDir?: string;
  log?: (line: string) => void;
}

function run(
  cmd: string,
  args: string[],
  log: (line: string) => void,
  quiet = false,
  env: Record<string, string> = {},
): string {
  const result = spawnSync(cmd, args, {
    cwd: repoRoot,
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
    env: { ...process.env, ...env },
  });
  if (result.status !== 0) {
    throw new Error(
      `${cmd} ${args.join(' ')} exited with ${result.status}:\n${result.stdout}\n${result.stderr}`,
    );
  }
  if (!quiet && result.stderr.trim()) log(result.stderr.trim());
  return result.stdout;
}

export function imageExists(image: string): boolean {
  return spawnSync('docker', ['image', 'inspect', image], { stdio: 'ignore' }).status === 0;
}

export function imageSize(image: string): number {
  return Number(
    spawnSync('docker', ['image', 'inspect', '-f', '{{.Size}}', image], { encoding: 'utf8' }).stdout.trim(),
  );
}

/** Makes sure the base image is there: the offline one is built when missing. */
export function ensureBaseImage(base: string, log: (line: string) => void): void {
  if (imageExists(base)) return;
  if (base !== DEFAULT_BASE_IMAGE && base !== process.env.GENGAP_BASE_IMAGE) {
    log(`base image ${base} is not present; docker build will try to pull it`);
    return;
  }
  log(`building the offline base image ${base}`);
  // The Node binary running this script is the one to package (Node 24, the workspace's).
  const out = run('bash', [join(repoRoot, 'deploy/docker/build-base-image.sh'), base], log, false, {
    NODE_BIN: process.env.NODE_BIN ?? process.execPath,
  });
  log(out.trim());
}

/** Stages and builds the images; returns their tags and sizes. */
export function buildImages(options: BuildOptions = {}): BuiltImage[] {
  const log = options.log ?? ((line: string) => console.error(line));
  const base = options.base ?? process.env.GENGAP_BASE_IMAGE ?? DEFAULT_BASE_IMAGE;
  const stagingDir = options.stagingDir ?? join(repoRoot, '.gengap/images');
  const version = imageVersion();
  ensureBaseImage(base, log);
  const targets: { target: ImageTarget; service: Service; cuda: boolean }[] = (options.only ?? SERVICES).map(
    (service) => ({ target: service, service, cuda: false }),
  );
  if (options.cuda) targets.push({ target: 'trainer-cuda', service: 'trainer', cuda: true });
  const built: BuiltImage[] = [];
  for (const { target, service, cuda } of targets) {
    const started = Date.now();
    const context = join(stagingDir, target);
    mkdirSync(context, { recursive: true });
    const staged = stageService(service, context, { cuda });
    for (const line of staged.undeclared) log(`warning: ${line} (staged anyway; declare it in package.json)`);
    const tag = imageTag(target, version);
    const args = ['build', '-f', DOCKERFILE, '--target', target, '--build-arg', `BASE_IMAGE=${base}`];
    const cudaBase = options.cudaBase ?? process.env.GENGAP_CUDA_BASE_IMAGE;
    if (cuda && cudaBase) args.push('--build-arg', `CUDA_BASE_IMAGE=${cudaBase}`);
    args.push('--label', `org.opencontainers.image.version=${version}`, '-t', tag, '-q', context);
    run('docker', args, log, true);
    built.push({
      target,
      tag,
      sizeBytes: imageSize(tag),
      seconds: (Date.now() - started) / 1000,
      undeclared: staged.undeclared,
    });
    log(
      `built ${tag} (${(imageSize(tag) / 1e6).toFixed(0)} MB) in ${((Date.now() - started) / 1000).toFixed(1)} s`,
    );
  }
  return built;
}

if (import.meta.main) {
  const args = process.argv.slice(2);
  const value = (flag: string) => {
    const i = args.indexOf(flag);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const only = value('--only')?.split(',') as Service[] | undefined;
  for (const s of only ?? []) {
    if (!SERVICES.includes(s)) {
      console.error(`unknown service ${s}; one of ${SERVICES.join(', ')}`);
      process.exit(2);
    }
  }
  const built = buildImages({
    ...(value('--base') ? { base: value('--base') as string } : {}),
    ...(value('--cuda-base') ? { cudaBase: value('--cuda-base') as string } : {}),
    ...(only ? { only } : {}),
    cuda: args.includes('--cuda'),
  });
  if (args.includes('--json')) console.log(JSON.stringify(built));
}
