// Auxiliary arrays (the subspace basis, mixture centres, linear label weights): listed in the
// manifest, streamed by ReadDataset with `auxiliary` as one tensor in their stored dtype, checksummed
// like a split, and byte-identical to the stored .npy; unknown names and datasets are refused.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Split } from '@gengap/proto/common/v1/refs';
import { DataType } from '@gengap/proto/common/v1/tensor';
import type { DataServiceClient } from '@gengap/proto/data/v1/data_service';
import type { Dataset } from '@gengap/proto/data/v1/dataset';
import { SubspaceLabel } from '@gengap/proto/data/v1/dataset';
import { readStream } from '@gengap/service-kit';
import { ChunkAssembler, type RawTensor, readNpyFile } from '@gengap/tensor-io';
import { status } from '@grpc/grpc-js';
import { decodeManifestFile } from '../src/storage/manifest-file.ts';
import { createAndWait, expectError, readSplit, spec, startService, type TestService } from './helpers.ts';

async function readAuxiliary(
  client: DataServiceClient,
  datasetId: string,
  auxiliary: string,
  chunkBytes = 0,
): Promise<{ tensors: RawTensor[]; chunks: number }> {
  const assembler = new ChunkAssembler();
  let chunks = 0;
  // `split` and `input_dtype` are ignored for an auxiliary array, whatever they say.
  const request = {
    datasetId,
    split: Split.SPLIT_UNSPECIFIED,
    chunkBytes,
    inputDtype: DataType.DATA_TYPE_UINT8,
    auxiliary,
  };
  for await (const message of readStream(client, client.readDataset, request)) {
    if (!message.chunk) continue;
    chunks++;
    // ChunkAssembler checks every chunk's sequence, offset and CRC-32 and the last one's sha256.
    assembler.push(message.chunk);
  }
  return { tensors: assembler.finish(), chunks };
}

describe('auxiliary arrays', () => {
  let svc: TestService;
  let subspace: Dataset;
  let linear: Dataset;
  let mixture: Dataset;
  const d = 40;
  const k = 3;
  before(async () => {
    svc = await startService();
    const subspaceSpec = (label: SubspaceLabel) =>
      spec({
        source: {
          $case: 'subspace',
          value: {
            ambientDimension: d,
            subspaceDimension: k,
            noiseSigma: 0.2,
            trainSize: 50,
            testSize: 10,
            label,
          },
        },
        seed: 11,
      });
    [subspace, linear, mixture] = await Promise.all([
      createAndWait(svc.client, subspaceSpec(SubspaceLabel.SUBSPACE_LABEL_UNSPECIFIED)),
      createAndWait(svc.client, subspaceSpec(SubspaceLabel.SUBSPACE_LABEL_LINEAR)),
      createAndWait(
        svc.client,
        spec({
          source: {
            $case: 'gaussianMixture',
            value: { numClasses: 3, dimension: 5, trainSize: 30, testSize: 9, separation: 2 },
          },
          seed: 2,
        }),
      ),
    ]);
  });
  after(() => svc.close());

  test('the manifest lists the stored arrays by name; synthetic sources have no class names', () => {
    assert.deepEqual(subspace.manifest?.auxiliaryArrays, ['basis']);
    assert.deepEqual(linear.manifest?.auxiliaryArrays, ['basis', 'label_weights']);
    assert.deepEqual(mixture.manifest?.auxiliaryArrays, ['centres']);
    for (const ds of [subspace, linear, mixture]) assert.deepEqual(ds.manifest?.classNames, []);
  });

  test('the basis streams as one float64 [d, k] tensor named "basis", equal to basis.npy, in any chunking', async () => {
    const stored = await readNpyFile(join(svc.storage.root, subspace.datasetId, 'basis.npy'));
    const whole = await readAuxiliary(svc.client, subspace.datasetId, 'basis');
    assert.equal(whole.tensors.length, 1);
    const basis = whole.tensors[0] as RawTensor;
    assert.equal(basis.name, 'basis');
    assert.equal(basis.dtype, DataType.DATA_TYPE_FLOAT64);
    assert.deepEqual(basis.shape.map(Number), [d, k]);
    assert.deepEqual(Buffer.from(basis.data), Buffer.from(stored.data));
    // Orthonormal columns.
    const u = new Float64Array(basis.data.slice().buffer);
    for (let a = 0; a < k; a++)
      for (let b = 0; b < k; b++) {
        let dot = 0;
        for (let i = 0; i < d; i++) dot += (u[i * k + a] as number) * (u[i * k + b] as number);
        assert.ok(Math.abs(dot - (a === b ? 1 : 0)) < 1e-12, `U^T U [${a}, ${b}] = ${dot}`);
      }
    for (const chunkBytes of [8, 100, 1000]) {
      const r = await readAuxiliary(svc.client, subspace.datasetId, 'basis', chunkBytes);
      assert.equal(r.chunks, Math.ceil((d * k * 8) / chunkBytes));
      assert.deepEqual(Buffer.from((r.tensors[0] as RawTensor).data), Buffer.from(stored.data));
    }
    const weights = (await readAuxiliary(svc.client, linear.datasetId, 'label_weights')).tensors[0];
    assert.deepEqual(weights?.shape.map(Number), [k]);
    const centres = (await readAuxiliary(svc.client, mixture.datasetId, 'centres')).tensors[0];
    assert.equal(centres?.name, 'centres');
    assert.deepEqual(centres?.shape.map(Number), [3, 5]);
    // The split stream is unchanged by the new field.
    const train = await readSplit(svc.client, subspace.datasetId, 'train');
    assert.deepEqual([...train.tensors.keys()], ['x', 'y']);
  });

  test('an unknown array is INVALID_ARGUMENT on auxiliary; an unknown dataset NOT_FOUND', async () => {
    for (const name of ['centres', 'train_x', '../manifest', 'constructor']) {
      const err = await expectError(readAuxiliary(svc.client, subspace.datasetId, name));
      assert.equal(err.code, status.INVALID_ARGUMENT, name);
      assert.equal(err.field, 'auxiliary');
      assert.match(err.details, /has no auxiliary array .* \(it has "basis"\)/);
    }
    const none = await expectError(readAuxiliary(svc.client, '0123456789abcdef0123456789abcdef', 'basis'));
    assert.equal(none.code, status.NOT_FOUND);
    const tooBig = await expectError(readAuxiliary(svc.client, subspace.datasetId, 'basis', 1 << 30));
    assert.equal(tooBig.field, 'chunkBytes');
  });

  test('a manifest.json written before the fields existed reads them from its storage section', () => {
    const path = join(svc.storage.root, linear.datasetId, 'manifest.json');
    const json = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
    assert.deepEqual(json.auxiliaryArrays, ['basis', 'label_weights']);
    delete json.auxiliaryArrays;
    const old = decodeManifestFile(JSON.stringify(json));
    assert.deepEqual(old.manifest.auxiliaryArrays, ['basis', 'label_weights']);
  });
});
