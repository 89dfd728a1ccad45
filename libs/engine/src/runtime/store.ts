// A flat Float32Array/Float64Array with named views: how parameters and optimizer state are held,
// checkpointed and exchanged.
import { EngineSpecError } from '../errors.ts';
import type { FlatLayout, TensorView } from '../model/layout.ts';
import { allocate, type FloatArray, type FloatDType } from './tensors.ts';

export class FlatStore {
  readonly layout: FlatLayout;
  /** The values; updated in place by training, so views taken from it stay valid. */
  readonly data: FloatArray;

  constructor(layout: FlatLayout, dtype: FloatDType) {
    this.layout = layout;
    this.data = allocate(dtype, layout.size);
  }

  get size(): number {
    return this.layout.size;
  }

  get views(): readonly TensorView[] {
    return this.layout.views;
  }

  /** A live view (subarray) of one named tensor. */
  view(name: string): FloatArray {
    const v = this.layout.view(name);
    return this.data.subarray(v.offset, v.offset + v.length);
  }

  /** Copies a whole flat vector in (e.g. from a checkpoint). */
  load(values: ArrayLike<number>): void {
    if (values.length !== this.size) {
      throw new EngineSpecError('values', `expected ${this.size} values, got ${values.length}`);
    }
    this.data.set(values);
  }
}
