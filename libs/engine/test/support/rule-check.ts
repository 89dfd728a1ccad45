// Runs one rule-table case in float64 through onnxruntime and compares its derivative rules with
// central finite differences along random directions u:
//   VJP:        sum_i <ct_i, u_i>        vs  (f(x + e u) - f(x - e u)) / 2e,  f = <w, y>
//   JVP:        dy                        vs  (y(x + e u) - y(x - e u)) / 2e
//   JVP of VJP: d ct_i (what HVPs use)    vs  (ct_i(x + e u) - ct_i(x - e u)) / 2e
// and checks the builder's inferred output shapes against the shapes onnxruntime produces.
import * as ort from 'onnxruntime-node';
import { jvp } from '../../src/autodiff/jvp.ts';
import { lowerGraph } from '../../src/autodiff/lowering/lower.ts';
import { ruleFor } from '../../src/autodiff/rules/index.ts';
import { vjp } from '../../src/autodiff/vjp.ts';
import { Builder } from '../../src/ir/builder.ts';
import { Graph } from '../../src/ir/graph.ts';
import { isFloat, type Value } from '../../src/ir/types.ts';
import { serializeModel } from '../../src/onnx/serialize.ts';
import { CounterRandom } from '../../src/prng.ts';
import type { RuleCase, Sampling } from '../rules/cases.ts';

export const EPSILON = 1e-5;

export interface CaseReport {
  /** Relative errors (undefined when the rule has no such part). */
  vjp?: number;
  jvp?: number;
  secondOrder?: number;
  /** Mismatches between inferred and actual output shapes. */
  shapeErrors: string[];
}

function sample(rng: CounterRandom, n: number, sampling: Sampling): Float64Array {
  const out = new Float64Array(n);
  if (sampling === 'distinct') {
    // A shuffled grid: gaps of 0.1 keep maxima untied under perturbations of EPSILON.
    const order = rng.shuffle(Array.from({ length: n }, (_, i) => i));
    order.forEach((v, i) => {
      out[i] = (v - n / 2) * 0.1 + 0.01 * rng.uniform();
    });
    return out;
  }
  for (let i = 0; i < n; i++) {
    const z = rng.normal();
    if (sampling === 'positive') out[i] = 0.5 + 1.5 * rng.uniform();
    else if (sampling === 'nonzero') out[i] = Math.sign(z || 1) * (0.2 + Math.abs(z));
    else out[i] = z;
  }
  return out;
}

const size = (shape: readonly (number | string)[]) => shape.reduce<number>((a, d) => a * (d as number), 1);

interface Feed {
  name: string;
  shape: number[];
  data: Float64Array;
}

interface Built {
  bytes: Uint8Array;
  floatInputs: { value: Value; data: Float64Array; differentiable: boolean }[];
  outputs: string[];
  inferred: Value[];
  cotangent?: Feed;
  tangents: Feed[];
  cotangentOutputs: string[];
  parts: { vjp: boolean; jvp: boolean };
}

function addFeed(
  g: Graph,
  rng: CounterRandom,
  name: string,
  shape: readonly (number | string)[],
): { value: Value; feed: Feed } {
  const value = g.addInput(name, 'float64', shape);
  return {
    value,
    feed: { name: value.name, shape: shape as number[], data: sample(rng, size(shape), 'normal') },
  };
}

/** Emits the derivative parts of a case: VJP cotangents, and tangents of y (and of the cotangents). */
function addDerivatives(
  g: Graph,
  b: Builder,
  built: Built,
  y: Value,
  wrt: Value[],
  rng: CounterRandom,
  jvpOnly: boolean,
): void {
  built.parts = { vjp: !jvpOnly, jvp: true };
  let cts: Value[] = [];
  if (!jvpOnly) {
    const w = addFeed(g, rng, 'cotangent', y.shape);
    built.cotangent = w.feed;
    cts = vjp(b, y, w.value, wrt).map((ct, i) => ct ?? b.zerosLike(wrt[i]!));
  }
  const seeds = new Map<string, Value>();
  wrt.forEach((v, i) => {
    const t = addFeed(g, rng, `tangent_${i}`, v.shape);
    seeds.set(v.name, t.value);
    built.tangents.push(t.feed);
  });
  const [dy, ...dcts] = jvp(b, seeds, [y, ...cts]);
  for (const [i, ct] of cts.entries()) built.cotangentOutputs.push(b.output(ct, `cotangent_${i}`).name);
  b.output(dy ?? b.zerosLike(y), 'output_tangent');
  for (const [i, t] of dcts.entries()) b.output(t ?? b.zerosLike(cts[i]!), `cotangent_tangent_${i}`);
}

function buildCase(c: RuleCase, rng: CounterRandom): Built {
  const rule = ruleFor(c.op);
  const g = new Graph(`case_${c.op}`);
  const b = new Builder(g);
  const floatInputs: Built['floatInputs'] = [];
  const inputs = c.inputs.map((spec, i) => {
    if ('omitted' in spec) return undefined;
    if ('constant' in spec) return b.constant(spec.constant);
    const value = g.addInput(`input_${i}`, 'float64', spec.float);
    const differentiable = !rule.nondifferentiable && !rule.nondifferentiableInputs?.includes(i);
    floatInputs.push({
      value,
      data: sample(rng, size(spec.float), spec.sampling ?? 'normal'),
      differentiable,
    });
    return value;
  });
  const inferred = b.emit(c.op, inputs, c.attrs ?? {});
  const outputs = inferred.map((v, i) => b.output(v, `output_${i}`).name);
  const built: Built = {
    bytes: new Uint8Array(),
    floatInputs,
    outputs,
    inferred,
    tangents: [],
    cotangentOutputs: [],
    parts: { vjp: false, jvp: false },
  };
  const y = inferred.find((v) => isFloat(v.dtype));
  const wrt = floatInputs.filter((f) => f.differentiable).map((f) => f.value);
  if (!rule.nondifferentiable && !rule.loweringOnly && y !== undefined && wrt.length > 0) {
    addDerivatives(g, b, built, y, wrt, rng, c.jvpOnly !== undefined);
  }
  built.bytes = serializeModel(lowerGraph(g));
  return built;
}

function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

export function relativeError(analytic: ArrayLike<number>, numeric: ArrayLike<number>): number {
  let diff = 0;
  let na = 0;
  let nn = 0;
  for (let i = 0; i < analytic.length; i++) {
    diff += (analytic[i]! - numeric[i]!) ** 2;
    na += analytic[i]! ** 2;
    nn += numeric[i]! ** 2;
  }
  const scale = Math.max(Math.sqrt(na), Math.sqrt(nn));
  return scale < 1e-9 ? Math.sqrt(diff) : Math.sqrt(diff) / scale;
}

function data(results: ort.InferenceSession.ReturnType, name: string): Float64Array {
  return results[name]!.data as Float64Array;
}

/** Feeds with the differentiable inputs moved by step * EPSILON along their tangents. */
function feedsAt(built: Built, step: number): Record<string, ort.Tensor> {
  const feeds: Record<string, ort.Tensor> = {};
  const tensor = (f: Feed, values = f.data) => new ort.Tensor('float64', values, f.shape);
  let next = 0;
  for (const f of built.floatInputs) {
    const t = f.differentiable ? built.tangents[next++] : undefined;
    const values =
      step === 0 || t === undefined ? f.data : f.data.map((v, i) => v + step * EPSILON * t.data[i]!);
    feeds[f.value.name] = new ort.Tensor('float64', values, f.value.shape as number[]);
  }
  if (built.cotangent) feeds[built.cotangent.name] = tensor(built.cotangent);
  for (const t of built.tangents) feeds[t.name] = tensor(t);
  return feeds;
}

function shapeErrors(built: Built, center: ort.InferenceSession.ReturnType): string[] {
  const errors: string[] = [];
  built.inferred.forEach((v, i) => {
    const actual = center[built.outputs[i]!]!.dims;
    const mismatch =
      v.shape.length !== actual.length || v.shape.some((d, k) => typeof d === 'number' && d !== actual[k]);
    if (mismatch) errors.push(`output ${i}: inferred [${v.shape}] but onnxruntime gave [${actual}]`);
  });
  return errors;
}

export async function checkCase(c: RuleCase, seed: number): Promise<CaseReport> {
  const built = buildCase(c, new CounterRandom(seed));
  const session = await ort.InferenceSession.create(built.bytes, { intraOpNumThreads: 1 });
  try {
    const center = await session.run(feedsAt(built, 0));
    const report: CaseReport = { shapeErrors: shapeErrors(built, center) };
    if (!built.parts.jvp) return report;
    const plus = await session.run(feedsAt(built, 1));
    const minus = await session.run(feedsAt(built, -1));
    const fd = (name: string) => data(plus, name).map((p, k) => (p - data(minus, name)[k]!) / (2 * EPSILON));
    const y = built.outputs[built.inferred.findIndex((v) => isFloat(v.dtype))]!;
    report.jvp = relativeError(data(center, 'output_tangent'), fd(y));
    if (!built.parts.vjp) return report;
    const w = built.cotangent!.data;
    const numeric = (dot(w, data(plus, y)) - dot(w, data(minus, y))) / (2 * EPSILON);
    const analytic = built.cotangentOutputs.reduce(
      (s, name, i) => s + dot(data(center, name), built.tangents[i]!.data),
      0,
    );
    report.vjp = relativeError([analytic], [numeric]);
    report.secondOrder = Math.max(
      ...built.cotangentOutputs.map((name, i) =>
        relativeError(data(center, `cotangent_tangent_${i}`), fd(name)),
      ),
    );
    return report;
  } finally {
    await session.release();
  }
}
