// Data augmentation for image inputs [C, H, W], applied to a chunk's gathered batches: a random
// translation by up to `shift` pixels (zero fill) and a horizontal flip with probability 1/2. Draws
// come from Rng(seed, hash("augment", global step)), one set per example in batch order, so a resumed
// run augments every step exactly as an uninterrupted one.
import { hashWords, Rng, streamId } from '@gengap/random';
import type { ChunkBatches } from './training-backend.ts';

export interface AugmentationSpec {
  shift: number;
  flip: boolean;
}

const AUGMENT_STREAM = streamId('augment');

export class Augmenter {
  private readonly seed: number;
  private readonly channels: number;
  private readonly height: number;
  private readonly width: number;
  private readonly spec: AugmentationSpec;
  private readonly scratch: Float32Array;

  constructor(seed: number, inputShape: readonly number[], spec: AugmentationSpec) {
    const [channels, height, width] = inputShape as [number, number, number];
    this.seed = seed;
    this.channels = channels;
    this.height = height;
    this.width = width;
    this.spec = spec;
    this.scratch = new Float32Array(channels * height * width);
  }

  /** Augments the chunk's inputs in place (steps firstStep.. of the run). */
  apply(chunk: ChunkBatches, firstStep: number): void {
    const size = this.channels * this.height * this.width;
    for (let k = 0; k < chunk.steps; k++) {
      const rng = new Rng(this.seed, hashWords(AUGMENT_STREAM, firstStep + k));
      for (let j = 0; j < chunk.batchSize; j++) {
        const range = 2 * this.spec.shift + 1;
        const dy = this.spec.shift > 0 ? rng.int(range) - this.spec.shift : 0;
        const dx = this.spec.shift > 0 ? rng.int(range) - this.spec.shift : 0;
        const flip = this.spec.flip ? (rng.nextUint32() & 1) === 1 : false;
        if (dx === 0 && dy === 0 && !flip) continue;
        this.transform(
          chunk.x.subarray((k * chunk.batchSize + j) * size, (k * chunk.batchSize + j + 1) * size),
          dy,
          dx,
          flip,
        );
      }
    }
  }

  /** out[c, y, x] = in[c, y - dy, x' - dx] with x' the flipped column; zero where outside. */
  private transform(image: Float32Array, dy: number, dx: number, flip: boolean): void {
    const { height: h, width: w } = this;
    this.scratch.set(image);
    image.fill(0);
    for (let c = 0; c < this.channels; c++) {
      const plane = c * h * w;
      for (let y = 0; y < h; y++) {
        const sy = y - dy;
        if (sy < 0 || sy >= h) continue;
        for (let x = 0; x < w; x++) {
          const fx = flip ? w - 1 - x : x;
          const sx = fx - dx;
          if (sx < 0 || sx >= w) continue;
          image[plane + y * w + x] = this.scratch[plane + sy * w + sx] as number;
        }
      }
    }
  }
}
