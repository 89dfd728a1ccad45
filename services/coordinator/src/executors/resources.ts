// Resources of the Kubernetes executor's Job pods from the coordinator's configuration:
//   GENGAP_K8S_JOB_CPU, GENGAP_K8S_JOB_MEMORY   "<request>" (limit = request) or "<request>,<limit>"
//   GENGAP_K8S_JOB_GPUS                         whole GPUs, set as the nvidia.com/gpu limit
// Quantities are Kubernetes quantities ("500m", "2", "2Gi"); a limit below its request is refused at
// start-up (the API server would refuse every Job instead).

/** Kubernetes quantity: a decimal number with an optional SI or binary suffix. */
const QUANTITY = /^([0-9]+(?:\.[0-9]+)?)(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$/;

const SCALE: Record<string, number> = {
  '': 1,
  m: 1e-3,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};

/** The value of a quantity in base units, or undefined when it is not one. */
export function quantityValue(text: string): number | undefined {
  const match = QUANTITY.exec(text);
  if (!match) return undefined;
  return Number(match[1]) * (SCALE[match[2] ?? ''] as number);
}

export interface RequestLimit {
  request: string;
  limit: string;
}

/** Parses "<request>" or "<request>,<limit>"; throws an Error saying what is wrong. */
export function parseRequestLimit(text: string): RequestLimit {
  const parts = text.split(',').map((p) => p.trim());
  if (parts.length > 2 || parts.some((p) => p === ''))
    throw new Error('must be "<request>" or "<request>,<limit>" (e.g. "1,4" or "2Gi,8Gi")');
  const [request, limit = request] = parts as [string, string?];
  for (const q of [request, limit])
    if (quantityValue(q) === undefined) throw new Error(`"${q}" is not a Kubernetes quantity`);
  if ((quantityValue(limit) as number) < (quantityValue(request) as number))
    throw new Error(`the limit ${limit} is below the request ${request}`);
  return { request, limit };
}

/** The resources block of a Job pod's container. */
export function containerResources(cpu: RequestLimit, memory: RequestLimit, gpus: number) {
  return {
    requests: { cpu: cpu.request, memory: memory.request },
    limits: {
      cpu: cpu.limit,
      memory: memory.limit,
      // Extended resources are limits only: Kubernetes sets the request to the same value.
      ...(gpus > 0 ? { 'nvidia.com/gpu': String(gpus) } : {}),
    },
  };
}
