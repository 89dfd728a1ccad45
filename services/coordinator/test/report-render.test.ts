// The report page in headless Chromium: it loads from file:// with no network, every chart is
// present as a drawn SVG, images decode, and the console stays free of errors.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { buildReport } from '../src/reports/index.ts';
import { syntheticReportInput, withEveryAnalysisKind } from './report-synthetic-input.ts';

const chromiumPath = '/usr/bin/chromium';
const chromiumArgs = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

test('the report renders in headless Chromium with its charts and no console errors', {
  skip: existsSync(chromiumPath) ? false : `${chromiumPath} is missing (apt-get install chromium)`,
}, async () => {
  const { chromium } = await import('playwright-core');
  const reportDir = mkdtempSync(join(tmpdir(), 'gengap-render-'));
  const profile = mkdtempSync(join(tmpdir(), 'gengap-chromium-'));
  dirs.push(reportDir, profile);
  const out = await buildReport(withEveryAnalysisKind(syntheticReportInput()), reportDir);

  const context = await chromium.launchPersistentContext(profile, {
    executablePath: chromiumPath,
    args: chromiumArgs,
    viewport: { width: 1280, height: 900 },
  });
  try {
    const page = await context.newPage();
    const problems: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') problems.push(`console ${m.type()}: ${m.text()}`);
    });
    page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
    page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()}`));
    // Anything not under the report folder would be a fetch from elsewhere: refuse it.
    const base = pathToFileURL(reportDir).href;
    await page.route('**/*', (route) =>
      route.request().url().startsWith(base) ? route.continue() : route.abort(),
    );
    const response = await page.goto(pathToFileURL(out.htmlPath).href, { waitUntil: 'load' });
    assert.ok(response === null || response.ok(), 'page loads');

    const charts = await page.$$eval('figure.chart', (figures) =>
      figures.map((f) => {
        const svg = f.querySelector('svg');
        const box = svg?.getBoundingClientRect();
        return {
          id: f.id,
          width: box?.width ?? 0,
          height: box?.height ?? 0,
          marks: svg
            ? svg.querySelectorAll(
                '.mark-line path, .mark-symbol path, .mark-rect path, .mark-rule line, .mark-area path',
              ).length
            : 0,
        };
      }),
    );
    const expected = out.files.filter((f) => f.endsWith('.svg')).length;
    assert.equal(charts.length, expected, 'one figure per chart file');
    for (const id of [
      'chart-time-to-fit-vs-fraction',
      'chart-test-error-vs-fraction',
      'chart-learning-curves-accuracy',
      'chart-hessian-spectrum',
    ])
      assert.ok(
        charts.some((c) => c.id === id),
        `${id} on the page`,
      );
    for (const c of charts) {
      assert.ok(c.width > 100 && c.height > 100, `${c.id} is laid out (${c.width}x${c.height})`);
      assert.ok(c.marks > 0, `${c.id} has drawn marks`);
    }
    const images = await page.$$eval('img', (imgs) =>
      imgs.map((i) => ({ src: i.getAttribute('src'), ok: i.complete && i.naturalWidth > 0 })),
    );
    assert.ok(images.length > 0);
    for (const img of images) assert.ok(img.ok, `${img.src} decodes`);
    const headings = await page.$$eval('h2', (hs) => hs.map((h) => h.textContent ?? ''));
    assert.ok(headings.includes('Outcome against the swept fields'));
    assert.match((await page.textContent('aside.notes')) ?? '', /not implemented yet/);
    assert.deepEqual(problems, []);
  } finally {
    await context.close();
  }
});
