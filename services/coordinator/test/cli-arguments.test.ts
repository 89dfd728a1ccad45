// The gengap command line as a user meets it, without a coordinator: help text with exit codes,
// usage errors (exit 2), and a clear one-line message with exit 3 when nothing is reachable.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

const main = fileURLToPath(new URL('../src/cli/main.ts', import.meta.url));
const home = mkdtempSync(join(tmpdir(), 'gengap-cli-home-'));
after(() => rmSync(home, { recursive: true, force: true }));

function gengap(...args: string[]) {
  const r = spawnSync(process.execPath, [main, '--home', home, ...args], {
    encoding: 'utf8',
    timeout: 30_000,
    env: { ...process.env, GENGAP_HOME: '' },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A port nothing listens on. */
const closedAddress = '127.0.0.1:1';

describe('gengap arguments', () => {
  test('--help lists every command and documents the exit codes', () => {
    const r = gengap('--help');
    assert.equal(r.code, 0);
    for (const command of ['up', 'down', 'run', 'watch', 'ls', 'show', 'report', 'cancel', 'presets'])
      assert.match(r.stdout, new RegExp(`\\n  ${command}\\b`), command);
    assert.match(r.stdout, /Exit codes:/);
    for (const code of ['0', '1', '2', '3', '4', '5', '130'])
      assert.match(r.stdout, new RegExp(`\\n  ${code}\\s+\\S`));
  });

  test('usage errors exit with 2', () => {
    const cases: string[][] = [
      ['bogus'],
      ['run'],
      ['show'],
      ['run', 'zhang2017', '--size', 'huge', '--coordinator', closedAddress],
      ['run', 'missing-spec.yaml', '--coordinator', closedAddress],
      ['run', 'zhang2017', '--label', 'novalue', '--coordinator', closedAddress],
      ['ls', '--state', 'sleeping', '--coordinator', closedAddress],
      ['ls', '--limit', '0', '--coordinator', closedAddress],
      ['watch', 'x', '--from', '-1', '--coordinator', closedAddress],
    ];
    for (const args of cases) {
      const r = gengap(...args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.ok(r.stderr.trim().length > 0, `${args.join(' ')} says why`);
    }
    assert.match(
      gengap('run', 'missing-spec.yaml', '--coordinator', closedAddress).stderr,
      /spec file missing-spec\.yaml not found/,
    );
    assert.match(
      gengap('run', 'zhang2017', '--size', 'huge', '--coordinator', closedAddress).stderr,
      /--size must be one of quick, full/,
    );
  });

  test('without a running stack, commands say how to start one (exit 3)', () => {
    for (const args of [
      ['ls'],
      ['show', 'x'],
      ['presets'],
      ['cancel', 'x'],
      ['report', 'x'],
      ['watch', 'x'],
    ]) {
      const r = gengap(...args);
      assert.equal(r.code, 3, args.join(' '));
      const lines = r.stderr.trim().split('\n');
      assert.equal(lines.length, 1, 'one line');
      assert.match(
        lines[0] ?? '',
        /^gengap: no GenGap stack is running under .*; start one with "gengap up"/,
      );
    }
  });

  test('an unreachable coordinator is exit 3, and --json adds a JSON error on stdout', () => {
    const r = gengap('--json', 'ls', '--coordinator', closedAddress);
    assert.equal(r.code, 3);
    assert.match(r.stderr, /coordinator at 127\.0\.0\.1:1 unreachable \(UNAVAILABLE: .*ECONNREFUSED/);
    const json = JSON.parse(r.stdout);
    assert.equal(json.error.exitCode, 3);
    assert.match(json.error.message, /unreachable/);
    // Global options are accepted after the command too.
    assert.equal(gengap('show', 'x', '--coordinator', closedAddress, '--json').code, 3);
  });

  test('down without a stack is not an error', () => {
    const r = gengap('--json', 'down');
    assert.equal(r.code, 0);
    assert.deepEqual(JSON.parse(r.stdout), { stopped: [] });
  });
});
