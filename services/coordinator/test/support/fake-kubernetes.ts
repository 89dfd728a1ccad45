// A fake Kubernetes API server (node:http) with just what the Kubernetes executor uses: batch/v1
// Jobs (create with 409 AlreadyExists, read, list by label selector with paging, delete) and the
// pods of a Job (listed by the job-name label). A created Job gets one pod, Pending until the test
// makes it ready (or at once with `autoReady`). Kubernetes is not ours, so faking it is fair game.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { KubeConfig, type V1Job, type V1JobCondition, type V1Pod } from '@kubernetes/client-node';

export interface FakeRequest {
  method: string;
  path: string;
  query: URLSearchParams;
}

export interface FakeKubernetesOptions {
  /** Pods become Running and Ready at once, with this IP. */
  autoReady?: boolean;
  podIP?: string;
}

function status(code: number, reason: string, message: string) {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', reason, message, code };
}

function matches(labels: Record<string, string> | undefined, selector: string | null): boolean {
  if (!selector) return true;
  return selector.split(',').every((term) => {
    const [key, value] = term.split('=');
    return key !== undefined && labels?.[key] === value;
  });
}

export class FakeKubernetes {
  readonly jobs = new Map<string, V1Job>();
  readonly pods = new Map<string, V1Pod>();
  readonly requests: FakeRequest[] = [];
  /** Status codes to answer the next requests with (500, 403...), consumed in order. */
  readonly failures: number[] = [];
  private readonly options: FakeKubernetesOptions;
  private server: Server | undefined;
  private uid = 0;
  url = '';

  constructor(options: FakeKubernetesOptions = {}) {
    this.options = options;
  }

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk) => {
        body += chunk;
      });
      req.on('end', () => this.handle(req, res, body));
    });
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()));
  }

  /** A KubeConfig pointing at this server. */
  kubeConfig(): KubeConfig {
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'fake', server: this.url, skipTLSVerify: true }],
      users: [{ name: 'tester', token: 'fake-token' }],
      contexts: [{ name: 'fake', cluster: 'fake', user: 'tester', namespace: 'gengap' }],
      currentContext: 'fake',
    });
    return kc;
  }

  private send(res: ServerResponse, code: number, value: unknown): void {
    const text = JSON.stringify(value);
    res.writeHead(code, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  }

  private handle(req: IncomingMessage, res: ServerResponse, body: string): void {
    const url = new URL(req.url ?? '/', this.url);
    const method = req.method ?? 'GET';
    this.requests.push({ method, path: url.pathname, query: url.searchParams });
    const failure = this.failures.shift();
    const [code, value] =
      failure !== undefined
        ? [failure, status(failure, failure === 403 ? 'Forbidden' : 'InternalError', 'injected failure')]
        : this.route(method, url, body);
    this.send(res, code, value);
  }

  /** The status code and body of a request. */
  private route(method: string, url: URL, body: string): [number, unknown] {
    const notFound = (what: string): [number, unknown] => [404, status(404, 'NotFound', `${what} not found`)];
    const jobs = /^\/apis\/batch\/v1\/namespaces\/([^/]+)\/jobs(?:\/([^/]+))?$/.exec(url.pathname);
    if (jobs) {
      const name = jobs[2];
      if (method === 'POST' && !name) return this.createJob(JSON.parse(body) as V1Job);
      if (method === 'GET' && !name) return [200, this.listJobs(url.searchParams)];
      const job = name ? this.jobs.get(name) : undefined;
      if (!name || !job) return notFound(`jobs.batch "${name}"`);
      if (method === 'GET') return [200, job];
      if (method === 'DELETE') {
        this.jobs.delete(name);
        for (const [podName, pod] of this.pods)
          if (pod.metadata?.labels?.['job-name'] === name) this.pods.delete(podName);
        return [200, { kind: 'Status', apiVersion: 'v1', status: 'Success', metadata: {} }];
      }
    }
    if (/^\/api\/v1\/namespaces\/([^/]+)\/pods$/.test(url.pathname) && method === 'GET') {
      const items = [...this.pods.values()].filter((p) =>
        matches(p.metadata?.labels, url.searchParams.get('labelSelector')),
      );
      return [200, { kind: 'PodList', apiVersion: 'v1', metadata: {}, items }];
    }
    return notFound(`route ${method} ${url.pathname}`);
  }

  private createJob(job: V1Job): [number, unknown] {
    const name = job.metadata?.name ?? '';
    if (this.jobs.has(name))
      return [409, status(409, 'AlreadyExists', `jobs.batch "${name}" already exists`)];
    const stored: V1Job = {
      ...job,
      metadata: { ...job.metadata, uid: `uid-${++this.uid}`, creationTimestamp: new Date() },
      status: { active: 1 },
    };
    this.jobs.set(name, stored);
    const podName = `${name}-${this.uid}`;
    this.pods.set(podName, {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: podName, labels: { ...job.spec?.template.metadata?.labels, 'job-name': name } },
      spec: job.spec?.template.spec,
      status: { phase: 'Pending' },
    } as V1Pod);
    if (this.options.autoReady) this.setPodReady(name, this.options.podIP ?? '127.0.0.1');
    return [201, stored];
  }

  private listJobs(query: URLSearchParams): unknown {
    const all = [...this.jobs.values()].filter((j) =>
      matches(j.metadata?.labels, query.get('labelSelector')),
    );
    const offset = Number(query.get('continue') || 0);
    const limit = Number(query.get('limit') || all.length || 1);
    const items = all.slice(offset, offset + limit);
    const next = offset + limit < all.length ? String(offset + limit) : undefined;
    return { kind: 'JobList', apiVersion: 'batch/v1', metadata: next ? { continue: next } : {}, items };
  }

  /** Makes the Job's pod Running and Ready at `ip`. */
  setPodReady(jobName: string, ip: string): void {
    for (const pod of this.pods.values()) {
      if (pod.metadata?.labels?.['job-name'] !== jobName) continue;
      pod.status = { phase: 'Running', podIP: ip, conditions: [{ type: 'Ready', status: 'True' }] };
    }
  }

  /** Marks the Job failed, as the Job controller would. */
  failJob(jobName: string, reason: string, message: string): void {
    const job = this.jobs.get(jobName);
    if (!job) throw new Error(`no job ${jobName}`);
    const condition: V1JobCondition = { type: 'Failed', status: 'True', reason, message };
    job.status = { ...job.status, active: 0, failed: 1, conditions: [condition] };
  }
}
