// The Kubernetes executor: each training attempt runs in its own batch/v1 Job whose pod is a trainer
// service; the coordinator starts the run on that pod (StartRun with the attempt's idempotency key)
// and follows it like any trainer's. Kubernetes Jobs are at-least-once, so everything is idempotent:
//  - the Job's name is derived from (experiment, cell, attempt): creating it again answers 409
//    AlreadyExists, which counts as success, and a restarted coordinator finds the same Job;
//  - the trainer's state (its run database and checkpoints) lives on a PersistentVolumeClaim of the
//    attempt, named after the Job and owned by it (ownerReference), created right after the Job with
//    the same rules (409 counts as created when the claim is this Job's). A pod replaced mid-run
//    (node drain, preemption, a crash) mounts the same claim, and its trainer resumes the run from
//    the last checkpoint at start-up; deleting the Job deletes the claim (garbage collection);
//  - at start-up the coordinator re-lists its Jobs and claims by label and deletes those of finished
//    attempts;
//  - podFailurePolicy fails the Job at once on the trainer's configuration exit code (deterministic)
//    and on its failed-run exit code, and ignores pod disruptions (node drains, preemption), which
//    do not count against backoffLimit.
// The coordinator deletes the Job once it has read the run's outcome. The trainer runs with
// GENGAP_TRAINER_EXIT_AFTER_RUN, so should the coordinator be away then, the pod still ends after
// the trainer's grace period (0: the run succeeded, the Job completes; 3: it failed, the Job fails)
// instead of holding its node forever. A Job that ended this way before the coordinator read the
// outcome is a transient failure of the attempt: the outcome is gone with the trainer.
//
// Why a claim per attempt rather than one shared ReadWriteMany volume with a subPath per run: any
// cluster can provision ReadWriteOnce volumes (kind, minikube and most cloud default classes have no
// ReadWriteMany), the volume's life is tied to the Job by the API server's garbage collector instead
// of a clean-up of our own, runs cannot see or fill each other's storage, and kubelet-created subPath
// folders are root-owned (the trainer runs as uid 65534). The price: one volume provisioned per
// attempt (seconds with WaitForFirstConsumer) and RBAC on persistentvolumeclaims.

import { readFileSync } from 'node:fs';
import { serviceNames } from '@gengap/proto';
import { ConfigError, EXIT_CONFIG, EXIT_RUN_FAILED, type Logger } from '@gengap/service-kit';
import {
  type BatchV1Api,
  BatchV1Api as BatchV1ApiClass,
  type CoreV1Api,
  CoreV1Api as CoreV1ApiClass,
  KubeConfig,
  type V1EnvVar,
  type V1Job,
  type V1PersistentVolumeClaim,
  type V1Pod,
  type V1Volume,
  type V1VolumeMount,
} from '@kubernetes/client-node';
import { RpcCode, sleep } from '../orchestration/failures.ts';
import { hashText } from '../spec/canonical.ts';
import type { AttemptOutcome, AttemptRef, Executor, InfraFailure, Placement } from './executor.ts';
import { containerResources, type RequestLimit } from './resources.ts';

export const KUBERNETES_EXECUTOR = 'kubernetes';
export const MANAGED_BY = 'gengap-coordinator';
export const LABELS = {
  managedBy: 'app.kubernetes.io/managed-by',
  name: 'app.kubernetes.io/name',
  component: 'app.kubernetes.io/component',
  partOf: 'app.kubernetes.io/part-of',
  experiment: 'gengap.dev/experiment',
  cell: 'gengap.dev/cell',
  attempt: 'gengap.dev/attempt',
} as const;

/** The component label of Job pods: the NetworkPolicies select GenGap's pods by component. */
export const JOB_POD_COMPONENT = 'trainer-run';

/**
 * The image the build tags for the trainer (deploy/docker/build-images.ts: "gengap/" + target + ":"
 * + the root package.json's version). The version is read from the same package.json: the repository
 * root here, /app/package.json in an image (stage-app.ts writes it with the root's version), both four
 * levels above this file. Undefined when it cannot be read; GENGAP_K8S_TRAINER_IMAGE is then required.
 */
export function defaultTrainerImage(): string | undefined {
  try {
    const manifest = new URL('../../../../package.json', import.meta.url);
    const { version } = JSON.parse(readFileSync(manifest, 'utf8')) as { version?: unknown };
    return typeof version === 'string' && version ? `gengap/trainer:${version}` : undefined;
  } catch {
    return undefined;
  }
}

export interface KubernetesExecutorOptions {
  namespace: string;
  image: string;
  /** The trainer's gRPC port inside the pod. */
  grpcPort: number;
  serviceAccountName?: string;
  /** Environment of the trainer container (data and analysis addresses...). */
  env: Record<string, string>;
  /** Exit code with which the trainer reports a deterministic failure; the Job then fails at once. */
  deterministicExitCode: number;
  /**
   * Exit code of a trainer (GENGAP_TRAINER_EXIT_AFTER_RUN) whose run failed: the Job fails at once,
   * as a new pod would only find the same ended run (service-kit's EXIT_RUN_FAILED).
   */
  runFailedExitCode: number;
  /** Pod failures (other than disruptions) tolerated before the Job fails. */
  backoffLimit: number;
  /** CPU and memory of the trainer container (requests and limits). */
  cpu: RequestLimit;
  memory: RequestLimit;
  /** Whole NVIDIA GPUs per Job pod (the nvidia.com/gpu limit); 0 asks for none. */
  gpus: number;
  /** Size of each attempt's state claim, and its storage class (unset: the cluster's default). */
  storageSize: string;
  storageClassName?: string;
  pollIntervalMs: number;
  /** How long to wait for the pod to become ready before the attempt counts as failed. */
  podReadyTimeoutMs: number;
  /** Jobs per page when re-listing. */
  listPageSize: number;
  /**
   * Secrets that make a Job's trainer as secure as the trainer Deployment of the `secure` overlay:
   * `tlsSecret` (tls.crt, tls.key, ca.crt) for TLS on its port and on its calls to data and analysis;
   * `authSecret` (tokens, outbound-token) for bearer tokens both ways. Mounted read-only at the
   * same paths as the overlay's. Unset: plaintext, no tokens (as the base manifests).
   */
  tlsSecret?: string;
  authSecret?: string;
}

/** Where Job pods find the Secrets' files: the same paths as deploy/k8s/overlays/secure. */
const TLS_DIR = '/etc/gengap/tls';
const AUTH_DIR = '/etc/gengap/auth';

export const defaultKubernetesOptions: Omit<KubernetesExecutorOptions, 'namespace' | 'image' | 'env'> = {
  grpcPort: 8080,
  deterministicExitCode: EXIT_CONFIG,
  runFailedExitCode: EXIT_RUN_FAILED,
  backoffLimit: 2,
  // As the trainer Deployment: a core guaranteed, up to four; 2 GiB guaranteed, up to 8.
  cpu: { request: '1', limit: '4' },
  memory: { request: '2Gi', limit: '8Gi' },
  gpus: 0,
  storageSize: '5Gi',
  pollIntervalMs: 1000,
  podReadyTimeoutMs: 10 * 60_000,
  listPageSize: 500,
};

/** The volumes, mounts and variables that carry a Job pod's TLS and token Secrets (none unset). */
function jobSecurity(o: Pick<KubernetesExecutorOptions, 'tlsSecret' | 'authSecret'>): {
  env: Record<string, string>;
  secretEnv: V1EnvVar[];
  volumes: V1Volume[];
  mounts: V1VolumeMount[];
} {
  const out = {
    env: {} as Record<string, string>,
    secretEnv: [] as V1EnvVar[],
    volumes: [] as V1Volume[],
    mounts: [] as V1VolumeMount[],
  };
  if (o.tlsSecret) {
    out.volumes.push({ name: 'tls', secret: { secretName: o.tlsSecret, defaultMode: 0o440 } });
    out.mounts.push({ name: 'tls', mountPath: TLS_DIR, readOnly: true });
    out.env.GENGAP_TLS_CERT = `${TLS_DIR}/tls.crt`;
    out.env.GENGAP_TLS_KEY = `${TLS_DIR}/tls.key`;
    out.env.GENGAP_TLS_CA = `${TLS_DIR}/ca.crt`;
  }
  if (o.authSecret) {
    out.volumes.push({
      name: 'auth',
      secret: { secretName: o.authSecret, defaultMode: 0o440, items: [{ key: 'tokens', path: 'tokens' }] },
    });
    out.mounts.push({ name: 'auth', mountPath: AUTH_DIR, readOnly: true });
    out.env.GENGAP_AUTH_TOKENS = `@${AUTH_DIR}/tokens`;
    // It listens on 0.0.0.0: with tokens it must not be allowed to start without them.
    out.env.GENGAP_ALLOW_INSECURE = 'false';
    // The variable takes a value, not a file: from the Secret, never written into the Job.
    out.secretEnv.push({
      name: 'GENGAP_OUTBOUND_TOKEN',
      valueFrom: { secretKeyRef: { name: o.authSecret, key: 'outbound-token' } },
    });
  }
  return out;
}

/** Deterministic, DNS-1123 Job name of an attempt (at most 63 characters). */
export function jobNameOf(ref: Pick<AttemptRef, 'experimentId' | 'cellId' | 'attempt'>): string {
  return `gg-${hashText(ref.experimentId, 12)}-${ref.cellId
    .toLowerCase()
    .replace(/[^a-z0-9]/g, '')
    .slice(0, 16)}-a${ref.attempt}`;
}

/** Deterministic name of an attempt's state claim (the Job's name, suffixed). */
export function claimNameOf(ref: Pick<AttemptRef, 'experimentId' | 'cellId' | 'attempt'>): string {
  return `${jobNameOf(ref)}-state`;
}

/** Where the trainer keeps its run database and checkpoints in a Job pod (GENGAP_STATE_DIR). */
export const JOB_STATE_DIR = '/var/lib/gengap';

const statusCode = (err: unknown) => (err as { code?: unknown })?.code;

/** Kubernetes API errors in the orchestration's terms: 5xx and network trouble are transient. */
function apiError(err: unknown, what: string): Error {
  const code = statusCode(err);
  const transient = typeof code !== 'number' || code >= 500 || code === 429 || code === 408;
  return Object.assign(new Error(`Kubernetes API: ${what}: ${(err as Error)?.message ?? String(err)}`), {
    code: transient
      ? RpcCode.UNAVAILABLE
      : code === 403
        ? RpcCode.PERMISSION_DENIED
        : RpcCode.FAILED_PRECONDITION,
  });
}

export class KubernetesExecutor implements Executor {
  readonly name = KUBERNETES_EXECUTOR;
  private readonly batch: BatchV1Api;
  private readonly core: CoreV1Api;
  private readonly options: KubernetesExecutorOptions;
  private readonly log: Logger;

  constructor(kubeConfig: KubeConfig, options: KubernetesExecutorOptions, log: Logger) {
    this.batch = kubeConfig.makeApiClient(BatchV1ApiClass);
    this.core = kubeConfig.makeApiClient(CoreV1ApiClass);
    this.options = options;
    this.log = log.child({ executor: KUBERNETES_EXECUTOR });
  }

  /** The labels of an attempt's Job, its pods and its claim. */
  private labelsOf(ref: AttemptRef): Record<string, string> {
    return {
      [LABELS.managedBy]: MANAGED_BY,
      [LABELS.name]: 'gengap-trainer-run',
      [LABELS.component]: JOB_POD_COMPONENT,
      [LABELS.partOf]: 'gengap',
      [LABELS.experiment]: ref.experimentId.slice(0, 63),
      [LABELS.cell]: ref.cellId.slice(0, 63),
      [LABELS.attempt]: String(ref.attempt),
    };
  }

  /** The Job of an attempt, as the coordinator creates it. */
  jobFor(ref: AttemptRef): V1Job {
    const o = this.options;
    const name = jobNameOf(ref);
    const labels = this.labelsOf(ref);
    const env: Record<string, string> = {
      ...o.env,
      GENGAP_HOST: '0.0.0.0',
      GENGAP_PORT: String(o.grpcPort),
      GENGAP_STATE_DIR: JOB_STATE_DIR,
      // The pod ends with its run, so the Job completes (or fails) by itself.
      GENGAP_TRAINER_EXIT_AFTER_RUN: 'true',
    };
    const security = jobSecurity(o);
    Object.assign(env, security.env);
    return {
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: {
        name,
        namespace: o.namespace,
        labels,
        annotations: { 'gengap.dev/idempotency-key': ref.idempotencyKey },
      },
      spec: {
        backoffLimit: o.backoffLimit,
        podReplacementPolicy: 'Failed',
        ttlSecondsAfterFinished: 3600,
        podFailurePolicy: {
          rules: [
            // The trainer exits with this code on a configuration it can never run: no retry.
            {
              action: 'FailJob',
              onExitCodes: { containerName: 'trainer', operator: 'In', values: [o.deterministicExitCode] },
            },
            // The trainer's run ended FAILED or CANCELLED and it exited: a new pod would find the same.
            {
              action: 'FailJob',
              onExitCodes: { containerName: 'trainer', operator: 'In', values: [o.runFailedExitCode] },
            },
            // Evictions, preemption, node drains: not the run's fault, not counted.
            { action: 'Ignore', onPodConditions: [{ type: 'DisruptionTarget', status: 'True' }] },
          ],
        },
        template: {
          metadata: { labels },
          spec: {
            restartPolicy: 'Never',
            automountServiceAccountToken: false,
            enableServiceLinks: false,
            ...(o.serviceAccountName ? { serviceAccountName: o.serviceAccountName } : {}),
            securityContext: {
              runAsNonRoot: true,
              runAsUser: 65534,
              runAsGroup: 65534,
              // The state claim's volume is writable by the trainer's group.
              fsGroup: 65534,
              fsGroupChangePolicy: 'OnRootMismatch',
              seccompProfile: { type: 'RuntimeDefault' },
            },
            // GPU nodes are usually tainted; the nvidia.com/gpu limit already keeps the pod off others.
            ...(o.gpus > 0
              ? { tolerations: [{ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' }] }
              : {}),
            containers: [
              {
                name: 'trainer',
                image: o.image,
                env: [
                  ...Object.entries(env).map(([n, value]) => ({ name: n, value })),
                  ...security.secretEnv,
                ],
                ports: [{ name: 'grpc', containerPort: o.grpcPort }],
                // Kubelet's gRPC probe cannot speak TLS: with TLS, a TCP check of the port.
                readinessProbe: o.tlsSecret
                  ? { tcpSocket: { port: o.grpcPort }, periodSeconds: 2 }
                  : { grpc: { port: o.grpcPort, service: serviceNames.trainer }, periodSeconds: 2 },
                resources: containerResources(o.cpu, o.memory, o.gpus),
                securityContext: {
                  allowPrivilegeEscalation: false,
                  readOnlyRootFilesystem: true,
                  capabilities: { drop: ['ALL'] },
                },
                volumeMounts: [
                  { name: 'state', mountPath: JOB_STATE_DIR },
                  { name: 'tmp', mountPath: '/tmp' },
                  ...security.mounts,
                ],
              },
            ],
            volumes: [
              // Survives the pod: a replacement pod resumes the run from its checkpoints.
              { name: 'state', persistentVolumeClaim: { claimName: claimNameOf(ref) } },
              { name: 'tmp', emptyDir: { sizeLimit: '2Gi' } },
              ...security.volumes,
            ],
          },
        },
      },
    };
  }

  /** The state claim of an attempt, owned by its Job (`jobUid`), as the coordinator creates it. */
  claimFor(ref: AttemptRef, jobUid: string): V1PersistentVolumeClaim {
    const o = this.options;
    return {
      apiVersion: 'v1',
      kind: 'PersistentVolumeClaim',
      metadata: {
        name: claimNameOf(ref),
        namespace: o.namespace,
        labels: this.labelsOf(ref),
        // Garbage-collected with the Job. No blockOwnerDeletion: that would need the jobs/finalizers
        // permission, and nothing has to wait for the claim when the Job goes.
        ownerReferences: [{ apiVersion: 'batch/v1', kind: 'Job', name: jobNameOf(ref), uid: jobUid }],
      },
      spec: {
        accessModes: ['ReadWriteOnce'],
        resources: { requests: { storage: o.storageSize } },
        ...(o.storageClassName ? { storageClassName: o.storageClassName } : {}),
      },
    };
  }

  /**
   * Creates the attempt's Job unless it exists (409 AlreadyExists counts as created), and returns it
   * (an existing one is read back: its uid owns the state claim).
   */
  async ensureJob(ref: AttemptRef): Promise<{ created: boolean; job: V1Job }> {
    const name = jobNameOf(ref);
    try {
      const job = await this.batch.createNamespacedJob({
        namespace: this.options.namespace,
        body: this.jobFor(ref),
      });
      return { created: true, job };
    } catch (err) {
      if (statusCode(err) !== 409) throw apiError(err, `create Job ${name}`);
    }
    const job = await this.readJob(name);
    if (!job)
      throw Object.assign(new Error(`Job ${name} was deleted while it was being created`), {
        code: RpcCode.UNAVAILABLE,
      });
    return { created: false, job };
  }

  /**
   * Creates the attempt's state claim, owned by `job`, unless it exists. An existing claim counts as
   * created when `job` owns it. One owned by another Job of the same name (deleted and created again)
   * is being garbage-collected with its data: a transient error, retried until it is gone.
   */
  async ensureClaim(ref: AttemptRef, job: V1Job): Promise<{ created: boolean }> {
    const name = claimNameOf(ref);
    const uid = job.metadata?.uid;
    if (!uid) throw new Error(`Job ${jobNameOf(ref)} has no uid`);
    try {
      await this.core.createNamespacedPersistentVolumeClaim({
        namespace: this.options.namespace,
        body: this.claimFor(ref, uid),
      });
      return { created: true };
    } catch (err) {
      if (statusCode(err) !== 409) throw apiError(err, `create PersistentVolumeClaim ${name}`);
    }
    let existing: V1PersistentVolumeClaim;
    try {
      existing = await this.core.readNamespacedPersistentVolumeClaim({
        name,
        namespace: this.options.namespace,
      });
    } catch (err) {
      throw apiError(err, `read PersistentVolumeClaim ${name}`);
    }
    const owners = existing.metadata?.ownerReferences ?? [];
    if (!existing.metadata?.deletionTimestamp && owners.some((r) => r.kind === 'Job' && r.uid === uid))
      return { created: false };
    throw Object.assign(
      new Error(
        `PersistentVolumeClaim ${name} belongs to an earlier Job ${jobNameOf(ref)} and is being deleted`,
      ),
      { code: RpcCode.UNAVAILABLE },
    );
  }

  async readJob(name: string): Promise<V1Job | undefined> {
    try {
      return await this.batch.readNamespacedJob({ name, namespace: this.options.namespace });
    } catch (err) {
      if (statusCode(err) === 404) return undefined;
      throw apiError(err, `read Job ${name}`);
    }
  }

  private async readyPod(jobName: string): Promise<V1Pod | undefined> {
    let pods: V1Pod[];
    try {
      pods = (
        await this.core.listNamespacedPod({
          namespace: this.options.namespace,
          labelSelector: `job-name=${jobName}`,
        })
      ).items;
    } catch (err) {
      throw apiError(err, `list pods of Job ${jobName}`);
    }
    return pods.find(
      (p) =>
        p.status?.phase === 'Running' &&
        p.status.podIP &&
        !p.metadata?.deletionTimestamp &&
        (p.status.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True'),
    );
  }

  async place(ref: AttemptRef, _previous: Placement | undefined, signal: AbortSignal): Promise<Placement> {
    const jobName = jobNameOf(ref);
    const { created, job } = await this.ensureJob(ref);
    if (created) this.log.info({ jobName, ...ref }, 'job created');
    // Every time: a coordinator that stopped between the two creates makes the claim now.
    const claim = await this.ensureClaim(ref, job);
    if (claim.created) this.log.info({ jobName, claim: claimNameOf(ref) }, 'state claim created');
    const deadline = Date.now() + this.options.podReadyTimeoutMs;
    for (;;) {
      const failure = this.failureOf(await this.readJob(jobName), jobName);
      // A failed Job has no pod to talk to; check() reports why.
      if (failure) return { executor: this.name, jobName, trainerAddress: '' };
      const pod = await this.readyPod(jobName);
      if (pod?.status?.podIP)
        return {
          executor: this.name,
          jobName,
          trainerAddress: `${pod.status.podIP}:${this.options.grpcPort}`,
        };
      if (Date.now() > deadline)
        throw Object.assign(
          new Error(`the pod of Job ${jobName} was not ready within ${this.options.podReadyTimeoutMs} ms`),
          {
            code: RpcCode.DEADLINE_EXCEEDED,
          },
        );
      await sleep(this.options.pollIntervalMs, signal);
    }
  }

  /** The failure a Job reports, if it failed. */
  failureOf(job: V1Job | undefined, jobName: string): InfraFailure | undefined {
    if (!job)
      return {
        kind: 'transient',
        failure: { code: RpcCode.NOT_FOUND, message: `Job ${jobName} disappeared` },
      };
    const conditions = job.status?.conditions ?? [];
    if (conditions.some((c) => c.type === 'Complete' && c.status === 'True'))
      return {
        kind: 'transient',
        failure: {
          code: RpcCode.UNAVAILABLE,
          message: `Job ${jobName} completed (its trainer exited after the run) before the run's outcome was read`,
        },
      };
    const failed = conditions.find((c) => c.type === 'Failed' && c.status === 'True');
    if (!failed) return undefined;
    // The Job controller's message names the exit code ("... failed with exit code 3 matching
    // FailJob rule at index 1"): a failed run whose outcome nobody read is worth another attempt.
    const exitCode = /exit code (\d+)/.exec(failed.message ?? '')?.[1];
    const runFailed =
      failed.reason === 'PodFailurePolicy' && Number(exitCode) === this.options.runFailedExitCode;
    const deterministic = failed.reason === 'PodFailurePolicy' && !runFailed;
    return {
      kind: deterministic ? 'deterministic' : 'transient',
      failure: {
        code: deterministic ? RpcCode.FAILED_PRECONDITION : RpcCode.UNAVAILABLE,
        message: `Job ${jobName} failed (${failed.reason ?? 'no reason'}): ${failed.message ?? ''}`.trim(),
      },
    };
  }

  async check(ref: AttemptRef, placement: Placement): Promise<InfraFailure | undefined> {
    const jobName = placement.jobName ?? jobNameOf(ref);
    return this.failureOf(await this.readJob(jobName), jobName);
  }

  async release(ref: AttemptRef, placement: Placement, outcome: AttemptOutcome): Promise<void> {
    const name = placement.jobName ?? jobNameOf(ref);
    await this.deleteJob(name);
    this.log.info({ jobName: name, outcome }, 'job deleted');
  }

  async deleteJob(name: string): Promise<void> {
    try {
      await this.batch.deleteNamespacedJob({
        name,
        namespace: this.options.namespace,
        propagationPolicy: 'Background',
      });
    } catch (err) {
      if (statusCode(err) !== 404) throw apiError(err, `delete Job ${name}`);
    }
  }

  /** Every Job this coordinator created, by label (what a restarted coordinator re-lists). */
  async listJobs(): Promise<V1Job[]> {
    const jobs: V1Job[] = [];
    let token: string | undefined;
    do {
      let page: Awaited<ReturnType<BatchV1Api['listNamespacedJob']>>;
      try {
        page = await this.batch.listNamespacedJob({
          namespace: this.options.namespace,
          labelSelector: `${LABELS.managedBy}=${MANAGED_BY}`,
          limit: this.options.listPageSize,
          ...(token ? { _continue: token } : {}),
        });
      } catch (err) {
        throw apiError(err, 'list Jobs');
      }
      jobs.push(...page.items);
      token = page.metadata?._continue || undefined;
    } while (token);
    return jobs;
  }

  /** Every state claim this coordinator created, by label. */
  async listClaims(): Promise<V1PersistentVolumeClaim[]> {
    const claims: V1PersistentVolumeClaim[] = [];
    let token: string | undefined;
    do {
      let page: Awaited<ReturnType<CoreV1Api['listNamespacedPersistentVolumeClaim']>>;
      try {
        page = await this.core.listNamespacedPersistentVolumeClaim({
          namespace: this.options.namespace,
          labelSelector: `${LABELS.managedBy}=${MANAGED_BY}`,
          limit: this.options.listPageSize,
          ...(token ? { _continue: token } : {}),
        });
      } catch (err) {
        throw apiError(err, 'list PersistentVolumeClaims');
      }
      claims.push(...page.items);
      token = page.metadata?._continue || undefined;
    } while (token);
    return claims;
  }

  async deleteClaim(name: string): Promise<void> {
    try {
      await this.core.deleteNamespacedPersistentVolumeClaim({ name, namespace: this.options.namespace });
    } catch (err) {
      if (statusCode(err) !== 404) throw apiError(err, `delete PersistentVolumeClaim ${name}`);
    }
  }

  /**
   * Start-up reconciliation: re-lists the coordinator's Jobs and deletes those whose attempt is
   * over (the coordinator stopped between the run's end and the Job's deletion), then its state
   * claims: those of finished attempts go too (normally with their Job, by garbage collection; this
   * catches claims whose Job was never created or is gone). Live attempts keep their Jobs and
   * claims and find them again by name.
   */
  async reconcile(
    isLive: (experimentId: string, cellId: string, attempt: number) => boolean,
  ): Promise<{ kept: number; deleted: number; claimsDeleted: number }> {
    const liveOf = (labels: Record<string, string>) =>
      isLive(labels[LABELS.experiment] ?? '', labels[LABELS.cell] ?? '', Number(labels[LABELS.attempt] ?? 0));
    let kept = 0;
    let deleted = 0;
    let claimsDeleted = 0;
    for (const job of await this.listJobs()) {
      if (liveOf(job.metadata?.labels ?? {})) kept++;
      else if (job.metadata?.name) {
        await this.deleteJob(job.metadata.name);
        deleted++;
      }
    }
    for (const claim of await this.listClaims()) {
      if (liveOf(claim.metadata?.labels ?? {}) || !claim.metadata?.name || claim.metadata.deletionTimestamp)
        continue;
      await this.deleteClaim(claim.metadata.name);
      claimsDeleted++;
    }
    this.log.info({ kept, deleted, claimsDeleted }, 'reconciled jobs');
    return { kept, deleted, claimsDeleted };
  }

  async close(): Promise<void> {}
}

export interface KubernetesConfig {
  GENGAP_K8S_NAMESPACE: string;
  GENGAP_K8S_TRAINER_IMAGE?: string | undefined;
  GENGAP_K8S_SERVICE_ACCOUNT?: string | undefined;
  GENGAP_K8S_TRAINER_ENV?: Record<string, string> | undefined;
  GENGAP_K8S_JOB_CPU?: RequestLimit | undefined;
  GENGAP_K8S_JOB_MEMORY?: RequestLimit | undefined;
  GENGAP_K8S_JOB_GPUS?: number | undefined;
  GENGAP_K8S_JOB_STORAGE?: string | undefined;
  GENGAP_K8S_JOB_STORAGE_CLASS?: string | undefined;
  GENGAP_K8S_JOB_TLS_SECRET?: string | undefined;
  GENGAP_K8S_JOB_AUTH_SECRET?: string | undefined;
  GENGAP_DATA_ADDRESS: string;
  GENGAP_ANALYSIS_ADDRESS?: string | undefined;
}

/** The executor from the coordinator's config, with the in-cluster (or ~/.kube) credentials. */
export function createKubernetesExecutor(
  config: KubernetesConfig,
  log: Logger,
  kubeConfig?: KubeConfig,
): KubernetesExecutor {
  const image = config.GENGAP_K8S_TRAINER_IMAGE ?? defaultTrainerImage();
  if (!image)
    throw new ConfigError(
      'GENGAP_K8S_TRAINER_IMAGE',
      'is required (no package.json to take the default tag from)',
    );
  const kc = kubeConfig ?? new KubeConfig();
  if (!kubeConfig) kc.loadFromDefault();
  return new KubernetesExecutor(
    kc,
    {
      ...defaultKubernetesOptions,
      namespace: config.GENGAP_K8S_NAMESPACE,
      image,
      cpu: config.GENGAP_K8S_JOB_CPU ?? defaultKubernetesOptions.cpu,
      memory: config.GENGAP_K8S_JOB_MEMORY ?? defaultKubernetesOptions.memory,
      gpus: config.GENGAP_K8S_JOB_GPUS ?? defaultKubernetesOptions.gpus,
      storageSize: config.GENGAP_K8S_JOB_STORAGE ?? defaultKubernetesOptions.storageSize,
      ...(config.GENGAP_K8S_JOB_STORAGE_CLASS
        ? { storageClassName: config.GENGAP_K8S_JOB_STORAGE_CLASS }
        : {}),
      ...(config.GENGAP_K8S_SERVICE_ACCOUNT ? { serviceAccountName: config.GENGAP_K8S_SERVICE_ACCOUNT } : {}),
      ...(config.GENGAP_K8S_JOB_TLS_SECRET ? { tlsSecret: config.GENGAP_K8S_JOB_TLS_SECRET } : {}),
      ...(config.GENGAP_K8S_JOB_AUTH_SECRET ? { authSecret: config.GENGAP_K8S_JOB_AUTH_SECRET } : {}),
      env: {
        GENGAP_DATA_ADDRESS: config.GENGAP_DATA_ADDRESS,
        ...(config.GENGAP_ANALYSIS_ADDRESS
          ? { GENGAP_ANALYSIS_ADDRESS: config.GENGAP_ANALYSIS_ADDRESS }
          : {}),
        ...config.GENGAP_K8S_TRAINER_ENV,
      },
    },
    log,
  );
}
