// Field checks shared by the kinds' validate(): each throws InvalidArgumentError with the field path.
import type { CheckpointRef } from '@gengap/proto/common/v1/refs';
import { InvalidArgumentError } from '@gengap/service-kit';

export function requireFinite(field: string, value: number): void {
  if (!Number.isFinite(value)) throw new InvalidArgumentError(field, `must be a finite number, got ${value}`);
}

export function requireAtMost(field: string, value: number, max: number): void {
  if (value > max) throw new InvalidArgumentError(field, `must be at most ${max}, got ${value}`);
}

export function requireNonNegative(field: string, value: number): void {
  requireFinite(field, value);
  if (value < 0) throw new InvalidArgumentError(field, `must not be negative, got ${value}`);
}

export function requirePositive(field: string, value: number): void {
  requireFinite(field, value);
  if (value <= 0) throw new InvalidArgumentError(field, `must be positive, got ${value}`);
}

export function validateCheckpointRef(ref: CheckpointRef | undefined, field: string): void {
  const source = ref?.source;
  if (source?.$case === 'run') {
    if (!source.value.runId) throw new InvalidArgumentError(`${field}.run.run_id`, 'is required');
  } else if (source?.$case === 'analysisId') {
    if (!source.value) throw new InvalidArgumentError(`${field}.analysis_id`, 'is required');
  } else {
    throw new InvalidArgumentError(field, 'is required (a run checkpoint or an analysis id)');
  }
}
