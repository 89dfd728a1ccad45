// Sections for analysis results (filled in below).
import type { ReportContext } from '../report-context.ts';
import type { ReportSection } from '../report-section.ts';

export function analysisSections(_ctx: ReportContext): ReportSection[] {
  return [];
}
