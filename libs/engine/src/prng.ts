// Counter-based pseudo-random numbers: every draw is a pure function of (seed, stream, counter), so any
// state is one integer and runs resume bit-identically after a crash. 32-bit integer math only (no BigInt).
//
// Two generators:
// - `CounterRandom` (and `uniformAt`): murmur3-finalizer chains over the key and counter, for host-side
//   draws (initialisation, shuffles, data generation, noise);
// - `dropoutBits`: a hash built from uint32 add, multiply and shift only, because ONNX opset 17 has no
//   integer XOR; the training graph computes the very same function to draw dropout masks in-graph.

const TWO_POW_32 = 4294967296;

function fmix32(h: number): number {
  let x = h >>> 0;
  x ^= x >>> 16;
  x = Math.imul(x, 0x85ebca6b);
  x ^= x >>> 13;
  x = Math.imul(x, 0xc2b2ae35);
  x ^= x >>> 16;
  return x >>> 0;
}

/** Splits a non-negative integer seed (up to 2^53) into 32-bit halves. */
export function seedWords(seed: number): [number, number] {
  if (!Number.isSafeInteger(seed) || seed < 0)
    throw new Error(`seed must be a non-negative safe integer, got ${seed}`);
  return [(seed % TWO_POW_32) >>> 0, Math.floor(seed / TWO_POW_32) >>> 0];
}

/** 32 random bits at (seed, stream, counter). */
export function bitsAt(seed: number, stream: number, counter: number): number {
  const [lo, hi] = seedWords(seed);
  const c = fmix32((counter % TWO_POW_32) + 0x9e3779b9) ^ Math.floor(counter / TWO_POW_32);
  return fmix32(lo ^ fmix32(hi ^ fmix32((stream >>> 0) ^ fmix32(c + 0x7f4a7c15))));
}

/** A uniform double in [0, 1) with 53 random bits, from counters 2k and 2k+1. */
export function uniformAt(seed: number, stream: number, counter: number): number {
  const a = bitsAt(seed, stream, 2 * counter) >>> 5;
  const b = bitsAt(seed, stream, 2 * counter + 1) >>> 6;
  return (a * 67108864 + b) / 9007199254740992;
}

/** A sequential view of one (seed, stream): `counter` is the whole state. */
export class CounterRandom {
  readonly seed: number;
  readonly stream: number;
  counter: number;

  constructor(seed: number, stream = 0, counter = 0) {
    seedWords(seed);
    this.seed = seed;
    this.stream = stream;
    this.counter = counter;
  }

  /** Uniform in [0, 1). */
  uniform(): number {
    return uniformAt(this.seed, this.stream, this.counter++);
  }

  /** Standard normal (Box-Muller, one value per two uniforms so the state stays a single counter). */
  normal(): number {
    const u1 = 1 - this.uniform();
    const u2 = this.uniform();
    return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.uniform() * n);
  }

  /** Fisher-Yates shuffle in place. */
  shuffle<T>(items: T[] | Int32Array | Uint32Array): typeof items {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = items[i]!;
      items[i] = items[j]!;
      items[j] = t;
    }
    return items;
  }
}

/** The uint32 dropout seed of one optimizer step of a run. */
export function stepSeed(seed: number, step: number): number {
  return bitsAt(seed, 0x64726f70, step);
}

// ---- the in-graph dropout hash (uint32 add / multiply / shift only) ----

export const DROPOUT_HASH = {
  layerMultiplier: 0x632be5ab,
  indexMultiplier: 0x9e3779b1,
  mixMultipliers: [0x7feb352d, 0x846ca68b] as const,
  shifts: [16, 15, 16] as const,
};

/** x + (x >> s1); * m1; + (x >> s2); * m2; + (x >> s3), all modulo 2^32. */
export function addShiftMix(x: number): number {
  const [s1, s2, s3] = DROPOUT_HASH.shifts;
  const [m1, m2] = DROPOUT_HASH.mixMultipliers;
  let h = (x + (x >>> s1)) >>> 0;
  h = Math.imul(h, m1) >>> 0;
  h = (h + (h >>> s2)) >>> 0;
  h = Math.imul(h, m2) >>> 0;
  return (h + (h >>> s3)) >>> 0;
}

/** Per-layer key of a step: mix(stepSeed + layer * C). */
export function dropoutKey(stepSeedValue: number, layer: number): number {
  return addShiftMix((stepSeedValue + Math.imul(layer, DROPOUT_HASH.layerMultiplier)) >>> 0);
}

/** 24 uniform bits as a number in [0, 1) for element `index` of a dropout layer at one step. */
export function dropoutUniform(key: number, index: number): number {
  const h = addShiftMix((Math.imul(index, DROPOUT_HASH.indexMultiplier) + key) >>> 0);
  return (h >>> 8) / 16777216;
}
