// Seeded parameter initialisation. Parameter i draws from CounterRandom(seed, stream = i), so each
// tensor's values depend only on the seed and its position, never on the other tensors' sizes.
import { InitializerKind } from '@gengap/proto/common/v1/model';
import { CounterRandom } from '../prng.ts';
import type { ParameterSpec } from './resolve.ts';

type FloatArray = Float32Array | Float64Array;

function fill(out: FloatArray, draw: () => number): void {
  for (let i = 0; i < out.length; i++) out[i] = draw();
}

/** Fills `out` (one parameter's slice of the flat vector) according to its spec. */
export function initializeParameter(
  spec: ParameterSpec,
  out: FloatArray,
  seed: number,
  stream: number,
): void {
  const rng = new CounterRandom(seed, stream);
  const scale = spec.initializer.scale === 0 ? 1 : spec.initializer.scale;
  const uniform = (bound: number) => () => (2 * rng.uniform() - 1) * bound;
  const normal = (std: number) => () => rng.normal() * std;
  switch (spec.init) {
    case 'ones':
      out.fill(1);
      return;
    case 'zeros':
      out.fill(0);
      return;
    case 'bias':
      // PyTorch's default bias is U(-1/sqrt(fan_in), 1/sqrt(fan_in)); the other schemes start biases at 0.
      if (spec.initializer.kind === InitializerKind.INITIALIZER_KIND_TORCH_DEFAULT)
        fill(out, uniform(1 / Math.sqrt(spec.fanIn)));
      else out.fill(0);
      return;
    default:
      break;
  }
  const draw = weightDraw(spec, scale, uniform, normal);
  if (draw === undefined) out.fill(0);
  else fill(out, draw);
}

function weightDraw(
  spec: ParameterSpec,
  scale: number,
  uniform: (bound: number) => () => number,
  normal: (std: number) => () => number,
): (() => number) | undefined {
  switch (spec.initializer.kind) {
    case InitializerKind.INITIALIZER_KIND_HE_NORMAL:
      return normal(scale * Math.sqrt(2 / spec.fanIn));
    case InitializerKind.INITIALIZER_KIND_GLOROT_UNIFORM:
      return uniform(scale * Math.sqrt(6 / (spec.fanIn + spec.fanOut)));
    case InitializerKind.INITIALIZER_KIND_NORMAL:
      return normal(scale);
    case InitializerKind.INITIALIZER_KIND_TORCH_DEFAULT:
      return uniform(scale / Math.sqrt(spec.fanIn));
    case InitializerKind.INITIALIZER_KIND_ZEROS:
      return undefined;
    default:
      throw new Error(`unknown initializer kind ${spec.initializer.kind} for ${spec.name}`);
  }
}
