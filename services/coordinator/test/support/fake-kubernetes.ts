// A fake Kubernetes API server (node:http) with just what the Kubernetes executor uses: batch/v1
// Jobs (create with 409 AlreadyExists, read, list by label selector with paging, delete), the pods of
// a Job (listed by the job-name label) and PersistentVolumeClaims (create with 409, read, list,
// delete; deleting a Job deletes the claims it owns, as the garbage collector would). A created Job
// gets one pod, Pending until the test makes it ready (or at once with `autoReady`).
//
// With `runPod`, pods are real processes: the fake starts one for each pod of a Job (the test's
// function decides what runs, typically a trainer with the pod's environment), makes the pod Running
// and Ready at a loopback address of its own once it is up, and acts as the Job controller when the
// process ends: exit 0 completes the Job; a disrupted pod (`disruptPod`) is replaced without counting
// against backoffLimit (podFailurePolicy Ignore); an exit code of a FailJob rule fails the Job
// (PodFailurePolicy); other failures are replaced until backoffLimit (BackoffLimitExceeded). Each
// claim has a folder of its own (`claimDir`), new for every claim created, so a pod mounting a claim
// sees what an earlier pod of the same claim wrote. Kubernetes is not ours, so faking it is fair game.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  KubeConfig,
  type V1Job,
  type V1JobCondition,
  type V1PersistentVolumeClaim,
  type V1Pod,
  type V1PodSpec,
} from '@kubernetes/client-node';

export interface FakeRequest {
  method: string;
  path: string;
  query: URLSearchParams;
}

/** A pod's process, as `runPod` starts it. */
export interface PodProcess {
  /** Settles when the process has ended. */
  exited: Promise<{ code: number | null; signal: string | null }>;
  /** Whether it still runs (a process that ended before it served is never Ready). */
  alive(): boolean;
  kill(signal: NodeJS.Signals): void;
}

export interface PodContext {
  podName: string;
  jobName: string;
  /** The pod's own loopback address (127.0.0.2, 127.0.0.3...). */
  ip: string;
  spec: V1PodSpec;
  /** The folder that stands for a claim's volume. */
  claimDir(claimName: string): string;
}

export interface FakeKubernetesOptions {
  /** Pods become Running and Ready at once, with this IP. */
  autoReady?: boolean;
  podIP?: string;
  /** Runs each pod as a process; resolves once it serves (the pod is then Ready). */
  runPod?: (pod: PodContext) => Promise<PodProcess>;
}

/** What happened to a pod process: how it ended and whether the fake (not the process) ended it. */
export interface PodRecord {
  podName: string;
  jobName: string;
  ip: string;
  exit?: { code: number | null; signal: string | null };
  /** The fake signalled it: its Job was deleted, or the test disrupted it. */
  killedBy?: 'job-deleted' | 'disruption';
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

/** One page of `all` from the `continue` token (an offset here), `limit` items long. */
function page<T>(all: T[], query: URLSearchParams): { items: T[]; next: string | undefined } {
  const offset = Number(query.get('continue') || 0);
  const limit = Number(query.get('limit') || all.length || 1);
  const items = all.slice(offset, offset + limit);
  return { items, next: offset + limit < all.length ? String(offset + limit) : undefined };
}

export class FakeKubernetes {
  readonly jobs = new Map<string, V1Job>();
  readonly pods = new Map<string, V1Pod>();
  readonly claims = new Map<string, V1PersistentVolumeClaim>();
  readonly requests: FakeRequest[] = [];
  /** Every pod process started, in order. */
  readonly podRecords: PodRecord[] = [];
  /** Jobs that completed (exit 0 of their pod), even if deleted since. */
  readonly completed = new Set<string>();
  /** Status codes to answer the next requests with (500, 403...), consumed in order. */
  readonly failures: number[] = [];
  private readonly options: FakeKubernetesOptions;
  private readonly processes = new Map<string, { process: PodProcess; record: PodRecord }>();
  private readonly claimDirs = new Map<string, string>();
  private readonly root = mkdtempSync(join(tmpdir(), 'gengap-fake-k8s-'));
  private server: Server | undefined;
  private uid = 0;
  private nextIp = 2;
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
    for (const { process } of this.processes.values()) process.kill('SIGKILL');
    await Promise.all([...this.processes.values()].map(({ process }) => process.exited));
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()));
    rmSync(this.root, { recursive: true, force: true });
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

  /** The folder standing for the volume of claim `name` (the current claim of that name). */
  claimDir(name: string): string {
    const uid = this.claims.get(name)?.metadata?.uid;
    const dir = uid ? this.claimDirs.get(uid) : undefined;
    if (!dir) throw new Error(`no PersistentVolumeClaim ${name}`);
    return dir;
  }

  /** Every folder that claims of this name had (oldest first), deleted claims included. */
  claimDirsOf(name: string): string[] {
    return [...this.claimDirs.entries()].filter(([uid]) => uid.startsWith(`${name}/`)).map(([, dir]) => dir);
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
    const deleted: [number, unknown] = [
      200,
      { kind: 'Status', apiVersion: 'v1', status: 'Success', metadata: {} },
    ];
    const jobs = /^\/apis\/batch\/v1\/namespaces\/([^/]+)\/jobs(?:\/([^/]+))?$/.exec(url.pathname);
    if (jobs) {
      const name = jobs[2];
      if (method === 'POST' && !name) return this.createJob(JSON.parse(body) as V1Job);
      if (method === 'GET' && !name) return [200, this.listJobs(url.searchParams)];
      const job = name ? this.jobs.get(name) : undefined;
      if (!name || !job) return notFound(`jobs.batch "${name}"`);
      if (method === 'GET') return [200, job];
      if (method === 'DELETE') {
        this.deleteJob(name);
        return deleted;
      }
    }
    const claims = /^\/api\/v1\/namespaces\/([^/]+)\/persistentvolumeclaims(?:\/([^/]+))?$/.exec(
      url.pathname,
    );
    if (claims) {
      const name = claims[2];
      if (method === 'POST' && !name) return this.createClaim(JSON.parse(body) as V1PersistentVolumeClaim);
      if (method === 'GET' && !name) {
        const all = [...this.claims.values()].filter((c) =>
          matches(c.metadata?.labels, url.searchParams.get('labelSelector')),
        );
        const { items, next } = page(all, url.searchParams);
        const metadata = next ? { continue: next } : {};
        return [200, { kind: 'PersistentVolumeClaimList', apiVersion: 'v1', metadata, items }];
      }
      const claim = name ? this.claims.get(name) : undefined;
      if (!name || !claim) return notFound(`persistentvolumeclaims "${name}"`);
      if (method === 'GET') return [200, claim];
      if (method === 'DELETE') {
        this.claims.delete(name);
        return deleted;
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
    this.createPod(stored);
    return [201, stored];
  }

  /** A new pod of the Job (the first, or a replacement), started when pods are processes. */
  private createPod(job: V1Job): void {
    const name = job.metadata?.name ?? '';
    const podName = `${name}-${++this.uid}`;
    this.pods.set(podName, {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: podName, labels: { ...job.spec?.template.metadata?.labels, 'job-name': name } },
      spec: job.spec?.template.spec,
      status: { phase: 'Pending' },
    } as V1Pod);
    if (this.options.runPod) void this.startPod(job, podName);
    else if (this.options.autoReady) this.setPodReady(name, this.options.podIP ?? '127.0.0.1');
  }

  private async startPod(job: V1Job, podName: string): Promise<void> {
    const jobName = job.metadata?.name ?? '';
    const spec = job.spec?.template.spec as V1PodSpec;
    // Like kubelet, a pod waits (Pending) for the claims it mounts: the executor creates the Job
    // first and its state claim right after, so the claim does not exist yet when the pod is made.
    const claimNames = (spec.volumes ?? []).flatMap((v) =>
      v.persistentVolumeClaim ? [v.persistentVolumeClaim.claimName] : [],
    );
    while (!claimNames.every((c) => this.claims.has(c))) {
      if (!this.pods.has(podName) || !this.server?.listening) return; // deleted while Pending
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    const ip = `127.0.0.${this.nextIp++}`;
    const record: PodRecord = { podName, jobName, ip };
    this.podRecords.push(record);
    const process = await (this.options.runPod as NonNullable<FakeKubernetesOptions['runPod']>)({
      podName,
      jobName,
      ip,
      spec,
      claimDir: (claim) => this.claimDir(claim),
    });
    this.processes.set(podName, { process, record });
    const pod = this.pods.get(podName);
    if (!pod)
      process.kill('SIGTERM'); // its Job was deleted while it started
    else if (process.alive())
      pod.status = { phase: 'Running', podIP: ip, conditions: [{ type: 'Ready', status: 'True' }] };
    void process.exited.then((exit) => this.podExited(job, podName, record, exit));
  }

  /** The Job controller's view of a pod that ended. */
  private podExited(job: V1Job, podName: string, record: PodRecord, exit: PodRecord['exit']): void {
    record.exit = exit;
    this.processes.delete(podName);
    const pod = this.pods.get(podName);
    const name = job.metadata?.name ?? '';
    const current = this.jobs.get(name);
    if (!pod || !current || current.metadata?.uid !== job.metadata?.uid) return; // deleted with its Job
    const code = exit?.code ?? 137;
    if (code === 0) {
      pod.status = { phase: 'Succeeded' };
      const done: V1JobCondition[] = [
        { type: 'SuccessCriteriaMet', status: 'True' },
        { type: 'Complete', status: 'True' },
      ];
      current.status = { active: 0, succeeded: 1, conditions: done, completionTime: new Date() };
      this.completed.add(name);
      return;
    }
    const disrupted = record.killedBy === 'disruption';
    pod.status = {
      phase: 'Failed',
      conditions: disrupted
        ? [{ type: 'DisruptionTarget', status: 'True', reason: 'EvictionByEvictionAPI' }]
        : [],
    };
    const failJob = (current.spec?.podFailurePolicy?.rules ?? []).findIndex(
      (r) =>
        r.action === 'FailJob' && r.onExitCodes?.operator === 'In' && r.onExitCodes.values.includes(code),
    );
    if (disrupted) {
      this.createPod(current);
      return;
    }
    if (failJob >= 0) {
      // The Job controller's wording (pkg/controller/job/pod_failure_policy.go).
      this.failJob(
        name,
        'PodFailurePolicy',
        `Container trainer for pod ${current.metadata?.namespace}/${podName} failed with exit code ${code} matching FailJob rule at index ${failJob}`,
      );
      return;
    }
    const failed = (current.status?.failed ?? 0) + 1;
    current.status = { ...current.status, failed };
    if (failed > (current.spec?.backoffLimit ?? 6))
      this.failJob(name, 'BackoffLimitExceeded', 'Job has reached the specified backoff limit');
    else this.createPod(current);
  }

  /** Deletes a Job, its pods (their processes get SIGTERM) and the claims it owns. */
  private deleteJob(name: string): void {
    const uid = this.jobs.get(name)?.metadata?.uid;
    this.jobs.delete(name);
    for (const [podName, pod] of this.pods) {
      if (pod.metadata?.labels?.['job-name'] !== name) continue;
      this.pods.delete(podName);
      const running = this.processes.get(podName);
      if (running) {
        running.record.killedBy ??= 'job-deleted';
        running.process.kill('SIGTERM');
      }
    }
    for (const [claimName, claim] of this.claims)
      if ((claim.metadata?.ownerReferences ?? []).some((r) => r.uid === uid)) this.claims.delete(claimName);
  }

  private createClaim(claim: V1PersistentVolumeClaim): [number, unknown] {
    const name = claim.metadata?.name ?? '';
    if (this.claims.has(name))
      return [409, status(409, 'AlreadyExists', `persistentvolumeclaims "${name}" already exists`)];
    const uid = `${name}/uid-${++this.uid}`;
    const dir = join(this.root, `claim-${this.uid}`);
    mkdirSync(dir, { recursive: true });
    this.claimDirs.set(uid, dir);
    const stored: V1PersistentVolumeClaim = {
      ...claim,
      metadata: { ...claim.metadata, uid, creationTimestamp: new Date() },
      status: { phase: 'Bound' },
    };
    this.claims.set(name, stored);
    return [201, stored];
  }

  private listJobs(query: URLSearchParams): unknown {
    const all = [...this.jobs.values()].filter((j) =>
      matches(j.metadata?.labels, query.get('labelSelector')),
    );
    const { items, next } = page(all, query);
    return { kind: 'JobList', apiVersion: 'batch/v1', metadata: next ? { continue: next } : {}, items };
  }

  /** Makes the Job's pod Running and Ready at `ip`. */
  setPodReady(jobName: string, ip: string): void {
    for (const pod of this.pods.values()) {
      if (pod.metadata?.labels?.['job-name'] !== jobName) continue;
      pod.status = { phase: 'Running', podIP: ip, conditions: [{ type: 'Ready', status: 'True' }] };
    }
  }

  /** Marks the Job complete and its pod Succeeded, as the Job controller would after exit 0. */
  completeJob(jobName: string): void {
    const job = this.jobs.get(jobName);
    if (!job) throw new Error(`no job ${jobName}`);
    for (const pod of this.pods.values())
      if (pod.metadata?.labels?.['job-name'] === jobName) pod.status = { phase: 'Succeeded' };
    job.status = {
      active: 0,
      succeeded: 1,
      conditions: [
        { type: 'SuccessCriteriaMet', status: 'True' },
        { type: 'Complete', status: 'True' },
      ],
    };
    this.completed.add(jobName);
  }

  /** Evicts the running pod of a Job (a node drain): SIGKILL, then a replacement pod. */
  disruptPod(jobName: string): PodRecord {
    for (const [podName, { process, record }] of this.processes) {
      if (record.jobName !== jobName) continue;
      record.killedBy = 'disruption';
      const pod = this.pods.get(podName);
      if (pod) pod.status = { ...pod.status, conditions: [{ type: 'Ready', status: 'False' }] };
      process.kill('SIGKILL');
      return record;
    }
    throw new Error(`no running pod of Job ${jobName}`);
  }

  /** Marks the Job failed, as the Job controller would. */
  failJob(jobName: string, reason: string, message: string): void {
    const job = this.jobs.get(jobName);
    if (!job) throw new Error(`no job ${jobName}`);
    const condition: V1JobCondition = { type: 'Failed', status: 'True', reason, message };
    job.status = { ...job.status, active: 0, failed: 1, conditions: [condition] };
  }
}
