// Serving files of one folder without ever leaving it: the request path is decoded, split, checked
// segment by segment (no "..", no hidden files, no NUL, no backslashes), and the real path of the
// file (symlinks resolved) must still be inside the real path of the folder.
import { createReadStream } from 'node:fs';
import { realpath, stat } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import { extname, join, sep } from 'node:path';

const contentTypes: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.csv': 'text/csv; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
};

/** The safe segments of a URL path below a folder, or undefined when the path is not acceptable. */
export function safeSegments(urlPath: string): string[] | undefined {
  let decoded: string;
  try {
    decoded = decodeURIComponent(urlPath);
  } catch {
    return undefined;
  }
  if (decoded.includes('\0') || decoded.includes('\\')) return undefined;
  const segments = decoded.split('/').filter((s) => s.length > 0);
  if (segments.some((s) => s === '.' || s === '..' || s.startsWith('.'))) return undefined;
  return segments;
}

/** The real path of `segments` under `root` if it exists inside root, else undefined. */
export async function resolveInside(root: string, segments: string[]): Promise<string | undefined> {
  let realRoot: string;
  try {
    realRoot = await realpath(root);
  } catch {
    return undefined;
  }
  let target: string;
  try {
    target = await realpath(join(realRoot, ...segments));
  } catch {
    return undefined;
  }
  if (target !== realRoot && !target.startsWith(realRoot + sep)) return undefined;
  return target;
}

/** Streams a file (index.html for a folder). Returns false when there is nothing to serve. */
export async function sendFile(res: ServerResponse, path: string, headOnly: boolean): Promise<boolean> {
  let file = path;
  let info = await stat(file).catch(() => undefined);
  if (info?.isDirectory()) {
    file = join(file, 'index.html');
    info = await stat(file).catch(() => undefined);
  }
  if (!info?.isFile()) return false;
  const name = file.toLowerCase();
  res.writeHead(200, {
    'content-type': contentTypes[extname(name)] ?? 'application/octet-stream',
    'content-length': info.size,
    'cache-control': 'no-cache',
    'x-content-type-options': 'nosniff',
    // Reports are self-contained: no scripts, nothing from elsewhere.
    'content-security-policy': "default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'",
  });
  if (headOnly) {
    res.end();
    return true;
  }
  await new Promise<void>((resolve, reject) => {
    const stream = createReadStream(file);
    stream.on('error', reject);
    res.on('close', resolve);
    stream.pipe(res);
  });
  return true;
}
