// `npm run bench -- <name> [args...]` runs bench/<name>.ts. Every benchmark prints one JSON object per
// line: {"bench", "metric", "unit", "gengap", "reference", "referenceName", "ratio"} where ratio is
// arranged so that higher is better for GenGap (see bench/README.md).
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const dir = fileURLToPath(new URL('.', import.meta.url));
const available = readdirSync(dir)
  .filter((f) => f.endsWith('.ts') && !['run.ts', 'report.ts'].includes(f) && !f.endsWith('.test.ts'))
  .map((f) => f.slice(0, -3))
  .sort();
const [name, ...args] = process.argv.slice(2);
if (!name || !existsSync(`${dir}${name}.ts`)) {
  console.error(`usage: npm run bench -- <name> [args]\navailable: ${available.join(', ')}`);
  process.exit(2);
}
const result = spawnSync(process.execPath, [`${dir}${name}.ts`, ...args], { stdio: 'inherit' });
process.exit(result.status ?? 1);
