// Vega-Lite specifications (data inline) for analysis results. Every chart is one view the
// coordinator's report can render as is; field names match the CSV exports.

export type Row = Record<string, string | number | boolean | null>;

const SCHEMA = 'https://vega.github.io/schema/vega-lite/v6.json';

/** Non-finite numbers are not JSON; charts get null there (a gap in the line). */
export function finiteOrNull(v: number): number | null {
  return Number.isFinite(v) ? v : null;
}

export function lineChart(options: {
  title: string;
  rows: Row[];
  x: { field: string; title: string; scale?: Record<string, unknown> };
  y: { field: string; title: string; scale?: Record<string, unknown> };
  color?: { field: string; title: string };
  strokeDash?: { field: string; title: string };
  points?: boolean;
}): Record<string, unknown> {
  const encoding: Record<string, unknown> = {
    x: { field: options.x.field, type: 'quantitative', title: options.x.title, ...scaleOf(options.x) },
    y: { field: options.y.field, type: 'quantitative', title: options.y.title, ...scaleOf(options.y) },
  };
  if (options.color)
    encoding.color = { field: options.color.field, type: 'nominal', title: options.color.title };
  if (options.strokeDash) {
    encoding.strokeDash = {
      field: options.strokeDash.field,
      type: 'nominal',
      title: options.strokeDash.title,
    };
  }
  return {
    $schema: SCHEMA,
    title: options.title,
    data: { values: options.rows },
    mark: { type: 'line', point: options.points ?? false },
    encoding,
  };
}

function scaleOf(axis: { scale?: Record<string, unknown> }): Record<string, unknown> {
  return axis.scale ? { scale: axis.scale } : {};
}

export function pointChart(options: {
  title: string;
  rows: Row[];
  x: { field: string; title: string; type?: 'quantitative' | 'ordinal' };
  y: { field: string; title: string };
  color?: { field: string; title: string };
}): Record<string, unknown> {
  const encoding: Record<string, unknown> = {
    x: { field: options.x.field, type: options.x.type ?? 'quantitative', title: options.x.title },
    y: { field: options.y.field, type: 'quantitative', title: options.y.title },
  };
  if (options.color)
    encoding.color = { field: options.color.field, type: 'nominal', title: options.color.title };
  return { $schema: SCHEMA, title: options.title, data: { values: options.rows }, mark: 'point', encoding };
}

export function heatmap(options: {
  title: string;
  rows: Row[];
  x: { field: string; title: string };
  y: { field: string; title: string };
  color: { field: string; title: string };
}): Record<string, unknown> {
  return {
    $schema: SCHEMA,
    title: options.title,
    data: { values: options.rows },
    mark: 'rect',
    encoding: {
      x: { field: options.x.field, type: 'ordinal', title: options.x.title, axis: { format: '.2f' } },
      y: {
        field: options.y.field,
        type: 'ordinal',
        title: options.y.title,
        axis: { format: '.2f' },
        sort: 'descending',
      },
      color: {
        field: options.color.field,
        type: 'quantitative',
        title: options.color.title,
        scale: { scheme: 'viridis' },
      },
    },
  };
}

export function barChart(options: {
  title: string;
  rows: Row[];
  x: { field: string; title: string };
  y: { field: string; title: string };
}): Record<string, unknown> {
  return {
    $schema: SCHEMA,
    title: options.title,
    data: { values: options.rows },
    mark: 'bar',
    encoding: {
      x: { field: options.x.field, type: 'nominal', title: options.x.title },
      y: { field: options.y.field, type: 'quantitative', title: options.y.title },
    },
  };
}
