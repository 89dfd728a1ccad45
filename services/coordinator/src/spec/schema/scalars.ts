// Zod building blocks for the JSON mapping of protobuf scalars, enums and oneofs, shared by every
// schema of the experiment spec. Numbers are the JSON mapping's: 64-bit integers may be numbers or
// decimal strings; doubles must be finite (no "NaN"/"Infinity" strings in a spec).
import { z } from 'zod';

export const uint32 = z
  .number({ error: 'must be a non-negative integer' })
  .int({ error: 'must be a non-negative integer' })
  .min(0, { error: 'must be >= 0' })
  .max(4_294_967_295, { error: 'must fit in 32 bits' });

export const positiveUint32 = uint32.min(1, { error: 'must be >= 1' });

/** uint64 as a JSON number (up to 2^53 - 1) or a decimal string, as protobuf's JSON mapping allows. */
export const uint64 = z.union(
  [z.number().int().min(0).max(Number.MAX_SAFE_INTEGER), z.string().regex(/^\d{1,16}$/)],
  { error: 'must be a non-negative integer (a number, or a decimal string)' },
);

export const double = z.number({ error: 'must be a finite number' }).finite({ error: 'must be finite' });
export const nonNegative = double.min(0, { error: 'must be >= 0' });
export const positive = double.gt(0, { error: 'must be > 0' });
export const fraction = double.min(0, { error: 'must be in [0, 1]' }).max(1, { error: 'must be in [0, 1]' });

/**
 * An enum of the JSON mapping: the value names of a generated enum object (the const objects that
 * ts-proto emits), without UNRECOGNIZED, so the schema follows the contracts automatically.
 */
export function protoEnum<E extends Record<string, number>>(values: E, description?: string) {
  const names = Object.keys(values).filter((k) => k !== 'UNRECOGNIZED') as [string, ...string[]];
  const schema = z.enum(names, { error: `must be one of ${names.join(', ')}` });
  return description ? schema.describe(description) : schema;
}

/**
 * Adds the oneof rule to an object schema: at most one (exactly one when `required`) of `members`
 * may be set. The issue points at the second member set, or at the object when none is.
 */
export function oneof<T extends z.ZodType<Record<string, unknown>>>(
  schema: T,
  members: readonly string[],
  options: { required?: boolean; name?: string } = {},
): T {
  return schema.superRefine((value, ctx) => {
    const set = members.filter((m) => value[m] !== undefined && value[m] !== null);
    if (set.length > 1) {
      ctx.addIssue({
        code: 'custom',
        path: [set[1] as string],
        message: `only one of ${set.join(', ')} may be set${options.name ? ` (oneof ${options.name})` : ''}`,
      });
    } else if (set.length === 0 && options.required) {
      ctx.addIssue({ code: 'custom', path: [], message: `one of ${members.join(', ')} is required` });
    }
  }) as unknown as T;
}

/** A message with no fields (written `{}` in JSON/YAML). */
export const emptyMessage = z.strictObject({});
