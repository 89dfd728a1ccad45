// Tensors received as checksummed chunk streams, turned into typed arrays.
import { DataType } from '@gengap/proto/common/v1/tensor';
import type { RawTensor } from '@gengap/tensor-io';

export function floatArrayOf(tensor: RawTensor): Float32Array | Float64Array {
  const bytes = tensor.data.slice();
  if (tensor.dtype === DataType.DATA_TYPE_FLOAT32) return new Float32Array(bytes.buffer);
  if (tensor.dtype === DataType.DATA_TYPE_FLOAT64) return new Float64Array(bytes.buffer);
  throw new RangeError(`tensor ${tensor.name} is not floating point (dtype ${tensor.dtype})`);
}

/** Integer labels of any integer dtype as Int32. */
export function labelsOf(tensor: RawTensor): Int32Array {
  const bytes = tensor.data.slice();
  switch (tensor.dtype) {
    case DataType.DATA_TYPE_INT64:
      return Int32Array.from(new BigInt64Array(bytes.buffer), (v) => Number(v));
    case DataType.DATA_TYPE_INT32:
      return new Int32Array(bytes.buffer);
    case DataType.DATA_TYPE_UINT8:
      return Int32Array.from(bytes);
    default:
      throw new RangeError(`labels tensor ${tensor.name} has non-integer dtype ${tensor.dtype}`);
  }
}
