// A 20-second soak in the test suite (bench/soak.ts; the 90-second one is `npm run bench -- soak`):
// the four services in one process under thousands of calls and hundreds of cancelled streams; after
// the load, the service process's heap (after GC) is within 32 MiB of its baseline, its active
// handles are back at the baseline, and no call slot or handler is left behind.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { repoRoot } from '../support/processes.ts';

test('20-second soak: heap and handles of the services back at their baseline', () => {
  const seconds = process.env.GENGAP_SOAK_SECONDS ?? '20';
  const result = spawnSync(process.execPath, [join(repoRoot, 'bench/soak.ts'), '--seconds', seconds], {
    encoding: 'utf8',
    timeout: 300_000,
  });
  const lines = result.stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  console.log(lines.map((l) => `# ${JSON.stringify(l)}`).join('\n'));
  assert.equal(result.status, 0, `bench/soak.ts failed:\n${result.stdout}\n${result.stderr.slice(-4000)}`);
  const summary = lines.find((l) => l.metric === 'summary') as {
    unaryCalls: number;
    streamsCancelled: number;
    errors: object;
  };
  assert.ok(summary.unaryCalls > 200, `${summary.unaryCalls} unary calls`);
  assert.ok(summary.streamsCancelled > 100, `${summary.streamsCancelled} cancelled streams`);
  assert.deepEqual(summary.errors, {}, 'no unexpected errors');
});
