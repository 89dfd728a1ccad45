// The secure overlay, as `kubectl kustomize` renders it: every service serves TLS and checks bearer
// tokens from the Secrets gengap-tls and gengap-auth, mounted read-only as files (the outbound token
// through secretKeyRef: the variable takes no file), makes its own calls over TLS with a token, and
// refuses to listen without authentication. No Secret and no token value is in the manifests. The
// general policy (k8s-policy.test.ts) runs on this overlay too.
import assert from 'node:assert/strict';
import { posix } from 'node:path';
import { describe, test } from 'node:test';
import { commonConfigShape, loadConfig } from '@gengap/service-kit';
import { type K8sObject, ofKind, podSpecs, render, renders } from './k8s-objects.ts';

const objects = render(renders.secure);
const deployments = podSpecs(objects).filter((p) =>
  ofKind(objects, 'Deployment').some((d) => d.metadata.name === p.name),
);

/** The container's variable `name`: its literal value, or the Secret key it comes from. */
function variable(
  container: K8sObject,
  name: string,
): { value?: string; secret?: { name: string; key: string } } {
  const e = (container.env ?? []).find((v: K8sObject) => v.name === name);
  if (!e) return {};
  if (e.value !== undefined) return { value: String(e.value) };
  return e.valueFrom?.secretKeyRef ? { secret: e.valueFrom.secretKeyRef } : {};
}

/** The Secret (and key, for a file of one) behind the file at `path` in the container, if any. */
function secretFileAt(spec: K8sObject, container: K8sObject, path: string) {
  for (const mount of container.volumeMounts ?? []) {
    const relative = posix.relative(mount.mountPath, path);
    if (relative.startsWith('..') || posix.isAbsolute(relative)) continue;
    const volume = (spec.volumes ?? []).find((v: K8sObject) => v.name === mount.name);
    if (!volume?.secret) continue;
    const items: K8sObject[] | undefined = volume.secret.items;
    const key = items ? items.find((i) => i.path === relative)?.key : relative;
    return { secretName: volume.secret.secretName as string, key, readOnly: mount.readOnly === true };
  }
  return undefined;
}

describe('kustomize secure (deploy/k8s/overlays/secure)', () => {
  test('renders the four Deployments', () => {
    assert.deepEqual(deployments.map((d) => d.name).sort(), ['analysis', 'coordinator', 'data', 'trainer']);
  });

  test('every service serves TLS from gengap-tls, mounted read-only, and verifies peers with its CA', () => {
    for (const { name, spec } of deployments) {
      const c = spec.containers[0];
      for (const [variableName, key] of [
        ['GENGAP_TLS_CERT', 'tls.crt'],
        ['GENGAP_TLS_KEY', 'tls.key'],
        ['GENGAP_TLS_CA', 'ca.crt'],
      ] as const) {
        const path = variable(c, variableName).value;
        assert.ok(path, `${name}: ${variableName} is set`);
        assert.deepEqual(
          secretFileAt(spec, c, path),
          { secretName: 'gengap-tls', key, readOnly: true },
          `${name}: ${variableName} is ${key} of gengap-tls`,
        );
      }
      // Group-readable only; the pod's fsGroup makes the files the service's.
      const tls = spec.volumes.find((v: K8sObject) => v.secret?.secretName === 'gengap-tls');
      assert.equal(tls.secret.defaultMode, 0o440);
      assert.equal(spec.securityContext?.fsGroup, 65534, `${name}: fsGroup owns the secret files`);
    }
  });

  test('every service checks bearer tokens from the gengap-auth file and presents its own outbound token', () => {
    for (const { name, spec } of deployments) {
      const c = spec.containers[0];
      const tokens = variable(c, 'GENGAP_AUTH_TOKENS').value ?? '';
      assert.ok(tokens.startsWith('@'), `${name}: GENGAP_AUTH_TOKENS names a file (${tokens})`);
      assert.deepEqual(secretFileAt(spec, c, tokens.slice(1)), {
        secretName: 'gengap-auth',
        key: 'tokens',
        readOnly: true,
      });
      // The coordinator calls data, trainer and analysis; the others call each other too.
      assert.deepEqual(variable(c, 'GENGAP_OUTBOUND_TOKEN'), {
        secret: { name: 'gengap-auth', key: 'outbound-token' },
      });
      assert.equal(
        variable(c, 'GENGAP_ALLOW_INSECURE').value,
        'false',
        `${name}: no unauthenticated listening`,
      );
    }
  });

  test("each service's configuration loads with these variables (the files' paths, a stand-in token)", () => {
    for (const { name, spec } of deployments) {
      const env: Record<string, string> = {};
      for (const e of spec.containers[0].env ?? []) if (e.value !== undefined) env[e.name] = String(e.value);
      env.GENGAP_OUTBOUND_TOKEN = 'x'.repeat(32);
      const config = loadConfig(commonConfigShape, env);
      assert.equal(config.GENGAP_ALLOW_INSECURE, false, name);
      assert.equal(config.GENGAP_TLS_CA, '/etc/gengap/tls/ca.crt', name);
    }
  });

  test('the coordinator gives its training Jobs the same Secrets and checks their certificates as "trainer"', () => {
    const coordinator = deployments.find((d) => d.name === 'coordinator');
    assert.ok(coordinator, 'a coordinator Deployment');
    const container = coordinator.spec.containers[0];
    // The executor mounts them at the paths the Deployments use (kubernetes-executor.test.ts).
    assert.deepEqual(variable(container, 'GENGAP_K8S_JOB_TLS_SECRET'), { value: 'gengap-tls' });
    assert.deepEqual(variable(container, 'GENGAP_K8S_JOB_AUTH_SECRET'), { value: 'gengap-auth' });
    // Job pods are reached by IP; the shared certificate names every service, "trainer" included.
    assert.deepEqual(variable(container, 'GENGAP_TLS_SERVER_NAME'), { value: 'trainer' });
    for (const { name, spec } of deployments.filter((d) => d.name !== 'coordinator')) {
      assert.deepEqual(variable(spec.containers[0], 'GENGAP_K8S_JOB_TLS_SECRET'), {}, name);
    }
  });

  test('no Secret and no token or key material is in the manifests', () => {
    assert.equal(ofKind(objects, 'Secret').length, 0, 'Secrets are created by hand (README.md)');
    const text = JSON.stringify(objects);
    assert.doesNotMatch(text, /BEGIN [A-Z ]*(PRIVATE KEY|CERTIFICATE)/);
    for (const { name, spec } of deployments) {
      for (const e of spec.containers[0].env ?? []) {
        if (!/TOKEN|SECRET|PASSWORD|_KEY$/.test(e.name) || e.value === undefined) continue;
        // The executor's variables name a Secret object, not its content.
        if (/^GENGAP_K8S_JOB_\w+_SECRET$/.test(e.name)) {
          assert.match(String(e.value), /^gengap-(tls|auth)$/, `${name}: ${e.name} names a Secret`);
          continue;
        }
        assert.match(
          String(e.value),
          /^@?\/etc\/gengap\//,
          `${name}: ${e.name} is a path, not a secret value`,
        );
      }
    }
  });
});
