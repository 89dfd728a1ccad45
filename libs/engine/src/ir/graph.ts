// A mutable ONNX graph under construction. Nodes are appended in topological order (every input exists
// before its consumer), which both autodiff passes rely on. Loop bodies are subgraphs that share the
// parent's name source, so values captured from the outer scope keep unique names.
import type { DType, GraphLike, Node, Shape, Value } from './types.ts';

export class NameSource {
  private readonly counts = new Map<string, number>();

  /** A fresh name with the given stem, unique within the model (including subgraphs). */
  fresh(stem: string): string {
    const n = this.counts.get(stem) ?? 0;
    this.counts.set(stem, n + 1);
    return n === 0 && !/\d$/.test(stem) ? stem : `${stem}__${n}`;
  }

  /** Reserves an exact name (graph inputs and outputs that callers feed and read by name). */
  reserve(name: string): string {
    if (this.counts.has(name)) throw new Error(`duplicate value name ${name}`);
    this.counts.set(name, 1);
    return name;
  }
}

export class Graph implements GraphLike {
  readonly nodes: Node[] = [];
  readonly inputs: Value[] = [];
  readonly outputs: Value[] = [];
  readonly names: NameSource;
  readonly name: string;

  /** Pass the enclosing graph's `names` for a subgraph (loop body) or a rewritten copy. */
  constructor(name: string, names: NameSource = new NameSource()) {
    this.name = name;
    this.names = names;
  }

  addInput(name: string, dtype: DType, shape: Shape): Value {
    const value: Value = { name: this.names.reserve(name), dtype, shape: [...shape] };
    this.inputs.push(value);
    return value;
  }

  addNode(node: Node): void {
    this.nodes.push(node);
  }

  /** Declares a graph output. Returns the value as the graph's output list holds it. */
  addOutput(value: Value): Value {
    this.outputs.push(value);
    return value;
  }
}
