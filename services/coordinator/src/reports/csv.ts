// Tables as CSV (RFC 4180): every number at full precision, so a reader can recompute any chart.
export type Cell = string | number | boolean | null | undefined;
export type Row = Record<string, Cell>;

export interface Column {
  /** Key in the row objects. */
  field: string;
  /** Header written to the CSV (defaults to the field). */
  header?: string;
}

function csvCell(value: Cell): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : '';
  const text = String(value);
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/** The columns present in `rows`, in first-seen order. */
export function columnsOf(rows: readonly Row[]): Column[] {
  const seen = new Set<string>();
  for (const row of rows) for (const key of Object.keys(row)) seen.add(key);
  return [...seen].map((field) => ({ field }));
}

export function toCsv(rows: readonly Row[], columns: readonly Column[] = columnsOf(rows)): string {
  const lines = [columns.map((c) => csvCell(c.header ?? c.field)).join(',')];
  for (const row of rows) lines.push(columns.map((c) => csvCell(row[c.field])).join(','));
  return `${lines.join('\n')}\n`;
}

/** Parses CSV written by `toCsv` (quoted cells included); used by tests and tools reading reports. */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else cell += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') {
      row.push(cell);
      cell = '';
    } else if (ch === '\n') {
      row.push(cell);
      rows.push(row);
      row = [];
      cell = '';
    } else if (ch !== '\r') cell += ch;
  }
  if (cell !== '' || row.length > 0) {
    row.push(cell);
    rows.push(row);
  }
  return rows;
}
