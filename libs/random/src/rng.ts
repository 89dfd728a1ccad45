// Seeded random numbers that are identical on every machine: pure 32-bit integer arithmetic
// (Math.imul, >>> 0), never Math.random. A generator is identified by (seed, stream), so independent
// consumers (initialisation, data order, dropout, a corruption) draw from separate streams of one seed
// and adding a consumer never shifts another's numbers.

/** splitmix32 step: a good 32-bit mixer for seeding and hashing. */
export function mix32(x: number): number {
  let z = (x + 0x9e3779b9) >>> 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
  return (z ^ (z >>> 16)) >>> 0;
}

/** Hash of a list of 32-bit words (e.g. seed, step, index) to one 32-bit word. */
export function hashWords(...words: number[]): number {
  let h = 0x811c9dc5;
  for (const w of words) h = mix32((h ^ (w >>> 0)) >>> 0);
  return h;
}

/** Splits a seed that may exceed 2^32 (up to 2^53) into two words. */
function seedWords(seed: number | bigint): [number, number] {
  const big = typeof seed === 'bigint' ? seed : BigInt(Math.trunc(seed));
  return [Number(big & 0xffffffffn), Number((big >> 32n) & 0xffffffffn)];
}

/** Derives a stream id from a name, so streams can be named ("init", "shuffle", "labelNoise"). */
export function streamId(name: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

export class Rng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;
  private spareNormal: number | undefined;

  constructor(seed: number | bigint, stream: number | string = 0) {
    const [lo, hi] = seedWords(seed);
    const id = typeof stream === 'string' ? streamId(stream) : stream >>> 0;
    let x = hashWords(lo, hi, id);
    const next = () => {
      x = (x + 0x9e3779b9) >>> 0;
      return mix32(x);
    };
    this.s0 = next();
    this.s1 = next();
    this.s2 = next();
    this.s3 = next();
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1;
  }

  /** Saves the full state (for checkpoints of data-order RNGs). */
  getState(): number[] {
    return [this.s0, this.s1, this.s2, this.s3];
  }

  static fromState(state: readonly number[]): Rng {
    const rng = new Rng(0);
    [rng.s0, rng.s1, rng.s2, rng.s3] = state.map((v) => v >>> 0) as [number, number, number, number];
    rng.spareNormal = undefined;
    return rng;
  }

  /** xoshiro128** */
  nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5) >>> 0, 7), 9) >>> 0;
    const t = (this.s1 << 9) >>> 0;
    this.s2 = (this.s2 ^ this.s0) >>> 0;
    this.s3 = (this.s3 ^ this.s1) >>> 0;
    this.s1 = (this.s1 ^ this.s2) >>> 0;
    this.s0 = (this.s0 ^ this.s3) >>> 0;
    this.s2 = (this.s2 ^ t) >>> 0;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** Uniform in [0, 1) with 53 random bits. */
  uniform(): number {
    const hi = this.nextUint32() >>> 5;
    const lo = this.nextUint32() >>> 6;
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /** Uniform integer in [0, n), without modulo bias. */
  int(n: number): number {
    if (!(n >= 1 && n <= 2 ** 32)) throw new RangeError(`int(n) needs 1 <= n <= 2^32, got ${n}`);
    const limit = 2 ** 32 - (2 ** 32 % n);
    for (;;) {
      const r = this.nextUint32();
      if (r < limit) return r % n;
    }
  }

  /** Standard normal (Marsaglia polar method). */
  normal(): number {
    if (this.spareNormal !== undefined) {
      const v = this.spareNormal;
      this.spareNormal = undefined;
      return v;
    }
    for (;;) {
      const u = 2 * this.uniform() - 1;
      const v = 2 * this.uniform() - 1;
      const s = u * u + v * v;
      if (s > 0 && s < 1) {
        const m = Math.sqrt((-2 * Math.log(s)) / s);
        this.spareNormal = v * m;
        return u * m;
      }
    }
  }

  /** Fisher-Yates shuffle in place. */
  shuffle<T>(items: { length: number; [i: number]: T }): void {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const tmp = items[i] as T;
      items[i] = items[j] as T;
      items[j] = tmp;
    }
  }

  /** A uniformly random permutation of 0..n-1. */
  permutation(n: number): Uint32Array {
    const p = new Uint32Array(n);
    for (let i = 0; i < n; i++) p[i] = i;
    this.shuffle(p);
    return p;
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}
