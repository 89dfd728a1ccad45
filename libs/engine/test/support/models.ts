// Small model specs shared by the tests.
import { Activation, type Layer, type ModelSpec } from '@gengap/proto/common/v1/model';

export const dense = (units: number, name = ''): Layer => ({
  name,
  kind: { $case: 'dense', value: { units, noBias: false } },
});
export const activation = (a: Activation): Layer => ({
  name: '',
  kind: { $case: 'activation', value: { activation: a } },
});
export const relu = activation(Activation.ACTIVATION_RELU);
export const tanh = activation(Activation.ACTIVATION_TANH);
export const dropout = (rate: number): Layer => ({ name: '', kind: { $case: 'dropout', value: { rate } } });
export const flatten: Layer = { name: '', kind: { $case: 'flatten', value: {} } };

export function mlp(widths: number[], act: Layer = relu, extra: Layer[] = []): ModelSpec {
  const layers: Layer[] = [];
  widths.slice(1).forEach((units, i) => {
    layers.push(dense(units));
    if (i < widths.length - 2) layers.push(act, ...extra);
  });
  return { inputShape: [widths[0]!], numOutputs: widths.at(-1)!, layers };
}

/** [1, 6, 6] -> conv(3, k3, s1, p1) -> relu -> maxpool 2 -> conv(4, k3, s2, p1) -> tanh -> avgpool 2 (s1, p1) -> flatten -> dense 3. */
export function smallCnn(): ModelSpec {
  const conv = (out: number, stride: number): Layer => ({
    name: '',
    kind: { $case: 'conv2d', value: { outChannels: out, kernelSize: 3, stride, padding: 1, noBias: false } },
  });
  return {
    inputShape: [1, 6, 6],
    numOutputs: 3,
    layers: [
      conv(3, 1),
      relu,
      { name: '', kind: { $case: 'maxPool2d', value: { kernelSize: 2, stride: 0, padding: 0 } } },
      conv(4, 2),
      tanh,
      { name: '', kind: { $case: 'avgPool2d', value: { kernelSize: 2, stride: 1, padding: 1 } } },
      flatten,
      dense(3),
    ],
  };
}

/** Character codes [5] -> embedding(7, 3) -> layer norm -> flatten -> dense 4 -> GELU -> dense 2. */
export function tabular(): ModelSpec {
  return {
    inputShape: [5],
    numOutputs: 2,
    layers: [
      { name: 'chars', kind: { $case: 'embedding', value: { vocabularySize: 7, dimension: 3 } } },
      { name: '', kind: { $case: 'layerNorm', value: { epsilon: 0 } } },
      flatten,
      dense(4),
      activation(Activation.ACTIVATION_GELU),
      dense(2),
    ],
  };
}

/** Deterministic pseudo-data in [-1, 1]. */
export function wave(length: number, phase = 0): Float64Array {
  return Float64Array.from({ length }, (_, i) => Math.sin(phase + i * 1.618034) * Math.cos(i * 0.37));
}
