// The canonical text of a spec and the dataset id derived from it. The id is the first 32 hex digits
// of sha256(FORMAT_VERSION + "\n" + canonical JSON), where the canonical JSON is the proto3 JSON form
// of the canonical spec (defaults resolved, default values omitted) with keys sorted at every level.
import { createHash } from 'node:crypto';

/**
 * Version of the generation algorithms. It is part of every dataset id, so a change that alters the
 * bytes some spec produces must bump it (old ids then keep meaning the old bytes).
 */
export const FORMAT_VERSION = 'gengap-data-1';

/** JSON with object keys sorted at every level: one text per value. */
export function canonicalJson(value: unknown, indent?: number): string {
  const sort = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(sort);
    if (v && typeof v === 'object') {
      return Object.fromEntries(
        Object.keys(v as object)
          .sort()
          .map((k) => [k, sort((v as Record<string, unknown>)[k])]),
      );
    }
    return v;
  };
  return JSON.stringify(sort(value), null, indent);
}

export function datasetIdOf(canonicalSpecJson: string): string {
  return createHash('sha256').update(`${FORMAT_VERSION}\n${canonicalSpecJson}`).digest('hex').slice(0, 32);
}
