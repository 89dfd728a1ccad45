// `npm test`: every test of the workspace in one node:test run, so there is one summary.
//   npm test                      all tests (unit, integration, local stack, containers)
//   npm test -- <glob> [...]      only these files, e.g. 'services/data/test/**/*.test.ts'
// Environment: GENGAP_TEST_CONCURRENCY (files run at once, default 2), GENGAP_TEST_TIMEOUT_MS
// (per test, default 15 min). Prints node's spec report, then one "N passed, N failed" line.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { glob } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const defaultPatterns = [
  'libs/*/test/**/*.test.ts',
  'services/*/test/**/*.test.ts',
  'bench/test/**/*.test.ts',
  'deploy/test/**/*.test.ts',
  'e2e/**/*.test.ts',
];

const patterns = process.argv.slice(2).length > 0 ? process.argv.slice(2) : defaultPatterns;
const files: string[] = [];
for (const pattern of patterns) {
  for await (const file of glob(pattern, { cwd: root, exclude: (f) => f.includes('node_modules') })) {
    files.push(file);
  }
}
files.sort();
if (files.length === 0) {
  console.error(`no test files match ${patterns.join(' ')}`);
  process.exit(2);
}

const tapDir = mkdtempSync(join(tmpdir(), 'gengap-tests-'));
const tapFile = join(tapDir, 'report.tap');
const args = [
  '--test',
  `--test-concurrency=${process.env.GENGAP_TEST_CONCURRENCY ?? '2'}`,
  `--test-timeout=${process.env.GENGAP_TEST_TIMEOUT_MS ?? String(15 * 60 * 1000)}`,
  '--test-reporter=spec',
  '--test-reporter-destination=stdout',
  '--test-reporter=tap',
  `--test-reporter-destination=${tapFile}`,
  ...files,
];
console.log(`running ${files.length} test files`);
const child = spawn(process.execPath, args, { cwd: root, stdio: 'inherit' });
const code: number = await new Promise((resolve) => child.on('close', (c) => resolve(c ?? 1)));

const tap = readFileSync(tapFile, 'utf8');
const count = (name: string) => Number(tap.match(new RegExp(`^# ${name} (\\d+)$`, 'm'))?.[1] ?? 0);
const passed = count('pass');
const failed = count('fail') + count('cancelled');
console.log(`\n${passed} passed, ${failed} failed, ${count('skipped')} skipped`);
rmSync(tapDir, { recursive: true, force: true });
process.exit(code !== 0 || failed > 0 ? 1 : 0);
