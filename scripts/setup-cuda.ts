// `npm run setup:cuda`: installs onnxruntime's CUDA execution provider for the pinned onnxruntime-node.
//
// onnxruntime-node bundles only the CPU runtime (libonnxruntime.so.1), and its own installer fetches
// CUDA providers from a NuGet feed that is often unreachable. Provider libraries must come from the
// very same ORT version as the core library, so this script:
//   1. checks that the installed onnxruntime-node is 1.29.0 and that its libonnxruntime.so.1 exports
//      the VERS_1.29.0 symbol version;
//   2. installs the npm package com.github.asus4.onnxruntime.linux-x64-gpu@0.4.9 (ORT 1.29.0 built
//      against CUDA 13, ~230 MB) into .tools/ort-cuda (or reads an already unpacked copy: --from);
//   3. copies libonnxruntime_providers_shared.so and libonnxruntime_providers_cuda.so next to
//      libonnxruntime.so.1 (each written to a temporary name and renamed);
//   4. reports which CUDA 13 / cuDNN 9 runtime libraries the dynamic loader cannot find.
// Afterwards the trainer lists DEVICE_CUDA in GetTrainerInfo, and runs with device CUDA start.
//
// Options: --from <dir>    use an unpacked package (or any folder holding the two .so files)
//          --target <dir>  copy into this folder instead of onnxruntime-node's (for tests)
//          --dry-run       check and print the plan, change nothing
import { spawnSync } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  statSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const ORT_VERSION = '1.29.0';
const PROVIDER_PACKAGE = 'com.github.asus4.onnxruntime.linux-x64-gpu';
const PROVIDER_PACKAGE_VERSION = '0.4.9';
const PROVIDER_LIBRARIES = ['libonnxruntime_providers_shared.so', 'libonnxruntime_providers_cuda.so'];
/** What the CUDA provider loads at run time (NEEDED entries, plus cuDNN opened with dlopen). */
const CUDA_RUNTIME_LIBRARIES = [
  'libcudart.so.13',
  'libcublas.so.13',
  'libcublasLt.so.13',
  'libcurand.so.10',
  'libcufft.so.12',
  'libcudnn.so.9',
];

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

function fail(message: string): never {
  process.stderr.write(`setup:cuda: ${message}\n`);
  process.exit(1);
}

function say(message: string): void {
  process.stdout.write(`setup:cuda: ${message}\n`);
}

function hasSymbolVersion(library: string, version: string): boolean {
  return readFileSync(library).includes(Buffer.from(`VERS_${version}`));
}

/** onnxruntime-node's folder of native libraries, after checking its version. */
function onnxruntimeLibraryDir(): string {
  const require = createRequire(join(root, 'package.json'));
  let packageJson: string;
  try {
    packageJson = require.resolve('onnxruntime-node/package.json');
  } catch {
    fail('onnxruntime-node is not installed; run `npm ci` first');
  }
  const { version } = JSON.parse(readFileSync(packageJson, 'utf8')) as { version: string };
  if (version !== ORT_VERSION) {
    fail(`onnxruntime-node is ${version}, but the CUDA provider package matches ${ORT_VERSION} only`);
  }
  return join(dirname(packageJson), 'bin', 'napi-v6', 'linux', 'x64');
}

function findFiles(
  dir: string,
  names: readonly string[],
  found = new Map<string, string>(),
): Map<string, string> {
  for (const entry of readdirSync(dir)) {
    const path = join(dir, entry);
    const stat = statSync(path);
    if (stat.isDirectory()) findFiles(path, names, found);
    else if (names.includes(entry) && !found.has(entry)) found.set(entry, path);
  }
  return found;
}

function installProviderPackage(): string {
  const prefix = join(root, '.tools', 'ort-cuda');
  const installed = join(prefix, 'node_modules', PROVIDER_PACKAGE);
  const stamp = join(installed, 'package.json');
  if (existsSync(stamp)) {
    const { version } = JSON.parse(readFileSync(stamp, 'utf8')) as { version: string };
    if (version === PROVIDER_PACKAGE_VERSION) {
      say(`using ${PROVIDER_PACKAGE}@${version} already in ${prefix}`);
      return installed;
    }
  }
  mkdirSync(prefix, { recursive: true });
  say(`installing ${PROVIDER_PACKAGE}@${PROVIDER_PACKAGE_VERSION} (about 230 MB) into ${prefix}`);
  const result = spawnSync(
    'npm',
    [
      'install',
      '--prefix',
      prefix,
      '--no-save',
      '--no-audit',
      '--no-fund',
      '--ignore-scripts',
      '--loglevel=error',
      `${PROVIDER_PACKAGE}@${PROVIDER_PACKAGE_VERSION}`,
    ],
    { stdio: 'inherit' },
  );
  if (result.status !== 0) fail(`npm install of ${PROVIDER_PACKAGE} failed (exit ${result.status})`);
  return installed;
}

function missingRuntimeLibraries(): string[] {
  const cache = spawnSync('ldconfig', ['-p'], { encoding: 'utf8' });
  const known = cache.status === 0 ? cache.stdout : '';
  const searchPath = (process.env.LD_LIBRARY_PATH ?? '').split(':').filter(Boolean);
  return CUDA_RUNTIME_LIBRARIES.filter(
    (lib) => !known.includes(`${lib} `) && !searchPath.some((dir) => existsSync(join(dir, lib))),
  );
}

function main(): void {
  const { values } = parseArgs({
    options: {
      from: { type: 'string' },
      target: { type: 'string' },
      'dry-run': { type: 'boolean', default: false },
    },
  });
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    fail(`the CUDA provider package is built for linux-x64; this is ${process.platform}-${process.arch}`);
  }
  const target = values.target ? resolve(values.target) : onnxruntimeLibraryDir();
  const core = join(target, 'libonnxruntime.so.1');
  if (!existsSync(core)) fail(`${core} does not exist`);
  if (!hasSymbolVersion(core, ORT_VERSION))
    fail(`${core} is not onnxruntime ${ORT_VERSION} (no VERS_${ORT_VERSION})`);
  say(`core library ${core} is onnxruntime ${ORT_VERSION}`);

  if (values['dry-run'] && !values.from) {
    say(
      `would install ${PROVIDER_PACKAGE}@${PROVIDER_PACKAGE_VERSION} and copy ${PROVIDER_LIBRARIES.join(', ')} into ${target}`,
    );
    return;
  }
  const source = values.from ? resolve(values.from) : installProviderPackage();
  const found = findFiles(source, [
    ...PROVIDER_LIBRARIES,
    'libonnxruntime.so',
    `libonnxruntime.so.${ORT_VERSION}`,
  ]);
  const missing = PROVIDER_LIBRARIES.filter((lib) => !found.has(lib));
  if (missing.length > 0) fail(`${source} lacks ${missing.join(', ')}`);
  // The package's own core library tells which ORT its providers were built from.
  const packagedCore = found.get(`libonnxruntime.so.${ORT_VERSION}`) ?? found.get('libonnxruntime.so');
  if (packagedCore && !hasSymbolVersion(packagedCore, ORT_VERSION)) {
    fail(`${packagedCore} is not onnxruntime ${ORT_VERSION}; its providers would not load`);
  }
  for (const lib of PROVIDER_LIBRARIES) {
    const from = found.get(lib) as string;
    const to = join(target, lib);
    if (values['dry-run']) {
      say(`would copy ${from} -> ${to}`);
      continue;
    }
    const temporary = `${to}.tmp-${process.pid}`;
    copyFileSync(from, temporary);
    renameSync(temporary, to);
    say(`installed ${to}`);
  }
  const runtime = missingRuntimeLibraries();
  if (runtime.length > 0) {
    say(
      `warning: the dynamic loader cannot find ${runtime.join(', ')}; install CUDA 13 and cuDNN 9 ` +
        '(or add their lib folders to LD_LIBRARY_PATH) before training on the GPU',
    );
  }
  say('done: the trainer lists DEVICE_CUDA in GetTrainerInfo once a GPU and these libraries are present');
}

main();
