// Reads the PyTorch reference fixtures (fixtures/make_torch_fixtures.py writes them).
import { readFileSync } from 'node:fs';
import type { LossSpec, ModelSpec, OptimizerSpec, Regularizers } from '@gengap/proto/common/v1/model';

export interface EncodedArray {
  dtype: 'float32' | 'float64' | 'int32';
  b64: string;
}

export function decode(a: EncodedArray): Float32Array | Float64Array | Int32Array {
  const bytes = Buffer.from(a.b64, 'base64');
  const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
  if (a.dtype === 'float32') return new Float32Array(buffer);
  if (a.dtype === 'float64') return new Float64Array(buffer);
  return new Int32Array(buffer);
}

interface Common {
  name: string;
  dtype: 'float32' | 'float64';
  spec: ModelSpec;
  init: EncodedArray;
  x: EncodedArray;
}

export interface TrainScenario extends Common {
  kind: 'train';
  optimizer: OptimizerSpec;
  loss: LossSpec;
  regularizers: Regularizers;
  steps: number;
  batch: number;
  learningRates: number[];
  targets: EncodedArray;
  softTargets: boolean;
  losses: number[];
  gradientNorms: number[];
  accuracies: number[];
  final: EncodedArray;
}

export interface HvpScenario extends Common {
  kind: 'hvp';
  labels: EncodedArray;
  loss: number;
  gradient: EncodedArray;
  vector: EncodedArray;
  hvp: EncodedArray;
}

export type Scenario = TrainScenario | HvpScenario;

export function loadTorchFixtures(): Scenario[] {
  const url = new URL('../fixtures/torch-reference.json', import.meta.url);
  return (JSON.parse(readFileSync(url, 'utf8')) as { scenarios: Scenario[] }).scenarios;
}
