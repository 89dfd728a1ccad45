// Inverted dropout with masks drawn inside the graph from a per-step uint32 seed, by the same
// add/multiply/shift hash as prng.ts's dropoutUniform. Masks are thus a pure function of (run seed,
// global step, layer, element) and never depend on onnxruntime's own random state.
import type { Builder } from '../ir/builder.ts';
import { attr, type Value } from '../ir/types.ts';
import { DROPOUT_HASH } from '../prng.ts';

function u32(b: Builder, v: number): Value {
  return b.scalar(v >>> 0, 'uint32');
}

function shiftRight(b: Builder, x: Value, s: number): Value {
  return b.op('BitShift', [x, u32(b, s)], { direction: attr.string('RIGHT') });
}

/** The graph form of prng.addShiftMix. */
function addShiftMix(b: Builder, x: Value): Value {
  const [s1, s2, s3] = DROPOUT_HASH.shifts;
  const [m1, m2] = DROPOUT_HASH.mixMultipliers;
  let h = b.add(x, shiftRight(b, x, s1));
  h = b.mul(h, u32(b, m1));
  h = b.add(h, shiftRight(b, h, s2));
  h = b.mul(h, u32(b, m2));
  return b.add(h, shiftRight(b, h, s3));
}

/** Uniforms in [0, 1) (24 bits) shaped like `x`, for dropout layer `layer` at the step with `stepSeed`. */
export function dropoutUniforms(b: Builder, x: Value, stepSeed: Value, layer: number): Value {
  const key = addShiftMix(b, b.add(stepSeed, u32(b, Math.imul(layer, DROPOUT_HASH.layerMultiplier))));
  const count = b.op('ReduceProd', [b.shapeOf(x)], { keepdims: attr.int(0) });
  const index = b.cast(b.op('Range', [b.scalar(0, 'int64'), count, b.scalar(1, 'int64')]), 'uint32');
  const h = addShiftMix(b, b.add(b.mul(index, u32(b, DROPOUT_HASH.indexMultiplier)), key));
  const uniform = b.scale(b.cast(shiftRight(b, h, 8), x.dtype), 1 / 16777216);
  return b.reshapeLike(uniform, x);
}

/** y = x / (1 - rate) where the element's uniform is >= rate, else 0. */
export function applyDropout(b: Builder, x: Value, rate: number, stepSeed: Value, layer: number): Value {
  if (rate <= 0) return x;
  const dropped = b.op('Less', [dropoutUniforms(b, x, stepSeed, layer), b.scalarLike(x, rate)]);
  return b.where(dropped, b.scalarLike(x, 0), b.scale(x, 1 / (1 - rate)));
}
