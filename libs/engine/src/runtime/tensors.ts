// Conversions between the engine's flat typed arrays and onnxruntime tensors.
import './ort-environment.ts';
import * as ort from 'onnxruntime-node';
import { EngineSpecError } from '../errors.ts';

export type FloatArray = Float32Array | Float64Array;
export type FloatDType = 'float32' | 'float64';

export function allocate(dtype: FloatDType, length: number): FloatArray {
  return dtype === 'float32' ? new Float32Array(length) : new Float64Array(length);
}

/** The array itself when it already has `dtype`, else a converted copy. */
export function asDType(values: ArrayLike<number>, dtype: FloatDType): FloatArray {
  if (dtype === 'float32') return values instanceof Float32Array ? values : Float32Array.from(values);
  return values instanceof Float64Array ? values : Float64Array.from(values);
}

/**
 * total += weight * chunk, for means over examples computed in chunks (weight = chunk rows / all rows).
 * A single chunk (weight 1) is copied: the same values in one pass, not a read-modify-write.
 */
export function accumulateWeighted(total: Float64Array, chunk: ArrayLike<number>, weight: number): void {
  if (weight === 1) {
    total.set(chunk);
    return;
  }
  for (let i = 0; i < total.length; i++) total[i]! += chunk[i]! * weight;
}

export function floatTensor(
  values: ArrayLike<number>,
  dtype: FloatDType,
  dims: readonly number[],
): ort.Tensor {
  return new ort.Tensor(dtype, asDType(values, dtype), dims);
}

export function int32Tensor(values: ArrayLike<number>, dims: readonly number[]): ort.Tensor {
  return new ort.Tensor('int32', values instanceof Int32Array ? values : Int32Array.from(values), dims);
}

export function uint32Tensor(values: ArrayLike<number>, dims: readonly number[]): ort.Tensor {
  return new ort.Tensor('uint32', values instanceof Uint32Array ? values : Uint32Array.from(values), dims);
}

export function float64Tensor(values: ArrayLike<number>, dims: readonly number[]): ort.Tensor {
  return new ort.Tensor('float64', values instanceof Float64Array ? values : Float64Array.from(values), dims);
}

/** Number of rows in a flat array of rows of `rowSize`; throws when it does not divide. */
export function rowCount(field: string, length: number, rowSize: number): number {
  const rows = length / rowSize;
  if (!Number.isInteger(rows)) {
    throw new EngineSpecError(field, `has ${length} values, not a multiple of ${rowSize} per example`);
  }
  return rows;
}

export function outputOf(results: ort.InferenceSession.ReturnType, name: string): ort.Tensor {
  const t = results[name];
  if (t === undefined) throw new Error(`graph output ${name} is missing`);
  return t;
}

export function floatData(t: ort.Tensor): FloatArray {
  if (!(t.data instanceof Float32Array) && !(t.data instanceof Float64Array))
    throw new Error(`expected a float tensor, got ${t.type}`);
  return t.data;
}

export function scalarOf(t: ort.Tensor): number {
  return Number(floatData(t)[0]);
}
