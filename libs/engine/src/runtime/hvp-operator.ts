// Repeated Hessian-vector products on fixed examples (Lanczos, power iteration, Hutchinson): the parts of
// the HVP graph that do not depend on v (forward pass, loss, activation cotangents) run once per chunk in
// `prepare`; each `apply(v)` then runs only the v-dependent products. Prepared tensors stay in memory
// (a few activation-sized tensors per chunk) until `release()`.
import type * as ort from 'onnxruntime-node';
import { EngineSpecError } from '../errors.ts';
import type { AnalysisOptions } from './analysis.ts';
import type { CompiledModel } from './compiled-model.ts';
import type { Examples } from './examples.ts';
import { accumulateWeighted, floatData, floatTensor, int32Tensor, outputOf, scalarOf } from './tensors.ts';

export interface HvpOperator {
  /** Mean loss over the examples (at the operator's parameters). */
  readonly loss: number;
  readonly examples: number;
  /** H v for the Hessian of the mean loss over the examples; same values as CompiledModel.hvp. */
  apply(vector: ArrayLike<number>): Promise<Float64Array>;
  /** Drops the prepared tensors. */
  release(): void;
}

interface PreparedChunk {
  rows: number;
  feeds: Record<string, ort.Tensor>;
}

export async function hvpOperator(
  m: CompiledModel,
  x: Examples,
  labels: Int32Array,
  o: AnalysisOptions = {},
): Promise<HvpOperator> {
  const examples = m.examples(x);
  const n = examples.rows;
  if (!(labels instanceof Int32Array) || labels.length !== n) {
    throw new EngineSpecError('labels', `expected an Int32Array of ${n} values, got ${labels.length}`);
  }
  const params = m.parameterTensor(o.parameters);
  let chunks: PreparedChunk[] = [];
  let loss = 0;
  for (let start = 0; start < n; start += m.chunkSize) {
    const end = Math.min(n, start + m.chunkSize);
    const inputs = {
      params,
      x: examples.tensor(start, end, [end - start]),
      labels: int32Tensor(labels.subarray(start, end), [end - start]),
    };
    const prepared = await m.run('hvpPrepare', inputs, end - start);
    loss += scalarOf(outputOf(prepared, 'loss')) * ((end - start) / n);
    const apply = await m.session('hvpApply', end - start);
    const feeds: Record<string, ort.Tensor> = {};
    for (const name of apply.inputNames) {
      if (name === 'vector') continue;
      feeds[name] = name in inputs ? inputs[name as keyof typeof inputs] : outputOf(prepared, name);
    }
    chunks.push({ rows: end - start, feeds });
  }
  return {
    loss,
    examples: n,
    async apply(vector) {
      if (vector.length !== m.numParameters) {
        throw new EngineSpecError('vector', `expected ${m.numParameters} values, got ${vector.length}`);
      }
      const v = floatTensor(vector, m.dtype, [m.numParameters]);
      const total = new Float64Array(m.numParameters);
      for (const chunk of chunks) {
        const r = await m.run('hvpApply', { ...chunk.feeds, vector: v }, chunk.rows);
        accumulateWeighted(total, floatData(outputOf(r, 'hvp')), chunk.rows / n);
      }
      return total;
    },
    release() {
      chunks = [];
    },
  };
}
