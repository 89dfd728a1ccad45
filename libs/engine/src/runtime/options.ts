// Compile options: the proto messages the trainer passes through, plus runtime settings, normalised.
import {
  Device,
  type LossSpec,
  type OptimizerSpec,
  Precision,
  type Regularizers,
} from '@gengap/proto/common/v1/model';
import { EngineSpecError } from '../errors.ts';
import type { DeviceName } from './session.ts';
import type { FloatDType } from './tensors.ts';

export interface CompileOptions {
  /** Default: cross-entropy at temperature 1. */
  loss?: LossSpec;
  /** Default: SGD. The learning rate is fed per step (trainSteps), so `learningRate` is not used here. */
  optimizer?: OptimizerSpec;
  regularizers?: Regularizers;
  /** 'float32' (default) or 'float64', or the proto enum. */
  precision?: FloatDType | Precision;
  /** 'cpu' (default) or 'cuda', or the proto enum. */
  device?: DeviceName | Device;
  /** Intra-op threads (default 1). */
  threads?: number;
  /** Parameters (by name) that training leaves unchanged. */
  frozenParameters?: readonly string[];
  /** Examples per graph call in evaluate/gradient/hvp and the other analysis calls (default 1000). */
  chunkSize?: number;
}

export function precisionOf(p: CompileOptions['precision']): FloatDType {
  if (
    p === undefined ||
    p === 'float32' ||
    p === Precision.PRECISION_UNSPECIFIED ||
    p === Precision.PRECISION_FLOAT32
  ) {
    return 'float32';
  }
  if (p === 'float64' || p === Precision.PRECISION_FLOAT64) return 'float64';
  throw new EngineSpecError('precision', `unknown precision ${p}`);
}

export function deviceOf(d: CompileOptions['device']): DeviceName {
  if (d === undefined || d === 'cpu' || d === Device.DEVICE_UNSPECIFIED || d === Device.DEVICE_CPU)
    return 'cpu';
  if (d === 'cuda' || d === Device.DEVICE_CUDA) return 'cuda';
  throw new EngineSpecError('device', `unknown device ${d}`);
}

export function positiveInteger(field: string, value: number | undefined, fallback: number): number {
  const v = value === undefined || value === 0 ? fallback : value;
  if (!Number.isInteger(v) || v < 1)
    throw new EngineSpecError(field, `must be a positive integer, got ${value}`);
  return v;
}
