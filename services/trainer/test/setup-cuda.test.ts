// scripts/setup-cuda.ts against fake library folders (the real 230 MB install is not run in tests):
// it copies the provider libraries next to a core library of the pinned version, and refuses a core
// library of another version.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const script = fileURLToPath(new URL('../../../scripts/setup-cuda.ts', import.meta.url));

function run(args: string[]) {
  return spawnSync(process.execPath, [script, ...args], { encoding: 'utf8' });
}

test('setup:cuda copies the provider libraries next to a matching core library', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gengap-cuda-'));
  try {
    const target = join(dir, 'ort');
    const source = join(dir, 'package', 'runtimes', 'linux-x64', 'native');
    mkdirSync(target, { recursive: true });
    mkdirSync(source, { recursive: true });
    writeFileSync(join(target, 'libonnxruntime.so.1'), 'ELF...VERS_1.29.0...');
    writeFileSync(join(source, 'libonnxruntime_providers_shared.so'), 'shared');
    writeFileSync(join(source, 'libonnxruntime_providers_cuda.so'), 'cuda');
    writeFileSync(join(source, 'libonnxruntime.so'), 'ELF...VERS_1.29.0...');
    const ok = run(['--from', join(dir, 'package'), '--target', target]);
    assert.equal(ok.status, 0, ok.stderr);
    assert.ok(existsSync(join(target, 'libonnxruntime_providers_cuda.so')));
    assert.ok(existsSync(join(target, 'libonnxruntime_providers_shared.so')));

    writeFileSync(join(target, 'libonnxruntime.so.1'), 'ELF...VERS_1.30.0...');
    const wrong = run(['--from', join(dir, 'package'), '--target', target]);
    assert.equal(wrong.status, 1);
    assert.match(wrong.stderr, /not onnxruntime 1\.29\.0/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
