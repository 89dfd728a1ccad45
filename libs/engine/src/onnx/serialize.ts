// IR -> ONNX ModelProto bytes, through the ts-proto messages generated from the vendored schema.
// Dead nodes (not contributing to any graph output) are dropped here, so graph builders can emit freely.
import type { ConstTensor, Dim, DType, GraphLike, Node, Value } from '../ir/types.ts';
import { onnxTypeCode } from '../ir/types.ts';
import {
  type AttributeProto,
  AttributeProto_AttributeType as AttributeType,
  type GraphProto,
  ModelProto,
  type NodeProto,
  type TensorProto,
  type ValueInfoProto,
} from './gen/onnx/onnx.ts';

/** ONNX IR version and default-domain opset of every model the engine writes (ONNX 1.12). */
export const IR_VERSION = 8;
export const OPSET = 17;

export function tensorBytes(dtype: DType, data: ArrayLike<number>): Buffer {
  switch (dtype) {
    case 'float32':
      return Buffer.from(Float32Array.from(data).buffer);
    case 'float64':
      return Buffer.from(Float64Array.from(data).buffer);
    case 'int64':
      return Buffer.from(BigInt64Array.from(Array.from(data, (v) => BigInt(v))).buffer);
    case 'int32':
      return Buffer.from(Int32Array.from(data).buffer);
    case 'uint32':
      return Buffer.from(Uint32Array.from(data).buffer);
    case 'bool':
      return Buffer.from(Uint8Array.from(data, (v) => (v ? 1 : 0)).buffer);
  }
}

function tensorProto(t: ConstTensor, name = ''): TensorProto {
  return { name, dims: [...t.shape], dataType: onnxTypeCode(t.dtype), rawData: tensorBytes(t.dtype, t.data) };
}

function valueInfo(v: Value): ValueInfoProto {
  const dim = v.shape.map((d: Dim) =>
    typeof d === 'number'
      ? { value: { $case: 'dimValue' as const, value: d } }
      : { value: { $case: 'dimParam' as const, value: d } },
  );
  return {
    name: v.name,
    type: { value: { $case: 'tensorType', value: { elemType: onnxTypeCode(v.dtype), shape: { dim } } } },
  };
}

function attributeProto(name: string, a: Node['attrs'][string]): AttributeProto {
  switch (a.kind) {
    case 'int':
      return { name, type: AttributeType.INT, i: a.value };
    case 'ints':
      return { name, type: AttributeType.INTS, ints: [...a.value] };
    case 'float':
      return { name, type: AttributeType.FLOAT, f: a.value };
    case 'string':
      return { name, type: AttributeType.STRING, s: Buffer.from(a.value) };
    case 'tensor':
      return { name, type: AttributeType.TENSOR, t: tensorProto(a.value) };
    case 'graph':
      return { name, type: AttributeType.GRAPH, g: graphProto(a.value) };
  }
}

function nodeProto(node: Node): NodeProto {
  return {
    opType: node.op,
    input: node.inputs.map((v) => v?.name ?? ''),
    output: node.outputs.map((v) => v.name),
    attribute: Object.entries(node.attrs).map(([name, a]) => attributeProto(name, a)),
  };
}

/** Names a node reads, including values its subgraphs capture from enclosing scopes. */
function readsOf(node: Node): string[] {
  const names = node.inputs.filter((v) => v !== undefined).map((v) => v.name);
  for (const a of Object.values(node.attrs)) {
    if (a.kind !== 'graph') continue;
    const inner = new Set([
      ...a.value.inputs.map((v) => v.name),
      ...a.value.nodes.flatMap((n) => n.outputs.map((o) => o.name)),
    ]);
    for (const n of a.value.nodes) for (const r of readsOf(n)) if (!inner.has(r)) names.push(r);
  }
  return names;
}

export function liveNodes(graph: GraphLike): Node[] {
  const needed = new Set(graph.outputs.map((v) => v.name));
  const kept: Node[] = [];
  for (let i = graph.nodes.length - 1; i >= 0; i--) {
    const node = graph.nodes[i]!;
    if (!node.outputs.some((o) => needed.has(o.name))) continue;
    kept.push(node);
    for (const r of readsOf(node)) needed.add(r);
  }
  return kept.reverse();
}

function graphProto(graph: GraphLike): GraphProto {
  return {
    name: graph.name,
    node: liveNodes(graph).map(nodeProto),
    input: graph.inputs.map(valueInfo),
    output: graph.outputs.map(valueInfo),
  };
}

export function serializeModel(graph: GraphLike): Uint8Array {
  return ModelProto.encode({
    irVersion: IR_VERSION,
    producerName: 'gengap-engine',
    opsetImport: [{ domain: '', version: OPSET }],
    graph: graphProto(graph),
  }).finish();
}
