// The coordinator's GENGAP_* settings (on top of service-kit's common ones), validated at start-up.
import { z } from 'zod';
import { parseRequestLimit, quantityValue } from './executors/resources.ts';

/** "<request>" or "<request>,<limit>" Kubernetes quantities (executors/resources.ts). */
/** A Kubernetes object name (DNS-1123 subdomain). */
const DNS_1123 = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;

const requestLimit = z.string().transform((s, ctx) => {
  try {
    return parseRequestLimit(s);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: (err as Error).message });
    return z.NEVER;
  }
});

const addressList = z.string().transform((s) =>
  s
    .split(',')
    .map((a) => a.trim())
    .filter(Boolean),
);

export const coordinatorConfigShape = {
  GENGAP_DATA_ADDRESS: z.string().min(1, { error: 'the data service address (host:port) is required' }),
  /** Trainer endpoints, comma-separated (GENGAP_TRAINER_ADDRESS is read when this is unset). */
  GENGAP_TRAINER_ADDRESSES: addressList.optional(),
  GENGAP_TRAINER_ADDRESS: z.string().optional(),
  GENGAP_ANALYSIS_ADDRESS: z.string().optional(),
  /** Training runs in flight at once across all trainers (experiments may ask for fewer). */
  GENGAP_MAX_CONCURRENT_RUNS: z.coerce.number().int().min(1).max(10_000).default(2),
  /** Experiments running at once; StartExperiment beyond this is RESOURCE_EXHAUSTED at once. */
  GENGAP_MAX_ACTIVE_EXPERIMENTS: z.coerce.number().int().min(1).max(100_000).default(64),
  GENGAP_EXECUTOR: z.enum(['trainer-service', 'kubernetes']).default('trainer-service'),
  /** Where reports are written (default: <GENGAP_STATE_DIR>/reports). */
  GENGAP_REPORTS_DIR: z.string().optional(),
  /** Loopback HTTP server for reports and the live experiment list; 0 picks a free port, -1 disables it. */
  GENGAP_HTTP_PORT: z.coerce.number().int().min(-1).max(65535).default(0),
  GENGAP_HTTP_HOST: z.string().min(1).default('127.0.0.1'),
  /** First retry delay and its cap (exponential backoff with jitter). */
  GENGAP_RETRY_BASE_MS: z.coerce.number().int().min(1).max(600_000).default(1000),
  GENGAP_RETRY_MAX_MS: z.coerce.number().int().min(1).max(3_600_000).default(30_000),
  /** How long a trainer (or the analysis service) may stay unreachable before an attempt counts as failed. */
  GENGAP_UNREACHABLE_BUDGET_MS: z.coerce.number().int().min(0).max(86_400_000).default(300_000),
  // Kubernetes executor.
  GENGAP_K8S_NAMESPACE: z.string().default('gengap'),
  /** Default: the tag deploy/docker/build-images.ts gives the trainer, gengap/trainer:<version>. */
  GENGAP_K8S_TRAINER_IMAGE: z.string().min(1).optional(),
  GENGAP_K8S_SERVICE_ACCOUNT: z.string().optional(),
  /** Extra environment for trainer pods, as a JSON object. */
  GENGAP_K8S_TRAINER_ENV: z
    .string()
    .transform((s, ctx) => {
      try {
        return z.record(z.string(), z.string()).parse(JSON.parse(s));
      } catch {
        ctx.addIssue({ code: 'custom', message: 'must be a JSON object of strings' });
        return z.NEVER;
      }
    })
    .optional(),
  /** CPU and memory of each Job pod: "<request>" or "<request>,<limit>" (default "1,4" and "2Gi,8Gi"). */
  GENGAP_K8S_JOB_CPU: requestLimit.optional(),
  GENGAP_K8S_JOB_MEMORY: requestLimit.optional(),
  /** NVIDIA GPUs per Job pod (the nvidia.com/gpu limit); 0 asks for none. */
  GENGAP_K8S_JOB_GPUS: z.coerce.number().int().min(0).max(64).default(0),
  /** Size of each Job's state claim (its checkpoints survive a replaced pod), and its storage class. */
  GENGAP_K8S_JOB_STORAGE: z
    .string()
    .refine((q) => (quantityValue(q) ?? 0) > 0, { error: 'must be a Kubernetes quantity such as 5Gi' })
    .optional(),
  GENGAP_K8S_JOB_STORAGE_CLASS: z.string().min(1).optional(),
  /**
   * Secrets mounted into Job pods so their trainers serve TLS and check tokens like the others
   * (deploy/k8s/overlays/secure sets both): tls.crt/tls.key/ca.crt, and tokens/outbound-token.
   */
  GENGAP_K8S_JOB_TLS_SECRET: z.string().regex(DNS_1123, 'must be a Secret name').optional(),
  GENGAP_K8S_JOB_AUTH_SECRET: z.string().regex(DNS_1123, 'must be a Secret name').optional(),
};
