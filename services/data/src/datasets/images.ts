// Shared by the image sources (MNIST, Fashion-MNIST): raw 8-bit images and their labels turned into
// float inputs, scaled to [0, 1] or standardised with the training split's mean and std.
import { PixelScaling } from '@gengap/proto/data/v1/dataset';
import type { DatasetData, SplitData } from './types.ts';

export const IMAGE_SIDE = 28;
export const IMAGE_PIXELS = IMAGE_SIDE * IMAGE_SIDE;

/** Raw 8-bit images (n x 784) and labels of one split. */
export interface RawImages {
  n: number;
  pixels: Uint8Array;
  labels: Uint8Array;
}

/** Mean and std of x / 255 over every pixel of `images`, accumulated in float64. */
export function unitPixelMoments(images: RawImages): { mean: number; std: number } {
  const counts = new Float64Array(256);
  for (const v of images.pixels) counts[v] = (counts[v] as number) + 1;
  let sum = 0;
  let sumSq = 0;
  for (let v = 0; v < 256; v++) {
    const u = v / 255;
    sum += (counts[v] as number) * u;
    sumSq += (counts[v] as number) * u * u;
  }
  const total = images.pixels.length;
  const mean = sum / total;
  return { mean, std: Math.sqrt(Math.max(sumSq / total - mean * mean, 0)) };
}

function toSplit(images: RawImages, table: Float32Array): SplitData {
  const x = new Float32Array(images.n * IMAGE_PIXELS);
  const pixels = images.pixels;
  for (let i = 0; i < x.length; i++) x[i] = table[pixels[i] as number] as number;
  const y = Int32Array.from(images.labels.subarray(0, images.n));
  const origin = new Uint32Array(images.n);
  for (let i = 0; i < images.n; i++) origin[i] = i;
  return { n: images.n, x, y, yClean: undefined, origin };
}

/** Builds an image dataset from raw train and test splits. */
export function imageDataset(
  train: RawImages,
  test: RawImages,
  scaling: PixelScaling,
  flatten: boolean,
  classNames: string[] | undefined,
): DatasetData {
  // Pixel values are 8-bit, so a 256-entry table gives every scaled value exactly once.
  const table = new Float32Array(256);
  const moments = scaling === PixelScaling.PIXEL_SCALING_STANDARDIZE ? unitPixelMoments(train) : undefined;
  for (let v = 0; v < 256; v++) table[v] = moments ? (v / 255 - moments.mean) / moments.std : v / 255;
  const trainSplit = toSplit(train, table);
  return {
    inputShape: flatten ? [IMAGE_PIXELS] : [1, IMAGE_SIDE, IMAGE_SIDE],
    numClasses: 10,
    train: trainSplit,
    test: toSplit(test, table),
    image: { shape: [1, IMAGE_SIDE, IMAGE_SIDE], background: table[0] as number },
    sourceTrain: trainSplit,
    pool: undefined,
    auxiliary: new Map(),
    classNames,
    onlineLabelCorruption: 0,
    details: {},
  };
}
