// Canonical JSON (object keys sorted, no whitespace) and the hashes built on it: an experiment's id
// is the hash of its resolved spec, a cell's id the hash of its resolved cell and seed.
import { createHash } from 'node:crypto';

export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) {
      const v = (value as Record<string, unknown>)[key];
      if (v !== undefined) out[key] = sortKeys(v);
    }
    return out;
  }
  return value;
}

/** sha256 of the canonical JSON, as `length` hex characters. */
export function hashJson(value: unknown, length = 32): string {
  return createHash('sha256').update(canonicalJson(value)).digest('hex').slice(0, length);
}

export function hashText(text: string, length = 32): string {
  return createHash('sha256').update(text).digest('hex').slice(0, length);
}
