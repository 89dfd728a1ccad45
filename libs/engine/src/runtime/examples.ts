// Example inputs as flat row-major arrays: float features [rows, ...inputShape] in the model's dtype, or
// Int32Array character codes for models that start with an embedding. Rows are fed to graphs in ranges
// without copying (typed-array subarrays).
import './ort-environment.ts';
import * as ort from 'onnxruntime-node';
import { EngineSpecError } from '../errors.ts';
import type { ResolvedModel } from '../model/resolve.ts';
import { asDType, type FloatArray, type FloatDType, rowCount } from './tensors.ts';

export type Examples = FloatArray | Int32Array;

export class ExampleBatches {
  readonly rowSize: number;
  readonly rows: number;
  private readonly values: Examples;
  private readonly shape: readonly number[];
  private readonly field: string;

  constructor(model: ResolvedModel, dtype: FloatDType, x: Examples, field: string) {
    this.field = field;
    this.shape = model.inputShape;
    this.rowSize = model.inputShape.reduce((a, d) => a * d, 1);
    this.rows = rowCount(field, x.length, this.rowSize);
    if (model.inputKind === 'codes') {
      this.values = x instanceof Int32Array ? x : Int32Array.from(x);
    } else {
      if (x instanceof Int32Array)
        throw new EngineSpecError(field, 'this model takes float features, not integer codes');
      this.values = asDType(x, dtype);
    }
  }

  requireRows(n: number): void {
    if (this.rows !== n) throw new EngineSpecError(this.field, `has ${this.rows} examples, expected ${n}`);
  }

  /** Rows [start, end) as a tensor of dims [...lead, ...inputShape] (lead multiplies to end - start). */
  tensor(start: number, end: number, lead: readonly number[]): ort.Tensor {
    const data = this.values.subarray(start * this.rowSize, end * this.rowSize);
    const dims = [...lead, ...this.shape];
    if (data instanceof Int32Array) return new ort.Tensor('int32', data, dims);
    return new ort.Tensor(data instanceof Float32Array ? 'float32' : 'float64', data, dims);
  }
}
