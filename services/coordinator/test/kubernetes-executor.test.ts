// The Kubernetes executor against a fake API server: one batch/v1 Job per attempt with a
// deterministic name, 409 AlreadyExists counted as created, podFailurePolicy mapping the trainer's
// configuration exit code to FailJob, Job failures classified, Jobs deleted when attempts end and
// re-listed by label at start-up. Then a whole experiment through it, with pods that point at a
// real trainer.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { JobState } from '@gengap/proto/common/v1/job';
import { ConfigError, callUnary, commonConfigShape, EXIT_CONFIG, loadConfig } from '@gengap/service-kit';
import { coordinatorConfigShape } from '../src/config.ts';
import type { AttemptRef } from '../src/executors/executor.ts';
import {
  createKubernetesExecutor,
  defaultKubernetesOptions,
  defaultTrainerImage,
  JOB_POD_COMPONENT,
  jobNameOf,
  KubernetesExecutor,
  LABELS,
  MANAGED_BY,
} from '../src/executors/kubernetes-executor.ts';
import { RpcCode } from '../src/orchestration/failures.ts';
import { FakeKubernetes } from './support/fake-kubernetes.ts';
import {
  type CoordinatorHandle,
  type Running,
  silentLog,
  startCoordinator,
  startData,
  startTrainer,
  tempDir,
  tinySpec,
  untilFinished,
} from './support/services.ts';

const ref = (attempt = 1, cellId = 'c0ffee0123456789'): AttemptRef => ({
  experimentId: '5f1e2d3c4b5a69788796a5b4c3d2e1f0',
  cellId,
  attempt,
  idempotencyKey: `5f1e2d3c4b5a69788796a5b4c3d2e1f0/${cellId}/${attempt}`,
});

function executorFor(fake: FakeKubernetes, overrides: Partial<typeof defaultKubernetesOptions> = {}) {
  return new KubernetesExecutor(
    fake.kubeConfig(),
    {
      ...defaultKubernetesOptions,
      namespace: 'gengap',
      image: 'gengap/trainer:test',
      env: { GENGAP_DATA_ADDRESS: 'data:8080' },
      pollIntervalMs: 20,
      podReadyTimeoutMs: 5_000,
      ...overrides,
    },
    silentLog,
  );
}

describe('Kubernetes executor against a fake API server', () => {
  let fake: FakeKubernetes;
  before(async () => {
    fake = await new FakeKubernetes().start();
  });
  after(async () => {
    await fake.stop();
  });

  test('an attempt has a deterministic, valid Job name', () => {
    const name = jobNameOf(ref());
    assert.equal(name, jobNameOf(ref()));
    assert.notEqual(name, jobNameOf(ref(2)));
    assert.notEqual(name, jobNameOf({ ...ref(), experimentId: `${ref().experimentId}-1a2b3c4d` }));
    assert.match(name, /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
    assert.ok(name.length <= 63);
  });

  test('the Job runs a trainer pod that fails the Job on the config exit code and ignores disruptions', () => {
    const job = executorFor(fake).jobFor(ref());
    assert.equal(job.metadata?.labels?.[LABELS.managedBy], MANAGED_BY);
    assert.equal(job.metadata?.labels?.[LABELS.attempt], '1');
    assert.equal(job.metadata?.annotations?.['gengap.dev/idempotency-key'], ref().idempotencyKey);
    const rules = job.spec?.podFailurePolicy?.rules ?? [];
    assert.deepEqual(rules[0], {
      action: 'FailJob',
      onExitCodes: { containerName: 'trainer', operator: 'In', values: [EXIT_CONFIG] },
    });
    assert.deepEqual(rules[1], {
      action: 'Ignore',
      onPodConditions: [{ type: 'DisruptionTarget', status: 'True' }],
    });
    const pod = job.spec?.template.spec;
    assert.equal(pod?.restartPolicy, 'Never', 'podFailurePolicy requires restartPolicy Never');
    const container = pod?.containers[0];
    assert.equal(container?.readinessProbe?.grpc?.service, 'gengap.trainer.v1.TrainerService');
    assert.equal(container?.securityContext?.readOnlyRootFilesystem, true);
    assert.deepEqual(container?.securityContext?.capabilities?.drop, ['ALL']);
    assert.ok(container?.env?.some((e) => e.name === 'GENGAP_DATA_ADDRESS' && e.value === 'data:8080'));
  });

  test('Job pods carry the component label the NetworkPolicies select, on the Job and its pods', () => {
    const job = executorFor(fake).jobFor(ref());
    for (const labels of [job.metadata?.labels, job.spec?.template.metadata?.labels]) {
      assert.equal(labels?.[LABELS.component], JOB_POD_COMPONENT);
      assert.equal(labels?.[LABELS.component], 'trainer-run');
      assert.equal(labels?.[LABELS.partOf], 'gengap');
    }
  });

  test('the trainer container has CPU and memory requests and limits, and no GPU by default', () => {
    const pod = executorFor(fake).jobFor(ref()).spec?.template.spec;
    assert.deepEqual(pod?.containers[0]?.resources, {
      requests: { cpu: '1', memory: '2Gi' },
      limits: { cpu: '4', memory: '8Gi' },
    });
    assert.equal(pod?.tolerations, undefined, 'no GPU toleration without GPUs');
    assert.equal(pod?.enableServiceLinks, false);
  });

  test('GPUs become an nvidia.com/gpu limit with a toleration of the GPU taint', () => {
    const pod = executorFor(fake, {
      gpus: 2,
      cpu: { request: '2', limit: '8' },
      memory: { request: '8Gi', limit: '32Gi' },
    }).jobFor(ref()).spec?.template.spec;
    assert.deepEqual(pod?.containers[0]?.resources, {
      requests: { cpu: '2', memory: '8Gi' },
      limits: { cpu: '8', memory: '32Gi', 'nvidia.com/gpu': '2' },
    });
    assert.deepEqual(pod?.tolerations, [{ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' }]);
  });

  test('GENGAP_K8S_JOB_CPU / _MEMORY / _GPUS and the default image, from the coordinator config', () => {
    const configOf = (env: Record<string, string>) =>
      loadConfig(
        { ...commonConfigShape, ...coordinatorConfigShape },
        { GENGAP_DATA_ADDRESS: 'data:1', ...env },
      );
    const podOf = (env: Record<string, string>) =>
      createKubernetesExecutor(configOf(env), silentLog, fake.kubeConfig()).jobFor(ref()).spec?.template.spec;
    const custom = podOf({
      GENGAP_K8S_JOB_CPU: '500m',
      GENGAP_K8S_JOB_MEMORY: '1Gi,3Gi',
      GENGAP_K8S_JOB_GPUS: '1',
    });
    assert.deepEqual(custom?.containers[0]?.resources, {
      requests: { cpu: '500m', memory: '1Gi' },
      limits: { cpu: '500m', memory: '3Gi', 'nvidia.com/gpu': '1' },
    });
    const defaults = podOf({});
    assert.deepEqual(defaults?.containers[0]?.resources, {
      requests: { cpu: '1', memory: '2Gi' },
      limits: { cpu: '4', memory: '8Gi' },
    });
    // The tag deploy/docker/build-images.ts gives the trainer: gengap/trainer:<root package.json version>.
    const root = new URL('../../../package.json', import.meta.url);
    const version = (JSON.parse(readFileSync(root, 'utf8')) as { version: string }).version;
    assert.equal(defaultTrainerImage(), `gengap/trainer:${version}`);
    assert.equal(defaults?.containers[0]?.image, `gengap/trainer:${version}`);
    assert.notEqual(defaults?.containers[0]?.image, 'gengap/trainer:latest', 'a tag the build never makes');
    for (const [variable, value] of [
      ['GENGAP_K8S_JOB_CPU', '4,1'],
      ['GENGAP_K8S_JOB_CPU', 'lots'],
      ['GENGAP_K8S_JOB_MEMORY', '1Gi,2Gi,3Gi'],
      ['GENGAP_K8S_JOB_GPUS', '-1'],
    ] as const) {
      assert.throws(
        () => configOf({ [variable]: value }),
        (err: unknown) => err instanceof ConfigError && err.variable === variable,
        `${variable}=${value} is refused`,
      );
    }
  });

  test('creating a Job twice is idempotent (409 AlreadyExists counts as created)', async () => {
    const executor = executorFor(fake);
    const r = ref(1, 'aaaaaaaaaaaaaaaa');
    assert.deepEqual(await executor.ensureJob(r), { created: true });
    assert.deepEqual(await executor.ensureJob(r), { created: false });
    const creates = fake.requests.filter((q) => q.method === 'POST' && q.path.endsWith('/jobs'));
    assert.equal(creates.length, 2);
    assert.equal([...fake.jobs.keys()].filter((n) => n === jobNameOf(r)).length, 1);
  });

  test('place waits for the pod to be ready and returns its address; a second place finds the same Job', async () => {
    const executor = executorFor(fake, { grpcPort: 7000 });
    const r = ref(1, 'bbbbbbbbbbbbbbbb');
    const signal = new AbortController().signal;
    const placed = executor.place(r, undefined, signal);
    setTimeout(() => fake.setPodReady(jobNameOf(r), '10.1.2.3'), 150);
    const placement = await placed;
    assert.deepEqual(placement, {
      executor: 'kubernetes',
      jobName: jobNameOf(r),
      trainerAddress: '10.1.2.3:7000',
    });
    assert.deepEqual(await executor.place(r, placement, signal), placement);
    assert.equal(await executor.check(r, placement), undefined);
  });

  test('Job failures: podFailurePolicy is deterministic, other failures and lost Jobs are transient', async () => {
    const executor = executorFor(fake);
    const a = ref(1, 'cccccccccccccccc');
    const b = ref(1, 'dddddddddddddddd');
    await executor.ensureJob(a);
    await executor.ensureJob(b);
    fake.failJob(
      jobNameOf(a),
      'PodFailurePolicy',
      'Container trainer for pod exited with code 78 matching FailJob rule',
    );
    fake.failJob(jobNameOf(b), 'BackoffLimitExceeded', 'Job has reached the specified backoff limit');
    const placeA = await executor.place(a, undefined, new AbortController().signal);
    assert.equal(placeA.trainerAddress, '', 'a failed Job has no pod to talk to');
    const failA = await executor.check(a, placeA);
    assert.equal(failA?.kind, 'deterministic');
    assert.equal(failA?.failure.code, RpcCode.FAILED_PRECONDITION);
    const failB = await executor.check(b, {
      executor: 'kubernetes',
      trainerAddress: '',
      jobName: jobNameOf(b),
    });
    assert.equal(failB?.kind, 'transient');
    const gone = await executor.check(ref(9, 'eeeeeeeeeeeeeeee'), {
      executor: 'kubernetes',
      trainerAddress: '',
    });
    assert.equal(gone?.kind, 'transient');
    assert.equal(gone?.failure.code, RpcCode.NOT_FOUND);
  });

  test('API errors: 5xx are transient (UNAVAILABLE), 403 is not', async () => {
    const executor = executorFor(fake);
    fake.failures.push(500);
    await assert.rejects(executor.ensureJob(ref(1, 'ffffffffffffffff')), { code: RpcCode.UNAVAILABLE });
    fake.failures.push(403);
    await assert.rejects(executor.ensureJob(ref(1, 'ffffffffffffffff')), { code: RpcCode.PERMISSION_DENIED });
    assert.deepEqual(await executor.ensureJob(ref(1, 'ffffffffffffffff')), { created: true });
  });

  test('release deletes the Job (and a Job already gone is fine)', async () => {
    const executor = executorFor(fake);
    const r = ref(1, '1111111111111111');
    await executor.ensureJob(r);
    const placement = { executor: 'kubernetes', trainerAddress: '', jobName: jobNameOf(r) };
    await executor.release(r, placement, 'succeeded');
    assert.equal(fake.jobs.has(jobNameOf(r)), false);
    const deletes = fake.requests.filter((q) => q.method === 'DELETE');
    assert.equal(deletes.at(-1)?.query.get('propagationPolicy'), 'Background');
    await executor.release(r, placement, 'succeeded');
  });

  test('at start-up the Jobs are re-listed by label, page by page, and those of finished attempts deleted', async () => {
    fake.jobs.clear();
    const executor = executorFor(fake, { listPageSize: 2 });
    const live = ref(2, '2222222222222222');
    const finished = ref(1, '2222222222222222');
    const other = ref(1, '3333333333333333');
    for (const r of [live, finished, other]) await executor.ensureJob(r);
    // A Job that is not the coordinator's stays untouched.
    fake.jobs.set('someone-else', { metadata: { name: 'someone-else', labels: { app: 'other' } } });
    const { kept, deleted } = await executor.reconcile(
      (_e, cell, attempt) => cell === live.cellId && attempt === 2,
    );
    assert.deepEqual({ kept, deleted }, { kept: 1, deleted: 2 });
    assert.deepEqual([...fake.jobs.keys()].sort(), [jobNameOf(live), 'someone-else'].sort());
    const lists = fake.requests.filter((q) => q.method === 'GET' && q.path.endsWith('/jobs')).slice(-2);
    assert.equal(lists[0]?.query.get('labelSelector'), `${LABELS.managedBy}=${MANAGED_BY}`);
    assert.equal(lists[1]?.query.get('continue'), '2', 'the second page continues the first');
  });
});

describe('an experiment through the Kubernetes executor', () => {
  const dir = tempDir('coordinator-k8s');
  let fake: FakeKubernetes;
  let data: Running;
  let trainer: Running;
  let coordinator: CoordinatorHandle;

  before(async () => {
    data = await startData(join(dir.path, 'data'));
    trainer = await startTrainer(join(dir.path, 'trainer'), data.address);
    // Every pod of the fake cluster is the one real trainer, so the runs really train.
    fake = await new FakeKubernetes({ autoReady: true, podIP: '127.0.0.1' }).start();
    const port = Number(trainer.address.split(':')[1]);
    coordinator = await startCoordinator({
      stateDir: join(dir.path, 'coordinator'),
      dataAddress: data.address,
      trainerAddresses: [],
      executor: executorFor(fake, { grpcPort: port }),
    });
  });
  after(async () => {
    await coordinator?.close();
    await fake?.stop();
    await trainer?.close();
    await data?.close();
    dir.remove();
  });

  test('runs every cell in its own Job, deletes the Jobs afterwards, and fails a NaN cell once', async () => {
    const client = coordinator.client;
    const spec = tinySpec(
      { sweeps: [{ axes: [{ path: 'run.optimizer.learningRate', values: [0.1, 1e6] }] }] },
      3,
    );
    const { experiment } = await callUnary(client, client.startExperiment, {
      source: { $case: 'specText', value: JSON.stringify(spec) },
      idempotencyKey: 'k8s',
      labels: {},
    });
    const id = experiment?.experimentId as string;
    const { experiment: done } = await untilFinished(client, id);
    const good = done.runs.find((r) => r.label === 'learningRate=0.1');
    const bad = done.runs.find((r) => r.label === 'learningRate=1000000');
    assert.equal(good?.status?.state, JobState.JOB_STATE_SUCCEEDED);
    assert.equal(bad?.status?.state, JobState.JOB_STATE_FAILED);
    assert.equal(bad?.attempts, 1);
    const created = fake.requests.filter((q) => q.method === 'POST' && q.path.endsWith('/jobs'));
    assert.equal(created.length, 2, 'one Job per attempt');
    assert.equal(fake.jobs.size, 0, 'Jobs are deleted when their attempts end');
  });
});
