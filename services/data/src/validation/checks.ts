// Field checks shared by the spec validators: each throws SpecError naming the field's path.
import { SpecError } from './spec-error.ts';

export function checkInt(field: string, value: number, min: number, max: number): number {
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new SpecError(field, `must be an integer in [${min}, ${max}], got ${value}`);
  }
  return value;
}

export function checkFinite(
  field: string,
  value: number,
  range: { min?: number; max?: number; minExclusive?: boolean; maxExclusive?: boolean } = {},
): number {
  if (!Number.isFinite(value)) throw new SpecError(field, `must be a finite number, got ${value}`);
  const { min, max } = range;
  const low = min === undefined ? true : range.minExclusive ? value > min : value >= min;
  const high = max === undefined ? true : range.maxExclusive ? value < max : value <= max;
  if (!low || !high) {
    const l = min === undefined ? '(-inf' : `${range.minExclusive ? '(' : '['}${min}`;
    const h = max === undefined ? 'inf)' : `${max}${range.maxExclusive ? ')' : ']'}`;
    throw new SpecError(field, `must be in ${l}, ${h}, got ${value}`);
  }
  return value;
}

/** Checks an enum value against the allowed ones, given as {name: value}. */
export function checkEnum(field: string, value: number, allowed: Record<string, number>): number {
  if (!Object.values(allowed).includes(value)) {
    throw new SpecError(field, `must be one of ${Object.keys(allowed).join(', ')}, got ${value}`);
  }
  return value;
}
