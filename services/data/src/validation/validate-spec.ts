// The one entry point for spec validation: every field checked (ranges, enum values, sizes within the
// configured limits, CSV parse errors with line numbers), defaults resolved into a canonical spec, and
// the dataset id derived from it. A rejected spec throws InvalidArgumentError naming the field, before
// anything is written.
import { DatasetSpec } from '@gengap/proto/data/v1/dataset';
import { InvalidArgumentError } from '@gengap/service-kit';
import { featureCount } from '../datasets/types.ts';
import { canonicalJson, datasetIdOf } from './canonical.ts';
import { validateCorruptions } from './corruptions.ts';
import type { DataLimits } from './limits.ts';
import { type SourcePlan, validateSource } from './sources.ts';
import { SpecError } from './spec-error.ts';

export interface ValidatedSpec {
  spec: DatasetSpec;
  canonicalJson: string;
  datasetId: string;
  plan: SourcePlan;
  /** Upper bound on the stored bytes. */
  estimatedBytes: number;
}

function estimateBytes(plan: SourcePlan): number {
  const features = featureCount(plan.inputShape);
  const npyHeader = 128;
  let total = plan.auxiliaryBytes + 4096;
  for (const split of [plan.train, plan.test]) {
    if (!split) continue;
    total += split.n * (features * 4 + 8 + (split.labelsCorrupted ? 8 : 0)) + 3 * npyHeader;
  }
  return total;
}

function validateUnchecked(spec: DatasetSpec | undefined, limits: DataLimits): ValidatedSpec {
  if (!spec) throw new SpecError('spec', 'is required');
  if (!Number.isSafeInteger(spec.seed) || spec.seed < 0) {
    throw new SpecError('spec.seed', `must be an integer in [0, 2^53 - 1], got ${spec.seed}`);
  }
  const { source, plan } = validateSource(spec, limits);
  const corruptions = validateCorruptions(spec.corruptions, plan);
  const canonical: DatasetSpec = { source, corruptions, seed: spec.seed };
  const estimatedBytes = estimateBytes(plan);
  if (estimatedBytes > limits.maxDatasetBytes) {
    throw new SpecError(
      `spec.${source.$case}`,
      `the dataset would take up to ${estimatedBytes} bytes, over the limit of ${limits.maxDatasetBytes} (GENGAP_MAX_DATASET_BYTES)`,
    );
  }
  const json = canonicalJson(DatasetSpec.toJSON(canonical));
  return { spec: canonical, canonicalJson: json, datasetId: datasetIdOf(json), plan, estimatedBytes };
}

/** Validates and canonicalises a spec; throws InvalidArgumentError naming the first bad field. */
export function validateSpec(spec: DatasetSpec | undefined, limits: DataLimits): ValidatedSpec {
  try {
    return validateUnchecked(spec, limits);
  } catch (err) {
    if (err instanceof SpecError) throw new InvalidArgumentError(err.field, err.reason);
    throw err;
  }
}
