// The coordinator's HTTP face, on loopback by default: the live experiment list (GET /), its JSON
// (GET /api/experiments, GET /api/experiments/<id>), and each experiment's report folder
// (GET /experiments/<id>/...). Read-only: anything but GET and HEAD is refused. With `authorize`
// (the coordinator's GENGAP_AUTH_TOKENS) every request needs a token: `Authorization: Bearer <token>`,
// or HTTP Basic with the token as the password (browsers ask for it after the 401).
import { existsSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Experiment } from '@gengap/proto/coordinator/v1/experiment';
import { experimentSummary } from '../reports/experiment-summary.ts';
import { experimentListHtml } from './experiment-list-page.ts';
import { resolveInside, safeSegments, sendFile } from './static-files.ts';

export interface ReportServerOptions {
  /** Interface to bind; 127.0.0.1 unless told otherwise. */
  host?: string;
  /** 0 picks a free port. */
  port: number;
  /** Folder holding one report folder per experiment id (reportsDir/<id>/index.html). */
  reportsDir: string;
  /** The experiments to list (newest first is the caller's choice). */
  listExperiments: () => Promise<Experiment[]> | Experiment[];
  /** Seconds between refreshes of the list page; default 3. */
  refreshSeconds?: number;
  /** Called with errors of requests (the response is a 500 without details). */
  onError?: (err: unknown) => void;
  /** Checks a request's token; throws to refuse it. Absent: no authentication. */
  authorize?: (token: string | undefined) => void;
}

/** The token of a request: a Bearer token, or the password of HTTP Basic. */
function requestToken(req: IncomingMessage): string | undefined {
  const header = req.headers.authorization ?? '';
  const bearer = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (bearer) return bearer[1];
  const basic = /^Basic\s+(\S+)\s*$/i.exec(header);
  if (!basic) return undefined;
  const decoded = Buffer.from(basic[1] as string, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon >= 0 ? decoded.slice(colon + 1) : undefined;
}

export interface ReportServer {
  port: number;
  /** Base URL, e.g. http://127.0.0.1:8080 */
  url: string;
  close(): Promise<void>;
}

/** URL path of an experiment's report folder. */
export function reportPath(experimentId: string): string {
  return `/experiments/${encodeURIComponent(experimentId)}/`;
}

function send(res: ServerResponse, status: number, type: string, body: string, headOnly = false): void {
  res.writeHead(status, {
    'content-type': type,
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-cache',
    'x-content-type-options': 'nosniff',
  });
  res.end(headOnly ? undefined : body);
}

const sendJson = (res: ServerResponse, status: number, value: unknown, headOnly: boolean) =>
  send(res, status, 'application/json; charset=utf-8', `${JSON.stringify(value, null, 2)}\n`, headOnly);

const notFound = (res: ServerResponse, what: string, headOnly: boolean) =>
  send(res, 404, 'text/plain; charset=utf-8', `not found: ${what}\n`, headOnly);

async function handle(
  options: ReportServerOptions,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const method = req.method ?? 'GET';
  if (method !== 'GET' && method !== 'HEAD') {
    res.setHeader('allow', 'GET, HEAD');
    send(res, 405, 'text/plain; charset=utf-8', 'method not allowed\n');
    return;
  }
  const headOnly = method === 'HEAD';
  if (options.authorize) {
    try {
      options.authorize(requestToken(req));
    } catch {
      res.setHeader('www-authenticate', 'Basic realm="GenGap", charset="UTF-8"');
      send(
        res,
        401,
        'text/plain; charset=utf-8',
        'a token is required (Bearer, or Basic with the token as password)\n',
      );
      return;
    }
  }
  const url = new URL(req.url ?? '/', 'http://localhost');
  const path = url.pathname;

  if (path === '/' || path === '/index.html') {
    const experiments = await options.listExperiments();
    const listed = experiments.map((e) => ({
      summary: experimentSummary(e),
      reportHref: existsSync(join(options.reportsDir, e.experimentId, 'index.html'))
        ? reportPath(e.experimentId)
        : undefined,
    }));
    send(
      res,
      200,
      'text/html; charset=utf-8',
      experimentListHtml(listed, options.refreshSeconds ?? 3, new Date()),
      headOnly,
    );
    return;
  }
  if (path === '/favicon.ico') {
    // Browsers ask for it whatever the page says; nothing to serve, and no 404 in their console.
    res.writeHead(204, { 'cache-control': 'max-age=86400' });
    res.end();
    return;
  }
  if (path === '/api/experiments' || path === '/api/experiments/') {
    const experiments = await options.listExperiments();
    sendJson(
      res,
      200,
      {
        experiments: experiments.map((e) => ({ ...experimentSummary(e), experiment: Experiment.toJSON(e) })),
      },
      headOnly,
    );
    return;
  }
  if (path.startsWith('/api/experiments/')) {
    const id = safeSegments(path.slice('/api/experiments/'.length));
    const experiments = id?.length === 1 ? await options.listExperiments() : [];
    const found = experiments.find((e) => e.experimentId === id?.[0]);
    if (!found) return notFound(res, path, headOnly);
    sendJson(res, 200, { ...experimentSummary(found), experiment: Experiment.toJSON(found) }, headOnly);
    return;
  }
  if (path.startsWith('/experiments/')) {
    const segments = safeSegments(path.slice('/experiments/'.length));
    if (!segments || segments.length === 0) return notFound(res, path, headOnly);
    // A report's links are relative: its folder must be addressed with a trailing slash.
    if (segments.length === 1 && !path.endsWith('/')) {
      res.writeHead(301, { location: reportPath(segments[0] as string) });
      res.end();
      return;
    }
    const file = await resolveInside(options.reportsDir, segments);
    if (file && (await sendFile(res, file, headOnly))) return;
    return notFound(res, path, headOnly);
  }
  notFound(res, path, headOnly);
}

export async function startReportServer(options: ReportServerOptions): Promise<ReportServer> {
  const host = options.host ?? '127.0.0.1';
  const server = createServer((req, res) => {
    handle(options, req, res).catch((err: unknown) => {
      options.onError?.(err);
      if (!res.headersSent) send(res, 500, 'text/plain; charset=utf-8', 'internal error\n');
      else res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
