// The engine's graph IR: values with a dtype and a (possibly symbolic) shape, and nodes that are ONNX
// operators. Everything the autodiff and the serializer need is here; nothing refers to onnxruntime.

/** Element types the engine emits. Floating types carry derivatives; the others never do. */
export type DType = 'float32' | 'float64' | 'int64' | 'int32' | 'uint32' | 'bool';

/** A dimension: a number, or a symbol such as 'N' (the batch size) known only at run time. */
export type Dim = number | string;
export type Shape = readonly Dim[];

export interface Value {
  readonly name: string;
  readonly dtype: DType;
  readonly shape: Shape;
  /**
   * Contents of a small integer tensor when the builder knows them (constants, Shape outputs): shape
   * vectors and axes, with symbolic entries where a dimension is symbolic. Lets rules reason statically.
   */
  readonly known?: readonly Dim[];
}

/** Data of a constant tensor, row-major. */
export interface ConstTensor {
  readonly dtype: DType;
  readonly shape: readonly number[];
  readonly data: readonly number[];
}

export type Attr =
  | { readonly kind: 'int'; readonly value: number }
  | { readonly kind: 'ints'; readonly value: readonly number[] }
  | { readonly kind: 'float'; readonly value: number }
  | { readonly kind: 'string'; readonly value: string }
  | { readonly kind: 'tensor'; readonly value: ConstTensor }
  | { readonly kind: 'graph'; readonly value: GraphLike };

export type Attrs = Readonly<Record<string, Attr>>;

export interface Node {
  readonly op: string;
  /** `undefined` marks an omitted optional input. */
  readonly inputs: readonly (Value | undefined)[];
  readonly outputs: readonly Value[];
  readonly attrs: Attrs;
}

/** What the serializer needs of a graph (the Graph class implements it). */
export interface GraphLike {
  readonly name: string;
  readonly nodes: readonly Node[];
  readonly inputs: readonly Value[];
  readonly outputs: readonly Value[];
}

export const isFloat = (dtype: DType): boolean => dtype === 'float32' || dtype === 'float64';

export const attr = {
  int: (value: number): Attr => ({ kind: 'int', value }),
  ints: (value: readonly number[]): Attr => ({ kind: 'ints', value }),
  float: (value: number): Attr => ({ kind: 'float', value }),
  string: (value: string): Attr => ({ kind: 'string', value }),
  tensor: (value: ConstTensor): Attr => ({ kind: 'tensor', value }),
  graph: (value: GraphLike): Attr => ({ kind: 'graph', value }),
};

export function intAttr(node: Node, name: string, fallback: number): number {
  const a = node.attrs[name];
  if (a === undefined) return fallback;
  if (a.kind !== 'int') throw new Error(`${node.op}: attribute ${name} is not an int`);
  return a.value;
}

export function intsAttr(node: Node, name: string, fallback: readonly number[]): readonly number[] {
  const a = node.attrs[name];
  if (a === undefined) return fallback;
  if (a.kind !== 'ints') throw new Error(`${node.op}: attribute ${name} is not a list of ints`);
  return a.value;
}

export function floatAttr(node: Node, name: string, fallback: number): number {
  const a = node.attrs[name];
  if (a === undefined) return fallback;
  if (a.kind !== 'float') throw new Error(`${node.op}: attribute ${name} is not a float`);
  return a.value;
}

export function stringAttr(node: Node, name: string, fallback: string): string {
  const a = node.attrs[name];
  if (a === undefined) return fallback;
  if (a.kind !== 'string') throw new Error(`${node.op}: attribute ${name} is not a string`);
  return a.value;
}

/** Static number of elements, or undefined when a dimension is symbolic. */
export function staticSize(shape: Shape): number | undefined {
  let n = 1;
  for (const d of shape) {
    if (typeof d !== 'number') return undefined;
    n *= d;
  }
  return n;
}

export function sameShape(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

export function normalizeAxis(axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) throw new Error(`axis ${axis} out of range for rank ${rank}`);
  return a;
}

const TYPE_CODES: Record<DType, number> = {
  float32: 1,
  uint32: 12,
  int32: 6,
  int64: 7,
  bool: 9,
  float64: 11,
};

/** ONNX TensorProto.DataType code of a dtype. */
export function onnxTypeCode(dtype: DType): number {
  return TYPE_CODES[dtype];
}

export function dtypeOfCode(code: number): DType {
  const found = (Object.keys(TYPE_CODES) as DType[]).find((k) => TYPE_CODES[k] === code);
  if (found === undefined) throw new Error(`unsupported ONNX element type ${code}`);
  return found;
}
