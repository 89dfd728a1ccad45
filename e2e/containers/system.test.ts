// GenGap as users deploy it: the four service images (built offline by deploy/docker/build-images.ts)
// started with testcontainers on a Docker network, hardened as in Kubernetes (uid 65534, read-only
// root filesystem, no capabilities), wired by network aliases. Through the coordinator's gRPC API:
//   1. the quick zhang2017 preset runs to the end: one run per cell, all succeeded with summaries,
//      live progress on the watch stream, and an HTML report on the coordinator's volume;
//   2. the trainer container is SIGKILLed mid-run, after a checkpoint, and started again on the
//      same volume: the run resumes from its checkpoint (new attempt, no epoch repeated or lost),
//      and the experiment completes with exactly one trainer run per cell;
//   3. the coordinator container is stopped and started mid-experiment while the Python example
//      client (clients/python/examples/run_experiment.py) follows the watch stream: the client
//      resumes its watch, the experiment completes with nothing lost, and the client downloads a
//      run's parameters with every checksum verified.
// The fault cases run the preset cut to two cells (first two values of each sweep axis), which is
// all they need and keeps the suite within CI's time.
// Environment: GENGAP_E2E_SKIP_BUILD=1 reuses images already built. Needs a Docker engine.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, type TestContext, test } from 'node:test';
import { JobState } from '@gengap/proto/common/v1/job';
import {
  type Experiment,
  type ExperimentEvent,
  ExperimentSpec,
} from '@gengap/proto/coordinator/v1/experiment';
import { callUnary, closeClient } from '@gengap/service-kit';
import { status } from '@grpc/grpc-js';
import { imageSize, imageTag } from '../../deploy/docker/build-images.ts';
import { ContainerStack, ensureImages, SERVICE_KEYS } from '../support/containers.ts';
import {
  codeOf,
  coordinatorClient,
  followExperiment,
  getExperiment,
  listTrainerRuns,
  runEvents,
  startExperiment,
  stateName,
  waitFor,
} from '../support/containers-experiments.ts';
import { checkHealth, listServicesByReflection } from '../support/grpc-probes.ts';
import { repoRoot } from '../support/processes.ts';

const PRESET = { name: 'zhang2017', size: 'quick' };
const EXPERIMENT_TIMEOUT_MS = 12 * 60_000;
const STATE_DIR_IN_CONTAINER = '/var/lib/gengap';
/** The coordinator's report server (HTTP) inside its container. */
const REPORT_PORT = 8080;

const dockerReachable = spawnSync('docker', ['info'], { stdio: 'ignore' }).status === 0;
const noDocker = dockerReachable
  ? undefined
  : 'no Docker engine reachable (.ci/run installs docker.io and starts dockerd)';
if (noDocker && process.env.CI === 'true') throw new Error(`container suite in CI: ${noDocker}`);

const log = (line: string) => process.stderr.write(`[containers] ${line}\n`);

describe('GenGap in containers', { skip: noDocker }, () => {
  let stack: ContainerStack;
  /** Set when a service feature the experiments need is missing: the tests skip with it. */
  let missing: string | undefined;
  /** cells per experiment started in this suite, to count trainer runs against. */
  const cellsStarted: number[] = [];
  let presetCells = 0;

  before(
    async () => {
      const t0 = Date.now();
      const built = await ensureImages(log);
      for (const image of built) log(`${image.tag}: ${(image.sizeBytes / 1e6).toFixed(0)} MB`);
      log(`images ready in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
      stack = await ContainerStack.start({
        env: {
          // One run at a time keeps the 2-core CI machine predictable; checkpoints every few steps
          // make "killed after a checkpoint" happen early in a run.
          trainer: { GENGAP_MAX_CONCURRENT_RUNS: '1', GENGAP_CHECKPOINT_EVERY_STEPS: '20' },
          coordinator: { GENGAP_HTTP_HOST: '0.0.0.0', GENGAP_HTTP_PORT: String(REPORT_PORT) },
        },
        extraPorts: { coordinator: [REPORT_PORT] },
      });
      log(`stack SERVING in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
      const client = coordinatorClient(stack.services.coordinator.address);
      try {
        const code = await codeOf(callUnary(client, client.listPresets, {}));
        if (code === status.UNIMPLEMENTED)
          missing = 'the coordinator does not implement ListPresets/StartExperiment yet';
        else {
          const validated = await callUnary(client, client.validateExperiment, {
            source: { $case: 'preset', value: PRESET },
          });
          presetCells = validated.cells.length;
        }
      } finally {
        closeClient(client);
      }
    },
    { timeout: 20 * 60_000 },
  );

  after(async () => {
    if (stack) await stack.stop();
  });

  function skipIfMissing(t: TestContext): boolean {
    if (missing) t.skip(missing);
    return missing !== undefined;
  }

  /**
   * The quick preset cut to its first two values per sweep axis (two cells for zhang2017: true
   * labels and 20% label noise): the fault cases need runs to interrupt, not the whole sweep.
   */
  async function twoCellSpec(): Promise<{ spec: ExperimentSpec; cells: number }> {
    const client = coordinatorClient(stack.services.coordinator.address);
    try {
      const preset = await callUnary(client, client.validateExperiment, {
        source: { $case: 'preset', value: PRESET },
      });
      const spec = ExperimentSpec.fromPartial(preset.resolvedSpec ?? {});
      spec.name = `${spec.name}-two-cells`;
      for (const sweep of spec.sweeps) for (const axis of sweep.axes) axis.values = axis.values.slice(0, 2);
      const cut = await callUnary(client, client.validateExperiment, {
        source: { $case: 'spec', value: spec },
      });
      return { spec, cells: cut.cells.length };
    } finally {
      closeClient(client);
    }
  }

  /** The host path of a file the coordinator names by its in-container path. */
  function coordinatorFile(containerPath: string): string {
    assert.ok(
      containerPath.startsWith(`${STATE_DIR_IN_CONTAINER}/`),
      `${containerPath} is under the state dir`,
    );
    return join(stack.services.coordinator.stateDir, containerPath.slice(STATE_DIR_IN_CONTAINER.length + 1));
  }

  /** One trainer run per cell, all succeeded, each with a summary; returns the experiment. */
  async function assertCompleteWithoutDuplicates(experimentId: string, cells: number): Promise<Experiment> {
    const experiment = await getExperiment(stack.services.coordinator.address, experimentId);
    assert.equal(stateName(experiment.status?.state), 'JOB_STATE_SUCCEEDED', stack.logs());
    assert.equal(experiment.runs.length, cells, 'one run per cell');
    assert.equal(new Set(experiment.runs.map((r) => r.cellId)).size, cells, 'cells are distinct');
    assert.equal(new Set(experiment.runs.map((r) => r.runId)).size, cells, 'trainer runs are distinct');
    for (const run of experiment.runs) {
      assert.equal(stateName(run.status?.state), 'JOB_STATE_SUCCEEDED', `run ${run.label} (${run.cellId})`);
      assert.ok((run.summary?.steps ?? 0) > 0, `run ${run.label} trained`);
      assert.ok(Number.isFinite(run.summary?.finalTrainLoss), `run ${run.label} has a final train loss`);
    }
    // Nothing was started twice: the trainer holds exactly one run per cell of every experiment so far.
    const trainerRuns = await listTrainerRuns(stack.services.trainer.address);
    const total = cellsStarted.reduce((a, b) => a + b, 0);
    assert.equal(
      trainerRuns.length,
      total,
      `trainer runs (${trainerRuns.length}) = cells started (${total})`,
    );
    return experiment;
  }

  test('images are small, run as uid 65534, and carry no development tooling', () => {
    const limits: Record<string, number> = {
      data: 450e6,
      trainer: 260e6,
      analysis: 260e6,
      coordinator: 260e6,
    };
    for (const key of SERVICE_KEYS) {
      const tag = imageTag(key);
      const size = imageSize(tag);
      log(`${tag}: ${(size / 1e6).toFixed(0)} MB`);
      assert.ok(size < (limits[key] as number), `${tag} is ${(size / 1e6).toFixed(0)} MB`);
      const config = JSON.parse(
        spawnSync('docker', ['image', 'inspect', '-f', '{{json .Config}}', tag], { encoding: 'utf8' }).stdout,
      ) as { User: string; Entrypoint: string[]; Cmd: string[] };
      assert.equal(config.User, '65534:65534');
      assert.deepEqual(config.Entrypoint, ['node']);
      assert.deepEqual(config.Cmd, [`services/${key}/src/main.ts`]);
    }
  });

  test('onnxruntime runs a session in the trainer and analysis images (read-only root, uid 65534)', () => {
    // Y = X + X, an ONNX model of 63 bytes (made with python3-onnx).
    const model = 'CAg6NQoOCgFYCgFYEgFZIgNBZGQSAWdaDwoBWBIKCggIARIECgIIAmIPCgFZEgoKCAgBEgQKAggCQgQKABAN';
    const script = `const ort = await import('onnxruntime-node');
const s = await ort.InferenceSession.create(Buffer.from('${model}', 'base64'));
const r = await s.run({ X: new ort.Tensor('float32', new Float32Array([1, 2]), [2]) });
console.log(JSON.stringify({ uid: process.getuid(), y: [...r.Y.data] }));`;
    for (const key of ['trainer', 'analysis'] as const) {
      const run = spawnSync(
        'docker',
        [
          'run',
          '--rm',
          '--read-only',
          '--cap-drop',
          'ALL',
          imageTag(key),
          '--input-type=module',
          '-e',
          script,
        ],
        { encoding: 'utf8' },
      );
      assert.equal(run.status, 0, `${key}: exit ${run.status}\n${run.stderr}`);
      assert.deepEqual(JSON.parse(run.stdout.trim().split('\n').at(-1) as string), { uid: 65534, y: [2, 4] });
    }
  });

  test('the four containers are SERVING, hardened, and list their services by reflection', async () => {
    for (const key of SERVICE_KEYS) {
      const service = stack.services[key];
      assert.equal(await checkHealth(service.address), 'SERVING', key);
      const names = await listServicesByReflection(service.address);
      assert.ok(
        names.includes(`gengap.${key}.v1.${key[0]?.toUpperCase()}${key.slice(1)}Service`),
        names.join(),
      );
      const inspect = JSON.parse(
        spawnSync('docker', ['inspect', '-f', '{{json .HostConfig}}', service.id], { encoding: 'utf8' })
          .stdout,
      ) as { ReadonlyRootfs: boolean; CapDrop: string[]; SecurityOpt: string[] };
      assert.equal(inspect.ReadonlyRootfs, true);
      assert.deepEqual(inspect.CapDrop, ['ALL']);
      assert.ok(inspect.SecurityOpt.includes('no-new-privileges'));
    }
  });

  test('the quick preset runs through the coordinator: one run per cell, progress, report', async (t) => {
    if (skipIfMissing(t)) return;
    const started = Date.now();
    const experiment = await startExperiment(stack.services.coordinator.address, {
      source: { $case: 'preset', value: PRESET },
      idempotencyKey: 'e2e-quick-preset',
      labels: { suite: 'containers' },
    });
    cellsStarted.push(presetCells);
    assert.ok(presetCells >= 2, `the preset has cells (${presetCells})`);
    const followed = await followExperiment(stack.services.coordinator.address, experiment.experimentId, {
      timeoutMs: EXPERIMENT_TIMEOUT_MS,
    });
    log(`quick preset: ${followed.events.length} events in ${((Date.now() - started) / 1000).toFixed(0)} s`);
    assert.equal(stateName(followed.finalState), 'JOB_STATE_SUCCEEDED', stack.logs());
    const byCase = (c: string) => followed.events.filter((e) => e.event?.$case === c);
    assert.ok(byCase('runProgress').length >= presetCells, 'epoch progress streamed for every run');
    assert.ok(byCase('run').length >= presetCells, 'run updates streamed');
    const done = await assertCompleteWithoutDuplicates(experiment.experimentId, presetCells);

    // Idempotency: the same key returns the same experiment, creating nothing.
    const again = await startExperiment(stack.services.coordinator.address, {
      source: { $case: 'preset', value: PRESET },
      idempotencyKey: 'e2e-quick-preset',
      labels: { suite: 'containers' },
    });
    assert.equal(again.experimentId, experiment.experimentId);

    // The report: an HTML page with charts on the coordinator's volume.
    const client = coordinatorClient(stack.services.coordinator.address);
    try {
      const report = await callUnary(client, client.buildReport, { experimentId: experiment.experimentId });
      const reportPath = report.reportPath || done.reportPath;
      assert.ok(reportPath, 'the report has a path');
      const file = coordinatorFile(
        reportPath.endsWith('.html') ? reportPath : join(reportPath, 'index.html'),
      );
      assert.ok(existsSync(file), `${file} exists`);
      const html = readFileSync(file, 'utf8');
      assert.match(html, /<html/i);
      assert.match(html, /<svg/i, 'charts are rendered into the page');
      assert.ok(html.includes(done.runs[0]?.label ?? '???') || html.includes(experiment.experimentId));

      // The same page from the coordinator's report server, as a browser gets it.
      const reportUrl = report.reportUrl || done.reportUrl;
      assert.ok(reportUrl, 'the report has a URL');
      const hostPort = stack.services.coordinator.ports[REPORT_PORT];
      const url = new URL(reportUrl);
      const served = await fetch(`http://127.0.0.1:${hostPort}${url.pathname}`);
      assert.equal(served.status, 200);
      assert.match(served.headers.get('content-type') ?? '', /text\/html/);
      assert.match(await served.text(), /<svg/i);
      const list = await fetch(`http://127.0.0.1:${hostPort}/api/experiments`);
      assert.equal(list.status, 200);
      assert.ok((await list.text()).includes(experiment.experimentId), 'the live list names the experiment');
    } finally {
      closeClient(client);
    }
  });

  test('the trainer is killed mid-run: the run resumes from its checkpoint, nothing is lost', async (t) => {
    if (skipIfMissing(t)) return;
    const { coordinator, trainer } = stack.services;
    const { spec, cells } = await twoCellSpec();
    assert.ok(cells >= 2, `the cut spec has cells (${cells})`);
    const experiment = await startExperiment(coordinator.address, {
      source: { $case: 'spec', value: spec },
      idempotencyKey: 'e2e-trainer-kill',
      labels: { suite: 'containers', fault: 'trainer-kill' },
    });
    cellsStarted.push(cells);
    const events: ExperimentEvent[] = [];
    const following = followExperiment(coordinator.address, experiment.experimentId, {
      timeoutMs: EXPERIMENT_TIMEOUT_MS,
      onEvent: (e) => events.push(e),
    });
    following.catch(() => {});

    // Kill the trainer while a run is RUNNING and has written a checkpoint (its own event log says
    // so). A fast run can finish in the moment between that check and the kill; then the kill hit
    // nothing and is repeated on the next run.
    const chosen = new Set<string>();
    let victim: { runId: string; label: string; step: number } | undefined;
    for (let round = 1; round <= 3 && !victim; round++) {
      const candidate = await waitFor(
        'a running run with a checkpoint',
        async () => {
          const current = await getExperiment(coordinator.address, experiment.experimentId);
          for (const run of current.runs) {
            if (run.status?.state !== JobState.JOB_STATE_RUNNING || !run.runId || chosen.has(run.runId))
              continue;
            const log = await runEvents(trainer.address, run.runId, {
              stopWhen: (e) => e.event?.$case === 'checkpoint',
              timeoutMs: 60_000,
            });
            const checkpoint = log.find((e) => e.event?.$case === 'checkpoint');
            if (checkpoint?.event?.$case === 'checkpoint') {
              return {
                runId: run.runId,
                label: run.label,
                step: checkpoint.event.value.checkpoint?.step ?? 0,
              };
            }
          }
          return undefined;
        },
        5 * 60_000,
        200,
      );
      chosen.add(candidate.runId);
      trainer.kill();
      log(
        `killed the trainer during run ${candidate.runId} (${candidate.label}), checkpoint at step ${candidate.step}`,
      );
      assert.equal(trainer.running(), false);
      await new Promise((r) => setTimeout(r, 3000));
      await trainer.start();
      log('trainer started again on the same volume');
      const runLog = await runEvents(trainer.address, candidate.runId, { timeoutMs: EXPERIMENT_TIMEOUT_MS });
      const attempts = runLog.flatMap((e) => (e.event?.$case === 'status' ? [e.event.value.attempt] : []));
      if (Math.max(...attempts) >= 2) victim = candidate;
      else log(`run ${candidate.runId} had finished before the kill landed; again with another run`);
    }
    assert.ok(victim, 'a run was interrupted by the kill');

    const followed = await following;
    assert.equal(stateName(followed.finalState), 'JOB_STATE_SUCCEEDED', stack.logs());
    await assertCompleteWithoutDuplicates(experiment.experimentId, cells);

    // The killed run was resumed (a second attempt) from a checkpoint, not restarted from scratch.
    const runLog = await runEvents(trainer.address, victim.runId);
    const resumed = trainer
      .logs()
      .split('\n')
      .filter((line) => line.includes('resumed from checkpoint'))
      .map((line) => JSON.parse(line) as { step?: number; runId?: string; attempt?: number });
    assert.ok(
      resumed.some((r) => r.runId === victim.runId && (r.attempt ?? 0) >= 2 && (r.step ?? 0) >= victim.step),
      `the trainer logged run ${victim.runId} resuming from step >= ${victim.step}: ${JSON.stringify(resumed)}`,
    );
    // Its epochs were each recorded once, in order, through the end.
    const epochs = runLog.flatMap((e) => (e.event?.$case === 'epoch' ? [e.event.value.epoch] : []));
    assert.ok(epochs.length > 0);
    for (let i = 1; i < epochs.length; i++) {
      assert.ok(
        (epochs[i] as number) > (epochs[i - 1] as number),
        `epochs strictly increase: ${epochs.join(',')}`,
      );
    }
    // The coordinator's stream never repeated a sequence (followExperiment checks) and ended once.
    const terminal = events.filter(
      (e) => e.event?.$case === 'status' && e.event.value.state === JobState.JOB_STATE_SUCCEEDED,
    );
    assert.equal(terminal.length, 1);
  });

  test('the coordinator restarts mid-experiment while the Python client follows it', async (t) => {
    if (skipIfMissing(t)) return;
    const python = '/usr/bin/python3';
    if (spawnSync(python, ['-c', 'import grpc, numpy'], { stdio: 'ignore' }).status !== 0) {
      assert.fail('/usr/bin/python3 lacks grpc or numpy (apt-get install python3-grpcio python3-numpy)');
    }
    const { coordinator, trainer } = stack.services;
    const out = mkdtempSync(join(tmpdir(), 'gengap-pyclient-'));
    const key = 'e2e-coordinator-restart-python';
    const { spec, cells } = await twoCellSpec();
    const specFile = join(out, 'spec.json');
    writeFileSync(specFile, JSON.stringify(ExperimentSpec.toJSON(spec), null, 2));
    const child = spawn(
      python,
      [
        join(repoRoot, 'clients/python/examples/run_experiment.py'),
        '--coordinator',
        coordinator.address,
        '--trainer',
        trainer.address,
        '--spec',
        specFile,
        '--key',
        key,
        '--out',
        join(out, 'parameters'),
        '--timeout',
        String(EXPERIMENT_TIMEOUT_MS / 1000),
      ],
      { env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1' }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    cellsStarted.push(cells);
    try {
      // Mid-experiment: a run has finished and another is under way.
      const experimentId = await waitFor(
        'the Python client to start the experiment and a run to finish',
        async () => {
          const client = coordinatorClient(coordinator.address);
          try {
            const list = await callUnary(client, client.listExperiments, {
              page: { pageSize: 100, pageToken: '' },
              state: JobState.JOB_STATE_UNSPECIFIED,
            });
            const ours = list.experiments.find((e) => e.labels.client === 'python-example');
            if (!ours) return undefined;
            const current = await getExperiment(coordinator.address, ours.experimentId);
            if (current.status?.state === JobState.JOB_STATE_SUCCEEDED) {
              throw new Error('the experiment ended before a mid-experiment moment was seen');
            }
            const finished = current.runs.filter(
              (r) => r.status?.state === JobState.JOB_STATE_SUCCEEDED,
            ).length;
            return finished >= 1 && finished < cells ? ours.experimentId : undefined;
          } finally {
            closeClient(client);
          }
        },
        8 * 60_000,
        500,
      );
      coordinator.stop(20);
      log(`stopped the coordinator during experiment ${experimentId}`);
      await new Promise((r) => setTimeout(r, 2000));
      await coordinator.start();
      log('coordinator started again on the same volume');

      const code = await exited;
      // The client's own output last: CI keeps the tail of a failure.
      assert.equal(code, 0, `${stack.logs().slice(-4000)}\npython client failed:\n${stderr.slice(-6000)}`);
      const summary = JSON.parse(stdout.trim().split('\n').at(-1) as string) as {
        experiment_id: string;
        state: string;
        reconnects: number;
        parameters: { name: string; shape: number[]; sha256: string; path: string }[];
      };
      assert.equal(summary.experiment_id, experimentId);
      assert.equal(summary.state, 'JOB_STATE_SUCCEEDED');
      assert.ok(summary.reconnects >= 1, 'the client resumed its watch after the restart');
      await assertCompleteWithoutDuplicates(experimentId, cells);

      // Parameters: one .npy per tensor, the shapes the client reported, bytes matching the SHA-256.
      assert.ok(summary.parameters.length >= 2, 'weights and biases');
      const check = spawnSync(
        python,
        [
          '-c',
          `import json, sys, hashlib, numpy as np
for p in json.load(sys.stdin):
    a = np.load(p["path"])
    assert list(a.shape) == p["shape"], (p["name"], a.shape)
    assert hashlib.sha256(np.ascontiguousarray(a).astype(a.dtype.newbyteorder("<")).tobytes()).hexdigest() == p["sha256"], p["name"]
    assert np.isfinite(a).all(), p["name"]
print("ok")`,
        ],
        { input: JSON.stringify(summary.parameters), encoding: 'utf8' },
      );
      assert.equal(check.stdout.trim(), 'ok', check.stderr);
      const runDir = readdirSync(join(out, 'parameters'));
      assert.equal(runDir.length, 1, 'one run downloaded');
      assert.ok(
        existsSync(join(out, 'parameters', runDir[0] as string, 'model.json')),
        'with its model spec',
      );
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      rmSync(out, { recursive: true, force: true });
    }
  });
});
