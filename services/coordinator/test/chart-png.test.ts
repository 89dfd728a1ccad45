// The PNG copies of report charts: the PNG of a real chart has twice the SVG's size, and its labels
// are drawn (with the bundled font: the same chart with its text removed renders to other pixels).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { inflateSync } from 'node:zlib';
import { PNG_SCALE, svgToPng } from '../src/reports/chart-png.ts';
import { renderSvg } from '../src/reports/vega-render.ts';

/** Width, height and the decompressed scanlines (filter byte + RGBA or RGB per row) of a PNG. */
function decodePng(png: Uint8Array): { width: number; height: number; raw: Buffer } {
  const buf = Buffer.from(png);
  assert.deepEqual([...buf.subarray(0, 8)], [137, 80, 78, 71, 13, 10, 26, 10], 'PNG signature');
  let offset = 8;
  let width = 0;
  let height = 0;
  const data: Buffer[] = [];
  while (offset < buf.length) {
    const length = buf.readUInt32BE(offset);
    const type = buf.toString('latin1', offset + 4, offset + 8);
    const body = buf.subarray(offset + 8, offset + 8 + length);
    if (type === 'IHDR') {
      width = body.readUInt32BE(0);
      height = body.readUInt32BE(4);
    } else if (type === 'IDAT') data.push(body);
    offset += 12 + length;
  }
  return { width, height, raw: inflateSync(Buffer.concat(data)) };
}

const chart = await renderSvg({
  $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
  title: 'Time to fit vs label noise',
  width: 300,
  height: 200,
  data: {
    values: [0, 0.2, 0.4, 0.6, 0.8, 1].map((p, i) => ({
      fraction: p,
      epochs: [35, 133, 195, 224, 235, 425][i],
    })),
  },
  mark: { type: 'line', point: true },
  encoding: {
    x: { field: 'fraction', type: 'quantitative', title: 'label corruption fraction' },
    y: { field: 'epochs', type: 'quantitative', title: 'epochs to fit' },
  },
});

test('a chart PNG is the SVG at twice its size, on white', () => {
  const width = Number(chart.match(/<svg[^>]*\swidth="([\d.]+)"/)?.[1]);
  const height = Number(chart.match(/<svg[^>]*\sheight="([\d.]+)"/)?.[1]);
  assert.ok(width > 300 && height > 200, `the SVG is ${width} x ${height}`);
  const png = decodePng(svgToPng(chart));
  assert.equal(png.width, Math.ceil(width * PNG_SCALE));
  assert.equal(png.height, Math.ceil(height * PNG_SCALE));
  // The first scanline is background: its filtered bytes are all white (or zero differences).
  assert.ok(png.raw.length > png.width * png.height * 3, 'a full image');
});

test('labels are drawn: without its text the chart renders to other pixels', () => {
  const withText = decodePng(svgToPng(chart)).raw;
  const withoutText = decodePng(svgToPng(chart.replace(/<text[^>]*>[^<]*<\/text>/g, ''))).raw;
  assert.ok(chart.includes('epochs to fit'), 'the SVG has text');
  let differing = 0;
  for (let i = 0; i < withText.length; i++) if (withText[i] !== withoutText[i]) differing++;
  // The axis titles, tick labels and title cover thousands of pixels at 2x.
  assert.ok(differing > 2000, `${differing} bytes differ`);
});
