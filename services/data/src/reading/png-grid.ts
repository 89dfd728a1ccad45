// A PNG grid of image examples for reports: ceil(sqrt(k)) columns, a 2-pixel gap, every pixel scaled
// linearly so the samples' smallest value is black and the largest white (works for [0, 1] pixels,
// standardised pixels and noisy ones alike), each image pixel drawn as scale x scale.
import { PNG } from 'pngjs';

export function renderImageGrid(
  x: Float32Array,
  count: number,
  shape: readonly [number, number, number],
  scale = 2,
): Uint8Array {
  const [channels, h, w] = shape;
  const gap = 2;
  const cols = Math.max(1, Math.ceil(Math.sqrt(count)));
  const rows = Math.max(1, Math.ceil(count / cols));
  const width = cols * w * scale + (cols + 1) * gap;
  const height = rows * h * scale + (rows + 1) * gap;
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  for (const v of x) {
    if (v < min) min = v;
    if (v > max) max = v;
  }
  const span = max > min ? max - min : 1;
  const png = new PNG({ width, height });
  png.data.fill(0);
  for (let i = 3; i < png.data.length; i += 4) png.data[i] = 255;
  const features = channels * h * w;
  for (let k = 0; k < count; k++) {
    const left = gap + (k % cols) * (w * scale + gap);
    const top = gap + Math.floor(k / cols) * (h * scale + gap);
    for (let r = 0; r < h * scale; r++) {
      for (let c = 0; c < w * scale; c++) {
        const pixel = Math.floor(r / scale) * w + Math.floor(c / scale);
        const at = ((top + r) * width + left + c) * 4;
        for (let ch = 0; ch < 3; ch++) {
          const plane = channels === 3 ? ch : 0;
          const v = x[k * features + plane * h * w + pixel] as number;
          png.data[at + ch] = Math.round((255 * (v - min)) / span);
        }
      }
    }
  }
  return new Uint8Array(PNG.sync.write(png));
}
