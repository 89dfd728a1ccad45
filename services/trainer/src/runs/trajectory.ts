// A seeded random projection of the flat parameter vector, for trajectory statistics (Hurst exponent,
// tail index...). Entries are Rademacher signs scaled by 1/sqrt(dimension): row d's signs are the
// bits of consecutive 32-bit draws of Rng(seed, "trajectory") (bit j of word w is parameter 32 w + j;
// a set bit means +1), rows one after the other. Python can rebuild the matrix from libs/random's
// xoshiro128** stream; the signs take dimension * parameters / 8 bytes.
import { Rng } from '@gengap/random';

export class TrajectoryProjection {
  readonly dimension: number;
  private readonly numParameters: number;
  private readonly wordsPerRow: number;
  private readonly signs: Uint32Array;

  constructor(seed: number, dimension: number, numParameters: number) {
    this.dimension = dimension;
    this.numParameters = numParameters;
    this.wordsPerRow = Math.ceil(numParameters / 32);
    const rng = new Rng(seed, 'trajectory');
    this.signs = new Uint32Array(dimension * this.wordsPerRow);
    for (let i = 0; i < this.signs.length; i++) this.signs[i] = rng.nextUint32();
  }

  project(parameters: Float32Array | Float64Array): number[] {
    if (parameters.length !== this.numParameters) {
      throw new RangeError(`expected ${this.numParameters} parameters, got ${parameters.length}`);
    }
    const scale = 1 / Math.sqrt(this.dimension);
    const out: number[] = [];
    for (let d = 0; d < this.dimension; d++) {
      let sum = 0;
      const row = d * this.wordsPerRow;
      for (let w = 0; w < this.wordsPerRow; w++) {
        const word = this.signs[row + w] as number;
        const base = w * 32;
        const end = Math.min(32, this.numParameters - base);
        for (let j = 0; j < end; j++) {
          const p = parameters[base + j] as number;
          sum += (word >>> j) & 1 ? p : -p;
        }
      }
      out.push(sum * scale);
    }
    return out;
  }
}
