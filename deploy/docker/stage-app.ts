// Stages one service's application tree for its image, from the host's installed workspace and
// without npm or the network: the service and the workspace libraries it imports (their sources, no
// tests), and exactly the production dependencies they need, found by walking package-lock.json
// from the service's own `dependencies` the way Node resolves them. Files are hard-linked (copied
// across file systems), so staging takes seconds. Dropped on the way: type declarations, source
// maps, docs, the other platforms' onnxruntime binaries and, outside the CUDA image, its CUDA
// providers.
//
//   node deploy/docker/stage-app.ts <service> <out-dir> [--cuda]
import {
  copyFileSync,
  existsSync,
  linkSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join, posix, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

export const SERVICES = ['data', 'trainer', 'analysis', 'coordinator'] as const;
export type Service = (typeof SERVICES)[number];

interface LockEntry {
  name?: string;
  version?: string;
  link?: boolean;
  resolved?: string;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
}

interface Lockfile {
  packages: Record<string, LockEntry>;
}

export interface StagedPackage {
  /** Path in the lockfile ("node_modules/zod", "libs/proto"). */
  lockPath: string;
  /** A workspace package (linked from node_modules/@gengap/...) rather than an installed one. */
  workspace: boolean;
}

/** Where `name` resolves from the package at `from`, by Node's node_modules walk over the lockfile. */
function resolveFrom(lock: Lockfile, from: string, name: string): string | undefined {
  let dir = from;
  for (;;) {
    const candidate = dir ? `${dir}/node_modules/${name}` : `node_modules/${name}`;
    if (lock.packages[candidate] && existsSync(join(repoRoot, candidate))) return candidate;
    if (dir === '') return undefined;
    const parent = posix.dirname(dir);
    dir = parent === '.' ? '' : parent;
  }
}

/**
 * The production dependency closure of a workspace package: lockfile paths of the installed
 * packages, the workspace packages, and the node_modules links to the latter. Bare imports in the
 * workspace sources that no package.json declares (they work on the host, where every workspace is
 * linked at the root) are added too, and reported in `undeclared`.
 */
export function productionClosure(
  workspaceDir: string,
  lock: Lockfile = JSON.parse(readFileSync(join(repoRoot, 'package-lock.json'), 'utf8')) as Lockfile,
): { packages: StagedPackage[]; links: Map<string, string>; undeclared: string[] } {
  const seen = new Set<string>();
  const links = new Map<string, string>();
  const packages: StagedPackage[] = [];
  const undeclared: string[] = [];
  const queue = [workspaceDir];
  const scanned = new Set<string>();
  while (queue.length > 0) {
    while (queue.length > 0) {
      const path = queue.shift() as string;
      if (seen.has(path)) continue;
      seen.add(path);
      const entry = lock.packages[path];
      if (!entry) throw new Error(`package-lock.json has no entry for ${path}`);
      if (entry.link) {
        const target = entry.resolved as string;
        links.set(path, target);
        queue.push(target);
        continue;
      }
      packages.push({ lockPath: path, workspace: !path.includes('node_modules/') });
      const optionalPeers = new Set(
        Object.entries(entry.peerDependenciesMeta ?? {})
          .filter(([, meta]) => meta.optional)
          .map(([name]) => name),
      );
      const required = [
        ...Object.keys(entry.dependencies ?? {}),
        ...Object.keys(entry.peerDependencies ?? {}),
      ];
      for (const name of required) {
        const resolved = resolveFrom(lock, path, name);
        if (resolved) queue.push(resolved);
        else if (!optionalPeers.has(name)) {
          throw new Error(`${path} depends on ${name}, which is not installed (run npm ci first)`);
        }
      }
      // Optional dependencies are those this platform installed (others are in the lock but absent).
      for (const name of Object.keys(entry.optionalDependencies ?? {})) {
        const resolved = resolveFrom(lock, path, name);
        if (resolved) queue.push(resolved);
      }
    }
    for (const pkg of packages) {
      if (!pkg.workspace || scanned.has(pkg.lockPath)) continue;
      scanned.add(pkg.lockPath);
      for (const name of bareImports(join(repoRoot, pkg.lockPath))) {
        const resolved = resolveFrom(lock, pkg.lockPath, name);
        if (!resolved) throw new Error(`${pkg.lockPath} imports ${name}, which is not installed`);
        if (!seen.has(resolved)) {
          undeclared.push(`${pkg.lockPath} imports ${name} without declaring it`);
          queue.push(resolved);
        }
      }
    }
  }
  packages.sort((a, b) => a.lockPath.localeCompare(b.lockPath));
  return { packages, links, undeclared };
}

const importPatterns = [
  /^\s*(?:import|export)\s[^'"\n]*?\bfrom\s*['"]([^'"]+)['"]/gm, // import x from 'p'; export * from 'p'
  /^\s*}\s*from\s*['"]([^'"]+)['"]/gm, // the last line of a multi-line import
  /^\s*import\s*['"]([^'"]+)['"]/gm, // import 'p' (side effects)
  /\bimport\(\s*['"]([^'"]+)['"]\s*\)/g, // import('p')
];

/** Package names of the bare imports in a workspace package's runtime sources. */
function bareImports(dir: string): Set<string> {
  const names = new Set<string>();
  const walk = (folder: string) => {
    for (const dirent of readdirSync(folder, { withFileTypes: true })) {
      if (workspaceDevOnly(dirent.name)) continue;
      const path = join(folder, dirent.name);
      if (dirent.isDirectory()) walk(path);
      else if (/\.(ts|mts|js|mjs)$/.test(dirent.name) && !dirent.name.endsWith('.d.ts')) {
        const text = readFileSync(path, 'utf8');
        for (const match of importPatterns.flatMap((pattern) => [...text.matchAll(pattern)])) {
          const spec = match[1] as string;
          if (spec.startsWith('.') || spec.startsWith('node:') || spec.startsWith('#')) continue;
          const parts = spec.split('/');
          names.add(spec.startsWith('@') ? parts.slice(0, 2).join('/') : (parts[0] as string));
        }
      }
    }
  };
  walk(join(dir, 'src'));
  return names;
}

const dropFile = (name: string) =>
  /\.(d\.ts|d\.mts|d\.cts|map|md|markdown)$/i.test(name) && !/^licen[sc]e/i.test(name);

/** Folders and files of a workspace package that only development needs. */
const workspaceDevOnly = (name: string) =>
  ['node_modules', 'test', 'scratch', 'project.json', 'tsconfig.json'].includes(name) ||
  name.endsWith('.test.ts') ||
  name.startsWith('scratch_');

const ortCuda = /^libonnxruntime_providers_(cuda|tensorrt|shared)\.so/;
/** What `npm run setup:cuda` installs and the trainer-cuda image must carry. */
const CUDA_PROVIDERS = ['libonnxruntime_providers_shared.so', 'libonnxruntime_providers_cuda.so'];

export interface StageOptions {
  /** Keep onnxruntime's CUDA providers (the trainer-cuda image); they must be installed. */
  cuda?: boolean;
}

function place(from: string, to: string) {
  mkdirSync(dirname(to), { recursive: true });
  try {
    linkSync(from, to);
  } catch {
    copyFileSync(from, to);
  }
}

function copyTree(from: string, to: string, skip: (name: string, relPath: string) => boolean, rel = '') {
  for (const dirent of readdirSync(from, { withFileTypes: true })) {
    const relPath = rel ? `${rel}/${dirent.name}` : dirent.name;
    if (skip(dirent.name, relPath)) continue;
    const source = join(from, dirent.name);
    const target = join(to, dirent.name);
    if (dirent.isDirectory()) copyTree(source, target, skip, relPath);
    else if (dirent.isSymbolicLink()) continue;
    else if (dirent.isFile()) place(source, target);
  }
}

/** The faces of dejavu-fonts-ttf the coordinator's chart PNGs load. */
const USED_FONTS = new Set(['DejaVuSans.ttf', 'DejaVuSans-Bold.ttf']);

/** Skip rules for one installed package (relative paths inside it). */
function installedSkip(lockPath: string, options: StageOptions) {
  const isOrt = lockPath === 'node_modules/onnxruntime-node';
  const isFonts = lockPath === 'node_modules/dejavu-fonts-ttf';
  return (name: string, relPath: string) => {
    if (name === 'node_modules') return true; // nested packages are staged on their own
    if (dropFile(name)) return true;
    // The report PNGs use two of its 21 faces (services/coordinator/src/reports/chart-png.ts).
    if (isFonts && name.endsWith('.ttf')) return !USED_FONTS.has(name);
    if (isOrt) {
      // bin/napi-v6/<platform>/<arch>: keep linux/x64 only.
      const parts = relPath.split('/');
      if (parts[0] === 'bin' && parts.length === 3 && parts[2] !== 'linux') return true;
      if (parts[0] === 'bin' && parts.length === 4 && parts[2] === 'linux' && parts[3] !== 'x64') return true;
      if (!options.cuda && ortCuda.test(name)) return true;
    }
    return false;
  };
}

export interface StageResult {
  service: Service;
  outDir: string;
  packages: number;
  workspacePackages: string[];
  undeclared: string[];
}

/** Stages `service` into `outDir/app` (replacing what was there). */
export function stageService(service: Service, outDir: string, options: StageOptions = {}): StageResult {
  const appDir = join(outDir, 'app');
  rmSync(appDir, { recursive: true, force: true });
  mkdirSync(appDir, { recursive: true });
  const { packages, links, undeclared } = productionClosure(`services/${service}`);
  for (const pkg of packages) {
    const source = join(repoRoot, pkg.lockPath);
    const target = join(appDir, pkg.lockPath);
    if (pkg.workspace) copyTree(source, target, (name) => workspaceDevOnly(name));
    else if (!pkg.lockPath.split('node_modules/').pop()?.startsWith('@types/')) {
      copyTree(source, target, installedSkip(pkg.lockPath, options));
    }
  }
  for (const [link, target] of links) {
    const linkPath = join(appDir, link);
    mkdirSync(dirname(linkPath), { recursive: true });
    symlinkSync(relative(dirname(linkPath), join(appDir, target)), linkPath);
  }
  if (options.cuda) {
    const ortDir = join(appDir, 'node_modules/onnxruntime-node/bin/napi-v6/linux/x64');
    const present = existsSync(ortDir) ? readdirSync(ortDir) : [];
    const missing = CUDA_PROVIDERS.filter((lib) => !present.includes(lib));
    if (missing.length > 0) {
      throw new Error(
        `the CUDA image needs ${missing.join(' and ')} next to libonnxruntime.so.1: run \`npm run setup:cuda\` first`,
      );
    }
  }
  const root = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { version: string };
  const manifest = { name: `gengap-${service}`, version: root.version, private: true, type: 'module' };
  // The service's root manifest: ES modules, nothing to install.
  writeFileSync(join(appDir, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  return {
    service,
    outDir,
    packages: packages.length,
    workspacePackages: packages.filter((p) => p.workspace).map((p) => p.lockPath),
    undeclared,
  };
}

if (import.meta.main) {
  const [service, outDir, ...flags] = process.argv.slice(2);
  if (!service || !outDir || !SERVICES.includes(service as Service)) {
    console.error(`usage: node deploy/docker/stage-app.ts <${SERVICES.join('|')}> <out-dir> [--cuda]`);
    process.exit(2);
  }
  const result = stageService(service as Service, outDir, { cuda: flags.includes('--cuda') });
  console.log(JSON.stringify(result));
}
