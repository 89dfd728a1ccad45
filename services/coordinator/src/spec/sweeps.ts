// Sweep expansion: the combinations of axis values that turn the base cell into the experiment's
// cells. Sweeps combine as a Cartesian product (first sweep outermost); within a sweep, GRID axes
// combine as a product and ZIP axes advance together.
import { InvalidArgumentError } from '@gengap/service-kit';
import { formatPath, lastFieldName, type PathSegment, PathSyntaxError, parsePath } from './json-path.ts';

export interface SweepAxisJson {
  path: string;
  values: unknown[];
  name?: string;
}

export interface SweepJson {
  mode?: string;
  axes: SweepAxisJson[];
}

/** A checked axis: where it is in the spec, the field it sets, its name. */
export interface Axis {
  sweep: number;
  axis: number;
  path: PathSegment[];
  pathText: string;
  name: string;
  values: unknown[];
}

/** One value chosen for one axis. */
export interface AxisChoice {
  axis: Axis;
  valueIndex: number;
  value: unknown;
}

/** The axes of every sweep, checked: paths parse and stay inside the cell, names are unique. */
export function checkAxes(sweeps: readonly SweepJson[]): Axis[][] {
  const names = new Map<string, string>();
  const paths = new Map<string, string>();
  return sweeps.map((sweep, s) => {
    const where = (a: number, field: string) => `sweeps[${s}].axes[${a}].${field}`;
    const axes = sweep.axes.map((axis, a): Axis => {
      let path: PathSegment[];
      try {
        path = parsePath(axis.path);
      } catch (err) {
        if (err instanceof PathSyntaxError) throw new InvalidArgumentError(where(a, 'path'), err.message);
        throw err;
      }
      const head = path[0];
      if (head !== 'dataset' && head !== 'run' && head !== 'label')
        throw new InvalidArgumentError(
          where(a, 'path'),
          'a sweep path starts with "dataset", "run" or "label" (it is a path inside the cell)',
        );
      if (head === 'label' && path.length > 1)
        throw new InvalidArgumentError(where(a, 'path'), 'label is a string');
      if (head === 'label')
        axis.values.forEach((v, i) => {
          if (typeof v !== 'string')
            throw new InvalidArgumentError(`${where(a, 'values')}[${i}]`, 'labels are strings');
        });
      if (path[0] === 'run' && path[1] === 'seed')
        throw new InvalidArgumentError(
          where(a, 'path'),
          'run.seed is set from the experiment\'s "seeds"; list seeds there',
        );
      const pathText = formatPath(path);
      const earlier = pathText === 'label' ? undefined : paths.get(pathText);
      if (earlier)
        throw new InvalidArgumentError(where(a, 'path'), `${pathText} is already swept by ${earlier}`);
      paths.set(pathText, where(a, 'path'));
      const name = axis.name || lastFieldName(axis.path);
      const other = names.get(name);
      if (other)
        throw new InvalidArgumentError(
          where(a, 'name'),
          `axis name ${JSON.stringify(name)} is already used by ${other}; give one a name`,
        );
      names.set(name, where(a, 'name'));
      return { sweep: s, axis: a, path, pathText, name, values: axis.values };
    });
    if (sweep.mode === 'SWEEP_MODE_ZIP') {
      const first = axes[0];
      axes.forEach((axis, a) => {
        if (first && axis.values.length !== first.values.length)
          throw new InvalidArgumentError(
            where(a, 'values'),
            `a ZIP sweep's axes advance together: this axis has ${axis.values.length} values, the first has ${first.values.length}`,
          );
      });
    }
    return axes;
  });
}

function combinationsOf(axes: readonly Axis[], zip: boolean): AxisChoice[][] {
  if (zip) {
    const n = axes[0]?.values.length ?? 0;
    return Array.from({ length: n }, (_, i) =>
      axes.map((axis) => ({ axis, valueIndex: i, value: axis.values[i] })),
    );
  }
  let out: AxisChoice[][] = [[]];
  for (const axis of axes) {
    const next: AxisChoice[][] = [];
    for (const prefix of out)
      axis.values.forEach((value, valueIndex) => {
        next.push([...prefix, { axis, valueIndex, value }]);
      });
    out = next;
  }
  return out;
}

/** Every combination of axis values, in order; one empty combination when there are no sweeps. */
export function expandSweeps(
  sweeps: readonly SweepJson[],
  axes: readonly Axis[][],
  limit: number,
): AxisChoice[][] {
  let out: AxisChoice[][] = [[]];
  sweeps.forEach((sweep, s) => {
    const combos = combinationsOf(axes[s] ?? [], sweep.mode === 'SWEEP_MODE_ZIP');
    if (out.length * combos.length > limit)
      throw new InvalidArgumentError('sweeps', `the sweeps make more than ${limit} cells`);
    const next: AxisChoice[][] = [];
    for (const prefix of out) for (const combo of combos) next.push([...prefix, ...combo]);
    out = next;
  });
  return out;
}

function shortValue(value: unknown, index: number): string {
  if (typeof value === 'string') return value;
  if (value === null) return 'none';
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  // A message with one field set (a oneof member, e.g. a corruption) reads as that field's name.
  const entries = typeof value === 'object' && !Array.isArray(value) ? Object.entries(value) : [];
  const [only] = entries;
  if (entries.length === 1 && only && typeof only[1] === 'object') return only[0];
  const text = JSON.stringify(value);
  return text.length <= 40 ? text : `#${index + 1}`;
}

const isScalar = (v: unknown) => typeof v === 'number' || typeof v === 'boolean' || typeof v === 'string';

/**
 * A cell's label: the base label, then per sweep "name=value" for each axis; in a sweep that has a
 * "label" axis, its value stands for the axes whose values are messages or lists.
 */
export function labelFor(baseLabel: string, choices: readonly AxisChoice[]): string {
  const parts: string[] = baseLabel ? [baseLabel] : [];
  const bySweep = new Map<number, AxisChoice[]>();
  for (const c of choices) bySweep.set(c.axis.sweep, [...(bySweep.get(c.axis.sweep) ?? []), c]);
  for (const group of bySweep.values()) {
    const label = group.find((c) => c.axis.pathText === 'label');
    for (const c of group) {
      if (c === label) parts.push(String(c.value));
      else if (!label || isScalar(c.value)) parts.push(`${c.axis.name}=${shortValue(c.value, c.valueIndex)}`);
    }
  }
  return parts.join(', ');
}

/** Axis name -> the value as JSON text (ExperimentRun.parameters). */
export function parametersFor(choices: readonly AxisChoice[]): Record<string, string> {
  return Object.fromEntries(choices.map((c) => [c.axis.name, JSON.stringify(c.value)]));
}
