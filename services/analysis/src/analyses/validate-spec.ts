// Checks of an AnalysisSpec common to every kind, then the kind's own validate(). Runs at
// StartAnalysis, before anything is stored: a bad spec is INVALID_ARGUMENT with its field path, a
// kind this service does not run (yet) is UNIMPLEMENTED naming it.
import type { AnalysisSpec } from '@gengap/proto/analysis/v1/analysis';
import { Device, Precision } from '@gengap/proto/common/v1/model';
import { Split } from '@gengap/proto/common/v1/refs';
import { GenGapError, InvalidArgumentError } from '@gengap/service-kit';
import { validateCheckpointRef } from './checks.ts';
import { type KindRegistry, protoFieldName } from './registry.ts';

/** google.rpc.Code UNIMPLEMENTED (domain code does not import grpc-js's enum). */
const UNIMPLEMENTED = 12;

export class KindNotImplementedError extends GenGapError {
  readonly kind: string;
  constructor(kind: string) {
    super(UNIMPLEMENTED, `analysis kind ${kind} is not implemented yet`);
    this.kind = kind;
  }
}

export const MAX_THREADS = 64;

export function validateSpec(spec: AnalysisSpec | undefined, registry: KindRegistry): AnalysisSpec {
  if (!spec) throw new InvalidArgumentError('spec', 'is required');
  // The kind first: a kind this service does not run is UNIMPLEMENTED whatever else the spec says
  // (the coordinator probes capabilities with specs that name only a kind).
  const kind = spec.kind;
  if (!kind) throw new InvalidArgumentError('spec.kind', 'names no analysis (set one of the kind fields)');
  const implementation = registry.get(kind.$case);
  if (!implementation) throw new KindNotImplementedError(protoFieldName(kind.$case));
  validateCheckpointRef(spec.checkpoint, 'spec.checkpoint');
  if (spec.dataset && spec.dataset.datasetId === '') {
    throw new InvalidArgumentError('spec.dataset.dataset_id', 'must not be empty when the dataset is given');
  }
  if (!Object.values(Split).includes(spec.split) || spec.split < 0) {
    throw new InvalidArgumentError('spec.split', `unknown split ${spec.split}`);
  }
  if (!Object.values(Precision).includes(spec.precision) || spec.precision < 0) {
    throw new InvalidArgumentError('spec.precision', `unknown precision ${spec.precision}`);
  }
  if (!Object.values(Device).includes(spec.device) || spec.device < 0) {
    throw new InvalidArgumentError('spec.device', `unknown device ${spec.device}`);
  }
  if (spec.threads > MAX_THREADS) {
    throw new InvalidArgumentError('spec.threads', `must be at most ${MAX_THREADS}`);
  }
  // The oneof's value type is the one this kind declares.
  (implementation.validate as (value: unknown, spec: AnalysisSpec) => void)(kind.value, spec);
  return spec;
}
