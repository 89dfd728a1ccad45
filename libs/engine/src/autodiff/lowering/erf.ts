// float64 erf from elementary operators (onnxruntime's CPU provider has Erf for float32 only).
// |x| <= 2.5: Maclaurin series x * sum_n c_n (x^2)^n, 41 terms, Horner form;
// |x| >  2.5: 1 - erfc(|x|) with erfc from its continued fraction (Laplace), 50 levels.
// Both branches are within 4e-15 of the exact value (checked against Python's math.erf), smooth enough
// for the float64 finite-difference checks of the GELU rules.
import type { Builder } from '../../ir/builder.ts';
import type { Value } from '../../ir/types.ts';

const SERIES_TERMS = 40;
const FRACTION_LEVELS = 50;
const SWITCH = 2.5;

function seriesCoefficient(n: number): number {
  let factorial = 1;
  for (let k = 2; k <= n; k++) factorial *= k;
  return ((2 / Math.sqrt(Math.PI)) * (n % 2 === 0 ? 1 : -1)) / (factorial * (2 * n + 1));
}

function erfSeries(b: Builder, x: Value): Value {
  const z = b.mul(x, x);
  let acc = b.scalarLike(x, seriesCoefficient(SERIES_TERMS));
  for (let n = SERIES_TERMS - 1; n >= 0; n--)
    acc = b.add(b.mul(acc, z), b.scalarLike(x, seriesCoefficient(n)));
  return b.mul(x, acc);
}

/** erfc(a) for a >= SWITCH. */
function erfcFraction(b: Builder, a: Value): Value {
  let t = a;
  for (let k = FRACTION_LEVELS; k >= 1; k--) t = b.add(a, b.div(b.scalarLike(a, k / 2), t));
  const tail = b.exp(b.neg(b.mul(a, a)));
  return b.div(tail, b.mul(t, b.scalarLike(a, Math.sqrt(Math.PI))));
}

export function lowerErfFloat64(b: Builder, x: Value): Value {
  const limit = b.scalarLike(x, SWITCH);
  const absX = b.op('Abs', [x]);
  const inner = b.op('Clip', [x, b.neg(limit), limit]);
  const outer = b.op('Max', [absX, limit]);
  const tailValue = b.mul(b.op('Sign', [x]), b.sub(b.scalarLike(x, 1), erfcFraction(b, outer)));
  return b.where(b.greater(absX, limit), tailValue, erfSeries(b, inner));
}
