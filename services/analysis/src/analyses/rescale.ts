// RESCALE: Dinh et al.'s function-preserving reparametrisation T_alpha. Layer `first_layer` (an index
// into ModelSpec.layers; dense or conv) has its weight and bias multiplied by alpha > 0 and the next
// parametrised layer its weight by 1/alpha. The layers in between must be positively homogeneous
// (ReLU, identity, pooling, flatten, dropout), so relu(alpha z) = alpha relu(z) and the network computes
// the same function, while the Hessian block of the first layer scales by 1/alpha^2 and that of the next
// by alpha^2. The new parameters are stored as this analysis' checkpoint (CheckpointRef.analysis_id),
// and the largest logit difference on the analysed examples is reported.
import { Activation, activationToJSON, type Layer } from '@gengap/proto/common/v1/model';
import { InvalidArgumentError } from '@gengap/service-kit';
import { flattenParameters } from '../inputs/analysis-model.ts';
import { requireFinite } from './checks.ts';
import { defineKind, type NamedTensor } from './kind.ts';
import { barChart, type Row } from './plots.ts';

const FIELD = 'spec.rescale';

type LayerCase = NonNullable<Layer['kind']>['$case'];

const SCALED: ReadonlySet<LayerCase> = new Set(['dense', 'conv2d']);

function homogeneous(layer: Layer): boolean {
  const kind = layer.kind;
  switch (kind?.$case) {
    case 'activation':
      return (
        kind.value.activation === Activation.ACTIVATION_RELU ||
        kind.value.activation === Activation.ACTIVATION_IDENTITY
      );
    case 'maxPool2d':
    case 'avgPool2d':
    case 'flatten':
    case 'dropout':
      return true;
    default:
      return false;
  }
}

/** Indexes of the two layers T_alpha scales; throws InvalidArgumentError when they do not exist or break homogeneity. */
export function rescalePair(layers: readonly Layer[], first: number): { first: number; next: number } {
  const field = `${FIELD}.first_layer`;
  const head = layers[first];
  if (!head)
    throw new InvalidArgumentError(field, `the model has layers 0..${layers.length - 1}, not ${first}`);
  if (!SCALED.has(head.kind?.$case as LayerCase)) {
    throw new InvalidArgumentError(
      field,
      `layer ${first} is ${head.kind?.$case ?? 'empty'}; it must be dense or conv2d`,
    );
  }
  for (let i = first + 1; i < layers.length; i++) {
    const layer = layers[i]!;
    const kind = layer.kind?.$case as LayerCase;
    if (SCALED.has(kind)) return { first, next: i };
    if (!homogeneous(layer)) {
      const what =
        layer.kind?.$case === 'activation'
          ? activationToJSON(layer.kind.value.activation)
          : (kind ?? 'empty');
      throw new InvalidArgumentError(
        field,
        `layer ${i} (${what}) between layer ${first} and the next parametrised layer is not positively homogeneous, so the rescaling would change the function`,
      );
    }
  }
  throw new InvalidArgumentError(field, `no parametrised layer follows layer ${first}`);
}

function norm(data: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < data.length; i++) s += data[i]! ** 2;
  return Math.sqrt(s);
}

export const rescaleKind = defineKind({
  name: 'rescale',
  validate(v) {
    requireFinite(`${FIELD}.alpha`, v.alpha);
    if (!(v.alpha > 0))
      throw new InvalidArgumentError(
        `${FIELD}.alpha`,
        'must be positive (ReLU is homogeneous for alpha > 0)',
      );
  },
  async run(ctx, v) {
    const model = await ctx.inputs.model();
    const checkpoint = model.checkpoint;
    const pair = rescalePair(checkpoint.model.layers, v.firstLayer);
    const firstName = model.engine.layers[pair.first]!.name;
    const nextName = model.engine.layers[pair.next]!.name;
    const factors = new Map<string, number>([
      [`${firstName}.weight`, v.alpha],
      [`${firstName}.bias`, v.alpha],
      [`${nextName}.weight`, 1 / v.alpha],
    ]);
    // Stored in float64: alpha x (a float32 value) is then exact for alpha = 10, and the rescaled
    // model is as close to function-preserving as the analysis precision allows.
    const parameters: NamedTensor[] = checkpoint.parameters.map((t) => {
      const factor = factors.get(t.name) ?? 1;
      const data = Float64Array.from(t.data);
      if (factor !== 1) for (let i = 0; i < data.length; i++) data[i] = data[i]! * factor;
      return { name: t.name, shape: [...t.shape], data };
    });
    await ctx.progress.report(0.3, 'checking outputs');
    const examples = await ctx.inputs.examples();
    const rescaled = { ...checkpoint, parameters };
    const before = await model.logits(examples);
    const after = await model.logits(examples, flattenParameters(model.engine, rescaled));
    let maxDifference = 0;
    let maxLogit = 0;
    for (let i = 0; i < before.length; i++) {
      maxDifference = Math.max(maxDifference, Math.abs(before[i]! - after[i]!));
      maxLogit = Math.max(maxLogit, Math.abs(before[i]!));
    }
    await ctx.progress.report(0.8, 'writing checkpoint');
    const artifact = await ctx.artifacts.writeCheckpoint('checkpoint.safetensors', {
      model: checkpoint.model,
      parameters,
      runId: checkpoint.runId,
      step: checkpoint.step,
    });
    const rows: Row[] = checkpoint.parameters.flatMap((t, i) => [
      { parameter: t.name, model: 'original', norm: norm(t.data) },
      { parameter: t.name, model: `rescaled (alpha ${v.alpha})`, norm: norm(parameters[i]!.data) },
    ]);
    return {
      result: { $case: 'rescale', value: { maxOutputDifference: maxDifference, artifact } },
      plot: {
        ...barChart({
          title: `Parameter norms before and after T_alpha (alpha ${v.alpha}, layers ${pair.first} and ${pair.next})`,
          rows,
          x: { field: 'parameter', title: 'parameter' },
          y: { field: 'norm', title: 'L2 norm' },
        }),
        encoding: {
          x: { field: 'parameter', type: 'nominal', title: 'parameter' },
          xOffset: { field: 'model', type: 'nominal' },
          y: { field: 'norm', type: 'quantitative', title: 'L2 norm', scale: { type: 'log' } },
          color: { field: 'model', type: 'nominal', title: '' },
        },
      },
      table: {
        columns: ['parameter', 'factor', 'norm_before', 'norm_after'],
        rows: checkpoint.parameters.map((t, i) => [
          t.name,
          factors.get(t.name) ?? 1,
          norm(t.data),
          norm(parameters[i]!.data),
        ]),
      },
      details: {
        alpha: v.alpha,
        scaledLayer: { index: pair.first, name: firstName, factor: v.alpha },
        inverseLayer: { index: pair.next, name: nextName, factor: 1 / v.alpha },
        examples: examples.count,
        maxAbsoluteLogit: maxLogit,
        relativeOutputDifference: maxLogit > 0 ? maxDifference / maxLogit : 0,
        outputPrecision: model.precision,
        storedDtype: 'float64',
        source: checkpoint.origin,
      },
    };
  },
});
