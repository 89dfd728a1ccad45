// The report page: one self-contained HTML file with every chart inline as SVG, the tables, and
// links to each chart's SVG, CSV and Vega-Lite spec. No scripts and nothing fetched from elsewhere,
// so it works offline and from file://.
import type { Cell } from './csv.ts';
import type { ReportSection } from './report-section.ts';
import type { ReportTable, TableColumn } from './run-tables.ts';

export interface ChartFiles {
  svg: string;
  png: string;
  csv: string;
  spec: string;
}

export interface PageInput {
  title: string;
  facts: [string, string][];
  description: string;
  notes: string[];
  sections: ReportSection[];
  /** Inline SVG (ids already scoped) and file links, by chart id. */
  charts: Map<string, { svg: string; files: ChartFiles }>;
  /** CSV path by table id. */
  tableFiles: Map<string, string>;
  generatedAt: Date;
}

export function escapeHtml(text: string): string {
  return text
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;')
    .replaceAll("'", '&#39;');
}

export function formatCell(value: Cell, format: TableColumn['format']): string {
  if (value === null || value === undefined || value === '') return '';
  if (typeof value !== 'number') return String(value);
  if (!Number.isFinite(value)) return String(value);
  switch (format) {
    case 'percent':
      return `${(value * 100).toFixed(1)}%`;
    case 'fixed3':
      return value.toFixed(3);
    case 'fixed1':
      return Number.isInteger(value) ? String(value) : value.toFixed(1);
    default:
      return Number.isInteger(value) ? String(value) : String(Number(value.toPrecision(4)));
  }
}

function tableHtml(full: ReportTable, csv: string | undefined): string {
  // Columns empty in every row (no errors, no stop reasons yet) are left out of the page, not the CSV.
  const columns = full.columns.filter((c) =>
    full.rows.some((r) => r[c.field] !== null && r[c.field] !== undefined && r[c.field] !== ''),
  );
  const table = { ...full, columns };
  const head = table.columns.map((c) => `<th>${escapeHtml(c.header)}</th>`).join('');
  const body = table.rows
    .map(
      (row) =>
        `<tr>${table.columns
          .map((c) => {
            const v = row[c.field];
            const numeric = typeof v === 'number' ? ' class="num"' : '';
            return `<td${numeric}>${escapeHtml(formatCell(v, c.format))}</td>`;
          })
          .join('')}</tr>`,
    )
    .join('\n');
  const link = csv ? ` <a href="${escapeHtml(csv)}">CSV</a>` : '';
  const caption = table.caption ? ` <span class="caption">${escapeHtml(table.caption)}</span>` : '';
  return `<div class="table" id="table-${escapeHtml(table.id)}">
<h3>${escapeHtml(table.title)}${link}</h3>${caption}
<div class="scroll"><table class="data"><thead><tr>${head}</tr></thead><tbody>
${body}
</tbody></table></div></div>`;
}

function sectionHtml(section: ReportSection, page: PageInput): string {
  const parts: string[] = [`<section id="${escapeHtml(section.id)}"><h2>${escapeHtml(section.title)}</h2>`];
  if (section.intro) parts.push(`<p class="intro">${escapeHtml(section.intro)}</p>`);
  for (const chart of section.charts) {
    const rendered = page.charts.get(chart.id);
    if (!rendered) continue;
    const f = rendered.files;
    parts.push(`<figure class="chart" id="chart-${escapeHtml(chart.id)}">
<div class="svg">${rendered.svg}</div>
<figcaption><strong>${escapeHtml(chart.title)}.</strong> ${escapeHtml(chart.caption)}
<span class="links"><a href="${escapeHtml(f.svg)}">SVG</a> · <a href="${escapeHtml(f.png)}">PNG</a> · <a href="${escapeHtml(f.csv)}">CSV</a> · <a href="${escapeHtml(f.spec)}">Vega-Lite</a></span></figcaption>
</figure>`);
  }
  for (const table of section.tables) {
    if (table.rows.length > 0) parts.push(tableHtml(table, page.tableFiles.get(table.id)));
  }
  if (section.images.length > 0) {
    parts.push('<div class="images">');
    for (const image of section.images) {
      parts.push(`<figure class="image"><img src="${escapeHtml(image.src)}" alt="${escapeHtml(image.alt)}">
<figcaption>${escapeHtml(image.caption)}</figcaption></figure>`);
    }
    parts.push('</div>');
  }
  parts.push('</section>');
  return parts.join('\n');
}

const style = `
body { font: 14px/1.45 Helvetica, Arial, sans-serif; color: #222; margin: 0 auto; max-width: 1200px; padding: 0 24px 48px; }
h1 { font-size: 24px; margin: 24px 0 8px; } h2 { font-size: 19px; margin-top: 36px; border-bottom: 1px solid #ddd; padding-bottom: 4px; }
h3 { font-size: 15px; margin: 18px 0 4px; } h3 a { font-size: 12px; font-weight: normal; margin-left: 8px; }
table.facts td { padding: 1px 12px 1px 0; vertical-align: top; } table.facts td:first-child { color: #666; }
aside.notes { background: #fff8e1; border-left: 4px solid #f0b400; padding: 8px 16px; margin: 16px 0; }
nav ul { display: flex; flex-wrap: wrap; gap: 4px 16px; padding: 0; list-style: none; }
figure.chart { margin: 16px 0 28px; } figure.chart .svg svg { max-width: 100%; height: auto; }
figcaption { color: #444; max-width: 900px; } .links { margin-left: 8px; font-size: 12px; }
.caption { color: #555; } .scroll { overflow-x: auto; }
table.data { border-collapse: collapse; font-size: 12.5px; margin: 6px 0 16px; }
table.data th, table.data td { border-bottom: 1px solid #e4e4e4; padding: 3px 10px 3px 0; text-align: left; white-space: nowrap; }
table.data td.num { text-align: right; font-variant-numeric: tabular-nums; }
.images { display: flex; flex-wrap: wrap; gap: 16px; align-items: flex-start; }
figure.image { width: 340px; margin: 0; font-size: 12.5px; } figure.image img { image-rendering: pixelated; width: 100%; border: 1px solid #ddd; }
footer { margin-top: 40px; color: #666; font-size: 12px; }
`;

export function reportHtml(page: PageInput): string {
  const facts = page.facts
    .map(([k, v]) => `<tr><td>${escapeHtml(k)}</td><td>${escapeHtml(v)}</td></tr>`)
    .join('');
  const notes =
    page.notes.length > 0
      ? `<aside class="notes"><strong>Notes</strong><ul>${page.notes
          .map((n) => `<li>${escapeHtml(n)}</li>`)
          .join('')}</ul></aside>`
      : '';
  const nav = page.sections
    .map((s) => `<li><a href="#${escapeHtml(s.id)}">${escapeHtml(s.title)}</a></li>`)
    .join('');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<link rel="icon" href="data:,">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(page.title)} · GenGap report</title>
<style>${style}</style></head>
<body>
<header><h1>${escapeHtml(page.title)}</h1>
${page.description ? `<p>${escapeHtml(page.description)}</p>` : ''}
<table class="facts">${facts}</table></header>
${notes}
<nav><ul>${nav}</ul></nav>
${page.sections.map((s) => sectionHtml(s, page)).join('\n')}
<footer>Generated ${escapeHtml(page.generatedAt.toISOString())} by GenGap. Every chart is also in charts/ (SVG and
Vega-Lite spec with its data) and every number in data/ (CSV) and report.json.</footer>
</body></html>
`;
}
