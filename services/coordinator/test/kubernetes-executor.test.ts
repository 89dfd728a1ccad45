// The Kubernetes executor against a fake API server: one batch/v1 Job per attempt with a
// deterministic name, 409 AlreadyExists counted as created, podFailurePolicy mapping the trainer's
// configuration exit code to FailJob, Job failures classified, Jobs deleted when attempts end and
// re-listed by label at start-up, each attempt's state claim owned by its Job. Then a whole
// experiment through it, with pods that point at a real trainer, and one whose pods are trainer
// processes: a pod evicted mid-run is replaced and its trainer resumes from the claim.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { JobStore } from '@gengap/job-store';
import { JobState } from '@gengap/proto/common/v1/job';
import { ConfigError, callUnary, commonConfigShape, EXIT_CONFIG, loadConfig } from '@gengap/service-kit';
import { EXIT_RUN_FAILED } from '../../trainer/src/runs/exit-after-run.ts';
import { coordinatorConfigShape } from '../src/config.ts';
import type { AttemptRef } from '../src/executors/executor.ts';
import {
  claimNameOf,
  createKubernetesExecutor,
  defaultKubernetesOptions,
  defaultTrainerImage,
  JOB_POD_COMPONENT,
  jobNameOf,
  KubernetesExecutor,
  type KubernetesExecutorOptions,
  LABELS,
  MANAGED_BY,
} from '../src/executors/kubernetes-executor.ts';
import { RpcCode } from '../src/orchestration/failures.ts';
import { FakeKubernetes, type PodContext, type PodProcess } from './support/fake-kubernetes.ts';
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

function executorFor(fake: FakeKubernetes, overrides: Partial<KubernetesExecutorOptions> = {}) {
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

  test('the Job runs a trainer pod that fails the Job on the config and failed-run exit codes and ignores disruptions', () => {
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
      action: 'FailJob',
      onExitCodes: { containerName: 'trainer', operator: 'In', values: [EXIT_RUN_FAILED] },
    });
    assert.deepEqual(rules[2], {
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
    // The trainer ends with its run, so the Job completes by itself.
    assert.ok(container?.env?.some((e) => e.name === 'GENGAP_TRAINER_EXIT_AFTER_RUN' && e.value === 'true'));
    // The state folder is the attempt's claim, writable by the trainer's group.
    const state = container?.volumeMounts?.find((m) => m.mountPath === '/var/lib/gengap');
    assert.ok(container?.env?.some((e) => e.name === 'GENGAP_STATE_DIR' && e.value === state?.mountPath));
    const volume = pod?.volumes?.find((v) => v.name === state?.name);
    assert.deepEqual(volume?.persistentVolumeClaim, { claimName: claimNameOf(ref()) });
    assert.equal(volume?.emptyDir, undefined);
    assert.equal(pod?.securityContext?.fsGroup, 65534);
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

  test('GENGAP_K8S_JOB_TLS_SECRET / _AUTH_SECRET: the pod mounts both read-only, serves TLS, checks tokens', () => {
    const config = loadConfig(
      { ...commonConfigShape, ...coordinatorConfigShape },
      {
        GENGAP_DATA_ADDRESS: 'data:1',
        GENGAP_K8S_JOB_TLS_SECRET: 'gengap-tls',
        GENGAP_K8S_JOB_AUTH_SECRET: 'gengap-auth',
      },
    );
    const pod = createKubernetesExecutor(config, silentLog, fake.kubeConfig()).jobFor(ref()).spec?.template
      .spec;
    const container = pod?.containers[0];
    assert.deepEqual(
      pod?.volumes?.filter((v) => v.secret),
      [
        { name: 'tls', secret: { secretName: 'gengap-tls', defaultMode: 0o440 } },
        {
          name: 'auth',
          secret: {
            secretName: 'gengap-auth',
            defaultMode: 0o440,
            items: [{ key: 'tokens', path: 'tokens' }],
          },
        },
      ],
    );
    assert.deepEqual(
      container?.volumeMounts?.filter((m) => m.name === 'tls' || m.name === 'auth'),
      [
        { name: 'tls', mountPath: '/etc/gengap/tls', readOnly: true },
        { name: 'auth', mountPath: '/etc/gengap/auth', readOnly: true },
      ],
    );
    const outbound = container?.env?.find((e) => e.name === 'GENGAP_OUTBOUND_TOKEN');
    assert.deepEqual(outbound, {
      name: 'GENGAP_OUTBOUND_TOKEN',
      valueFrom: { secretKeyRef: { name: 'gengap-auth', key: 'outbound-token' } },
    });
    assert.deepEqual(container?.readinessProbe?.tcpSocket, { port: 8080 }, 'kubelet gRPC probes lack TLS');
    // What the trainer makes of the pod's variables (the outbound token as the Secret would give it).
    const env = Object.fromEntries(
      (container?.env ?? []).flatMap((e) => (e.value === undefined ? [] : [[e.name, e.value]])),
    );
    const trainer = loadConfig(commonConfigShape, { ...env, GENGAP_OUTBOUND_TOKEN: 't'.repeat(32) });
    assert.equal(trainer.GENGAP_TLS_CERT, '/etc/gengap/tls/tls.crt');
    assert.equal(trainer.GENGAP_TLS_KEY, '/etc/gengap/tls/tls.key');
    assert.equal(trainer.GENGAP_TLS_CA, '/etc/gengap/tls/ca.crt');
    assert.equal(trainer.GENGAP_ALLOW_INSECURE, false);
    assert.ok(
      JSON.stringify(pod).includes('"@/etc/gengap/auth/tokens"'),
      'GENGAP_AUTH_TOKENS is read from the mounted file',
    );

    const plain = executorFor(fake).jobFor(ref()).spec?.template.spec;
    assert.equal(plain?.volumes?.filter((v) => v.secret).length, 0, 'no Secrets unless configured');
    assert.ok(plain?.containers[0]?.readinessProbe?.grpc, 'a gRPC probe without TLS');
    assert.throws(
      () =>
        loadConfig(
          { ...commonConfigShape, ...coordinatorConfigShape },
          { GENGAP_DATA_ADDRESS: 'data:1', GENGAP_K8S_JOB_TLS_SECRET: 'Not A Name' },
        ),
      (err: unknown) => err instanceof ConfigError && err.variable === 'GENGAP_K8S_JOB_TLS_SECRET',
    );
  });

  test('creating a Job twice is idempotent (409 AlreadyExists counts as created)', async () => {
    const executor = executorFor(fake);
    const r = ref(1, 'aaaaaaaaaaaaaaaa');
    assert.equal((await executor.ensureJob(r)).created, true);
    const again = await executor.ensureJob(r);
    assert.equal(again.created, false);
    assert.equal(
      again.job.metadata?.uid,
      fake.jobs.get(jobNameOf(r))?.metadata?.uid,
      'the existing Job, read back',
    );
    const creates = fake.requests.filter((q) => q.method === 'POST' && q.path.endsWith('/jobs'));
    assert.equal(creates.length, 2);
    assert.equal([...fake.jobs.keys()].filter((n) => n === jobNameOf(r)).length, 1);
  });

  test("place creates the attempt's state claim, owned by its Job; again (or after a restart) it reuses both", async () => {
    const r = ref(1, '4444444444444444');
    const executor = executorFor(fake, { storageSize: '3Gi', storageClassName: 'fast' });
    const placing = executor.place(r, undefined, new AbortController().signal);
    setTimeout(() => fake.setPodReady(jobNameOf(r), '10.1.2.4'), 50);
    await placing;
    const job = fake.jobs.get(jobNameOf(r));
    const claim = fake.claims.get(claimNameOf(r));
    assert.ok(job && claim, 'a Job and a claim');
    assert.match(claimNameOf(r), /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
    assert.ok(claimNameOf(r).length <= 63);
    assert.deepEqual(claim.metadata?.ownerReferences, [
      { apiVersion: 'batch/v1', kind: 'Job', name: jobNameOf(r), uid: job.metadata?.uid },
    ]);
    assert.equal(claim.metadata?.labels?.[LABELS.managedBy], MANAGED_BY);
    assert.equal(claim.metadata?.labels?.[LABELS.attempt], '1');
    assert.deepEqual(claim.spec?.accessModes, ['ReadWriteOnce']);
    assert.equal(claim.spec?.resources?.requests?.storage, '3Gi');
    assert.equal(claim.spec?.storageClassName, 'fast');
    // A restarted coordinator (a new executor) places the same attempt: 409 for both, nothing new.
    const creates = () => fake.requests.filter((q) => q.method === 'POST').length;
    const before = creates();
    const restarted = executorFor(fake);
    await restarted.place(r, undefined, new AbortController().signal);
    assert.equal(creates() - before, 2, 'the Job and the claim were created again (409 each)');
    assert.equal(fake.claims.get(claimNameOf(r))?.metadata?.uid, claim.metadata?.uid, 'the same claim');
    assert.deepEqual(await restarted.ensureClaim(r, job), { created: false });
  });

  test('a claim left by an earlier Job of the same name is not mounted (transient until it is gone)', async () => {
    const r = ref(1, '5555555555555555');
    const executor = executorFor(fake);
    const { job } = await executor.ensureJob(r);
    fake.claims.set(claimNameOf(r), {
      metadata: {
        name: claimNameOf(r),
        uid: 'old-claim',
        ownerReferences: [{ apiVersion: 'batch/v1', kind: 'Job', name: jobNameOf(r), uid: 'deleted-job' }],
      },
    });
    await assert.rejects(executor.ensureClaim(r, job), { code: RpcCode.UNAVAILABLE });
    fake.claims.delete(claimNameOf(r)); // garbage-collected
    assert.deepEqual(await executor.ensureClaim(r, job), { created: true });
    assert.equal(fake.claims.get(claimNameOf(r))?.metadata?.ownerReferences?.[0]?.uid, job.metadata?.uid);
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

  test('Job failures: the config exit code is deterministic; other failures, ended runs nobody read and lost Jobs are transient', async () => {
    const executor = executorFor(fake);
    const a = ref(1, 'cccccccccccccccc');
    const b = ref(1, 'dddddddddddddddd');
    await executor.ensureJob(a);
    await executor.ensureJob(b);
    fake.failJob(
      jobNameOf(a),
      'PodFailurePolicy',
      `Container trainer for pod gengap/${jobNameOf(a)}-x failed with exit code ${EXIT_CONFIG} matching FailJob rule at index 0`,
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
    // The trainer exited after its run while the coordinator was away: the outcome went with it.
    const c = ref(1, 'c0c0c0c0c0c0c0c0');
    const d = ref(1, 'd0d0d0d0d0d0d0d0');
    await executor.ensureJob(c);
    await executor.ensureJob(d);
    fake.failJob(
      jobNameOf(c),
      'PodFailurePolicy',
      `Container trainer for pod gengap/${jobNameOf(c)}-x failed with exit code ${EXIT_RUN_FAILED} matching FailJob rule at index 1`,
    );
    fake.completeJob(jobNameOf(d));
    for (const r of [c, d]) {
      const failure = await executor.check(r, {
        executor: 'kubernetes',
        trainerAddress: '',
        jobName: jobNameOf(r),
      });
      assert.equal(failure?.kind, 'transient', jobNameOf(r));
      assert.equal(failure?.failure.code, RpcCode.UNAVAILABLE);
    }
    const placeD = await executor.place(d, undefined, new AbortController().signal);
    assert.equal(placeD.trainerAddress, '', 'a completed Job has no pod to wait for');
  });

  test('API errors: 5xx are transient (UNAVAILABLE), 403 is not', async () => {
    const executor = executorFor(fake);
    fake.failures.push(500);
    await assert.rejects(executor.ensureJob(ref(1, 'ffffffffffffffff')), { code: RpcCode.UNAVAILABLE });
    fake.failures.push(403);
    await assert.rejects(executor.ensureJob(ref(1, 'ffffffffffffffff')), { code: RpcCode.PERMISSION_DENIED });
    assert.equal((await executor.ensureJob(ref(1, 'ffffffffffffffff'))).created, true);
  });

  test('release deletes the Job (and a Job already gone is fine)', async () => {
    const executor = executorFor(fake);
    const r = ref(1, '1111111111111111');
    const placement = { executor: 'kubernetes', trainerAddress: '', jobName: jobNameOf(r) };
    await executor.ensureClaim(r, (await executor.ensureJob(r)).job);
    assert.equal(fake.claims.has(claimNameOf(r)), true);
    await executor.release(r, placement, 'succeeded');
    assert.equal(fake.jobs.has(jobNameOf(r)), false);
    assert.equal(fake.claims.has(claimNameOf(r)), false, 'its claim goes with it (owner reference)');
    const deletes = fake.requests.filter((q) => q.method === 'DELETE');
    assert.equal(deletes.at(-1)?.query.get('propagationPolicy'), 'Background');
    await executor.release(r, placement, 'succeeded');
  });

  test('at start-up the Jobs and claims are re-listed by label, page by page, and those of finished attempts deleted', async () => {
    fake.jobs.clear();
    fake.claims.clear();
    const executor = executorFor(fake, { listPageSize: 2 });
    const live = ref(2, '2222222222222222');
    const finished = ref(1, '2222222222222222');
    const other = ref(1, '3333333333333333');
    for (const r of [live, finished, other]) await executor.ensureClaim(r, (await executor.ensureJob(r)).job);
    // A claim whose Job is gone (a coordinator that stopped between deleting the Job and the garbage
    // collector's turn, or a Job deleted by hand with --cascade=orphan).
    const orphan = ref(1, '6666666666666666');
    await executor.ensureClaim(orphan, (await executor.ensureJob(orphan)).job);
    fake.jobs.delete(jobNameOf(orphan));
    // A Job and a claim that are not the coordinator's stay untouched.
    fake.jobs.set('someone-else', { metadata: { name: 'someone-else', labels: { app: 'other' } } });
    fake.claims.set('someone-else', { metadata: { name: 'someone-else', labels: { app: 'other' } } });
    const result = await executor.reconcile((_e, cell, attempt) => cell === live.cellId && attempt === 2);
    assert.deepEqual(result, { kept: 1, deleted: 2, claimsDeleted: 1 });
    assert.deepEqual([...fake.jobs.keys()].sort(), [jobNameOf(live), 'someone-else'].sort());
    assert.deepEqual([...fake.claims.keys()].sort(), [claimNameOf(live), 'someone-else'].sort());
    const claimLists = fake.requests.filter(
      (q) => q.method === 'GET' && q.path.endsWith('/persistentvolumeclaims'),
    );
    assert.equal(claimLists.at(-1)?.query.get('labelSelector'), `${LABELS.managedBy}=${MANAGED_BY}`);
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

const trainerMain = fileURLToPath(new URL('../../trainer/src/main.ts', import.meta.url));

/** A free TCP port: every pod listens on it, each at its own loopback address. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * Runs a pod of the fake cluster as the trainer its Job describes (`node services/trainer/src/main.ts`
 * with the container's environment), listening on the pod's own loopback address, its state folder
 * the folder of the claim mounted there (or a new, empty one for an emptyDir).
 */
function trainerPods(scratch: string) {
  return async (pod: PodContext): Promise<PodProcess> => {
    const container = pod.spec.containers[0];
    const env: Record<string, string> = {};
    for (const e of container?.env ?? []) if (e.value !== undefined) env[e.name] = e.value;
    const mount = container?.volumeMounts?.find((m) => m.mountPath === env.GENGAP_STATE_DIR);
    const volume = pod.spec.volumes?.find((v) => v.name === mount?.name);
    const stateDir = volume?.persistentVolumeClaim
      ? pod.claimDir(volume.persistentVolumeClaim.claimName)
      : mkdtempSync(join(scratch, 'empty-dir-'));
    const readyFile = join(scratch, `${pod.podName}.ready`);
    const child = spawn(process.execPath, [trainerMain], {
      env: {
        ...process.env,
        ...env,
        GENGAP_HOST: pod.ip,
        GENGAP_STATE_DIR: stateDir,
        GENGAP_READY_FILE: readyFile,
        GENGAP_LOG_LEVEL: process.env.GENGAP_TEST_LOG ?? 'warn',
      },
      stdio: ['ignore', 'ignore', process.env.GENGAP_TEST_LOG ? 'inherit' : 'ignore'],
    });
    let alive = true;
    const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) =>
      child.once('exit', (code, signal) => {
        alive = false;
        resolve({ code, signal });
      }),
    );
    while (alive && !existsSync(readyFile)) await new Promise((r) => setTimeout(r, 25));
    return { exited, alive: () => alive, kill: (signal) => child.kill(signal) };
  };
}

describe('training Jobs whose pods are trainer processes', () => {
  const dir = tempDir('coordinator-k8s-pods');
  let fake: FakeKubernetes;
  let data: Running;
  let coordinator: CoordinatorHandle;

  before(async () => {
    data = await startData(join(dir.path, 'data'));
    fake = await new FakeKubernetes({ runPod: trainerPods(dir.path) }).start();
    coordinator = await startCoordinator({
      stateDir: join(dir.path, 'coordinator'),
      dataAddress: data.address,
      trainerAddresses: [],
      executor: executorFor(fake, {
        grpcPort: await freePort(),
        env: { GENGAP_DATA_ADDRESS: data.address, GENGAP_THREADS_PER_RUN: '1' },
        podReadyTimeoutMs: 60_000,
      }),
    });
  });
  after(async () => {
    await coordinator?.close();
    await fake?.stop();
    await data?.close();
    dir.remove();
  });

  test('a pod replaced mid-run (evicted) resumes the run from its checkpoint on the same claim', async () => {
    const client = coordinator.client;
    // 48 steps an epoch, a resume checkpoint every 20 steps, 40 epochs.
    const spec = tinySpec({}, 40, 1536);
    spec.base.run = { ...spec.base.run, checkpoints: { everySteps: 20 } };
    const { experiment } = await callUnary(client, client.startExperiment, {
      source: { $case: 'specText', value: JSON.stringify(spec) },
      idempotencyKey: 'k8s-evicted',
      labels: {},
    });
    const id = experiment?.experimentId as string;
    // Wait for the first pod's trainer to checkpoint past step 100, then evict the pod.
    const waitForCheckpoint = async (): Promise<string> => {
      for (;;) {
        for (const [jobName] of fake.jobs) {
          const claim = fake.claims.get(`${jobName}-state`);
          if (!claim) continue;
          const runs = join(fake.claimDir(`${jobName}-state`), 'runs');
          for (const run of existsSync(runs) ? readdirSync(runs) : []) {
            const checkpoints = join(runs, run, 'checkpoints');
            const steps = existsSync(checkpoints) ? readdirSync(checkpoints).map(Number) : [];
            if (steps.some((step) => step >= 100)) return jobName;
          }
        }
        await new Promise((r) => setTimeout(r, 10));
      }
    };
    const jobName = await waitForCheckpoint();
    const evicted = fake.disruptPod(jobName);
    const { experiment: done } = await untilFinished(client, id);
    const run = done.runs[0];
    assert.equal(run?.status?.state, JobState.JOB_STATE_SUCCEEDED, run?.status?.error?.message);
    assert.equal(run?.attempts, 1, 'the same attempt: the new pod knew the run (its state survived)');
    const pods = fake.podRecords.filter((p) => p.jobName === jobName);
    assert.equal(pods.length, 2, 'a replacement pod');
    assert.equal(pods[0], evicted);
    assert.notEqual(pods[1]?.ip, evicted.ip, 'at another address');
    // Both pods mounted the one claim of the attempt; the trainer's own record on it shows the run
    // going on in a second trainer attempt (the trainer resumes such runs from their newest intact
    // checkpoint: services/trainer/test/crash-resume.test.ts).
    const claimDirs = fake.claimDirsOf(`${jobName}-state`);
    assert.equal(claimDirs.length, 1, 'one claim for both pods');
    const store = new JobStore(join(claimDirs[0] as string, 'trainer.sqlite'));
    try {
      const record = store.get(run?.runId as string);
      assert.equal(record?.state, 'SUCCEEDED');
      assert.equal(record?.attempt, 2, 'resumed in a second attempt');
      const keys = store.events(run?.runId as string, 0, 100_000).map((e) => e.key);
      assert.ok(keys.includes('status:RUNNING:2'));
    } finally {
      store.close();
    }
  });
});

describe('a Job whose run ends while the coordinator is away', () => {
  const dir = tempDir('coordinator-k8s-away');
  let fake: FakeKubernetes;
  let data: Running;

  before(async () => {
    data = await startData(join(dir.path, 'data'));
    fake = await new FakeKubernetes({ runPod: trainerPods(dir.path) }).start();
  });
  after(async () => {
    await fake?.stop();
    await data?.close();
    dir.remove();
  });

  test('completes by itself: the trainer exits 0 after its grace period, and the attempt counts as transient', async () => {
    const executor = executorFor(fake, {
      grpcPort: await freePort(),
      env: {
        GENGAP_DATA_ADDRESS: data.address,
        GENGAP_THREADS_PER_RUN: '1',
        GENGAP_TRAINER_EXIT_GRACE_MS: '200',
      },
      podReadyTimeoutMs: 60_000,
    });
    const coordinator = await startCoordinator({
      stateDir: join(dir.path, 'coordinator'),
      dataAddress: data.address,
      trainerAddresses: [],
      executor,
    });
    const client = coordinator.client;
    await callUnary(client, client.startExperiment, {
      source: { $case: 'specText', value: JSON.stringify(tinySpec({}, 20, 1536)) },
      idempotencyKey: 'k8s-away',
      labels: {},
    });
    // Once the run is on the pod's claim, the coordinator stops (it does not cancel runs or delete Jobs).
    let jobName = '';
    while (!jobName) {
      for (const [name] of fake.jobs) {
        const claim = `${name}-state`;
        if (fake.claims.has(claim) && existsSync(join(fake.claimDir(claim), 'runs'))) jobName = name;
      }
      await new Promise((r) => setTimeout(r, 10));
    }
    await coordinator.close();
    const deadline = Date.now() + 60_000;
    while (!fake.completed.has(jobName) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.ok(fake.completed.has(jobName), 'the Job completed by itself');
    const pods = fake.podRecords.filter((p) => p.jobName === jobName);
    assert.deepEqual(
      pods.map((p) => [p.exit, p.killedBy]),
      [[{ code: 0, signal: null }, undefined]],
      'one pod, which exited 0 on its own',
    );
    const failure = await executor.check(ref(), { executor: 'kubernetes', trainerAddress: '', jobName });
    assert.equal(failure?.kind, 'transient', 'the outcome left with the trainer: the attempt is run again');
  });
});
