// Hessian analyses against the exact spectrum of a small MLP (10-16-4, tanh, 244 parameters) whose
// full Hessian is built column by column from the engine's exact HVPs in float64. Every analysis runs
// through the real service (StartAnalysis, WatchAnalysis, GetAnalysis, ReadAnalysisArtifact).
// Tolerances: Lanczos top-k eigenvalues to 1e-6 relative (seen: ~1e-12); SLQ moments and trace
// estimates within 4 of their own standard errors; SLQ density within L1 0.15 of the smoothed exact one.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { compileModel } from '@gengap/engine';
import { TraceMethod } from '@gengap/proto/analysis/v1/analysis';
import { Activation, OptimizerKind, Precision } from '@gengap/proto/common/v1/model';
import { Split } from '@gengap/proto/common/v1/refs';
import { Rng } from '@gengap/random';
import type { NamedTensor } from '../src/analyses/kind.ts';
import { exampleSet, randomBatch } from '../src/inputs/examples.ts';
import { symmetricEigen } from '../src/numerics/symmetric-eigen.ts';
import {
  type AnalysisHandle,
  readArtifact,
  runCheckpoint,
  runOk,
  startAnalysis,
  tempDir,
} from './support/harness.ts';
import { LocalDatasets, LocalRuns } from './support/local-sources.ts';
import { mlp, train } from './support/train.ts';

const N = 128;
const D = 10;
const C = 4;
const model = mlp(D, [16], C, Activation.ACTIVATION_TANH);
let dir: ReturnType<typeof tempDir>;
let service: AnalysisHandle;
let x: Float64Array;
let y: Int32Array;
let parameters: NamedTensor[];
let flat: Float64Array;
let names: { name: string; offset: number; length: number }[];
let P: number;

/** Dense Hessian of the mean loss over the given rows, from P exact HVPs (float64). */
async function denseHessian(rows: { x: Float64Array; y: Int32Array }): Promise<Float64Array> {
  const compiled = await compileModel(model, { precision: 'float64', threads: 1 });
  const h = new Float64Array(P * P);
  const e = new Float64Array(P);
  for (let j = 0; j < P; j++) {
    e.fill(0);
    e[j] = 1;
    const { hvp } = await compiled.hvp(rows.x, rows.y, e, { parameters: flat });
    for (let i = 0; i < P; i++) h[i * P + j] = hvp[i]!;
  }
  await compiled.dispose();
  return h;
}

function topExact(h: Float64Array, n: number, k: number): number[] {
  return [...symmetricEigen(h, n).values].reverse().slice(0, k);
}

function subBlock(h: Float64Array, offset: number, length: number): Float64Array {
  const out = new Float64Array(length * length);
  for (let i = 0; i < length; i++)
    for (let j = 0; j < length; j++) out[i * length + j] = h[(offset + i) * P + offset + j]!;
  return out;
}

let worstRelativeError = 0;

function assertClose(actual: number, expected: number, rel: number, what: string): void {
  const err = Math.abs(actual - expected) / Math.max(Math.abs(expected), 1e-12);
  worstRelativeError = Math.max(worstRelativeError, err);
  assert.ok(err <= rel, `${what}: ${actual} vs exact ${expected} (relative error ${err.toExponential(2)})`);
}

let H: Float64Array;
const base = { checkpoint: runCheckpoint('small'), precision: Precision.PRECISION_FLOAT64, seed: 7 };

before(async () => {
  dir = tempDir('hessian-exact');
  const rng = new Rng(1, 'data');
  const centres = Array.from({ length: C }, () => Array.from({ length: D }, () => 2 * rng.normal()));
  x = new Float64Array(N * D);
  y = new Int32Array(N);
  for (let i = 0; i < N; i++) {
    y[i] = i % C;
    for (let d = 0; d < D; d++) x[i * D + d] = centres[y[i]!]![d]! + rng.normal();
  }
  ({ parameters } = await train({
    model,
    x,
    y,
    batchSize: 16,
    epochs: 10,
    learningRate: 0.05,
    optimizer: { kind: OptimizerKind.OPTIMIZER_KIND_SGD } as never,
    seed: 3,
    precision: 'float64',
  }));
  P = parameters.reduce((a, t) => a + t.data.length, 0);
  flat = new Float64Array(P);
  names = [];
  let at = 0;
  for (const t of parameters) {
    flat.set(t.data, at);
    names.push({ name: t.name, offset: at, length: t.data.length });
    at += t.data.length;
  }
  H = await denseHessian({ x, y });
  const runs = new LocalRuns();
  runs.add('small', { model, dataset: { datasetId: 'gauss' }, precision: Precision.PRECISION_FLOAT64 }, [
    { step: 80, epoch: 10, permanent: true, parameters },
  ]);
  const datasets = new LocalDatasets();
  datasets.add('gauss', Split.SPLIT_TRAIN, { x, y, inputShape: [D], numClasses: C });
  datasets.add('gauss', Split.SPLIT_TEST, { x, y, inputShape: [D], numClasses: C });
  service = await startAnalysis({ stateDir: dir.path, runs, datasets });
});

after(async () => {
  await service?.close();
  dir?.remove();
});

describe('exact Hessian of a small MLP', () => {
  test('the Hessian built from HVPs is symmetric to 1e-12 (relative to its largest entry)', () => {
    let largest = 0;
    let asym = 0;
    for (let i = 0; i < P; i++)
      for (let j = 0; j < P; j++) {
        largest = Math.max(largest, Math.abs(H[i * P + j]!));
        asym = Math.max(asym, Math.abs(H[i * P + j]! - H[j * P + i]!));
      }
    assert.equal(P, 244);
    assert.ok(asym <= 1e-12 * largest, `asymmetry ${asym} vs ${largest}`);
  });

  test('Lanczos top-10 and top-50 eigenvalues match the exact spectrum to 1e-6 relative; Ritz vectors are true eigenvectors', async (t) => {
    const exact = topExact(H, P, 50);
    for (const k of [10, 50]) {
      const analysis = await runOk(service.client, {
        ...base,
        kind: {
          $case: 'hessianEigen',
          value: {
            topK: k,
            maxIterations: P,
            tolerance: 1e-10,
            miniBatchSize: 0,
            blocks: undefined,
            returnEigenvectors: k === 10,
            hvpBatchSize: 0,
          },
        },
      });
      const result = analysis.result?.kind;
      assert.equal(result?.$case, 'hessianEigen');
      if (result?.$case !== 'hessianEigen') return;
      const block = result.value.blocks[0]!;
      assert.equal(block.eigenvalues.length, k);
      for (let i = 0; i < k; i++)
        assertClose(block.eigenvalues[i]!, exact[i]!, 1e-6, `k=${k} eigenvalue ${i}`);
      assert.equal(block.hvpCalls, block.iterations);
      if (k === 10) {
        assert.equal(block.eigenvectorArtifacts.length, 10);
        const { mediaType, tensors } = await readArtifact(
          service.client,
          analysis.analysisId,
          block.eigenvectorArtifacts[0]!,
        );
        assert.equal(mediaType, 'application/x-gengap-tensor');
        const v = new Float64Array(tensors[0]!.data.slice().buffer);
        let r2 = 0;
        for (let i = 0; i < P; i++) {
          let hv = 0;
          for (let j = 0; j < P; j++) hv += H[i * P + j]! * v[j]!;
          r2 += (hv - block.eigenvalues[0]! * v[i]!) ** 2;
        }
        assert.ok(Math.sqrt(r2) <= 1e-8 * exact[0]!, `explicit residual ${Math.sqrt(r2)}`);
      }
    }
    t.diagnostic(
      `largest relative eigenvalue error ${worstRelativeError.toExponential(2)}; lambda_max ${exact[0]}`,
    );
  });

  test('per-parameter blocks: each block matches the exact spectrum of its diagonal block to 1e-6', async () => {
    const analysis = await runOk(service.client, {
      ...base,
      kind: {
        $case: 'hessianEigen',
        value: {
          topK: 3,
          maxIterations: 200,
          tolerance: 1e-10,
          miniBatchSize: 0,
          blocks: { names: [], perParameter: true },
          returnEigenvectors: false,
          hvpBatchSize: 50,
        },
      },
    });
    const result = analysis.result?.kind;
    if (result?.$case !== 'hessianEigen') throw new Error('no eigen result');
    assert.deepEqual(
      result.value.blocks.map((b) => b.block),
      ['', ...names.map((n) => n.name)],
    );
    for (const b of result.value.blocks.slice(1)) {
      const view = names.find((n) => n.name === b.block)!;
      const exact = topExact(subBlock(H, view.offset, view.length), view.length, 3);
      for (let i = 0; i < Math.min(3, view.length); i++)
        assertClose(b.eigenvalues[i]!, exact[i]!, 1e-6, `${b.block} ${i}`);
    }
  });

  test('mini-batch Hessian: the Hessian of the seeded batch of 32, not of the full data', async () => {
    const batch = randomBatch(
      exampleSet({ datasetId: 'gauss', split: Split.SPLIT_TRAIN, x, y, inputShape: [D], numClasses: C }),
      32,
      new Rng(base.seed, 'mini-batch'),
    );
    const Hb = await denseHessian({ x: batch.x as Float64Array, y: batch.y });
    const exactBatch = topExact(Hb, P, 5);
    const exactFull = topExact(H, P, 1);
    const analysis = await runOk(service.client, {
      ...base,
      kind: {
        $case: 'hessianEigen',
        value: {
          topK: 5,
          maxIterations: P,
          tolerance: 1e-10,
          miniBatchSize: 32,
          blocks: undefined,
          returnEigenvectors: false,
          hvpBatchSize: 0,
        },
      },
    });
    const result = analysis.result?.kind;
    if (result?.$case !== 'hessianEigen') throw new Error('no eigen result');
    const values = result.value.blocks[0]!.eigenvalues;
    for (let i = 0; i < 5; i++) assertClose(values[i]!, exactBatch[i]!, 1e-6, `batch eigenvalue ${i}`);
    assert.ok(Math.abs(values[0]! - exactFull[0]!) > 1e-3 * exactFull[0]!, 'batch and full Hessians differ');
  });

  test('SLQ: moments within 4 standard errors of tr(H)/n and tr(H^2)/n; density close to the smoothed exact spectrum', async () => {
    const eig = symmetricEigen(H, P).values;
    const m1 = eig.reduce((a, v) => a + v, 0) / P;
    const m2 = eig.reduce((a, v) => a + v * v, 0) / P;
    const analysis = await runOk(service.client, {
      ...base,
      kind: {
        $case: 'spectralDensity',
        value: {
          numProbes: 40,
          lanczosSteps: 40,
          numGridPoints: 400,
          kernelWidth: 0.02,
          miniBatchSize: 0,
          blocks: undefined,
          hvpBatchSize: 0,
        },
      },
    });
    const result = analysis.result?.kind;
    if (result?.$case !== 'spectralDensity') throw new Error('no density result');
    const density = result.value.blocks[0]!;
    const exported = await readArtifact(service.client, analysis.analysisId, 'result.json');
    assert.equal(exported.mediaType, 'application/json');
    const details = JSON.parse(new TextDecoder().decode(exported.tensors[0]!.data)).details;
    const moments = details.moments[''];
    assert.ok(
      Math.abs(density.firstMoment - m1) <= 4 * moments.firstMomentStandardError,
      `m1 ${density.firstMoment} vs ${m1}`,
    );
    assert.ok(
      Math.abs(density.secondMoment - m2) <= 4 * moments.secondMomentStandardError,
      `m2 ${density.secondMoment} vs ${m2}`,
    );
    const sigma = moments.kernelSigma as number;
    let l1 = 0;
    for (let g = 1; g < density.grid.length; g++) {
      const t = density.grid[g]!;
      let exact = 0;
      for (const lam of eig) exact += Math.exp(-0.5 * ((t - lam) / sigma) ** 2);
      exact /= P * sigma * Math.sqrt(2 * Math.PI);
      l1 += Math.abs(density.density[g]! - exact) * (t - density.grid[g - 1]!);
    }
    assert.ok(l1 < 0.15, `L1 distance to the smoothed exact density ${l1}`);
  });

  test('trace: Hutchinson and Hutch++ within 4 standard errors of the exact trace', async () => {
    const exact = symmetricEigen(H, P).values.reduce((a, v) => a + v, 0);
    for (const method of [TraceMethod.TRACE_METHOD_HUTCHINSON, TraceMethod.TRACE_METHOD_HUTCH_PLUS_PLUS]) {
      const analysis = await runOk(service.client, {
        ...base,
        kind: {
          $case: 'hessianTrace',
          value: { method, numQueries: 90, miniBatchSize: 0, blocks: undefined, hvpBatchSize: 0 },
        },
      });
      const result = analysis.result?.kind;
      if (result?.$case !== 'hessianTrace') throw new Error('no trace result');
      const t = result.value.blocks[0]!;
      assert.equal(t.queries, 90);
      assert.ok(
        Math.abs(t.trace - exact) <= 4 * t.standardError + 1e-9,
        `method ${method}: ${t.trace} vs ${exact} (se ${t.standardError})`,
      );
    }
  });
});
