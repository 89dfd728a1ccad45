// Spec text (YAML or JSON: YAML 1.2 reads both) to a JSON value, and zod issues to one
// InvalidArgumentError naming the field path ("base.run.optimizer.learningRate") and, for text
// specs, the line it is on.
import { InvalidArgumentError } from '@gengap/service-kit';
import { isNode, LineCounter, parseDocument } from 'yaml';
import type { z } from 'zod';
import { formatPath, getPath, type PathSegment } from './json-path.ts';

/** A spec as a JSON value, with a way to find a field's line in the text it came from. */
export interface SpecSource {
  json: unknown;
  /** " (line N)" for a field path, or "" when unknown. */
  locate(path: readonly PropertyKey[]): string;
}

/** Longest spec text accepted. */
export const MAX_SPEC_TEXT_BYTES = 4 * 1024 * 1024;

export function sourceFromJson(json: unknown): SpecSource {
  return { json, locate: () => '' };
}

export function parseSpecText(text: string, field = 'specText'): SpecSource {
  if (Buffer.byteLength(text) > MAX_SPEC_TEXT_BYTES)
    throw new InvalidArgumentError(field, `longer than ${MAX_SPEC_TEXT_BYTES} bytes`);
  if (text.trim() === '') throw new InvalidArgumentError(field, 'empty spec');
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: true, version: '1.2' });
  const problem = doc.errors[0];
  if (problem) {
    const at = problem.linePos?.[0];
    const where = at ? ` (line ${at.line}, column ${at.col})` : '';
    throw new InvalidArgumentError(
      field,
      `not valid YAML or JSON${where}: ${problem.message.split('\n')[0]}`,
    );
  }
  let json: unknown;
  try {
    json = doc.toJS({ maxAliasCount: 100 }) as unknown;
  } catch (err) {
    // An alias bomb ("Excessive alias count ...") or nesting too deep to convert: the text's fault.
    throw new InvalidArgumentError(field, `cannot read the spec: ${(err as Error).message.split('\n')[0]}`);
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json))
    throw new InvalidArgumentError(field, 'a spec is a mapping (an object) at the top level');
  return {
    json,
    locate(path) {
      // A missing field has no node: point at the nearest ancestor that exists.
      for (let n = path.length; n >= 0; n--) {
        const node = doc.getIn(path.slice(0, n) as (string | number)[], true);
        if (isNode(node) && node.range) {
          const { line } = lineCounter.linePos(node.range[0]);
          return ` (line ${line})`;
        }
      }
      return '';
    },
  };
}

export interface FieldProblem {
  path: PropertyKey[];
  message: string;
}

/** Readable problems from zod issues; `input` is what was parsed (to tell "missing" from "wrong"). */
export function problemsFromIssues(issues: readonly z.core.$ZodIssue[], input: unknown): FieldProblem[] {
  const out: FieldProblem[] = [];
  for (const issue of issues) {
    const path = [...issue.path];
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) {
        const camel = key.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
        const hint =
          camel !== key ? ` (field names are lowerCamelCase: did you mean ${JSON.stringify(camel)}?)` : '';
        out.push({ path: [...path, key], message: `unknown field${hint}` });
      }
      continue;
    }
    if (issue.code === 'invalid_type' && getPath(input, path) === undefined) {
      out.push({ path, message: 'required' });
      continue;
    }
    if (issue.code === 'invalid_union' && issue.errors.length > 0) {
      // Report the union's own message (set by the schema), not every alternative's.
      out.push({ path, message: issue.message });
      continue;
    }
    out.push({ path, message: issue.message });
  }
  // An unknown field usually explains a "required" next to it (a misspelt name): report it first.
  return out.sort(
    (a, b) => Number(b.message.startsWith('unknown field')) - Number(a.message.startsWith('unknown field')),
  );
}

/** Throws one InvalidArgumentError for the problems (the first names the field; others follow). */
export function throwProblems(
  problems: readonly FieldProblem[],
  prefix: readonly PathSegment[],
  locate: SpecSource['locate'],
): never {
  const [first, ...rest] = problems;
  if (!first) throw new Error('throwProblems called without problems');
  const full = (p: FieldProblem) => [...prefix, ...p.path];
  const field = formatPath(full(first)) || 'spec';
  const more = rest
    .slice(0, 4)
    .map((p) => `${formatPath(full(p))}: ${p.message}${locate(full(p))}`)
    .join('; ');
  const tail = more ? `; also ${more}${rest.length > 4 ? `; and ${rest.length - 4} more` : ''}` : '';
  throw new InvalidArgumentError(field, `${first.message}${locate(full(first))}${tail}`);
}
