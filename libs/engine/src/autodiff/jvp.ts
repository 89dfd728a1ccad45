// Forward mode over the graph built so far: tangents flow from the seeded values through the JVP rule of
// every node in topological order. Run after `vjp`, it differentiates the gradient computation itself,
// which gives exact Hessian-vector products (forward-over-reverse).
import type { Builder } from '../ir/builder.ts';
import { isFloat, sameShape, type Value } from '../ir/types.ts';
import type { MaybeValue } from './rule.ts';
import { ruleFor } from './rules/index.ts';

/** Tangents of `targets` given tangents of some values (`seeds`, keyed by value name). */
export function jvp(b: Builder, seeds: ReadonlyMap<string, Value>, targets: readonly Value[]): MaybeValue[] {
  const nodes = [...b.graph.nodes];
  const tangents = new Map(seeds);
  for (const node of nodes) {
    const rule = ruleFor(node.op);
    if (rule.nondifferentiable) continue;
    const inTangents = node.inputs.map((v, i) =>
      v === undefined || rule.nondifferentiableInputs?.includes(i) ? undefined : tangents.get(v.name),
    );
    if (inTangents.every((t) => t === undefined)) continue;
    if (rule.jvp === undefined) throw new Error(`operator ${node.op} has no JVP rule`);
    const outTangents = rule.jvp(b, node, inTangents);
    node.outputs.forEach((o, i) => {
      const t = outTangents[i];
      if (t === undefined || !isFloat(o.dtype)) return;
      if (!sameShape(t.shape, o.shape) || t.dtype !== o.dtype) {
        throw new Error(
          `${node.op} JVP produced ${t.dtype}[${t.shape.join(',')}] for ${o.dtype}[${o.shape.join(',')}]`,
        );
      }
      tangents.set(o.name, t);
    });
  }
  return targets.map((t) => tangents.get(t.name));
}
