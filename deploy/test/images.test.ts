// What the images are made of, checked without Docker: the Dockerfile's shape (public Node 24 base
// by default, one target per image, non-root user, multi-stage), and the staged application of each
// service (its production dependencies and nothing of the development tooling; onnxruntime only
// where it is used, for linux/x64 only, without CUDA providers outside the CUDA image).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { DOCKERFILE, IMAGE_TARGETS, imageRepository, imageVersion } from '../docker/build-images.ts';
import { productionClosure, SERVICES, stageService } from '../docker/stage-app.ts';

const devTooling = [
  'typescript',
  'nx',
  '@biomejs/biome',
  '@bufbuild/buf',
  'ts-proto',
  'playwright-core',
  'testcontainers',
  'fast-check',
  '@nx/js',
];

describe('deploy/docker/Dockerfile', () => {
  const text = readFileSync(DOCKERFILE, 'utf8');
  const stages = [...text.matchAll(/^FROM\s+(\S+)(?:\s+AS\s+(\S+))?/gim)].map((m) => ({
    from: m[1],
    name: m[2],
  }));

  test('BASE_IMAGE is a build argument defaulting to the public Node 24 image', () => {
    assert.match(text, /^ARG BASE_IMAGE=node:24-bookworm-slim$/m);
    assert.equal(stages[0]?.from, `\${BASE_IMAGE}`);
    assert.match(text, /^ARG CUDA_BASE_IMAGE=nvidia\/cuda:13\.\S+-cudnn-runtime-\S+$/m);
  });

  test('one target per image, built in stages', () => {
    const names = stages.map((s) => s.name);
    for (const target of IMAGE_TARGETS) assert.ok(names.includes(target), `target ${target}`);
    assert.ok(stages.length >= 3, 'multi-stage');
    assert.equal(stages.find((s) => s.name === 'trainer-cuda')?.from, `\${CUDA_BASE_IMAGE}`);
  });

  test('every runtime stage switches to uid 65534 and runs node', () => {
    // The USER lines of the shared runtime stage and of the CUDA stage (the service targets inherit).
    const users = [...text.matchAll(/^USER\s+(\S+)/gm)].map((m) => m[1]);
    assert.ok(users.filter((u) => u === '65534:65534').length >= 2, users.join(' '));
    const lastUser = users.at(-1);
    assert.equal(lastUser, '65534:65534', 'the last stage (trainer-cuda) runs as 65534');
    assert.match(text, /ENTRYPOINT \["node"\]/);
    assert.match(text, /GENGAP_HOST=0\.0\.0\.0/);
  });
});

describe('staged applications (deploy/docker/stage-app.ts)', () => {
  const out = mkdtempSync(join(tmpdir(), 'gengap-stage-'));
  after(() => rmSync(out, { recursive: true, force: true }));

  for (const service of SERVICES) {
    test(`${service}: production dependencies only, every import of its sources resolvable`, () => {
      const { packages } = productionClosure(`services/${service}`);
      const installed = new Set(
        packages.filter((p) => !p.workspace).map((p) => p.lockPath.split('node_modules/').pop() as string),
      );
      for (const tool of devTooling) assert.ok(!installed.has(tool), `${service} image carries no ${tool}`);
      assert.ok(installed.has('@grpc/grpc-js'));
      assert.equal(
        installed.has('onnxruntime-node'),
        service === 'trainer' || service === 'analysis',
        'onnxruntime only where training or analysis happen',
      );
      assert.ok(packages.some((p) => p.lockPath === `services/${service}`));
    });
  }

  test('trainer: onnxruntime for linux/x64 only, no CUDA providers, workspace links kept, no tests', () => {
    const dir = join(out, 'trainer');
    stageService('trainer', dir);
    const app = join(dir, 'app');
    const bin = join(app, 'node_modules/onnxruntime-node/bin/napi-v6');
    assert.deepEqual(readdirSync(bin), ['linux']);
    assert.deepEqual(readdirSync(join(bin, 'linux')), ['x64']);
    const libs = readdirSync(join(bin, 'linux/x64'));
    assert.ok(libs.includes('libonnxruntime.so.1'));
    assert.ok(!libs.some((f) => f.includes('providers_cuda')), 'no CUDA providers in the CPU image');
    assert.ok(existsSync(join(app, 'node_modules/@gengap/proto/package.json')), 'workspace link resolves');
    assert.ok(existsSync(join(app, 'services/trainer/src/main.ts')));
    assert.ok(!existsSync(join(app, 'services/trainer/test')), 'tests are not staged');
    assert.ok(!existsSync(join(app, 'node_modules/typescript')));
    assert.equal(JSON.parse(readFileSync(join(app, 'package.json'), 'utf8')).type, 'module');
  });

  test("coordinator: the Kubernetes executor's default Job image, read in the staged app, is the trainer tag", () => {
    const dir = join(out, 'coordinator');
    stageService('coordinator', dir);
    const app = join(dir, 'app');
    // The executor takes the version from /app/package.json in the image (four levels above it).
    const executor = join(app, 'services/coordinator/src/executors/kubernetes-executor.ts');
    const script = `const m = await import(${JSON.stringify(executor)}); process.stdout.write(m.defaultTrainerImage() ?? '')`;
    const result = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      cwd: app,
      encoding: 'utf8',
    });
    assert.equal(result.status, 0, result.stderr);
    assert.equal(result.stdout, `${imageRepository('trainer', 'gengap/')}:${imageVersion()}`);
  });

  test('coordinator: the staged app renders a chart PNG with the two font faces it carries', () => {
    const app = join(out, 'coordinator', 'app');
    if (!existsSync(app)) stageService('coordinator', join(out, 'coordinator'));
    assert.deepEqual(readdirSync(join(app, 'node_modules/dejavu-fonts-ttf/ttf')).sort(), [
      'DejaVuSans-Bold.ttf',
      'DejaVuSans.ttf',
    ]);
    const module = join(app, 'services/coordinator/src/reports/chart-png.ts');
    const svg =
      '<svg xmlns="http://www.w3.org/2000/svg" width="40" height="20"><text x="2" y="15">GenGap</text></svg>';
    const script = `const m = await import(${JSON.stringify(module)}); process.stdout.write(String(m.svgToPng(${JSON.stringify(svg)}).length))`;
    const result = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      cwd: app,
      encoding: 'utf8',
    });
    assert.equal(result.status, 0, result.stderr);
    assert.ok(Number(result.stdout) > 100, `a PNG of ${result.stdout} bytes`);
  });
});
