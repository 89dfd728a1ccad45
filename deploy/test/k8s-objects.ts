// Rendering the kustomize overlays and reasoning about the objects: label selectors, and whether
// the NetworkPolicies admit a connection between two pods. Shared by the deploy/test suites.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { repoRoot } from '../docker/stage-app.ts';

// biome-ignore lint/suspicious/noExplicitAny: rendered Kubernetes objects are plain JSON.
export type K8sObject = Record<string, any>;

export const renders = {
  base: 'deploy/k8s/base',
  dev: 'deploy/k8s/overlays/dev',
  gpu: 'deploy/k8s/overlays/gpu',
  secure: 'deploy/k8s/overlays/secure',
} as const;

export function render(dir: string): K8sObject[] {
  const result = spawnSync('kubectl', ['kustomize', join(repoRoot, dir)], { encoding: 'utf8' });
  if (result.error) throw new Error(`kubectl is needed to render the manifests: ${result.error.message}`);
  assert.equal(result.status, 0, `kubectl kustomize ${dir} failed:\n${result.stderr}`);
  return parseAllDocuments(result.stdout).map((d) => d.toJS() as K8sObject);
}

/** Kubernetes quantity (cpu "250m", memory "2Gi") as a number of base units. */
export function quantity(value: string | number): number {
  const text = String(value);
  const match = /^([0-9.]+)([a-zA-Z]*)$/.exec(text);
  assert.ok(match, `quantity ${text}`);
  const units: Record<string, number> = {
    '': 1,
    m: 1e-3,
    k: 1e3,
    M: 1e6,
    G: 1e9,
    T: 1e12,
    Ki: 2 ** 10,
    Mi: 2 ** 20,
    Gi: 2 ** 30,
    Ti: 2 ** 40,
  };
  const unit = units[match[2] as string];
  assert.ok(unit !== undefined, `unit of ${text}`);
  return Number(match[1]) * unit;
}

export const ofKind = (objects: K8sObject[], kind: string) => objects.filter((o) => o.kind === kind);
export const podSpecs = (objects: K8sObject[]) =>
  [...ofKind(objects, 'Deployment'), ...ofKind(objects, 'StatefulSet'), ...ofKind(objects, 'Job')].map(
    (o) => ({
      name: o.metadata.name as string,
      labels: o.spec.template.metadata.labels ?? {},
      spec: o.spec.template.spec,
    }),
  );
export const containersOf = (spec: K8sObject): K8sObject[] => [
  ...(spec.initContainers ?? []),
  ...spec.containers,
];
export const envOf = (container: K8sObject, name: string): string | undefined =>
  (container.env ?? []).find((e: K8sObject) => e.name === name)?.value;

export function matchesSelector(selector: K8sObject | undefined, labels: Record<string, string>): boolean {
  if (!selector) return false;
  for (const [k, v] of Object.entries(selector.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const expr of selector.matchExpressions ?? []) {
    const value = labels[expr.key];
    if (expr.operator === 'In' && !expr.values.includes(value)) return false;
    if (expr.operator === 'NotIn' && expr.values.includes(value)) return false;
    if (expr.operator === 'Exists' && value === undefined) return false;
    if (expr.operator === 'DoesNotExist' && value !== undefined) return false;
  }
  return true;
}

export interface Pod {
  name: string;
  labels: Record<string, string>;
  ports: Record<string, number>;
}

export function portMatches(
  rulePorts: K8sObject[] | undefined,
  target: Pod | undefined,
  port: number,
): boolean {
  if (!rulePorts || rulePorts.length === 0) return true;
  return rulePorts.some((p) => {
    if ((p.protocol ?? 'TCP') !== 'TCP') return false;
    if (p.port === undefined) return true;
    if (typeof p.port === 'number') return p.port === port;
    return target?.ports[p.port] === port;
  });
}

/**
 * Whether the NetworkPolicies let `from` open a TCP connection to `to` on `port`, both pods in the
 * namespace whose labels are `namespaceLabels`: an ingress rule of a policy selecting `to` and an
 * egress rule of a policy selecting `from` must both admit it.
 */
export function allowed(
  policies: K8sObject[],
  from: Pod,
  to: Pod,
  port: number,
  namespaceLabels: Record<string, string>,
): boolean {
  const peerMatches = (peers: K8sObject[] | undefined, pod: Pod) =>
    peers === undefined ||
    peers.length === 0 ||
    peers.some(
      (peer) =>
        !peer.ipBlock &&
        (peer.namespaceSelector === undefined || matchesSelector(peer.namespaceSelector, namespaceLabels)) &&
        (peer.podSelector === undefined || matchesSelector(peer.podSelector, pod.labels)),
    );
  const selecting = (type: string, pod: Pod) =>
    policies.filter(
      (p) =>
        (p.spec.policyTypes ?? ['Ingress']).includes(type) && matchesSelector(p.spec.podSelector, pod.labels),
    );
  const ingressOk = selecting('Ingress', to).some((p) =>
    (p.spec.ingress ?? []).some(
      (rule: K8sObject) => peerMatches(rule.from, from) && portMatches(rule.ports, to, port),
    ),
  );
  const egressOk = selecting('Egress', from).some((p) =>
    (p.spec.egress ?? []).some(
      (rule: K8sObject) => peerMatches(rule.to, to) && portMatches(rule.ports, to, port),
    ),
  );
  return ingressOk && egressOk;
}
