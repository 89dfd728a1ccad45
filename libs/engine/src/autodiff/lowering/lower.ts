// Rewrites nodes that onnxruntime's CPU provider cannot run for their dtype (float64 Conv,
// ConvTranspose, AveragePool, Erf) with each rule's `lower`, recursing into loop bodies. Runs after
// autodiff, just before serialization; a lowered node's outputs keep their names through Identity nodes.
import { Builder } from '../../ir/builder.ts';
import { Graph } from '../../ir/graph.ts';
import { type Attr, attr, type Node } from '../../ir/types.ts';
import { ruleFor } from '../rules/index.ts';

export function lowerGraph(source: Graph): Graph {
  const target = new Graph(source.name, source.names);
  const b = new Builder(target);
  target.inputs.push(...source.inputs);
  for (const node of source.nodes) {
    const lowered = ruleFor(node.op).lower?.(b, node);
    if (lowered === undefined) {
      target.addNode(withLoweredSubgraphs(node));
      continue;
    }
    lowered.forEach((value, i) => {
      target.addNode({ op: 'Identity', inputs: [value], outputs: [node.outputs[i]!], attrs: {} });
    });
  }
  target.outputs.push(...source.outputs);
  return target;
}

function withLoweredSubgraphs(node: Node): Node {
  const entries = Object.entries(node.attrs);
  if (!entries.some(([, a]) => a.kind === 'graph')) return node;
  const attrs: Record<string, Attr> = {};
  for (const [name, a] of entries) {
    attrs[name] = a.kind === 'graph' && a.value instanceof Graph ? attr.graph(lowerGraph(a.value)) : a;
  }
  return { ...node, attrs };
}
