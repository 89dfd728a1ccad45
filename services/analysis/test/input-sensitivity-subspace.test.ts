// INPUT_SENSITIVITY with subspace_basis, against the real data service (a subspace dataset and its
// stored basis U, fetched with ReadDatasetRequest.auxiliary) and checkpoints built by hand:
// - a linear model W = A U^T depends on the subspace coordinates only: ||J U||_F = ||A||_F and
//   ||J (I - U U^T)||_F = 0 up to rounding (float64: 1e-12 relative; float32 parameters: 1e-6);
// - W = A U^T + B V^T with V orthonormal and orthogonal to U: along ||A||_F, transverse ||B||_F;
// - a tanh MLP (float64): the split equals the one of the analytic Jacobian W2 diag(1 - tanh^2) W1
//   (itself checked by central differences, 1e-6), and along^2 + transverse^2 = total^2 (1e-10);
// - a basis of the wrong shape, or a name the dataset does not have, fails the analysis with
//   INVALID_ARGUMENT on spec.input_sensitivity.subspace_basis.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Activation, LossKind, type ModelSpec, Precision } from '@gengap/proto/common/v1/model';
import { Split } from '@gengap/proto/common/v1/refs';
import { DataType } from '@gengap/proto/common/v1/tensor';
import type { DataServiceClient } from '@gengap/proto/data/v1/data_service';
import { Rng } from '@gengap/random';
import { status } from '@grpc/grpc-js';
import { checkBasis } from '../src/analyses/input-sensitivity.ts';
import type { NamedTensor } from '../src/analyses/kind.ts';
import { DataServiceDatasets } from '../src/clients/data-client.ts';
import { UnknownAuxiliaryError } from '../src/inputs/sources.ts';
import { createDataset, type Handle, startDataService } from './support/cluster.ts';
import {
  type AnalysisHandle,
  runAnalysis,
  runCheckpoint,
  runOk,
  startAnalysis,
  tempDir,
} from './support/harness.ts';
import { LocalRuns } from './support/local-sources.ts';
import { detailsOf, renderedPlot, resultOf } from './support/results.ts';
import { mlp } from './support/train.ts';

const D = 20;
const K = 3;
const C = 4;
const N = 48;

function normal(rng: Rng, n: number): Float64Array {
  return Float64Array.from({ length: n }, () => rng.normal());
}

function frobenius(m: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < m.length; i++) s += m[i]! * m[i]!;
  return Math.sqrt(s);
}

/** A [rows, k] times U^T for U [d, k]: [rows, d]. */
function timesTransposed(a: Float64Array, rows: number, u: Float64Array, d: number, k: number): Float64Array {
  const w = new Float64Array(rows * d);
  for (let r = 0; r < rows; r++)
    for (let i = 0; i < d; i++) {
      let s = 0;
      for (let j = 0; j < k; j++) s += a[r * k + j]! * u[i * k + j]!;
      w[r * d + i] = s;
    }
  return w;
}

/** m orthonormal vectors ([D, m] row-major) orthogonal to the columns of U, by Gram-Schmidt. */
function transverseBasis(u: Float64Array, m: number, rng: Rng): Float64Array {
  const columns: Float64Array[] = [];
  for (let j = 0; j < K; j++) columns.push(Float64Array.from({ length: D }, (_, i) => u[i * K + j]!));
  const out: Float64Array[] = [];
  while (out.length < m) {
    const v = normal(rng, D);
    for (const q of [...columns, ...out]) {
      let dot = 0;
      for (let i = 0; i < D; i++) dot += v[i]! * q[i]!;
      for (let i = 0; i < D; i++) v[i]! -= dot * q[i]!;
    }
    const norm = frobenius(v);
    for (let i = 0; i < D; i++) v[i]! /= norm;
    out.push(v);
  }
  return Float64Array.from({ length: D * m }, (_, x) => out[x % m]![Math.floor(x / m)]!);
}

function linearParameters(w: Float64Array, bias: Float64Array): NamedTensor[] {
  return [
    { name: '0.dense.weight', shape: [C, D], data: w },
    { name: '0.dense.bias', shape: [C], data: bias },
  ];
}

describe('input sensitivity along and across a stored subspace basis', () => {
  let dir: ReturnType<typeof tempDir>;
  let data: Handle<DataServiceClient>;
  let service: AnalysisHandle;
  let datasets: DataServiceDatasets;
  let subspaceId: string;
  let mixtureId: string;
  let u: Float64Array;
  let x: Float64Array;
  const rng = new Rng(7, 'subspace-sensitivity-test');
  const a = normal(rng, C * K);
  const b = normal(rng, C * 2);
  const bias = normal(rng, C);
  const tanh = { w1: normal(rng, 5 * D), b1: normal(rng, 5), w2: normal(rng, C * 5), b2: normal(rng, C) };

  before(async () => {
    dir = tempDir('subspace-sensitivity');
    data = await startDataService(`${dir.path}/data`);
    subspaceId = await createDataset(data, {
      source: {
        $case: 'subspace',
        value: {
          ambientDimension: D,
          subspaceDimension: K,
          noiseSigma: 0.3,
          trainSize: N,
          testSize: 8,
          label: 0,
          stripeFrequency: 0,
        },
      },
      seed: 5,
    });
    mixtureId = await createDataset(data, {
      source: {
        $case: 'gaussianMixture',
        value: { numClasses: C, dimension: D, trainSize: 16, testSize: 8, separation: 2, clusterStd: 1 },
      },
      seed: 5,
    });
    datasets = new DataServiceDatasets(data.address);
    const signal = new AbortController().signal;
    const basis = await datasets.readAuxiliary(subspaceId, 'basis', signal);
    assert.deepEqual(basis.shape, [D, K]);
    u = basis.values;
    x = (await datasets.readSplit(subspaceId, Split.SPLIT_TRAIN, DataType.DATA_TYPE_FLOAT64, signal))
      .x as Float64Array;

    const linear = mlp(D, [], C);
    const v = transverseBasis(u, 2, rng);
    const mixed = timesTransposed(a, C, u, D, K);
    const transverse = timesTransposed(b, C, v, D, 2);
    for (let i = 0; i < mixed.length; i++) mixed[i]! += transverse[i]!;
    const runs = new LocalRuns();
    const dataset = { datasetId: subspaceId };
    const loss = { kind: LossKind.LOSS_KIND_CROSS_ENTROPY, temperature: 1 };
    const add = (runId: string, model: ModelSpec, parameters: NamedTensor[], precision: Precision) =>
      runs.add(runId, { model, dataset, loss, precision }, [
        { step: 1, epoch: 1, permanent: true, parameters },
      ]);
    const onSubspace = linearParameters(timesTransposed(a, C, u, D, K), bias);
    add('linear64', linear, onSubspace, Precision.PRECISION_FLOAT64);
    add('linear32', linear, onSubspace, Precision.PRECISION_FLOAT32);
    add('mixed', linear, linearParameters(mixed, bias), Precision.PRECISION_FLOAT64);
    add(
      'tanh',
      mlp(D, [5], C, Activation.ACTIVATION_TANH),
      [
        { name: '0.dense.weight', shape: [5, D], data: tanh.w1 },
        { name: '0.dense.bias', shape: [5], data: tanh.b1 },
        { name: '2.dense.weight', shape: [C, 5], data: tanh.w2 },
        { name: '2.dense.bias', shape: [C], data: tanh.b2 },
      ],
      Precision.PRECISION_FLOAT64,
    );
    service = await startAnalysis({ stateDir: `${dir.path}/analysis`, runs, dataAddress: data.address });
  });

  after(async () => {
    datasets?.close();
    await service?.close();
    await data?.close();
    dir?.remove();
  });

  const sensitivity = (runId: string, subspaceBasis: string, extra: Record<string, unknown> = {}) => ({
    checkpoint: runCheckpoint(runId),
    split: Split.SPLIT_TRAIN,
    ...extra,
    kind: { $case: 'inputSensitivity' as const, value: { numBins: 0, subspaceBasis } },
  });

  test('a linear function of the subspace coordinates: along = ||A||_F, transverse ~ 0', async (t) => {
    const norm = frobenius(a);
    for (const [runId, tolerance] of [
      ['linear64', 1e-12],
      ['linear32', 1e-6],
    ] as const) {
      const analysis = await runOk(service.client, sensitivity(runId, 'basis'));
      const r = resultOf(analysis, 'inputSensitivity');
      t.diagnostic(
        `${runId}: ||A|| ${norm}, mean along ${r.meanAlongJacobianNorm}, transverse ${r.meanTransverseJacobianNorm}`,
      );
      assert.equal(r.alongJacobianNorms.length, N);
      assert.equal(r.transverseJacobianNorms.length, N);
      for (let i = 0; i < N; i++) {
        assert.ok(Math.abs(r.alongJacobianNorms[i]! / norm - 1) <= tolerance, `${runId} along ${i}`);
        assert.ok(r.transverseJacobianNorms[i]! <= tolerance * norm, `${runId} transverse ${i}`);
        // W = A U^T has ||W||_F = ||A||_F.
        assert.ok(Math.abs(r.jacobianNorms[i]! / norm - 1) <= tolerance, `${runId} total ${i}`);
      }
      assert.ok(Math.abs(r.meanAlongJacobianNorm / norm - 1) <= tolerance);
      assert.ok(r.meanTransverseJacobianNorm <= tolerance * norm);
      const details = await detailsOf(service.client, analysis);
      assert.equal(details.subspace.basis, 'basis');
      assert.equal(details.subspace.subspaceDimension, K);
      assert.ok(details.subspace.orthonormalityError < 1e-12);
      const svg = await renderedPlot(analysis);
      assert.match(svg, /along/);
    }
  });

  test('a known transverse part: W = A U^T + B V^T gives along ||A||_F and transverse ||B||_F', async () => {
    const r = resultOf(await runOk(service.client, sensitivity('mixed', 'basis')), 'inputSensitivity');
    const along = frobenius(a);
    const transverse = frobenius(b);
    for (let i = 0; i < N; i++) {
      assert.ok(Math.abs(r.alongJacobianNorms[i]! / along - 1) <= 1e-12, `along ${i}`);
      assert.ok(Math.abs(r.transverseJacobianNorms[i]! / transverse - 1) <= 1e-12, `transverse ${i}`);
    }
    assert.ok(Math.abs(r.meanJacobianNorm / Math.hypot(along, transverse) - 1) <= 1e-12);
  });

  test('a tanh MLP: the split of the analytic Jacobian (checked by differences); along^2 + transverse^2 = total^2', async () => {
    const analysis = await runOk(service.client, sensitivity('tanh', 'basis'));
    const r = resultOf(analysis, 'inputSensitivity');
    const forward = (xi: Float64Array) => {
      const h = Float64Array.from({ length: 5 }, (_, m) => {
        let s = tanh.b1[m]!;
        for (let i = 0; i < D; i++) s += tanh.w1[m * D + i]! * xi[i]!;
        return Math.tanh(s);
      });
      return Float64Array.from({ length: C }, (_, c) => {
        let s = tanh.b2[c]!;
        for (let m = 0; m < 5; m++) s += tanh.w2[c * 5 + m]! * h[m]!;
        return s;
      });
    };
    for (let n = 0; n < N; n++) {
      const xi = x.slice(n * D, (n + 1) * D);
      // J = W2 diag(1 - h^2) W1, [C, D].
      const slope = Float64Array.from({ length: 5 }, (_, m) => {
        let s = tanh.b1[m]!;
        for (let i = 0; i < D; i++) s += tanh.w1[m * D + i]! * xi[i]!;
        return 1 - Math.tanh(s) ** 2;
      });
      const j = new Float64Array(C * D);
      for (let c = 0; c < C; c++)
        for (let i = 0; i < D; i++) {
          let s = 0;
          for (let m = 0; m < 5; m++) s += tanh.w2[c * 5 + m]! * slope[m]! * tanh.w1[m * D + i]!;
          j[c * D + i] = s;
        }
      if (n < 4) {
        // Central differences along each coordinate confirm the analytic Jacobian.
        for (let i = 0; i < D; i++) {
          const plus = xi.slice();
          const minus = xi.slice();
          plus[i]! += 1e-5;
          minus[i]! -= 1e-5;
          const fp = forward(plus);
          const fm = forward(minus);
          for (let c = 0; c < C; c++) {
            const fd = (fp[c]! - fm[c]!) / 2e-5;
            assert.ok(Math.abs(fd - j[c * D + i]!) <= 1e-6 * (1 + Math.abs(fd)), `J[${c}, ${i}] of ${n}`);
          }
        }
      }
      // J U [C, K] and J - (J U) U^T.
      const ju = new Float64Array(C * K);
      for (let c = 0; c < C; c++)
        for (let q = 0; q < K; q++) {
          let s = 0;
          for (let i = 0; i < D; i++) s += j[c * D + i]! * u[i * K + q]!;
          ju[c * K + q] = s;
        }
      const projected = timesTransposed(ju, C, u, D, K);
      const residual = j.map((v, idx) => v - projected[idx]!);
      const along = r.alongJacobianNorms[n]!;
      const transverse = r.transverseJacobianNorms[n]!;
      const total = r.jacobianNorms[n]!;
      assert.ok(Math.abs(along - frobenius(ju)) <= 1e-10 * frobenius(j), `along ${n}`);
      assert.ok(Math.abs(transverse - frobenius(residual)) <= 1e-10 * frobenius(j), `transverse ${n}`);
      assert.ok(Math.abs(total - frobenius(j)) <= 1e-10 * frobenius(j), `total ${n}`);
      assert.ok(Math.abs(along ** 2 + transverse ** 2 - total ** 2) <= 1e-10 * total ** 2, `sum ${n}`);
    }
    // Noise sigma 0.3 in 17 of 20 directions: both parts are present for a generic network.
    assert.ok(r.meanAlongJacobianNorm > 0 && r.meanTransverseJacobianNorm > 0);
  });

  test('without a basis the split is empty; the plot stays the loss-gradient histogram', async () => {
    const analysis = await runOk(service.client, sensitivity('linear64', ''));
    const r = resultOf(analysis, 'inputSensitivity');
    assert.deepEqual(r.alongJacobianNorms, []);
    assert.deepEqual(r.transverseJacobianNorms, []);
    assert.equal(r.meanAlongJacobianNorm, 0);
    assert.equal(r.jacobianNorms.length, N);
    assert.match(analysis.result?.plotSpecJson ?? '', /Loss sensitivity/);
  });

  test('a basis of the wrong shape or an unknown name is INVALID_ARGUMENT on subspace_basis', async () => {
    const field = 'spec.input_sensitivity.subspace_basis';
    // The mixture's centres are [classes, dimension] = [4, 20]: not a [20, k] basis.
    const wrongShape = await runAnalysis(
      service.client,
      sensitivity('linear64', 'centres', { dataset: { datasetId: mixtureId } }),
    );
    assert.equal(wrongShape.status?.error?.code, status.INVALID_ARGUMENT);
    assert.equal(wrongShape.status?.error?.field, field);
    assert.match(wrongShape.status?.error?.message ?? '', /shape \[4, 20\].*\[20, k\]/);
    const unknown = await runAnalysis(service.client, sensitivity('linear64', 'label_weights'));
    assert.equal(unknown.status?.error?.code, status.INVALID_ARGUMENT);
    assert.equal(unknown.status?.error?.field, field);
    assert.match(
      unknown.status?.error?.message ?? '',
      /no auxiliary array "label_weights" \(it has "basis"\)/,
    );
    await assert.rejects(
      datasets.readAuxiliary(subspaceId, 'nope', new AbortController().signal),
      UnknownAuxiliaryError,
    );
  });

  test('checkBasis refuses columns that are not orthonormal, and too many columns', () => {
    const scaled = u.map((v) => 2 * v);
    assert.throws(() => checkBasis('basis', [D, K], scaled, [D]), /not orthonormal/);
    assert.throws(
      () => checkBasis('basis', [D, K], u, [4, 4]),
      (err: Error & { field?: string }) => {
        assert.equal(err.field, 'spec.input_sensitivity.subspace_basis');
        return true;
      },
    );
    assert.throws(() => checkBasis('basis', [D, 0], new Float64Array(0), [D]), /has 0 columns/);
    assert.doesNotThrow(() => checkBasis('basis', [D, K], u, [1, D]));
  });
});
