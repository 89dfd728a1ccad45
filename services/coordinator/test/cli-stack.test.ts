// gengap against the real embedded stack (all four services as processes on loopback, state under
// a temporary --home): `run` on a tiny spec starts the stack and prints the --json summary, then
// ls/show/report/presets/cancel/watch talk to the same coordinator; errors map to exit codes.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { readStack } from '../src/stack/local-stack.ts';

const main = fileURLToPath(new URL('../src/cli/main.ts', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'gengap-cli-stack-'));
const home = join(dir, 'home');

function spec(stop: string): string {
  return `name: cli-test-tiny
description: Two runs on a small Gaussian mixture, true and random labels.
base:
  dataset:
    gaussianMixture: { numClasses: 2, dimension: 8, trainSize: 64, testSize: 64, separation: 4 }
    corruptions:
      - labelNoise: { fraction: 0 }
    seed: 1
  run:
    model:
      inputShape: [8]
      numOutputs: 2
      layers:
        - dense: { units: 32 }
        - activation: { activation: ACTIVATION_RELU }
        - dense: { units: 2 }
    loss: { kind: LOSS_KIND_CROSS_ENTROPY }
    optimizer: { kind: OPTIMIZER_KIND_SGD, learningRate: 0.1 }
    batchSize: 16
    stop: ${stop}
    metrics: { evalEveryEpochs: 1 }
    threads: 1
sweeps:
  - axes:
      - path: dataset.corruptions[0].labelNoise.fraction
        name: fraction
        values: [0, 1]
seeds: [0]
`;
}

const tinySpec = join(dir, 'tiny.yaml');
const longSpec = join(dir, 'long.yaml');
const badSpec = join(dir, 'bad.yaml');
writeFileSync(tinySpec, spec('{ maxEpochs: 4, targetTrainAccuracy: 1 }'));
writeFileSync(longSpec, spec('{ maxEpochs: 100000 }'));
writeFileSync(badSpec, spec('{ maxEpochs: 4 }').replace('learningRate: 0.1', 'learningRate: -1'));

function gengap(...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [main, '--home', home, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => {
      stdout += c;
    });
    child.stderr.on('data', (c) => {
      stderr += c;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 240_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

after(async () => {
  await gengap('down');
  rmSync(dir, { recursive: true, force: true });
});

describe('gengap on the embedded stack', { timeout: 600_000 }, () => {
  let experimentId = '';

  test('run starts the stack, follows the experiment and prints the JSON summary', async () => {
    const r = await gengap('--json', 'run', tinySpec, '--keep-stack');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /starting the embedded stack/);
    const summary = JSON.parse(r.stdout);
    experimentId = summary.experimentId;
    assert.match(experimentId, /^[0-9a-f]{32}$/);
    assert.equal(summary.status, 'succeeded');
    assert.ok(existsSync(summary.reportPath), 'the report exists');
    assert.match(summary.reportUrl, /^http:\/\/127\.0\.0\.1:\d+\/experiments\/[0-9a-f]{32}\/$/);
    assert.deepEqual(
      summary.runs.map((run: { parameters: unknown }) => run.parameters),
      [{ fraction: 0 }, { fraction: 1 }],
    );
    for (const run of summary.runs) {
      assert.equal(run.status, 'succeeded');
      for (const key of ['finalTrainAccuracy', 'finalTestAccuracy', 'finalTrainLoss', 'finalTestLoss'])
        assert.equal(typeof run[key], 'number', key);
      assert.ok(run.timeToFitEpoch === null || typeof run.timeToFitEpoch === 'number');
    }
    // True labels on separable clusters fit within the 4 epochs.
    assert.equal(summary.runs[0].finalTrainAccuracy, 1);
    assert.equal(typeof summary.runs[0].timeToFitEpoch, 'number');
    assert.ok(readStack(home), 'the stack keeps running with --keep-stack');
    // The coordinator serves the report it wrote.
    const page = await fetch(summary.reportUrl);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /Time to fit vs fraction/);
  });

  test('ls, show, report and presets read the same coordinator', async () => {
    const ls = JSON.parse((await gengap('--json', 'ls')).stdout);
    assert.ok(ls.experiments.some((e: { experimentId: string }) => e.experimentId === experimentId));
    const show = await gengap('--json', 'show', experimentId);
    assert.equal(show.code, 0);
    assert.equal(JSON.parse(show.stdout).runs.length, 2);
    const human = await gengap('show', experimentId);
    assert.match(human.stdout, /fraction=0\s+succeeded/);
    const report = JSON.parse((await gengap('--json', 'report', experimentId)).stdout);
    assert.ok(existsSync(report.reportPath));
    const presets = JSON.parse((await gengap('--json', 'presets')).stdout);
    assert.ok(presets.presets.some((p: { name: string }) => p.name === 'zhang2017'));
  });

  test('errors: unknown experiment or preset (4), invalid spec with its field (2)', async () => {
    const missing = await gengap('show', 'no-such-experiment');
    assert.equal(missing.code, 4);
    assert.match(missing.stderr, /not found/);
    assert.equal((await gengap('run', 'no-such-preset')).code, 4);
    const bad = await gengap('--json', 'run', badSpec);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /^gengap: invalid base\.run\.optimizer\.learningRate: /m);
    assert.equal(JSON.parse(bad.stdout).error.field, 'base.run.optimizer.learningRate');
  });

  test('run --detach is idempotent per key; cancel, then watch exits 5', async () => {
    const first = JSON.parse(
      (await gengap('--json', 'run', longSpec, '--detach', '--idempotency-key', 'cli-test')).stdout,
    );
    assert.equal(first.created, true);
    const again = JSON.parse(
      (await gengap('--json', 'run', longSpec, '--detach', '--idempotency-key', 'cli-test')).stdout,
    );
    assert.deepEqual(again, { experimentId: first.experimentId, created: false });
    const cancel = await gengap('--json', 'cancel', first.experimentId);
    assert.equal(cancel.code, 0, cancel.stderr);
    const watch = await gengap('--json', 'watch', first.experimentId);
    assert.equal(watch.code, 5, watch.stderr);
    assert.equal(JSON.parse(watch.stdout).status, 'cancelled');
  });
});
