// JSON paths of sweep axes: dot-separated lowerCamelCase field names with [index] for list
// elements, e.g. "dataset.corruptions[0].labelNoise.fraction". Parsing, formatting and setting.

export type PathSegment = string | number;

const SEGMENT = /^([A-Za-z_][A-Za-z0-9_]*)((?:\[\d+\])*)$/;

export class PathSyntaxError extends Error {
  constructor(path: string, reason: string) {
    super(`invalid path ${JSON.stringify(path)}: ${reason}`);
    this.name = 'PathSyntaxError';
  }
}

/** "a.b[0].c" -> ["a", "b", 0, "c"]. */
export function parsePath(path: string): PathSegment[] {
  if (path.trim() === '') throw new PathSyntaxError(path, 'empty');
  const out: PathSegment[] = [];
  for (const part of path.split('.')) {
    const match = SEGMENT.exec(part);
    if (!match) throw new PathSyntaxError(path, `bad segment ${JSON.stringify(part)}`);
    out.push(match[1] as string);
    for (const index of (match[2] ?? '').matchAll(/\[(\d+)\]/g)) out.push(Number(index[1]));
  }
  return out;
}

/** ["a", "b", 0, "c"] -> "a.b[0].c" (the form error messages and field paths use). */
export function formatPath(segments: readonly PropertyKey[]): string {
  let out = '';
  for (const s of segments) {
    if (typeof s === 'number') out += `[${s}]`;
    else out += out === '' ? String(s) : `.${String(s)}`;
  }
  return out;
}

/** The last field name of a path, without indices ("dataset.corruptions[0]" -> "corruptions"). */
export function lastFieldName(path: string): string {
  const names = parsePath(path).filter((s): s is string => typeof s === 'string');
  return names[names.length - 1] ?? path;
}

/** True when `prefix` names `path` itself or one of its ancestors. */
export function isPathPrefix(prefix: readonly PathSegment[], path: readonly PathSegment[]): boolean {
  return prefix.length <= path.length && prefix.every((s, i) => s === path[i]);
}

type JsonObject = Record<string, unknown>;

/**
 * Sets `value` at `path` inside `root` (mutating it). Missing objects on the way are created; a list
 * index may address an existing element or append one (index == length). Throws PathSyntaxError
 * when the path runs through a scalar or past the end of a list.
 */
export function setPath(root: JsonObject, path: readonly PathSegment[], value: unknown): void {
  let node: unknown = root;
  const where = formatPath(path);
  for (let i = 0; i < path.length; i++) {
    const segment = path[i] as PathSegment;
    const last = i === path.length - 1;
    const nextIsIndex = typeof path[i + 1] === 'number';
    if (typeof segment === 'number') {
      if (!Array.isArray(node))
        throw new PathSyntaxError(where, `${formatPath(path.slice(0, i))} is not a list`);
      if (segment > node.length)
        throw new PathSyntaxError(where, `index ${segment} is past the end of a list of ${node.length}`);
      if (last) {
        node[segment] = value;
        return;
      }
      if (node[segment] === undefined || node[segment] === null) node[segment] = nextIsIndex ? [] : {};
      node = node[segment];
    } else {
      if (typeof node !== 'object' || node === null || Array.isArray(node))
        throw new PathSyntaxError(where, `${formatPath(path.slice(0, i)) || 'the cell'} is not an object`);
      const obj = node as JsonObject;
      if (last) {
        obj[segment] = value;
        return;
      }
      if (obj[segment] === undefined || obj[segment] === null) obj[segment] = nextIsIndex ? [] : {};
      node = obj[segment];
    }
  }
}

/**
 * Removes what `path` names: a field is deleted, a list element spliced out (later elements move
 * up). Missing paths are left alone.
 */
export function unsetPath(root: JsonObject, path: readonly PathSegment[]): void {
  const parent = getPath(root, path.slice(0, -1));
  const last = path[path.length - 1];
  if (typeof last === 'number') {
    if (Array.isArray(parent) && last < parent.length) parent.splice(last, 1);
  } else if (last !== undefined && parent !== null && typeof parent === 'object' && !Array.isArray(parent)) {
    delete (parent as JsonObject)[last];
  }
}

/** The value at `path`, or undefined. */
export function getPath(root: unknown, path: readonly PropertyKey[]): unknown {
  let node = root;
  for (const segment of path) {
    if (typeof node !== 'object' || node === null) return undefined;
    node = (node as Record<PropertyKey, unknown>)[segment];
  }
  return node;
}
