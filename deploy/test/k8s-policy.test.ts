// The Kubernetes manifests, as `kubectl kustomize` renders each overlay, keep GenGap's deployment
// policy: ports named grpc with native gRPC probes, requests and limits on every container, the
// restricted pod security profile with a read-only root and writable volumes only where the
// services write, a default-deny NetworkPolicy whose explicit allows cover exactly the calls the
// services are wired to make, namespaced RBAC for the coordinator's Jobs and for nobody else, a
// persistent volume under the coordinator's state, GPUs for trainers in the gpu overlay, and images
// that deploy/docker/build-images.ts builds.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { IMAGE_TARGETS, imageTag } from '../docker/build-images.ts';
import {
  allowed,
  containersOf,
  envOf,
  type K8sObject,
  matchesSelector,
  ofKind,
  type Pod,
  podSpecs,
  portMatches,
  quantity,
  render,
  renders,
} from './k8s-objects.ts';

const wiring = [
  'GENGAP_DATA_ADDRESS',
  'GENGAP_TRAINER_ADDRESS',
  'GENGAP_TRAINER_ADDRESSES',
  'GENGAP_ANALYSIS_ADDRESS',
];

for (const [overlay, dir] of Object.entries(renders)) {
  describe(`kustomize ${overlay} (${dir})`, () => {
    const objects = render(dir);
    const pods = podSpecs(objects);

    test('renders the four services, each a Deployment with a Service', () => {
      const names = ofKind(objects, 'Deployment').map((d) => d.metadata.name);
      assert.deepEqual(names.sort(), ['analysis', 'coordinator', 'data', 'trainer']);
      for (const name of names) assert.ok(ofKind(objects, 'Service').some((s) => s.metadata.name === name));
    });

    test('the namespace enforces the restricted Pod Security Standard', () => {
      const [ns] = ofKind(objects, 'Namespace');
      assert.equal(ns?.metadata.labels['pod-security.kubernetes.io/enforce'], 'restricted');
      for (const o of objects)
        if (o.kind !== 'Namespace') assert.equal(o.metadata.namespace, ns?.metadata.name);
    });

    test('containers serve gRPC on a port named grpc, probed natively through grpc.health.v1', () => {
      for (const { name, spec } of pods) {
        for (const c of spec.containers) {
          const grpc = (c.ports ?? []).find((p: K8sObject) => p.name === 'grpc');
          assert.ok(grpc, `${name}/${c.name} has a port named grpc`);
          for (const probe of ['readinessProbe', 'livenessProbe', 'startupProbe']) {
            // Kubelet's gRPC probes speak plaintext only: under TLS (secure) they check the port.
            if (overlay === 'secure')
              assert.equal(c[probe]?.tcpSocket?.port, 'grpc', `${name}/${c.name} ${probe} is a TCP probe`);
            else
              assert.equal(
                c[probe]?.grpc?.port,
                grpc.containerPort,
                `${name}/${c.name} ${probe} is a gRPC probe`,
              );
          }
          assert.equal(
            envOf(c, 'GENGAP_PORT'),
            String(grpc.containerPort),
            `${name} listens on its grpc port`,
          );
          assert.equal(envOf(c, 'GENGAP_HOST'), '0.0.0.0', `${name} listens on the pod's address`);
        }
      }
      for (const svc of ofKind(objects, 'Service')) {
        assert.ok(svc.spec.ports.length > 0);
        const grpc = svc.spec.ports.find((p: K8sObject) => p.name === 'grpc');
        assert.ok(grpc, `service ${svc.metadata.name} has a port named grpc`);
        assert.equal(grpc.targetPort, 'grpc');
        assert.ok(
          pods.some((p) => matchesSelector({ matchLabels: svc.spec.selector }, p.labels)),
          `service ${svc.metadata.name} selects a pod`,
        );
      }
    });

    test('every container has cpu and memory requests and limits, limit >= request', () => {
      for (const { name, spec } of pods) {
        for (const c of containersOf(spec)) {
          for (const r of ['cpu', 'memory']) {
            const request = c.resources?.requests?.[r];
            const limit = c.resources?.limits?.[r];
            assert.ok(
              request !== undefined && limit !== undefined,
              `${name}/${c.name} ${r} request and limit`,
            );
            assert.ok(quantity(limit) >= quantity(request), `${name}/${c.name} ${r} limit >= request`);
          }
        }
      }
    });

    test('pods and containers follow the restricted profile with a read-only root filesystem', () => {
      for (const { name, spec } of pods) {
        const pod = spec.securityContext ?? {};
        assert.equal(pod.runAsNonRoot, true, `${name}: pod runAsNonRoot`);
        assert.notEqual(pod.runAsUser, 0, `${name}: not uid 0`);
        assert.equal(pod.seccompProfile?.type, 'RuntimeDefault', `${name}: pod seccomp RuntimeDefault`);
        assert.ok(!spec.hostNetwork && !spec.hostPID && !spec.hostIPC, `${name}: no host namespaces`);
        for (const v of spec.volumes ?? []) assert.ok(!v.hostPath, `${name}: no hostPath volume ${v.name}`);
        for (const c of containersOf(spec)) {
          const sc = c.securityContext ?? {};
          const where = `${name}/${c.name}`;
          assert.equal(sc.allowPrivilegeEscalation, false, `${where}: allowPrivilegeEscalation false`);
          assert.notEqual(sc.privileged, true, `${where}: not privileged`);
          assert.notEqual(sc.runAsNonRoot, false, `${where}: runAsNonRoot not overridden`);
          assert.notEqual(sc.runAsUser, 0, `${where}: not uid 0`);
          assert.deepEqual(sc.capabilities?.drop, ['ALL'], `${where}: drops ALL capabilities`);
          assert.equal((sc.capabilities?.add ?? []).length, 0, `${where}: adds none`);
          assert.equal(
            sc.seccompProfile?.type ?? pod.seccompProfile?.type,
            'RuntimeDefault',
            `${where}: seccomp`,
          );
          assert.equal(sc.readOnlyRootFilesystem, true, `${where}: read-only root filesystem`);
        }
      }
    });

    test('the only writable paths are the state folder and /tmp, each an emptyDir or a PVC (Secrets read-only)', () => {
      for (const { name, spec } of pods) {
        const volumes = new Map<string, K8sObject>((spec.volumes ?? []).map((v: K8sObject) => [v.name, v]));
        for (const c of containersOf(spec)) {
          const mounts = new Map<string, string>(
            (c.volumeMounts ?? []).map((m: K8sObject) => [m.mountPath, m.name]),
          );
          const stateDir = envOf(c, 'GENGAP_STATE_DIR');
          assert.ok(stateDir, `${name}: GENGAP_STATE_DIR is set`);
          for (const path of [stateDir, '/tmp']) {
            const volume = volumes.get(mounts.get(path) ?? '');
            assert.ok(
              volume?.emptyDir || volume?.persistentVolumeClaim,
              `${name}: ${path} is an emptyDir or PVC`,
            );
          }
          for (const mount of c.volumeMounts ?? []) {
            const volume = volumes.get(mount.name);
            assert.ok(
              volume?.emptyDir ||
                volume?.persistentVolumeClaim ||
                (volume?.secret && mount.readOnly === true),
              `${name}: ${mount.mountPath} is an emptyDir, a PVC or a read-only Secret`,
            );
          }
        }
      }
    });

    test("the coordinator's database and artifacts live on a PersistentVolumeClaim", () => {
      const coordinator = pods.find((p) => p.name === 'coordinator');
      assert.ok(coordinator);
      const c = coordinator.spec.containers[0];
      const mount = c.volumeMounts.find((m: K8sObject) => m.mountPath === envOf(c, 'GENGAP_STATE_DIR'));
      const volume = coordinator.spec.volumes.find((v: K8sObject) => v.name === mount?.name);
      const claim = volume?.persistentVolumeClaim?.claimName;
      assert.ok(claim, 'the state folder is a PVC');
      const pvc = ofKind(objects, 'PersistentVolumeClaim').find((p) => p.metadata.name === claim);
      assert.ok(pvc, `PVC ${claim} is rendered`);
      assert.ok(quantity(pvc.spec.resources.requests.storage) >= 2 ** 30, 'at least 1Gi');
      // Trainers resume from checkpoints after a restart: their state is persistent too.
      const trainer = pods.find((p) => p.name === 'trainer');
      const tc = trainer?.spec.containers[0];
      const tmount = tc.volumeMounts.find((m: K8sObject) => m.mountPath === envOf(tc, 'GENGAP_STATE_DIR'));
      assert.ok(trainer?.spec.volumes.find((v: K8sObject) => v.name === tmount?.name)?.persistentVolumeClaim);
    });

    test('a default-deny NetworkPolicy covers every pod, both directions', () => {
      const policies = ofKind(objects, 'NetworkPolicy');
      const denyAll = policies.find(
        (p) =>
          Object.keys(p.spec.podSelector ?? {}).length === 0 &&
          ['Ingress', 'Egress'].every((t) => p.spec.policyTypes?.includes(t)) &&
          (p.spec.ingress ?? []).length === 0 &&
          (p.spec.egress ?? []).length === 0,
      );
      assert.ok(denyAll, 'a policy selecting all pods with no ingress or egress rules');
    });

    test('explicit allows: exactly the calls the services are wired to make, DNS, and clients to the coordinator', () => {
      const policies = ofKind(objects, 'NetworkPolicy');
      const [ns] = ofKind(objects, 'Namespace');
      const nsLabels = { ...ns?.metadata.labels, 'kubernetes.io/metadata.name': ns?.metadata.name };
      const asPod = (p: (typeof pods)[number]): Pod => ({
        name: p.name,
        labels: p.labels,
        ports: Object.fromEntries(
          p.spec.containers.flatMap((c: K8sObject) =>
            (c.ports ?? []).map((port: K8sObject) => [port.name, port.containerPort]),
          ),
        ),
      });
      const all = pods.map(asPod);
      const byService = new Map(all.map((p) => [p.name, p]));
      const wired = new Set<string>();
      for (const p of pods) {
        for (const c of p.spec.containers) {
          for (const variable of wiring) {
            for (const address of envOf(c, variable)?.split(',') ?? []) {
              const [host, port] = address.split(':');
              const target = byService.get(host as string);
              assert.ok(target, `${p.name} ${variable}=${address} names a service`);
              assert.equal(Number(port), target.ports.grpc, `${address} is ${host}'s grpc port`);
              wired.add(`${p.name}->${host}`);
            }
          }
        }
      }
      const open = new Set<string>();
      for (const from of all) {
        for (const to of all) {
          if (from !== to && allowed(policies, from, to, to.ports.grpc as number, nsLabels)) {
            open.add(`${from.name}->${to.name}`);
          }
        }
      }
      assert.deepEqual([...open].sort(), [...wired].sort(), 'allowed pod-to-pod traffic is the wiring');
      assert.ok(wired.size >= 6, `the wiring has calls (${[...wired].join(', ')})`);
      // A pod of the namespace that is not GenGap's reaches nothing; a labelled client, from any
      // namespace, reaches the coordinator (experiments) and the trainer (parameters), nothing else.
      const stranger: Pod = { name: 'stranger', labels: {}, ports: {} };
      const client: Pod = { name: 'client', labels: { 'gengap.io/client': 'true' }, ports: {} };
      const ingressFrom = (pod: Pod, to: Pod, labels: Record<string, string>) =>
        policies
          .filter(
            (p) => p.spec.policyTypes.includes('Ingress') && matchesSelector(p.spec.podSelector, to.labels),
          )
          .some((p) =>
            (p.spec.ingress ?? []).some(
              (r: K8sObject) =>
                portMatches(r.ports, to, to.ports.grpc as number) &&
                (r.from ?? []).some(
                  (peer: K8sObject) =>
                    (peer.namespaceSelector === undefined ||
                      matchesSelector(peer.namespaceSelector, labels)) &&
                    (peer.podSelector === undefined || matchesSelector(peer.podSelector, pod.labels)),
                ),
            ),
          );
      const elsewhere = { 'kubernetes.io/metadata.name': 'notebooks' };
      const coordinatorPod = byService.get('coordinator') as Pod;
      assert.ok(coordinatorPod.ports.http, 'the coordinator serves reports on a port named http');
      assert.ok(
        policies.some(
          (p) =>
            matchesSelector(p.spec.podSelector, coordinatorPod.labels) &&
            (p.spec.ingress ?? []).some(
              (r: K8sObject) =>
                portMatches(r.ports, coordinatorPod, coordinatorPod.ports.http as number) &&
                (r.from ?? []).some((peer: K8sObject) => matchesSelector(peer.podSelector, client.labels)),
            ),
        ),
        'clients reach the report pages',
      );
      for (const to of all) {
        assert.equal(ingressFrom(stranger, to, nsLabels), false, `stranger -> ${to.name} is denied`);
        assert.equal(
          ingressFrom(client, to, elsewhere),
          to.name === 'coordinator' || to.name === 'trainer',
          `client -> ${to.name}`,
        );
      }
      // Every pod may resolve names through kube-dns, and only there on port 53.
      const dns = policies.filter((p) =>
        (p.spec.egress ?? []).some((r: K8sObject) =>
          (r.ports ?? []).some((port: K8sObject) => port.port === 53),
        ),
      );
      assert.equal(dns.length, 1, 'one DNS egress policy');
      assert.deepEqual(dns[0]?.spec.podSelector, {});
      for (const rule of dns[0]?.spec.egress ?? []) {
        for (const peer of rule.to) assert.equal(peer.podSelector?.matchLabels?.['k8s-app'], 'kube-dns');
      }
    });

    test('RBAC: one namespaced Role for Jobs, bound to the coordinator only', () => {
      assert.equal(ofKind(objects, 'ClusterRole').length, 0, 'no ClusterRole');
      assert.equal(ofKind(objects, 'ClusterRoleBinding').length, 0, 'no ClusterRoleBinding');
      const roles = ofKind(objects, 'Role');
      assert.equal(roles.length, 1);
      const rules = roles[0]?.rules as K8sObject[];
      const jobs = rules.find((r) => r.apiGroups.includes('batch') && r.resources.includes('jobs'));
      for (const verb of ['create', 'get', 'list', 'watch', 'delete'])
        assert.ok(jobs?.verbs.includes(verb), verb);
      // Each Job's state claim (the executor's ensureClaim, listClaims and deleteClaim).
      const claims = rules.find(
        (r) => r.apiGroups.includes('') && r.resources.includes('persistentvolumeclaims'),
      );
      for (const verb of ['create', 'get', 'list', 'delete'])
        assert.ok(claims?.verbs.includes(verb), `persistentvolumeclaims ${verb}`);
      for (const r of rules) {
        assert.ok(
          !r.verbs.includes('*') && !r.resources.includes('*') && !r.apiGroups.includes('*'),
          'no wildcards',
        );
        assert.ok(!r.resources.includes('secrets'), 'no access to secrets');
      }
      const bindings = ofKind(objects, 'RoleBinding');
      assert.equal(bindings.length, 1);
      assert.equal(bindings[0]?.roleRef.name, roles[0]?.metadata.name);
      const subjects = bindings[0]?.subjects as K8sObject[];
      assert.deepEqual(
        subjects.map((s) => `${s.kind}/${s.name}`),
        ['ServiceAccount/gengap-coordinator'],
      );
      for (const { name, spec } of pods) {
        if (name === 'coordinator') assert.equal(spec.serviceAccountName, 'gengap-coordinator');
        else {
          assert.notEqual(
            spec.serviceAccountName ?? 'default',
            'gengap-coordinator',
            `${name} has its own account`,
          );
          assert.equal(spec.automountServiceAccountToken, false, `${name} mounts no API token`);
        }
      }
      for (const sa of ofKind(objects, 'ServiceAccount')) {
        assert.ok(
          pods.some((p) => p.spec.serviceAccountName === sa.metadata.name),
          `${sa.metadata.name} is used`,
        );
      }
    });

    test(`GPUs: ${overlay === 'gpu' ? 'every trainer container has an nvidia.com/gpu limit' : 'none requested'}`, () => {
      for (const { name, spec } of pods) {
        for (const c of containersOf(spec)) {
          const gpus = Number(c.resources?.limits?.['nvidia.com/gpu'] ?? 0);
          if (overlay === 'gpu' && name === 'trainer') {
            assert.ok(gpus >= 1, 'trainer has a GPU');
            assert.equal(c.image, imageTag('trainer-cuda'), 'trainer runs the CUDA image');
            assert.ok(
              (spec.tolerations ?? []).some((t: K8sObject) => t.key === 'nvidia.com/gpu'),
              'trainer tolerates GPU nodes',
            );
          } else assert.equal(gpus, 0, `${name}/${c.name} has no GPU`);
        }
      }
    });

    test('every image is one that deploy/docker/build-images.ts tags', () => {
      const built = new Set(IMAGE_TARGETS.map((t) => imageTag(t)));
      // The image of the training Jobs the coordinator creates (its Kubernetes executor).
      const coordinator = pods.find((p) => p.name === 'coordinator')?.spec.containers[0];
      const jobImage = envOf(coordinator, 'GENGAP_K8S_TRAINER_IMAGE');
      assert.ok(jobImage && built.has(jobImage), `GENGAP_K8S_TRAINER_IMAGE=${jobImage} is built`);
      for (const { name, spec } of pods) {
        for (const c of containersOf(spec)) {
          assert.ok(built.has(c.image), `${name}/${c.name}: ${c.image} is one of ${[...built].join(', ')}`);
          if (overlay !== 'gpu' || name !== 'trainer') assert.equal(c.image, imageTag(name as 'data'));
        }
      }
    });
  });
}
