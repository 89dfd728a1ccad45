// Covariate-shifted copies of a split (the test split by default) for shift detection (Detectron,
// Ginsberg et al.). Noise: N(0, severity^2) added to every input value. Rotation: every image turned
// counter-clockwise by `severity` degrees about its centre, bilinear interpolation, uncovered corners
// filled with a black pixel's value. Class skew: an example whose class is not in `classes` is dropped
// with probability `severity` (order of the rest kept).
import { type CovariateShift, ShiftKind } from '@gengap/proto/data/v1/dataset';
import { featureCount, selectExamples } from '../datasets/types.ts';
import { SpecError } from '../validation/spec-error.ts';
import {
  type CorruptionContext,
  corruptionStream,
  fieldOf,
  setSplit,
  splitsOf,
  storedSplits,
} from './context.ts';

/** Rotates one [channels, height, width] image counter-clockwise by `degrees` into `out`. */
export function rotateImage(
  image: Float32Array,
  shape: readonly [number, number, number],
  degrees: number,
  background: number,
  out: Float32Array,
): void {
  const [channels, h, w] = shape;
  const theta = (degrees * Math.PI) / 180;
  const cos = Math.cos(theta);
  const sin = Math.sin(theta);
  const cx = (w - 1) / 2;
  const cy = (h - 1) / 2;
  for (let r = 0; r < h; r++) {
    for (let c = 0; c < w; c++) {
      const dx = c - cx;
      const dy = r - cy;
      // Inverse map (rows grow downwards): where in the source does output pixel (r, c) come from?
      const sx = cx + cos * dx - sin * dy;
      const sy = cy + sin * dx + cos * dy;
      const x0 = Math.floor(sx);
      const y0 = Math.floor(sy);
      const fx = sx - x0;
      const fy = sy - y0;
      for (let ch = 0; ch < channels; ch++) {
        const plane = ch * h * w;
        const at = (yy: number, xx: number) =>
          yy < 0 || yy >= h || xx < 0 || xx >= w ? background : (image[plane + yy * w + xx] as number);
        const top = at(y0, x0) * (1 - fx) + at(y0, x0 + 1) * fx;
        const bottom = at(y0 + 1, x0) * (1 - fx) + at(y0 + 1, x0 + 1) * fx;
        out[plane + r * w + c] = top * (1 - fy) + bottom * fy;
      }
    }
  }
}

export function applyCovariateShift(v: CovariateShift, ctx: CorruptionContext): void {
  const { data } = ctx;
  const features = featureCount(data.inputShape);
  for (const { name, split } of storedSplits(data, splitsOf(v.splits))) {
    const rng = corruptionStream(ctx, name);
    switch (v.kind) {
      case ShiftKind.SHIFT_KIND_NOISE: {
        for (let i = 0; i < split.x.length; i++)
          split.x[i] = (split.x[i] as number) + v.severity * rng.normal();
        break;
      }
      case ShiftKind.SHIFT_KIND_ROTATION: {
        const image = data.image;
        if (!image) throw new SpecError(fieldOf(ctx, 'kind'), 'rotation needs an image dataset');
        const out = new Float32Array(features);
        for (let i = 0; i < split.n; i++) {
          const row = split.x.subarray(i * features, (i + 1) * features);
          rotateImage(row, image.shape, v.severity, image.background, out);
          row.set(out);
        }
        break;
      }
      case ShiftKind.SHIFT_KIND_CLASS_SKEW: {
        const kept = new Set(v.classes);
        const keep: number[] = [];
        for (let i = 0; i < split.n; i++) {
          const dropped = !kept.has(split.y[i] as number) && rng.uniform() < v.severity;
          if (!dropped) keep.push(i);
        }
        setSplit(data, name, selectExamples(split, keep, features));
        break;
      }
      default:
        throw new SpecError(fieldOf(ctx, 'kind'), `unknown shift kind ${v.kind}`);
    }
  }
}
