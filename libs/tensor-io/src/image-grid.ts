// PNG grids of images (the data service's sample grids, the analysis service's inversion
// reconstructions): rows of images drawn at `scale` x, a 2-pixel gap, values mapped linearly from
// [lo, hi] to black..white and clipped (so a reconstruction is shown on the originals' scale, its
// out-of-range pixels saturated). One channel is grey, three are RGB; other channel counts show
// their first channel.
import { PNG } from 'pngjs';

/** Channels, height and width of one image (row-major C*H*W values). */
export interface ImageGeometry {
  channels: number;
  height: number;
  width: number;
}

export interface ImageGridOptions {
  geometry: ImageGeometry;
  /** Values mapped to black and white. */
  lo: number;
  hi: number;
  scale?: number;
}

/** A grid whose row r holds the images rows[r] (each [count, C*H*W] row-major), left to right. */
export function renderImageRows(
  rows: readonly ArrayLike<number>[],
  columns: number,
  options: ImageGridOptions,
): Uint8Array {
  const { channels, height: h, width: w } = options.geometry;
  const scale = options.scale ?? 2;
  const gap = 2;
  const width = columns * w * scale + (columns + 1) * gap;
  const height = rows.length * h * scale + (rows.length + 1) * gap;
  const span = options.hi > options.lo ? options.hi - options.lo : 1;
  const png = new PNG({ width, height });
  png.data.fill(0);
  for (let i = 3; i < png.data.length; i += 4) png.data[i] = 255;
  const features = channels * h * w;
  for (const [row, images] of rows.entries()) {
    const count = Math.min(columns, Math.floor(images.length / features));
    for (let k = 0; k < count; k++) {
      const left = gap + k * (w * scale + gap);
      const top = gap + row * (h * scale + gap);
      for (let r = 0; r < h * scale; r++) {
        for (let c = 0; c < w * scale; c++) {
          const pixel = Math.floor(r / scale) * w + Math.floor(c / scale);
          const at = ((top + r) * width + left + c) * 4;
          for (let ch = 0; ch < 3; ch++) {
            const plane = channels === 3 ? ch : 0;
            const v = (images[k * features + plane * h * w + pixel]! - options.lo) / span;
            png.data[at + ch] = Math.round(255 * Math.min(1, Math.max(0, v)));
          }
        }
      }
    }
  }
  return new Uint8Array(PNG.sync.write(png));
}

/**
 * `count` images of x in a near-square grid (ceil(sqrt(count)) columns), the smallest value black
 * and the largest white: suits [0, 1] pixels, standardised ones and noisy ones alike.
 */
export function renderImageGrid(
  x: Float32Array,
  count: number,
  geometry: ImageGeometry,
  scale = 2,
): Uint8Array {
  const columns = Math.max(1, Math.ceil(Math.sqrt(count)));
  const features = geometry.channels * geometry.height * geometry.width;
  const rows: Float32Array[] = [];
  for (let start = 0; start < Math.max(count, 1); start += columns) {
    rows.push(x.subarray(start * features, Math.min(count, start + columns) * features));
  }
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  for (const v of x.subarray(0, count * features)) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return renderImageRows(rows, columns, { geometry, lo, hi, scale });
}
