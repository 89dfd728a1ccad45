// Valid base requests for every service, and a helper to encode any request of a method from a
// partial object (ts-proto's fromPartial), so tables can say "the base, with this field broken".
import * as analysisService from '@gengap/proto/analysis/v1/analysis_service';
import * as coordinatorService from '@gengap/proto/coordinator/v1/coordinator_service';
import * as dataService from '@gengap/proto/data/v1/data_service';
import * as trainerService from '@gengap/proto/trainer/v1/trainer_service';
import type { MethodDef, ServiceDef } from './probe.ts';

export const SERVICES = {
  data: { def: dataService.DataServiceService as unknown as ServiceDef, module: dataService },
  trainer: { def: trainerService.TrainerServiceService as unknown as ServiceDef, module: trainerService },
  analysis: { def: analysisService.AnalysisServiceService as unknown as ServiceDef, module: analysisService },
  coordinator: {
    def: coordinatorService.CoordinatorServiceService as unknown as ServiceDef,
    module: coordinatorService,
  },
} as const;

export type ServiceName = keyof typeof SERVICES;

interface MessageType {
  fromPartial(value: unknown): unknown;
  encode(value: unknown): { finish(): Uint8Array };
}

/** The request message type of a method (`createDataset` -> CreateDatasetRequest). */
export function requestType(service: ServiceName, method: string): MessageType {
  const name = `${method[0]?.toUpperCase()}${method.slice(1)}Request`;
  const type = (SERVICES[service].module as unknown as Record<string, MessageType>)[name];
  if (!type) throw new Error(`no ${name} in ${service}`);
  return type;
}

export function methodOf(service: ServiceName, method: string): MethodDef {
  const def = SERVICES[service].def[method];
  if (!def) throw new Error(`${service} has no method ${method}`);
  return def;
}

/** Encodes a partial request; undefined when the value cannot be encoded at all (e.g. uint32 -1). */
export function encodeRequest(
  service: ServiceName,
  method: string,
  partial: unknown,
): Uint8Array | undefined {
  const type = requestType(service, method);
  try {
    return type.encode(type.fromPartial(partial)).finish();
  } catch {
    return undefined;
  }
}

/** Deep copy with `path` (dot-separated; numeric parts index arrays) set to `value`. */
export function withField<T>(base: T, path: string, value: unknown): T {
  const copy = structuredClone(base) as Record<string, unknown>;
  const parts = path.split('.');
  let node: Record<string, unknown> = copy;
  for (const part of parts.slice(0, -1)) {
    node[part] ??= {};
    node = node[part] as Record<string, unknown>;
  }
  node[parts.at(-1) as string] = value;
  return copy as T;
}

export const gaussianSource = {
  $case: 'gaussianMixture',
  value: { numClasses: 3, dimension: 8, trainSize: 64, testSize: 32, separation: 4, clusterStd: 1 },
};

export function datasetSpec(): Record<string, unknown> {
  return { source: structuredClone(gaussianSource), corruptions: [], seed: 1 };
}

export function runSpec(datasetId: string): Record<string, unknown> {
  return {
    model: {
      inputShape: [8],
      numOutputs: 3,
      layers: [
        { name: '', kind: { $case: 'dense', value: { units: 16 } } },
        { name: '', kind: { $case: 'activation', value: { activation: 1 } } },
        { name: '', kind: { $case: 'dense', value: { units: 3 } } },
      ],
    },
    dataset: { datasetId },
    optimizer: { kind: 1, learningRate: 0.1 },
    batchSize: 16,
    stop: { maxEpochs: 1 },
    seed: 1,
    threads: 1,
  };
}

export function analysisSpec(runId: string): Record<string, unknown> {
  return {
    checkpoint: { source: { $case: 'run', value: { runId, step: 0 } } },
    numExamples: 32,
    threads: 1,
    kind: { $case: 'hessianEigen', value: { topK: 1, maxIterations: 5 } },
  };
}

export function experimentSpecJson(name: string): Record<string, unknown> {
  return {
    name,
    base: {
      dataset: {
        gaussianMixture: { numClasses: 3, dimension: 8, trainSize: 64, testSize: 32, separation: 4 },
        seed: 1,
      },
      run: {
        model: {
          inputShape: [8],
          numOutputs: 3,
          layers: [
            { dense: { units: 8 } },
            { activation: { activation: 'ACTIVATION_RELU' } },
            { dense: { units: 3 } },
          ],
        },
        optimizer: { kind: 'OPTIMIZER_KIND_SGD', learningRate: 0.1 },
        batchSize: 16,
        stop: { maxEpochs: 1 },
        threads: 1,
      },
    },
  };
}
