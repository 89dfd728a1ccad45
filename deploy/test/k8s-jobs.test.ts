// The training Jobs the coordinator creates with GENGAP_EXECUTOR=kubernetes fit the manifests: the
// Job is built by the coordinator's own Kubernetes executor from the rendered coordinator
// container's environment (parsed with the coordinator's config schema), and its pod must pass
// the restricted profile, use an existing ServiceAccount without an API token, run an image the
// build makes, and be reachable by the coordinator (and reach data and analysis) under the
// NetworkPolicies of every overlay.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { IMAGE_TARGETS, imageRepository, imageTag, imageVersion } from '../docker/build-images.ts';
import { repoRoot } from '../docker/stage-app.ts';
import {
  allowed,
  envOf,
  type K8sObject,
  matchesSelector,
  ofKind,
  type Pod,
  podSpecs,
  quantity,
  render,
  renders,
} from './k8s-objects.ts';

const executorModule = join(repoRoot, 'services/coordinator/src/executors/kubernetes-executor.ts');
const configModule = join(repoRoot, 'services/coordinator/src/config.ts');
const missing =
  existsSync(executorModule) && existsSync(configModule)
    ? undefined
    : "the coordinator's Kubernetes executor (services/coordinator/src/executors/kubernetes-executor.ts) is not there yet";

/** The rendered coordinator container's environment, with the downward-API values filled in. */
function coordinatorEnv(objects: K8sObject[]): Record<string, string> {
  const coordinator = podSpecs(objects).find((p) => p.name === 'coordinator');
  const container = coordinator?.spec.containers[0];
  const namespace = ofKind(objects, 'Namespace')[0]?.metadata.name as string;
  const env: Record<string, string> = {};
  for (const e of container.env ?? []) {
    if (e.value !== undefined) env[e.name] = String(e.value);
    else if (e.valueFrom?.fieldRef?.fieldPath === 'metadata.namespace') env[e.name] = namespace;
  }
  return env;
}

async function trainingJob(objects: K8sObject[]): Promise<K8sObject> {
  return jobFromEnv(coordinatorEnv(objects));
}

/** The Job the coordinator's executor makes for one attempt under the environment `env`. */
async function jobFromEnv(env: Record<string, string>): Promise<K8sObject> {
  const { createKubernetesExecutor } = await import(executorModule);
  const { coordinatorConfigShape } = await import(configModule);
  const { commonConfigShape, createRootLogger, loadConfig } = await import('@gengap/service-kit');
  const { KubeConfig } = await import('@kubernetes/client-node');
  const config = loadConfig({ ...commonConfigShape, ...coordinatorConfigShape }, env);
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromOptions({
    clusters: [{ name: 'test', server: 'https://127.0.0.1:1', skipTLSVerify: true }],
    users: [{ name: 'test' }],
    contexts: [{ name: 'test', cluster: 'test', user: 'test' }],
    currentContext: 'test',
  });
  const log = createRootLogger({ service: 'deploy-test', level: 'silent' });
  const executor = createKubernetesExecutor(config, log, kubeConfig);
  return executor.jobFor({
    experimentId: 'e'.repeat(40),
    cellId: 'c'.repeat(16),
    attempt: 1,
    idempotencyKey: 'k',
  });
}

for (const [overlay, dir] of Object.entries(renders)) {
  describe(`training Jobs under kustomize ${overlay}`, { skip: missing }, () => {
    const objects = render(dir);

    test('the Job pod is restricted, tokenless, and runs a built trainer image', async () => {
      const job = await trainingJob(objects);
      const namespace = ofKind(objects, 'Namespace')[0]?.metadata.name;
      assert.equal(job.metadata.namespace, namespace, 'created in GenGap namespace (where the Role applies)');
      const spec = job.spec.template.spec;
      assert.equal(spec.securityContext?.runAsNonRoot, true);
      assert.equal(spec.securityContext?.seccompProfile?.type, 'RuntimeDefault');
      assert.equal(spec.automountServiceAccountToken, false);
      const account = spec.serviceAccountName ?? 'default';
      assert.ok(
        ofKind(objects, 'ServiceAccount').some((sa) => sa.metadata.name === account),
        `its ServiceAccount ${account} is rendered`,
      );
      assert.notEqual(account, 'gengap-coordinator', 'Jobs do not get the coordinator account');
      for (const c of spec.containers) {
        assert.equal(c.securityContext?.allowPrivilegeEscalation, false);
        assert.deepEqual(c.securityContext?.capabilities?.drop, ['ALL']);
        assert.equal(c.securityContext?.readOnlyRootFilesystem, true);
        for (const r of ['cpu', 'memory']) {
          const request = c.resources?.requests?.[r];
          const limit = c.resources?.limits?.[r];
          assert.ok(request !== undefined && limit !== undefined, `${r} request and limit`);
          assert.ok(quantity(limit) >= quantity(request), `${r} limit >= request`);
        }
        assert.ok(
          IMAGE_TARGETS.map((t) => imageTag(t)).includes(c.image),
          `${c.image} is an image the build makes`,
        );
        const writable = new Set(c.volumeMounts.map((m: K8sObject) => m.mountPath));
        assert.ok(
          writable.has(envOf(c, 'GENGAP_STATE_DIR')) && writable.has('/tmp'),
          'state and /tmp mounted',
        );
      }
    });

    test(`GPUs: ${overlay === 'gpu' ? 'the Job pod runs the CUDA image with an nvidia.com/gpu limit' : 'none for Job pods'}`, async () => {
      const spec = (await trainingJob(objects)).spec.template.spec;
      const container = spec.containers[0];
      const gpus = Number(container.resources?.limits?.['nvidia.com/gpu'] ?? 0);
      if (overlay === 'gpu') {
        assert.ok(gpus >= 1, 'a GPU per Job pod');
        assert.equal(container.image, imageTag('trainer-cuda'), 'the CUDA trainer image');
        assert.ok(
          (spec.tolerations ?? []).some((t: K8sObject) => t.key === 'nvidia.com/gpu'),
          'tolerates GPU nodes',
        );
        // The Job pod asks for at least what the GPU trainer Deployment asks for.
        const trainer = podSpecs(objects).find((p) => p.name === 'trainer')?.spec.containers[0];
        for (const r of ['cpu', 'memory'])
          assert.ok(
            quantity(container.resources.requests[r]) >= quantity(trainer.resources.requests[r]),
            `${r} request`,
          );
      } else {
        assert.equal(gpus, 0);
        assert.equal(container.image, imageTag('trainer'));
      }
    });

    test('the Job pod carries app.kubernetes.io/component, which every NetworkPolicy selects by', async () => {
      const labels = (await trainingJob(objects)).spec.template.metadata.labels;
      assert.equal(labels['app.kubernetes.io/component'], 'trainer-run');
      assert.equal(labels['app.kubernetes.io/part-of'], 'gengap');
      const selectors: K8sObject[] = [];
      for (const p of ofKind(objects, 'NetworkPolicy')) {
        selectors.push(p.spec.podSelector);
        for (const rule of [...(p.spec.ingress ?? []), ...(p.spec.egress ?? [])])
          for (const peer of [...(rule.from ?? []), ...(rule.to ?? [])])
            if (peer.podSelector) selectors.push(peer.podSelector);
      }
      for (const selector of selectors) {
        const keys = [
          ...Object.keys(selector.matchLabels ?? {}),
          ...(selector.matchExpressions ?? []).map((e: K8sObject) => e.key),
        ];
        assert.ok(
          !keys.includes('app.kubernetes.io/name'),
          `no policy selects GenGap pods by name (${JSON.stringify(selector)})`,
        );
      }
      const own = ofKind(objects, 'NetworkPolicy').filter((p) => matchesSelector(p.spec.podSelector, labels));
      assert.deepEqual(
        own.map((p) => p.metadata.name).sort(),
        ['allow-dns-egress', 'default-deny-all', 'trainer-run-allow-egress', 'trainer-run-allow-ingress'],
        'the Job pod gets its own policies (and the namespace-wide ones)',
      );
    });

    test('the coordinator reaches the Job pod, and the pod reaches data and analysis', async () => {
      const job = await trainingJob(objects);
      const policies = ofKind(objects, 'NetworkPolicy');
      const ns = ofKind(objects, 'Namespace')[0];
      const nsLabels = { ...ns?.metadata.labels, 'kubernetes.io/metadata.name': ns?.metadata.name };
      const asPod = (name: string, labels: Record<string, string>, containers: K8sObject[]): Pod => ({
        name,
        labels,
        ports: Object.fromEntries(
          containers.flatMap((c) => (c.ports ?? []).map((p: K8sObject) => [p.name, p.containerPort])),
        ),
      });
      const runPod = asPod(
        'trainer-run',
        job.spec.template.metadata.labels,
        job.spec.template.spec.containers,
      );
      const services = new Map(
        podSpecs(objects).map((p) => [p.name, asPod(p.name, p.labels, p.spec.containers)]),
      );
      const coordinator = services.get('coordinator') as Pod;
      assert.ok(runPod.ports.grpc, 'the Job pod names its gRPC port');
      assert.ok(
        allowed(policies, coordinator, runPod, runPod.ports.grpc as number, nsLabels),
        'coordinator -> Job',
      );
      const container = job.spec.template.spec.containers[0];
      for (const variable of ['GENGAP_DATA_ADDRESS', 'GENGAP_ANALYSIS_ADDRESS']) {
        const [host, port] = (envOf(container, variable) ?? '').split(':');
        const target = services.get(host as string);
        assert.ok(target, `${variable} names a service (${host})`);
        assert.ok(allowed(policies, runPod, target, Number(port), nsLabels), `Job -> ${host}:${port}`);
      }
      assert.equal(
        allowed(policies, runPod, coordinator, coordinator.ports.grpc as number, nsLabels),
        false,
        'a Job pod does not call the coordinator',
      );
    });
  });
}

describe("the executor's default Job image", { skip: missing }, () => {
  test('is the trainer tag deploy/docker/build-images.ts makes (GENGAP_K8S_TRAINER_IMAGE unset)', async () => {
    const job = await jobFromEnv({ GENGAP_DATA_ADDRESS: 'data:50051' });
    const built = `${imageRepository('trainer', 'gengap/')}:${imageVersion()}`;
    assert.equal(job.spec.template.spec.containers[0].image, built);
  });
});
