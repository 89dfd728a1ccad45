// The swept parameters of an experiment's runs (ExperimentRun.parameters: axis name -> JSON value
// text), classified so charts can be chosen from the data: a numeric axis becomes an x axis, a
// categorical one (strings, booleans, whole messages) becomes colour.
import type { Experiment, ExperimentRun } from '@gengap/proto/coordinator/v1/experiment';

export interface SweptAxis {
  name: string;
  kind: 'numeric' | 'categorical';
  /** Distinct values: numbers ascending for numeric axes, labels in first-seen order otherwise. */
  values: (number | string)[];
  /** Categorical axes: the label of each parameter text (JSON). */
  labelOf?: Record<string, string>;
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

/** Axis names in the order the spec declares them (sweep by sweep), then any others as first seen. */
function declaredOrder(experiment: Experiment | undefined, names: Set<string>): string[] {
  const ordered: string[] = [];
  for (const sweep of experiment?.spec?.sweeps ?? []) {
    for (const axis of sweep.axes) {
      const name = axis.name || defaultAxisName(axis.path);
      if (names.has(name) && !ordered.includes(name)) ordered.push(name);
    }
  }
  for (const name of names) if (!ordered.includes(name)) ordered.push(name);
  return ordered;
}

/** The spec's default axis name: the last path segment without an index, e.g. "fraction". */
export function defaultAxisName(path: string): string {
  const last = path.split('.').pop() ?? path;
  return last.replace(/\[\d+\]$/, '');
}

const maxLabelLength = 48;

/** A message by its field names only: `shufflePixels` for {"shufflePixels":{"splits":"..."}}. */
export function shallowLabel(value: unknown): string {
  if (value === null || value === undefined) return 'none';
  if (Array.isArray(value)) return value.length === 0 ? 'none' : value.map(shallowLabel).join(' + ');
  if (typeof value === 'object') return Object.keys(value as object).join(', ') || '{}';
  return String(value);
}

/**
 * Labels for the distinct parameter texts of a categorical axis: field names alone when they tell
 * the values apart (input corruptions that differ only in kind), else the compact form; short, and
 * distinct from each other.
 */
function categoryLabels(texts: readonly string[]): Record<string, string> {
  const values = texts.map(parseParameter);
  const shallow = values.map(shallowLabel);
  const label = new Set(shallow).size === texts.length ? shallowLabel : compactLabel;
  const labels: Record<string, string> = {};
  const used = new Set<string>();
  values.forEach((value, i) => {
    let text = label(value);
    if (text.length > maxLabelLength) text = `${text.slice(0, maxLabelLength - 1)}…`;
    if (used.has(text)) text = `${text} #${i + 1}`;
    used.add(text);
    labels[texts[i] as string] = text;
  });
  return labels;
}

/** Which runs share a value: the same string for two axes that split the runs the same way. */
function partition(texts: readonly string[]): string {
  const first = new Map<string, number>();
  return texts
    .map((t, i) => {
      if (!first.has(t)) first.set(t, i);
      return first.get(t);
    })
    .join(',');
}

/** Preference when two axes split the runs the same way: numbers, then plain strings, then messages. */
function rank(axis: SweptAxis, texts: readonly string[]): number {
  if (axis.kind === 'numeric') return 0;
  return texts.every((t) => typeof parseParameter(t) !== 'object') ? 1 : 2;
}

/**
 * Axes that vary across the runs. An axis with a single value is not a comparison, and an axis
 * that splits the runs exactly like another (a message-valued axis zipped with its "label" axis)
 * is left out in favour of the more readable one.
 */
export function sweptAxes(runs: readonly ExperimentRun[], experiment?: Experiment): SweptAxis[] {
  const names = new Set<string>();
  for (const run of runs) for (const name of Object.keys(run.parameters)) names.add(name);
  const candidates: { axis: SweptAxis; texts: string[]; order: number }[] = [];
  declaredOrder(experiment, names).forEach((name, order) => {
    const texts = runs.map((r) => r.parameters[name] ?? 'null');
    const parsed = texts.map(parseParameter);
    const distinct = [...new Set(texts)];
    if (distinct.length < 2) return;
    const axis: SweptAxis = parsed.every((v) => typeof v === 'number' && Number.isFinite(v))
      ? { name, kind: 'numeric', values: [...new Set(parsed as number[])].sort((a, b) => a - b) }
      : (() => {
          const labelOf = categoryLabels(distinct);
          return { name, kind: 'categorical', values: distinct.map((t) => labelOf[t] as string), labelOf };
        })();
    candidates.push({ axis, texts, order });
  });
  const kept = new Map<string, (typeof candidates)[number]>();
  for (const c of [...candidates].sort(
    (x, y) => rank(x.axis, x.texts) - rank(y.axis, y.texts) || x.order - y.order,
  )) {
    const key = partition(c.texts);
    if (!kept.has(key)) kept.set(key, c);
  }
  return [...kept.values()].sort((x, y) => x.order - y.order).map((c) => c.axis);
}

/** The value of `axis` for one run: a number for numeric axes, a label otherwise. */
export function axisValue(run: ExperimentRun, axis: SweptAxis): number | string {
  const text = run.parameters[axis.name] ?? 'null';
  if (axis.kind === 'numeric') return parseParameter(text) as number;
  return axis.labelOf?.[text] ?? compactLabel(parseParameter(text));
}

/** The values of the given axes: "x" for one axis, "a=1, b=x" for several, "" for none. */
export function groupLabel(run: ExperimentRun, axes: readonly SweptAxis[]): string {
  if (axes.length === 1) return String(axisValue(run, axes[0] as SweptAxis));
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
