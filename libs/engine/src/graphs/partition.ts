// Splits a graph at its dependence on some inputs. For Hessian-vector products the forward pass, the
// loss and the activation cotangents do not depend on the direction v: a `prepare` graph computes them
// once per batch, and an `apply` graph computes only the v-dependent products for each v (Lanczos runs
// tens of HVPs on the same batch). Values crossing the cut become prepare outputs and apply inputs under
// their own names; constants are copied to both sides instead of crossing.
import { Graph } from '../ir/graph.ts';
import type { Node, Value } from '../ir/types.ts';
import { liveNodes } from '../onnx/serialize.ts';

export interface Partition {
  prepare: Graph;
  apply: Graph;
}

function dependentNodes(nodes: readonly Node[], varying: ReadonlySet<string>): Set<Node> {
  const reached = new Set(varying);
  const dependent = new Set<Node>();
  for (const node of nodes) {
    if (node.inputs.some((v) => v !== undefined && reached.has(v.name))) {
      dependent.add(node);
      for (const o of node.outputs) reached.add(o.name);
    }
  }
  return dependent;
}

/** Splits `graph` into the nodes independent of the `varying` inputs (prepare) and the rest (apply). */
export function splitByDependence(graph: Graph, varying: readonly string[]): Partition {
  const nodes = liveNodes(graph);
  if (nodes.some((n) => Object.values(n.attrs).some((a) => a.kind === 'graph'))) {
    throw new Error('splitByDependence: graphs with subgraphs are not supported');
  }
  const dependent = dependentNodes(nodes, new Set(varying));
  const constants = nodes.filter((n) => n.op === 'Constant');
  const applyNodes = nodes.filter((n) => dependent.has(n));
  const produced = new Set(applyNodes.flatMap((n) => n.outputs.map((o) => o.name)));
  const constantNames = new Set(constants.flatMap((n) => n.outputs.map((o) => o.name)));
  const graphInputs = new Map(graph.inputs.map((v) => [v.name, v]));

  // Values the apply side reads but does not compute: graph inputs pass through, the rest is prepared.
  const crossing = new Map<string, Value>();
  for (const node of applyNodes) {
    for (const v of node.inputs) {
      if (v === undefined || produced.has(v.name) || constantNames.has(v.name)) continue;
      crossing.set(v.name, v);
    }
  }
  const prepared = [...crossing.values()].filter((v) => !graphInputs.has(v.name));

  const apply = new Graph(`${graph.name}_apply`, graph.names);
  apply.inputs.push(...[...crossing.values()].filter((v) => graphInputs.has(v.name)), ...prepared);
  for (const v of varying) if (!crossing.has(v)) apply.inputs.push(graphInputs.get(v)!);
  apply.nodes.push(...constants, ...applyNodes);
  apply.outputs.push(...graph.outputs.filter((o) => produced.has(o.name)));

  const prepare = new Graph(`${graph.name}_prepare`, graph.names);
  prepare.inputs.push(...graph.inputs.filter((v) => !varying.includes(v.name)));
  prepare.nodes.push(...nodes.filter((n) => !dependent.has(n)));
  const outputs = new Map(
    [...graph.outputs.filter((o) => !produced.has(o.name)), ...prepared].map((v) => [v.name, v]),
  );
  prepare.outputs.push(...outputs.values());
  return { prepare, apply };
}
