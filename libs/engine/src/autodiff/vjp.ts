// Reverse mode over the graph built so far: cotangents flow from `y` back to `wrt` through the VJP rule of
// every node that lies on a path between them. Cotangents of values used several times are summed.
import type { Builder } from '../ir/builder.ts';
import { isFloat, type Node, sameShape, type Value } from '../ir/types.ts';
import type { MaybeValue } from './rule.ts';
import { ruleFor } from './rules/index.ts';

/** Names of the floating values that depend on `sources` through differentiable operators. */
export function dependents(nodes: readonly Node[], sources: readonly Value[]): Set<string> {
  const live = new Set(sources.map((s) => s.name));
  for (const node of nodes) {
    const rule = ruleFor(node.op);
    if (rule.nondifferentiable) continue;
    const touched = node.inputs.some(
      (v, i) => v !== undefined && live.has(v.name) && !rule.nondifferentiableInputs?.includes(i),
    );
    if (touched) for (const o of node.outputs) if (isFloat(o.dtype)) live.add(o.name);
  }
  return live;
}

function accumulate(b: Builder, cotangents: Map<string, Value>, target: Value, ct: Value, node: Node): void {
  if (!sameShape(ct.shape, target.shape) || ct.dtype !== target.dtype) {
    throw new Error(
      `${node.op} VJP produced ${ct.dtype}[${ct.shape.join(',')}] for ${target.name}: ${target.dtype}[${target.shape.join(',')}]`,
    );
  }
  const previous = cotangents.get(target.name);
  cotangents.set(target.name, previous === undefined ? ct : b.add(previous, ct));
}

/**
 * Cotangents of `wrt` for the scalar-or-tensor `y` with output cotangent `seed` (same shape as y).
 * Entries are undefined where `y` does not depend on that value (a zero cotangent).
 */
export function vjp(b: Builder, y: Value, seed: Value, wrt: readonly Value[]): MaybeValue[] {
  const nodes = [...b.graph.nodes];
  const live = dependents(nodes, wrt);
  const cotangents = new Map<string, Value>([[y.name, seed]]);
  for (let n = nodes.length - 1; n >= 0; n--) {
    const node = nodes[n]!;
    const outCts = node.outputs.map((o) => cotangents.get(o.name));
    if (outCts.every((c) => c === undefined)) continue;
    const rule = ruleFor(node.op);
    if (rule.nondifferentiable) continue;
    const wanted = node.inputs.map(
      (v, i) =>
        v !== undefined && isFloat(v.dtype) && live.has(v.name) && !rule.nondifferentiableInputs?.includes(i),
    );
    if (!wanted.some(Boolean)) continue;
    if (rule.vjp === undefined) throw new Error(`operator ${node.op} has no VJP rule`);
    const inCts = rule.vjp(b, node, outCts, wanted);
    node.inputs.forEach((v, i) => {
      const ct = inCts[i];
      if (v !== undefined && wanted[i] && ct !== undefined) accumulate(b, cotangents, v, ct, node);
    });
  }
  return wrt.map((w) => cotangents.get(w.name));
}

/** Like vjp, with zeros in place of missing cotangents. */
export function vjpOrZeros(b: Builder, y: Value, seed: Value, wrt: readonly Value[]): Value[] {
  return vjp(b, y, seed, wrt).map((ct, i) => ct ?? b.zerosLike(wrt[i]!));
}
