// Random directions in parameter space for loss-landscape slices (Li et al. 2018). With filter
// normalisation each filter of the direction (the slice of a weight tensor that produces one output
// unit or channel) is rescaled to the norm of the same filter of the parameters, so the slice is
// comparable across networks whatever their scale; one-dimensional tensors (biases, norm scales) get
// a zero direction, as in Li et al.'s "ignore biasbn" setting. Without filter normalisation the whole
// direction is rescaled to the parameters' norm instead.
import type { Rng } from '@gengap/random';
import { fillGaussian, norm2, scale } from './vector.ts';

/** Where one parameter tensor lives in the flat parameter vector. */
export interface ParameterBlock {
  name: string;
  offset: number;
  size: number;
  shape: readonly number[];
  /** Axis whose index selects a filter (output unit or channel); ignored for 1-D tensors. */
  filterAxis: number;
}

/** For each element of a row-major tensor, the index of its filter along `axis`. */
function filterIndexer(shape: readonly number[], axis: number): (element: number) => number {
  let stride = 1;
  for (let a = shape.length - 1; a > axis; a--) stride *= shape[a]!;
  const extent = shape[axis]!;
  return (element) => Math.floor(element / stride) % extent;
}

export function filterNormalizedDirection(
  parameters: ArrayLike<number>,
  blocks: readonly ParameterBlock[],
  rng: Rng,
): Float64Array {
  const direction = fillGaussian(rng, new Float64Array(parameters.length));
  for (const block of blocks) {
    if (block.shape.length <= 1) {
      direction.fill(0, block.offset, block.offset + block.size);
      continue;
    }
    const filters = block.shape[block.filterAxis]!;
    const indexOf = filterIndexer(block.shape, block.filterAxis);
    const paramNorm = new Float64Array(filters);
    const dirNorm = new Float64Array(filters);
    for (let e = 0; e < block.size; e++) {
      const f = indexOf(e);
      paramNorm[f] = paramNorm[f]! + parameters[block.offset + e]! ** 2;
      dirNorm[f] = dirNorm[f]! + direction[block.offset + e]! ** 2;
    }
    for (let e = 0; e < block.size; e++) {
      const f = indexOf(e);
      const d = Math.sqrt(dirNorm[f]!);
      direction[block.offset + e] = d > 0 ? (direction[block.offset + e]! * Math.sqrt(paramNorm[f]!)) / d : 0;
    }
  }
  return direction;
}

/** A Gaussian direction rescaled to the norm of the whole parameter vector. */
export function globallyNormalizedDirection(parameters: ArrayLike<number>, rng: Rng): Float64Array {
  const direction = fillGaussian(rng, new Float64Array(parameters.length));
  const theta = norm2(Float64Array.from(parameters));
  const d = norm2(direction);
  if (d > 0) scale(theta / d, direction);
  return direction;
}
