// The contracts' own CI checks: buf lint (STANDARD), buf breaking (FILE) against the previous commit
// of main and against the frozen v1 baseline image, and codegen drift (regenerating changes nothing).
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const buf = join(root, 'node_modules', '.bin', 'buf');

function run(args: string[]): { code: number; output: string } {
  const res = spawnSync(buf, args, { cwd: root, encoding: 'utf8' });
  return { code: res.status ?? 1, output: `${res.stdout}${res.stderr}` };
}

function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir)) {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) out.push(...filesUnder(path));
    else out.push(path);
  }
  return out.sort();
}

test('buf lint passes with the STANDARD rules', () => {
  const res = run(['lint']);
  assert.equal(res.code, 0, res.output);
});

test('no breaking change (FILE rules) against the previous commit', (t) => {
  const previous = spawnSync('git', ['rev-parse', '--verify', '--quiet', 'HEAD~1'], {
    cwd: root,
    encoding: 'utf8',
  });
  if (previous.status !== 0) {
    t.skip('no previous commit in this clone (shallow clone)');
    return;
  }
  const res = run(['breaking', '--against', '.git#ref=HEAD~1']);
  assert.equal(res.code, 0, res.output);
});

test('no breaking change against the frozen v1 baseline image', (t) => {
  const baseline = join(root, 'proto', 'baseline', 'gengap-v1.binpb');
  if (!existsSync(baseline)) {
    t.skip('v1 has no frozen baseline yet (proto/baseline/gengap-v1.binpb)');
    return;
  }
  const res = run(['breaking', '--against', baseline]);
  assert.equal(res.code, 0, res.output);
});

test('regenerating the TypeScript contracts and descriptor set changes nothing', () => {
  const out = mkdtempSync(join(tmpdir(), 'gengap-codegen-'));
  execFileSync(buf, ['generate', '-o', out], { cwd: root });
  execFileSync(buf, ['generate', '--template', 'buf.gen.onnx.yaml', '-o', out], { cwd: root });
  for (const generated of [
    join('libs', 'proto', 'src', 'gen'),
    join('libs', 'engine', 'src', 'onnx', 'gen'),
  ]) {
    const committedDir = join(root, generated);
    const freshDir = join(out, generated);
    const committed = filesUnder(committedDir).map((f) => relative(committedDir, f));
    const fresh = filesUnder(freshDir).map((f) => relative(freshDir, f));
    assert.deepEqual(fresh, committed, `the same files under ${generated}`);
    for (const file of committed) {
      assert.equal(
        readFileSync(join(freshDir, file), 'utf8'),
        readFileSync(join(committedDir, file), 'utf8'),
        `${generated}/${file} differs from a fresh generation: run npm run proto:gen`,
      );
    }
  }
  const descriptor = join(out, 'gengap.binpb');
  execFileSync(buf, ['build', '--as-file-descriptor-set', '-o', descriptor], { cwd: root });
  assert.ok(
    readFileSync(descriptor).equals(readFileSync(join(root, 'libs', 'proto', 'descriptor', 'gengap.binpb'))),
    'descriptor set is current: run npm run proto:gen',
  );
});
