// The report server on 127.0.0.1:0: the live list, its JSON, report files, and refusal of every
// way out of the reports folder (dot segments raw and encoded, backslashes, symlinks).
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { JobState } from '@gengap/proto/common/v1/job';
import { Experiment } from '@gengap/proto/coordinator/v1/experiment';
import { type ReportServer, startReportServer } from '../src/http/index.ts';

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** A raw request: the path goes out exactly as written (fetch would normalise dot segments). */
function get(port: number, path: string, method = 'GET'): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => {
        body += c;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('report server', () => {
  const root = mkdtempSync(join(tmpdir(), 'gengap-http-'));
  const reportsDir = join(root, 'reports');
  let server: ReportServer;
  let failList = false;
  const experiments = [
    Experiment.fromPartial({
      experimentId: 'exp-done',
      spec: { name: 'zhang2017' },
      preset: 'zhang2017',
      status: {
        state: JobState.JOB_STATE_SUCCEEDED,
        progress: 1,
        createdAt: new Date('2026-11-02T10:00:00Z'),
      },
      runs: [
        { cellId: 'a', status: { state: JobState.JOB_STATE_SUCCEEDED } },
        { cellId: 'b', status: { state: JobState.JOB_STATE_SUCCEEDED } },
      ],
    }),
    Experiment.fromPartial({
      experimentId: 'exp-running',
      spec: { name: 'keskar<b>2017' },
      status: { state: JobState.JOB_STATE_RUNNING, progress: 0.25, phase: 'epoch 3/20' },
      runs: [{ cellId: 'a', status: { state: JobState.JOB_STATE_RUNNING } }],
    }),
  ];

  before(async () => {
    mkdirSync(join(reportsDir, 'exp-done', 'charts'), { recursive: true });
    writeFileSync(join(reportsDir, 'exp-done', 'index.html'), '<!doctype html><title>report</title>');
    writeFileSync(
      join(reportsDir, 'exp-done', 'charts', 'a b.svg'),
      '<svg xmlns="http://www.w3.org/2000/svg"/>',
    );
    writeFileSync(join(reportsDir, 'exp-done', '.hidden'), 'hidden');
    writeFileSync(join(root, 'secret.txt'), 'secret');
    symlinkSync(join(root, 'secret.txt'), join(reportsDir, 'exp-done', 'link.txt'));
    symlinkSync(root, join(reportsDir, 'exp-escape'));
    server = await startReportServer({
      port: 0,
      reportsDir,
      listExperiments: () => {
        if (failList) throw new Error('store down');
        return experiments;
      },
    });
  });
  after(async () => {
    await server.close();
    rmSync(root, { recursive: true, force: true });
  });

  test('listens on loopback', () => {
    assert.ok(server.port > 0);
    assert.equal(server.url, `http://127.0.0.1:${server.port}`);
  });

  test('GET / is the live list: refreshing, with links to written reports only', async () => {
    const r = await get(server.port, '/');
    assert.equal(r.status, 200);
    assert.match(String(r.headers['content-type']), /text\/html/);
    assert.match(r.body, /<meta http-equiv="refresh" content="3">/);
    assert.match(r.body, /<a href="\/experiments\/exp-done\/">exp-done<\/a>/);
    assert.ok(r.body.includes('exp-running'));
    assert.ok(
      !r.body.includes('href="/experiments/exp-running/"'),
      'no report link before the report exists',
    );
    assert.ok(r.body.includes('keskar&lt;b&gt;2017'), 'names are escaped');
    assert.match(r.body, /25%/);
    assert.match(r.body, /epoch 3\/20/);
  });

  test('GET /api/experiments is JSON with summaries and the full experiments', async () => {
    const r = await get(server.port, '/api/experiments');
    assert.equal(r.status, 200);
    assert.match(String(r.headers['content-type']), /application\/json/);
    const json = JSON.parse(r.body);
    assert.equal(json.experiments.length, 2);
    const done = json.experiments[0];
    assert.equal(done.experimentId, 'exp-done');
    assert.equal(done.state, 'succeeded');
    assert.equal(done.runs, 2);
    assert.equal(done.runsSucceeded, 2);
    assert.equal(done.experiment.status.state, 'JOB_STATE_SUCCEEDED');
    const one = JSON.parse((await get(server.port, '/api/experiments/exp-running')).body);
    assert.equal(one.progress, 0.25);
    assert.equal((await get(server.port, '/api/experiments/nope')).status, 404);
  });

  test('serves report files with their content types', async () => {
    const redirect = await get(server.port, '/experiments/exp-done');
    assert.equal(redirect.status, 301);
    assert.equal(redirect.headers.location, '/experiments/exp-done/');
    const page = await get(server.port, '/experiments/exp-done/');
    assert.equal(page.status, 200);
    assert.match(page.body, /<title>report<\/title>/);
    assert.match(String(page.headers['content-security-policy']), /default-src 'none'/);
    const svg = await get(server.port, '/experiments/exp-done/charts/a%20b.svg');
    assert.equal(svg.status, 200);
    assert.equal(svg.headers['content-type'], 'image/svg+xml');
    const head = await get(server.port, '/experiments/exp-done/index.html', 'HEAD');
    assert.equal(head.status, 200);
    assert.equal(head.body, '');
    assert.equal((await get(server.port, '/experiments/exp-missing/')).status, 404);
  });

  test('refuses every path out of the reports folder', async () => {
    for (const path of [
      '/experiments/../secret.txt',
      '/experiments/exp-done/../../secret.txt',
      '/experiments/%2e%2e/secret.txt',
      '/experiments/exp-done/%2e%2e%2f%2e%2e%2fsecret.txt',
      '/experiments/exp-done/..%5c..%5csecret.txt',
      '/experiments/exp-done/%00index.html',
      '/experiments/exp-done/.hidden',
      '/experiments/exp-done/link.txt',
      '/experiments/exp-escape/secret.txt',
      '/experiments/%E0%A4%A',
    ]) {
      const r = await get(server.port, path);
      assert.equal(r.status, 404, `${path} -> ${r.status}`);
      assert.ok(!r.body.includes('secret') || r.body.startsWith('not found'), `${path} leaks nothing`);
    }
  });

  test('is read-only and reports failures without details', async () => {
    const post = await get(server.port, '/api/experiments', 'POST');
    assert.equal(post.status, 405);
    assert.equal(post.headers.allow, 'GET, HEAD');
    assert.equal((await get(server.port, '/nothing')).status, 404);
    assert.equal((await get(server.port, '/favicon.ico')).status, 204, 'no 404 in browser consoles');
    failList = true;
    try {
      const r = await get(server.port, '/');
      assert.equal(r.status, 500);
      assert.ok(!r.body.includes('store down'));
    } finally {
      failList = false;
    }
  });
});
