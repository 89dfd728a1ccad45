// Element types as one table: each dtype's size and its names in numpy's .npy headers, in safetensors
// headers and in the gRPC contract (gengap.common.v1.DataType). Readers and writers look names up here
// rather than switching on them in several places.
import { DataType } from '@gengap/proto/common/v1/tensor';

export type DTypeName =
  | 'float16'
  | 'bfloat16'
  | 'float32'
  | 'float64'
  | 'int8'
  | 'int16'
  | 'int32'
  | 'int64'
  | 'uint8'
  | 'uint16'
  | 'uint32'
  | 'uint64'
  | 'bool';

export interface DTypeInfo {
  name: DTypeName;
  bytes: number;
  /** numpy's little-endian type string as np.save writes it; undefined where numpy has none (bfloat16). */
  npy: string | undefined;
  /** safetensors' dtype code. */
  safetensors: string;
  /** The contract's DataType, for the dtypes the contract knows. */
  proto: DataType | undefined;
}

const table: DTypeInfo[] = [
  { name: 'float16', bytes: 2, npy: '<f2', safetensors: 'F16', proto: undefined },
  { name: 'bfloat16', bytes: 2, npy: undefined, safetensors: 'BF16', proto: undefined },
  { name: 'float32', bytes: 4, npy: '<f4', safetensors: 'F32', proto: DataType.DATA_TYPE_FLOAT32 },
  { name: 'float64', bytes: 8, npy: '<f8', safetensors: 'F64', proto: DataType.DATA_TYPE_FLOAT64 },
  { name: 'int8', bytes: 1, npy: '|i1', safetensors: 'I8', proto: undefined },
  { name: 'int16', bytes: 2, npy: '<i2', safetensors: 'I16', proto: undefined },
  { name: 'int32', bytes: 4, npy: '<i4', safetensors: 'I32', proto: DataType.DATA_TYPE_INT32 },
  { name: 'int64', bytes: 8, npy: '<i8', safetensors: 'I64', proto: DataType.DATA_TYPE_INT64 },
  { name: 'uint8', bytes: 1, npy: '|u1', safetensors: 'U8', proto: DataType.DATA_TYPE_UINT8 },
  { name: 'uint16', bytes: 2, npy: '<u2', safetensors: 'U16', proto: undefined },
  { name: 'uint32', bytes: 4, npy: '<u4', safetensors: 'U32', proto: undefined },
  { name: 'uint64', bytes: 8, npy: '<u8', safetensors: 'U64', proto: undefined },
  { name: 'bool', bytes: 1, npy: '|b1', safetensors: 'BOOL', proto: undefined },
];

const byName = new Map(table.map((d) => [d.name, d]));
const bySafetensors = new Map(table.map((d) => [d.safetensors, d]));
const byProto = new Map(table.filter((d) => d.proto !== undefined).map((d) => [d.proto as DataType, d]));

export function dtypeInfo(name: DTypeName): DTypeInfo {
  const info = byName.get(name);
  if (!info) throw new RangeError(`unknown dtype ${JSON.stringify(name)}`);
  return info;
}

export function isDTypeName(name: string): name is DTypeName {
  return byName.has(name as DTypeName);
}

/** The dtype of a numpy type string such as '<f4', '|u1' or '=i8' (little-endian or byte-sized only). */
export function dtypeFromNpy(descr: string): DTypeName | undefined {
  if (descr.length < 2) return undefined;
  const order = descr[0];
  const code = descr.slice(1);
  for (const d of table) {
    if (d.npy === undefined || d.npy.slice(1) !== code) continue;
    // '<' little-endian, '|' not applicable (1 byte), '=' native (little-endian on every supported host).
    if (order === '<' || order === '=' || (order === '|' && d.bytes === 1)) return d.name;
  }
  return undefined;
}

export function dtypeFromSafetensors(code: string): DTypeName | undefined {
  return bySafetensors.get(code)?.name;
}

export function dtypeFromProto(dtype: DataType): DTypeName | undefined {
  return byProto.get(dtype)?.name;
}

export function dtypeToProto(name: DTypeName): DataType {
  const proto = dtypeInfo(name).proto;
  if (proto === undefined) throw new RangeError(`dtype ${name} has no gengap.common.v1.DataType`);
  return proto;
}

/** Number of elements of a shape (1 for a scalar); throws on a negative or non-integer dimension. */
export function elementCount(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) {
    if (!Number.isSafeInteger(d) || d < 0) throw new RangeError(`invalid dimension ${d} in shape [${shape}]`);
    n *= d;
  }
  if (!Number.isSafeInteger(n)) throw new RangeError(`shape [${shape}] has too many elements`);
  return n;
}

/** A tensor in host memory: dtype, shape and its row-major little-endian bytes. */
export interface HostTensor {
  dtype: DTypeName;
  shape: number[];
  data: Uint8Array;
}

export type TypedArrayOf<D extends DTypeName> = D extends 'float32'
  ? Float32Array
  : D extends 'float64'
    ? Float64Array
    : D extends 'int8'
      ? Int8Array
      : D extends 'int16'
        ? Int16Array
        : D extends 'int32'
          ? Int32Array
          : D extends 'int64'
            ? BigInt64Array
            : D extends 'uint8' | 'bool'
              ? Uint8Array
              : D extends 'uint16' | 'float16' | 'bfloat16'
                ? Uint16Array
                : D extends 'uint32'
                  ? Uint32Array
                  : D extends 'uint64'
                    ? BigUint64Array
                    : never;

const typedConstructors = {
  float16: Uint16Array,
  bfloat16: Uint16Array,
  float32: Float32Array,
  float64: Float64Array,
  int8: Int8Array,
  int16: Int16Array,
  int32: Int32Array,
  int64: BigInt64Array,
  uint8: Uint8Array,
  uint16: Uint16Array,
  uint32: Uint32Array,
  uint64: BigUint64Array,
  bool: Uint8Array,
} as const;

/**
 * The tensor's elements as a typed array (float16/bfloat16 as their raw 16-bit patterns). A view
 * without copying when the bytes are aligned for the element size, a copy otherwise.
 */
export function typedArrayOf<D extends DTypeName>(tensor: HostTensor & { dtype: D }): TypedArrayOf<D> {
  const info = dtypeInfo(tensor.dtype);
  // One constructor signature for the table (they differ only in element type).
  const ctor = typedConstructors[tensor.dtype] as unknown as new (
    buffer: ArrayBufferLike,
    byteOffset: number,
    length: number,
  ) => ArrayBufferView;
  const { data } = tensor;
  if (data.byteLength % info.bytes !== 0) {
    throw new RangeError(`${data.byteLength} bytes is not a whole number of ${tensor.dtype} elements`);
  }
  const aligned = data.byteOffset % info.bytes === 0 ? data : data.slice();
  return new ctor(aligned.buffer, aligned.byteOffset, aligned.byteLength / info.bytes) as TypedArrayOf<D>;
}

/** Wraps a typed array's bytes (no copy) as a HostTensor of the given dtype and shape. */
export function hostTensor(dtype: DTypeName, shape: number[], values: ArrayBufferView): HostTensor {
  const data = new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
  const expected = elementCount(shape) * dtypeInfo(dtype).bytes;
  if (data.byteLength !== expected) {
    throw new RangeError(`shape [${shape}] of ${dtype} needs ${expected} bytes, got ${data.byteLength}`);
  }
  return { dtype, shape: [...shape], data };
}
