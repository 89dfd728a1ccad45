// Flat storage: parameters and optimizer state live in one Float32Array/Float64Array each, described by
// named views. Checkpoints store the flat arrays; the graphs slice them into tensors and concatenate the
// updated tensors back.
import type { OptimizerConfig } from '../train/optimizers.ts';
import { globalSlots, stateSlots } from '../train/optimizers.ts';
import type { ResolvedModel } from './resolve.ts';

export interface TensorView {
  name: string;
  shape: number[];
  /** Offset and length in elements within the flat array. */
  offset: number;
  length: number;
}

export class FlatLayout {
  readonly views: readonly TensorView[];
  readonly size: number;
  private readonly index: ReadonlyMap<string, TensorView>;

  constructor(entries: readonly { name: string; shape: number[] }[]) {
    let offset = 0;
    this.views = entries.map((e) => {
      const length = e.shape.reduce((a, d) => a * d, 1);
      const view = { name: e.name, shape: [...e.shape], offset, length };
      offset += length;
      return view;
    });
    this.size = offset;
    this.index = new Map(this.views.map((v) => [v.name, v]));
  }

  view(name: string): TensorView {
    const v = this.index.get(name);
    if (v === undefined) throw new Error(`no tensor named ${name}`);
    return v;
  }

  has(name: string): boolean {
    return this.index.has(name);
  }
}

export function parameterLayout(model: ResolvedModel): FlatLayout {
  return new FlatLayout(model.parameters.map((p) => ({ name: p.name, shape: p.shape })));
}

/** "<parameter>.<slot>" for every trainable parameter and slot, then "optimizer.<global>" scalars. */
export function optimizerLayout(
  model: ResolvedModel,
  config: OptimizerConfig,
  trainable: readonly boolean[],
): FlatLayout {
  const perParameter = model.parameters.flatMap((p, i) =>
    trainable[i] ? stateSlots(config).map((slot) => ({ name: `${p.name}.${slot}`, shape: p.shape })) : [],
  );
  const globals = globalSlots(config).map((g) => ({ name: `optimizer.${g}`, shape: [] as number[] }));
  return new FlatLayout([...perParameter, ...globals]);
}
