// From a spec (text, JSON or message) to a resolved experiment: validated with field paths,
// defaults written out, sweeps expanded into cells, and hashed. The experiment id is the hash of the
// resolved spec's canonical JSON; a cell id is the hash of its resolved cell (seed included).
import { Cell, ExperimentSpec } from '@gengap/proto/coordinator/v1/experiment';
import type { DatasetSpec } from '@gengap/proto/data/v1/dataset';
import type { RunSpec } from '@gengap/proto/trainer/v1/run';
import { InvalidArgumentError } from '@gengap/service-kit';
import { canonicalJson, hashJson, hashText } from './canonical.ts';
import {
  getPath,
  isPathPrefix,
  lastFieldName,
  type PathSegment,
  parsePath,
  setPath,
  unsetPath,
} from './json-path.ts';
import {
  type FieldProblem,
  problemsFromIssues,
  type SpecSource,
  sourceFromJson,
  throwProblems,
} from './parse.ts';
import {
  type CellJson,
  cellSchema,
  type ExperimentSpecJson,
  experimentSpecSchema,
  SCHEMA_VERSION,
} from './schema/experiment.ts';
import { type Axis, type AxisChoice, checkAxes, expandSweeps, labelFor, parametersFor } from './sweeps.ts';

/** Most cells one experiment may have (seeds included). */
export const MAX_CELLS = 10_000;

export interface ResolvedCell {
  cellId: string;
  /** Position in the experiment (sweep order, then seed). */
  index: number;
  label: string;
  /** Axis name -> value as JSON text. */
  parameters: Record<string, string>;
  seed: number;
  /** The resolved cell in canonical JSON form (what the cell id hashes). */
  cell: Record<string, unknown>;
  /** The dataset to generate, or undefined when the run names a stored dataset. */
  dataset: DatasetSpec | undefined;
  /** The run, seed included; `dataset` is filled in once the dataset exists. */
  run: RunSpec;
  /** Indices into spec.analyses of the analyses attached to this cell. */
  analyses: number[];
}

export interface ResolvedExperiment {
  experimentId: string;
  /** The resolved spec: defaults written out (schema version, seeds, sweep modes, axis names...). */
  spec: ExperimentSpec;
  canonicalJson: string;
  axes: Axis[][];
  cells: ResolvedCell[];
}

type Json = Record<string, unknown>;

function rawAxisPaths(json: unknown): PathSegment[][] {
  const out: PathSegment[][] = [];
  const sweeps = getPath(json, ['sweeps']);
  if (!Array.isArray(sweeps)) return out;
  for (const sweep of sweeps) {
    const axes = getPath(sweep, ['axes']);
    if (!Array.isArray(axes)) continue;
    for (const axis of axes) {
      const path = getPath(axis, ['path']);
      if (typeof path !== 'string') continue;
      try {
        out.push(parsePath(path));
      } catch {
        // Reported when the axes are checked.
      }
    }
  }
  return out;
}

const overlaps = (a: readonly PropertyKey[], b: readonly PropertyKey[]) =>
  isPathPrefix(a as PathSegment[], b as PathSegment[]) ||
  isPathPrefix(b as PathSegment[], a as PathSegment[]);

/** Checks the spec's shape. Problems in base fields that a sweep sets are left to the per-cell check. */
function checkShape(source: SpecSource): ExperimentSpecJson {
  const result = experimentSpecSchema.safeParse(source.json);
  if (result.success) return result.data;
  const swept = rawAxisPaths(source.json);
  const problems = problemsFromIssues(result.error.issues, source.json).filter((p) => {
    if (p.path[0] !== 'base') return true;
    const inCell = p.path.slice(1);
    return !swept.some((axis) => overlaps(axis, inCell));
  });
  if (problems.length > 0) throwProblems(problems, [], source.locate);
  return source.json as ExperimentSpecJson;
}

function safeLastFieldName(path: string): string {
  try {
    return lastFieldName(path);
  } catch {
    return path; // reported when the axes are checked
  }
}

/** Writes defaults out so that equivalent specs resolve (and hash) the same. */
function normalize(spec: ExperimentSpecJson): Json {
  const out = structuredClone(spec) as Json & ExperimentSpecJson;
  out.schemaVersion = SCHEMA_VERSION;
  out.seeds = (spec.seeds?.length ? spec.seeds : [0]).map(Number);
  out.sweeps = (spec.sweeps ?? []).map((s) => ({
    mode: s.mode && s.mode !== 'SWEEP_MODE_UNSPECIFIED' ? s.mode : 'SWEEP_MODE_GRID',
    axes: s.axes.map((a) => ({ ...a, name: a.name || safeLastFieldName(a.path) })),
  }));
  out.analyses = (spec.analyses ?? []).map((a) => ({
    ...a,
    timing: a.timing && a.timing !== 'ANALYSIS_TIMING_UNSPECIFIED' ? a.timing : 'ANALYSIS_TIMING_AT_END',
  }));
  out.execution = { ...spec.execution, maxAttempts: spec.execution?.maxAttempts || 3 };
  return out;
}

function checkRegex(pattern: string | undefined, field: string): RegExp | undefined {
  if (!pattern) return undefined;
  try {
    return new RegExp(pattern);
  } catch (err) {
    throw new InvalidArgumentError(field, `not a valid regular expression: ${(err as Error).message}`);
  }
}

function checkExperimentAnalyses(spec: ExperimentSpecJson, axes: readonly Axis[][]): void {
  const byName = new Map(axes.flat().map((a) => [a.name, a]));
  (spec.experimentAnalyses ?? []).forEach((ea, i) => {
    const where = `experimentAnalyses[${i}]`;
    if (ea.pairedRuns) {
      const axis = byName.get(ea.pairedRuns.axis);
      if (!axis)
        throw new InvalidArgumentError(
          `${where}.pairedRuns.axis`,
          `no sweep axis is named ${JSON.stringify(ea.pairedRuns.axis)} (axes: ${[...byName.keys()].join(', ') || 'none'})`,
        );
      for (const member of ['first', 'second'] as const) {
        const value = canonicalJson(ea.pairedRuns[member]);
        if (!axis.values.some((v) => canonicalJson(v) === value))
          throw new InvalidArgumentError(
            `${where}.pairedRuns.${member}`,
            `not one of the values of axis ${axis.name}`,
          );
      }
    }
    if (ea.teacherStudent)
      checkRegex(ea.teacherStudent.teacherFilter, `${where}.teacherStudent.teacherFilter`);
  });
}

/** Maps a problem in a resolved cell to the spec field that caused it: a sweep value or the base. */
function cellProblemField(problem: FieldProblem, choices: readonly AxisChoice[]): FieldProblem {
  const inCell = problem.path as PathSegment[];
  const cause = [...choices].reverse().find((c) => overlaps(c.axis.path, inCell));
  if (!cause) return { path: ['base', ...problem.path], message: problem.message };
  const where =
    `${problem.path.map((s) => (typeof s === 'number' ? `[${s}]` : `.${String(s)}`)).join('')}`.replace(
      /^\./,
      '',
    );
  return {
    path: ['sweeps', cause.axis.sweep, 'axes', cause.axis.axis, 'values', cause.valueIndex],
    message: `in the cell this value makes, ${where || 'the cell'}: ${problem.message}`,
  };
}

/**
 * Writes the chosen axis values into a cell. A null value unsets the field (as null means "default"
 * in protobuf's JSON mapping) or, at a list index, removes the element; removals run last, from the
 * highest index down, so that indices in other axes keep naming the same elements.
 */
function applyChoices(cell: Json, choices: readonly AxisChoice[]): void {
  const removals: PathSegment[][] = [];
  for (const c of choices) {
    if (c.value === null) removals.push(c.axis.path);
    else setPath(cell, c.axis.path, structuredClone(c.value));
  }
  removals.sort((a, b) => compareDescending(a, b));
  for (const path of removals) unsetPath(cell, path);
}

function compareDescending(a: readonly PathSegment[], b: readonly PathSegment[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const x = a[i] as PathSegment;
    const y = b[i] as PathSegment;
    if (x === y) continue;
    if (typeof x === 'number' && typeof y === 'number') return y - x;
    return String(x) < String(y) ? -1 : 1;
  }
  return b.length - a.length;
}

/** Epochs between permanent checkpoints needed by the every-k-epochs analyses of a cell. */
function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}

export function resolveExperiment(source: SpecSource): ResolvedExperiment {
  const spec = checkShape(source);
  const seeds = (spec.seeds?.length ? spec.seeds : [0]).map(Number);
  // Every seed is a cell at least: more than MAX_CELLS of them can never fit.
  if (seeds.length > MAX_CELLS)
    throw new InvalidArgumentError('seeds', `at most ${MAX_CELLS} seeds (got ${seeds.length})`);
  const firstIndex = new Map<number, number>();
  seeds.forEach((seed, i) => {
    if (firstIndex.has(seed)) throw new InvalidArgumentError(`seeds[${i}]`, `seed ${seed} is listed twice`);
    firstIndex.set(seed, i);
  });
  const normalized = normalize(spec);
  const sweeps = (normalized as ExperimentSpecJson).sweeps ?? [];
  const axes = checkAxes(sweeps);
  const combos = expandSweeps(sweeps, axes, Math.floor(MAX_CELLS / seeds.length));
  const analyses = (normalized as ExperimentSpecJson).analyses ?? [];
  const filters = analyses.map((a, i) => checkRegex(a.cellFilter, `analyses[${i}].cellFilter`));
  checkExperimentAnalyses(spec, axes);

  const cells: ResolvedCell[] = [];
  const seen = new Map<string, number>();
  for (const choices of combos) {
    const label = labelFor(spec.base.label ?? '', choices);
    const attached = analyses.flatMap((_, i) => (!filters[i] || filters[i].test(label) ? [i] : []));
    const everyK = attached
      .map((i) => analyses[i])
      .filter((a) => a?.timing === 'ANALYSIS_TIMING_EVERY_K_EPOCHS')
      .map((a) => a?.everyEpochs ?? 0);
    for (const seed of seeds) {
      const json = structuredClone(spec.base) as Json;
      applyChoices(json, choices);
      json.label = label || undefined;
      setPath(json, ['run', 'seed'], seed);
      if (everyK.length > 0 && !getPath(json, ['run', 'checkpoints', 'keepEveryEpochs']))
        setPath(json, ['run', 'checkpoints', 'keepEveryEpochs'], everyK.reduce(gcd));
      const checked = cellSchema.safeParse(json);
      if (!checked.success) {
        const problems = problemsFromIssues(checked.error.issues, json).map((p) =>
          cellProblemField(p, choices),
        );
        throwProblems(problems, [], source.locate);
      }
      const proto = Cell.fromJSON(json);
      const cell = Cell.toJSON(proto) as Json;
      const cellId = hashJson(cell, 16);
      const index = cells.length;
      const twin = seen.get(cellId);
      if (twin !== undefined)
        throw new InvalidArgumentError(
          'sweeps',
          `cells ${twin} and ${index} (${label || 'base'}) are identical`,
        );
      seen.set(cellId, index);
      const run = proto.run as RunSpec;
      cells.push({
        cellId,
        index,
        label,
        parameters: parametersFor(choices),
        seed,
        cell,
        dataset: (json as CellJson).dataset ? proto.dataset : undefined,
        run,
        analyses: attached,
      });
    }
  }
  const message = ExperimentSpec.fromJSON(normalized);
  const canonical = canonicalJson(ExperimentSpec.toJSON(message));
  return { experimentId: hashText(canonical), spec: message, canonicalJson: canonical, axes, cells };
}

export function resolveSpecMessage(spec: ExperimentSpec): ResolvedExperiment {
  return resolveExperiment(sourceFromJson(ExperimentSpec.toJSON(spec)));
}
