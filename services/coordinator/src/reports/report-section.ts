// A section of the report page: charts, tables and images under one heading.
import type { ChartDraft } from './chart-draft.ts';
import type { ReportTable } from './run-tables.ts';

export interface ReportImage {
  /** Path relative to the report folder. */
  src: string;
  alt: string;
  caption: string;
  /** The image's bytes, written to `src` when the report is built. */
  bytes?: Uint8Array;
}

export interface ReportSection {
  /** Stable id, also the name used by ExperimentSpec.report_sections to select sections. */
  id: string;
  title: string;
  intro?: string;
  charts: ChartDraft[];
  tables: ReportTable[];
  images: ReportImage[];
}

export function section(
  id: string,
  title: string,
  parts: Partial<Pick<ReportSection, 'intro' | 'charts' | 'tables' | 'images'>>,
): ReportSection {
  return {
    id,
    title,
    ...(parts.intro ? { intro: parts.intro } : {}),
    charts: parts.charts ?? [],
    tables: parts.tables ?? [],
    images: parts.images ?? [],
  };
}

export function isEmpty(s: ReportSection): boolean {
  return s.charts.length === 0 && s.tables.every((t) => t.rows.length === 0) && s.images.length === 0;
}
