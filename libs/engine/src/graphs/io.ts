// Graph inputs and outputs shared by every graph kind: flat parameter/state vectors split into tensors
// and concatenated back, batch inputs with a symbolic batch axis, and the names callers feed and read.
import type { Builder } from '../ir/builder.ts';
import type { Graph } from '../ir/graph.ts';
import { attr, type Dim, type DType, type Value } from '../ir/types.ts';
import type { FlatLayout } from '../model/layout.ts';
import type { ResolvedModel } from '../model/resolve.ts';
import type { Targets } from '../train/losses.ts';

/** Symbolic axes: N examples per batch, K steps per training call. */
export const BATCH: Dim = 'N';
export const STEPS: Dim = 'K';

/** Slices a flat vector into the layout's tensors. */
export function unpack(b: Builder, flat: Value, layout: FlatLayout): Value[] {
  return layout.views.map((v) => {
    const piece = b.op('Slice', [flat, b.int64s([v.offset]), b.int64s([v.offset + v.length]), b.int64s([0])]);
    return b.reshape(piece, v.shape);
  });
}

/** Concatenates tensors into one flat vector (the inverse of unpack). */
export function pack(b: Builder, tensors: readonly Value[]): Value {
  const flat = tensors.map((t) => b.reshape(t, [-1]));
  return flat.length === 1 ? flat[0]! : b.op('Concat', flat, { axis: attr.int(0) });
}

export function inputDType(model: ResolvedModel, dtype: DType): DType {
  return model.inputKind === 'codes' ? 'int32' : dtype;
}

/** Declares the flat parameter input and returns the parameter tensors. */
export function parameterInputs(
  g: Graph,
  b: Builder,
  layout: FlatLayout,
  dtype: DType,
  name = 'params',
): Value[] {
  return unpack(b, g.addInput(name, dtype, [layout.size]), layout);
}

/** Declares the examples input x with leading axes `lead` (e.g. [N] or [K, N]). */
export function exampleInput(
  g: Graph,
  model: ResolvedModel,
  dtype: DType,
  lead: readonly Dim[],
  name = 'x',
): Value {
  return g.addInput(name, inputDType(model, dtype), [...lead, ...model.inputShape]);
}

/** Integer labels (int32 inputs, cast to int64) or soft targets [.., C]. */
export function targetInput(
  g: Graph,
  model: ResolvedModel,
  dtype: DType,
  lead: readonly Dim[],
  soft: boolean,
): Value {
  return soft
    ? g.addInput('targets', dtype, [...lead, model.numOutputs])
    : g.addInput('labels', 'int32', [...lead]);
}

export function targetsOf(b: Builder, value: Value, soft: boolean): Targets {
  return soft ? { kind: 'soft', probabilities: value } : { kind: 'labels', labels: b.cast(value, 'int64') };
}

/** Whether the model has a dropout layer with a positive rate (training graphs then take step seeds). */
export function hasDropout(model: ResolvedModel): boolean {
  return model.layers.some((l) => l.kind === 'dropout' && (l.config as { rate: number }).rate > 0);
}
