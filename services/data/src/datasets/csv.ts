// A strict RFC 4180 CSV reader that reports errors with the line they are on. Hand-written because
// the parsers installed here are lenient (they silently accept ragged rows and stray quotes), and a
// user's CSV must be refused with the line to fix. Fields are separated by commas, records by LF or
// CRLF; a quoted field may hold commas, newlines and doubled quotes. Blank lines are skipped.

export class CsvError extends Error {
  readonly line: number;
  constructor(line: number, message: string) {
    super(`line ${line}: ${message}`);
    this.line = line;
    this.name = 'CsvError';
  }
}

export interface CsvTable {
  header: string[];
  rows: string[][];
  /** Line (1-based) on which each row starts. */
  rowLines: number[];
}

export function parseCsv(text: string): CsvTable {
  const records: { fields: string[]; line: number }[] = [];
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  let line = 1;
  const n = text.length;
  while (i < n) {
    const startLine = line;
    const fields: string[] = [];
    let atRecordEnd = false;
    // A record that is an empty line (LF or CRLF) is skipped.
    if (text[i] === '\n' || (text[i] === '\r' && text[i + 1] === '\n')) {
      i += text[i] === '\r' ? 2 : 1;
      line++;
      continue;
    }
    while (!atRecordEnd) {
      let value = '';
      if (text[i] === '"') {
        const quoteLine = line;
        i++;
        for (;;) {
          if (i >= n) throw new CsvError(quoteLine, 'quoted field is never closed');
          const ch = text[i] as string;
          if (ch === '"') {
            if (text[i + 1] === '"') {
              value += '"';
              i += 2;
              continue;
            }
            i++;
            break;
          }
          if (ch === '\n') line++;
          value += ch;
          i++;
        }
        if (i < n && text[i] !== ',' && text[i] !== '\n' && !(text[i] === '\r' && text[i + 1] === '\n')) {
          throw new CsvError(line, `unexpected ${JSON.stringify(text[i])} after a closing quote`);
        }
      } else {
        const start = i;
        while (i < n && text[i] !== ',' && text[i] !== '\n' && !(text[i] === '\r' && text[i + 1] === '\n')) {
          if (text[i] === '"')
            throw new CsvError(line, 'a quote inside an unquoted field (quote the whole field)');
          i++;
        }
        value = text.slice(start, i);
      }
      fields.push(value);
      if (i >= n) {
        atRecordEnd = true;
      } else if (text[i] === ',') {
        i++;
      } else {
        i += text[i] === '\r' ? 2 : 1;
        line++;
        atRecordEnd = true;
      }
    }
    records.push({ fields, line: startLine });
  }
  const first = records.shift();
  if (!first) throw new CsvError(1, 'no header row');
  const header = first.fields.map((h) => h.trim());
  const seen = new Set<string>();
  header.forEach((name, c) => {
    if (name === '') throw new CsvError(first.line, `column ${c + 1} has no name`);
    if (seen.has(name)) throw new CsvError(first.line, `column name ${JSON.stringify(name)} appears twice`);
    seen.add(name);
  });
  for (const r of records) {
    if (r.fields.length !== header.length) {
      throw new CsvError(
        r.line,
        `expected ${header.length} fields (as in the header), found ${r.fields.length}`,
      );
    }
  }
  return { header, rows: records.map((r) => r.fields), rowLines: records.map((r) => r.line) };
}
