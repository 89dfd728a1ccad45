// The swept parameters of an experiment's runs (ExperimentRun.parameters: axis name -> JSON value
// text), classified so charts can be chosen from the data: a numeric axis becomes an x axis, a
// categorical one (strings, booleans, whole messages) becomes colour.
import type { Experiment, ExperimentRun } from '@gengap/proto/coordinator/v1/experiment';

export interface SweptAxis {
  name: string;
  kind: 'numeric' | 'categorical';
  /** Distinct values: numbers ascending for numeric axes, labels in first-seen order otherwise. */
  values: (number | string)[];
}

/** A short, readable label for any JSON value (e.g. `labelNoise(fraction=1)` for a message). */
export function compactLabel(value: unknown): string {
  if (value === null || value === undefined) return 'none';
  if (Array.isArray(value)) return value.length === 0 ? 'none' : value.map(compactLabel).join(' + ');
  if (typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>);
    if (entries.length === 0) return '{}';
    return entries
      .map(([k, v]) => {
        if (Array.isArray(v) && v.every((x) => x === null || typeof x !== 'object'))
          return `${k}=[${v.map(compactLabel).join(', ')}]`;
        if (v !== null && typeof v === 'object') {
          const inner = compactLabel(v);
          return inner === '{}' ? k : `${k}(${inner})`;
        }
        return `${k}=${compactLabel(v)}`;
      })
      .join(', ');
  }
  return String(value);
}

/** The JSON value of a parameter's text; text that is not JSON stays a string. */
export function parseParameter(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** Axis names in the order the spec declares them (sweep by sweep), then any others sorted. */
function declaredOrder(experiment: Experiment | undefined, names: Set<string>): string[] {
  const ordered: string[] = [];
  for (const sweep of experiment?.spec?.sweeps ?? []) {
    for (const axis of sweep.axes) {
      const name = axis.name || defaultAxisName(axis.path);
      if (names.has(name) && !ordered.includes(name)) ordered.push(name);
    }
  }
  for (const name of [...names].sort()) if (!ordered.includes(name)) ordered.push(name);
  return ordered;
}

/** The spec's default axis name: the last path segment without an index, e.g. "fraction". */
export function defaultAxisName(path: string): string {
  const last = path.split('.').pop() ?? path;
  return last.replace(/\[\d+\]$/, '');
}

/** Axes that vary across the runs (an axis with a single value is not a comparison). */
export function sweptAxes(runs: readonly ExperimentRun[], experiment?: Experiment): SweptAxis[] {
  const names = new Set<string>();
  for (const run of runs) for (const name of Object.keys(run.parameters)) names.add(name);
  const axes: SweptAxis[] = [];
  for (const name of declaredOrder(experiment, names)) {
    const parsed = runs.map((r) => (name in r.parameters ? parseParameter(r.parameters[name]!) : undefined));
    const numeric = parsed.every((v) => typeof v === 'number' && Number.isFinite(v));
    if (numeric) {
      const values = [...new Set(parsed as number[])].sort((a, b) => a - b);
      if (values.length > 1) axes.push({ name, kind: 'numeric', values });
    } else {
      const values = [...new Set(parsed.map(compactLabel))];
      if (values.length > 1) axes.push({ name, kind: 'categorical', values });
    }
  }
  return axes;
}

/** The value of `axis` for one run: a number for numeric axes, a label otherwise. */
export function axisValue(run: ExperimentRun, axis: SweptAxis): number | string {
  const text = run.parameters[axis.name];
  const value = text === undefined ? undefined : parseParameter(text);
  return axis.kind === 'numeric' ? (value as number) : compactLabel(value);
}

/** "a=1, b=x" for the given axes; empty string when there are none. */
export function groupLabel(run: ExperimentRun, axes: readonly SweptAxis[]): string {
  return axes.map((a) => `${a.name}=${axisValue(run, a)}`).join(', ');
}

/** A label naming one run: its swept values (or its cell label) and, with several seeds, its seed. */
export function runLabel(run: ExperimentRun, axes: readonly SweptAxis[], distinctSeeds: number): string {
  const parts = axes.length > 0 ? axes.map((a) => `${a.name}=${axisValue(run, a)}`) : [];
  if (parts.length === 0) parts.push(run.label || run.cellId.slice(0, 12) || run.runId);
  if (distinctSeeds > 1) parts.push(`seed=${run.seed}`);
  return parts.join(', ');
}

/** A field name safe for Vega-Lite (no dots or brackets, which it reads as nested access). */
export function safeField(name: string): string {
  return `p_${name.replace(/[^A-Za-z0-9_]/g, '_')}`;
}
