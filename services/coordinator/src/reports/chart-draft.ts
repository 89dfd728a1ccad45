// A chart before rendering: its Vega-Lite spec (data inline) and the rows behind it, which are
// written next to the SVG as CSV so every plotted number can be read back.
import type { TopLevelSpec } from 'vega-lite';
import type { Column, Row } from './csv.ts';
import { chartConfig } from './vega-render.ts';

export interface ChartDraft {
  /** File stem, unique within the report, e.g. "time-to-fit-vs-fraction". */
  id: string;
  title: string;
  /** What the chart shows and how to read it. */
  caption: string;
  spec: TopLevelSpec;
  rows: Row[];
  columns?: Column[];
}

/** Vega-Lite spec without data and config (both are filled in by `chartDraft`). */
export type ChartBody = Record<string, unknown>;

export function chartDraft(
  id: string,
  title: string,
  caption: string,
  rows: Row[],
  body: ChartBody,
  columns?: Column[],
): ChartDraft {
  const spec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title,
    data: { values: rows },
    config: chartConfig,
    ...body,
  } as TopLevelSpec;
  return { id: fileStem(id), title, caption, spec, rows, ...(columns ? { columns } : {}) };
}

/** A file-name-safe stem. */
export function fileStem(text: string): string {
  return (
    text
      .toLowerCase()
      .replace(/[^a-z0-9._-]+/g, '-')
      .replace(/^-+|-+$/g, '')
      .slice(0, 80) || 'chart'
  );
}

/** At most `max` points, evenly spaced, always keeping the last one. */
export function thin<T>(points: readonly T[], max: number): T[] {
  if (points.length <= max) return [...points];
  const stride = Math.ceil(points.length / max);
  const kept = points.filter((_, i) => i % stride === 0);
  const last = points[points.length - 1] as T;
  if (kept[kept.length - 1] !== last) kept.push(last);
  return kept;
}

/** A log scale when every value is positive (loss curves near zero read better), else linear. */
export function lossScale(values: readonly number[]): { type: 'log' | 'linear' } {
  return values.length > 0 && values.every((v) => v > 0) ? { type: 'log' } : { type: 'linear' };
}
