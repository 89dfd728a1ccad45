// Reading datasets: ReadDataset with any chunk size and the input dtypes a dataset can carry,
// SampleDataset with its PNG grid, ReadOnlineBatches limits, and the statuses for wrong requests.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Split } from '@gengap/proto/common/v1/refs';
import { DataType } from '@gengap/proto/common/v1/tensor';
import { ReadDatasetResponse } from '@gengap/proto/data/v1/data_service';
import type { Dataset } from '@gengap/proto/data/v1/dataset';
import { callUnary, readStream } from '@gengap/service-kit';
import { toChunks } from '@gengap/tensor-io';
import { status } from '@grpc/grpc-js';
import { PNG } from 'pngjs';
import { encodeReadDatasetResponse, readDatasetSerializer } from '../src/handlers/wire.ts';
import { BufferPool } from '../src/reading/buffer-pool.ts';
import { createAndWait, expectError, readSplit, spec, startService, type TestService } from './helpers.ts';

describe('reading datasets', () => {
  let svc: TestService;
  let images: Dataset;
  let table: Dataset;
  let online: Dataset;
  before(async () => {
    svc = await startService({ limits: { maxChunkBytes: 2 * 1024 * 1024 } });
    [images, table, online] = await Promise.all([
      createAndWait(
        svc.client,
        spec({
          source: { $case: 'fashionMnist', value: {} },
          corruptions: [
            { kind: { $case: 'subsample', value: { size: 700 } } },
            { kind: { $case: 'labelNoise', value: { fraction: 0.5 } } },
          ],
          seed: 3,
        }),
      ),
      createAndWait(
        svc.client,
        spec({
          source: {
            $case: 'tabular',
            value: {
              table: { $case: 'builtin', value: 'boston_house_prices' },
              targetColumn: 'medv',
              targetBins: 4,
            },
          },
          seed: 3,
        }),
      ),
      createAndWait(
        svc.client,
        spec({
          source: {
            $case: 'sparseParity',
            value: { numBits: 16, paritySize: 2, testSize: 64, online: true },
          },
          seed: 3,
        }),
      ),
    ]);
  });
  after(() => svc.close());

  test('any chunk size reassembles to the same tensors: x, y and y_clean', async () => {
    const whole = await readSplit(svc.client, images.datasetId, 'train');
    assert.deepEqual([...whole.tensors.keys()], ['x', 'y', 'y_clean']);
    assert.deepEqual(whole.shape, [700, 1, 28, 28]);
    for (const chunkBytes of [4096, 100_003, 2 * 1024 * 1024]) {
      const r = await readSplit(svc.client, images.datasetId, 'train', { chunkBytes });
      assert.deepEqual(r.x, whole.x);
      assert.deepEqual(r.y, whole.y);
      assert.deepEqual(r.yClean, whole.yClean);
    }
    const tooBig = await expectError(
      readSplit(svc.client, images.datasetId, 'train', { chunkBytes: 4 * 1024 * 1024 }),
    );
    assert.equal(tooBig.code, status.INVALID_ARGUMENT);
    assert.equal(tooBig.field, 'chunkBytes');
  });

  test('the manifest names the classes a source knows and the auxiliary arrays it stores', () => {
    assert.deepEqual(images.manifest?.classNames, [
      'T-shirt/top',
      'Trouser',
      'Pullover',
      'Dress',
      'Coat',
      'Sandal',
      'Shirt',
      'Sneaker',
      'Bag',
      'Ankle boot',
    ]);
    // Four quantile bins of the target, named by their edges.
    const bins = table.manifest?.classNames ?? [];
    assert.equal(bins.length, 4);
    assert.equal(table.manifest?.numClasses, 4);
    assert.match(bins[0] as string, /^\[5, [0-9.]+\)$/);
    assert.match(bins[3] as string, /^\[[0-9.]+, 50\]$/);
    assert.deepEqual(online.manifest?.classNames, [], 'parity bits have no class names');
    for (const d of [images, table, online]) assert.deepEqual(d.manifest?.auxiliaryArrays, []);
  });

  test('a stream the client abandons closes its files; concurrent streams are independent', async () => {
    // Count the .npy readers the service opens and closes (a spy on its storage).
    let open = 0;
    const openTensor = svc.storage.openTensor.bind(svc.storage);
    svc.storage.openTensor = async (id, file) => {
      const reader = await openTensor(id, file);
      open++;
      return {
        ...reader,
        close: async () => {
          open--;
          await reader.close();
        },
      };
    };
    try {
      const request = {
        datasetId: images.datasetId,
        split: Split.SPLIT_TEST,
        chunkBytes: 65_536,
        inputDtype: DataType.DATA_TYPE_UNSPECIFIED,
        auxiliary: '',
      };
      for (let i = 0; i < 5; i++) {
        let seen = 0;
        for await (const _ of readStream(svc.client, svc.client.readDataset, request)) {
          if (++seen === 3) break;
        }
      }
      const [a, b] = await Promise.all([
        readSplit(svc.client, images.datasetId, 'test', { chunkBytes: 65_536 }),
        readSplit(svc.client, images.datasetId, 'test', { chunkBytes: 1_000_000 }),
      ]);
      assert.deepEqual(a.x, b.x);
      for (let i = 0; i < 100 && open > 0; i++) await new Promise((r) => setTimeout(r, 20));
      assert.equal(open, 0, 'every reader closed');
    } finally {
      svc.storage.openTensor = openTensor;
    }
  });

  test('inputs as float64 always; as integers only when every value is an integer in range', async () => {
    const f32 = await readSplit(svc.client, images.datasetId, 'test');
    const f64 = await readSplit(svc.client, images.datasetId, 'test', {
      inputDtype: DataType.DATA_TYPE_FLOAT64,
      chunkBytes: 4099,
    });
    const x64 = f64.tensors.get('x');
    assert.equal(x64?.dtype, DataType.DATA_TYPE_FLOAT64);
    const values = new Float64Array(x64?.data.slice().buffer as ArrayBuffer);
    assert.deepEqual(Float32Array.from(values), f32.x);
    const refused = await expectError(
      readSplit(svc.client, images.datasetId, 'test', { inputDtype: DataType.DATA_TYPE_UINT8 }),
    );
    assert.equal(refused.code, status.INVALID_ARGUMENT);
    assert.equal(refused.field, 'inputDtype');

    // Tabular inputs are character codes: exact as uint8 and int64.
    const codes = await readSplit(svc.client, table.datasetId, 'train');
    const u8 = await readSplit(svc.client, table.datasetId, 'train', {
      inputDtype: DataType.DATA_TYPE_UINT8,
      chunkBytes: 1000,
    });
    assert.deepEqual(Array.from(u8.tensors.get('x')?.data ?? []), Array.from(codes.x));
    const i64 = await readSplit(svc.client, table.datasetId, 'train', {
      inputDtype: DataType.DATA_TYPE_INT64,
      chunkBytes: 777,
    });
    const raw = i64.tensors.get('x')?.data as Uint8Array;
    assert.deepEqual(Array.from(new BigInt64Array(raw.slice().buffer), Number), Array.from(codes.x));
  });

  test('SampleDataset: seeded examples with their labels, and a PNG grid for images', async () => {
    const request = {
      datasetId: images.datasetId,
      split: Split.SPLIT_TRAIN,
      count: 10,
      renderPng: true,
      seed: 42,
    };
    const sample = await callUnary(svc.client, svc.client.sampleDataset, request);
    assert.equal(sample.indices.length, 10);
    assert.deepEqual(sample.x?.shape, [10, 1, 28, 28]);
    const again = await callUnary(svc.client, svc.client.sampleDataset, request);
    assert.deepEqual(again.indices, sample.indices, 'the seed fixes the examples');
    const whole = await readSplit(svc.client, images.datasetId, 'train');
    const xs = new Float32Array(Uint8Array.from(sample.x?.data ?? []).buffer);
    const ys = Array.from(new BigInt64Array(Uint8Array.from(sample.y?.data ?? []).buffer), Number);
    sample.indices.forEach((j, i) => {
      assert.deepEqual(xs.subarray(i * 784, (i + 1) * 784), whole.x.subarray(j * 784, (j + 1) * 784));
      assert.equal(ys[i], whole.y[j]);
    });
    const png = PNG.sync.read(Buffer.from(sample.png));
    // 4 columns x 3 rows of 56-pixel images (2x scale) with 2-pixel gaps.
    assert.equal(png.width, 4 * 56 + 5 * 2);
    assert.equal(png.height, 3 * 56 + 4 * 2);
    const defaults = await callUnary(svc.client, svc.client.sampleDataset, {
      ...request,
      count: 0,
      renderPng: false,
    });
    assert.equal(defaults.indices.length, 16);
    assert.equal(defaults.png.byteLength, 0);

    const notImage = await expectError(
      callUnary(svc.client, svc.client.sampleDataset, { ...request, datasetId: table.datasetId }),
    );
    assert.equal(notImage.code, status.FAILED_PRECONDITION);
    const tooMany = await expectError(
      callUnary(svc.client, svc.client.sampleDataset, { ...request, count: 257 }),
    );
    assert.equal(tooMany.field, 'count');
    const noSplit = await expectError(
      callUnary(svc.client, svc.client.sampleDataset, { ...request, split: Split.SPLIT_UNSPECIFIED }),
    );
    assert.equal(noSplit.field, 'split');
    // An online train split samples positions of its generator.
    const fresh = await callUnary(svc.client, svc.client.sampleDataset, {
      datasetId: online.datasetId,
      split: Split.SPLIT_TRAIN,
      count: 5,
      renderPng: false,
      seed: 1,
    });
    assert.deepEqual(fresh.x?.shape, [5, 16]);
  });

  test('online datasets: batches only through ReadOnlineBatches, within the message limit', async () => {
    const read = await expectError(readSplit(svc.client, online.datasetId, 'train'));
    assert.equal(read.code, status.FAILED_PRECONDITION);
    const test = await readSplit(svc.client, online.datasetId, 'test');
    assert.deepEqual(test.shape, [64, 16]);
    assert.equal(online.manifest?.train?.numExamples, 0);
    assert.deepEqual(online.manifest?.train?.inputShape, [16]);
    const notOnline = await expectError(
      (async () => {
        for await (const _ of readStream(svc.client, svc.client.readOnlineBatches, {
          datasetId: images.datasetId,
          batchSize: 4,
          startBatch: 0,
          numBatches: 1,
        })) {
          // nothing
        }
      })(),
    );
    assert.equal(notOnline.code, status.FAILED_PRECONDITION);
    const tooBig = await expectError(
      (async () => {
        for await (const _ of readStream(svc.client, svc.client.readOnlineBatches, {
          datasetId: online.datasetId,
          batchSize: 10_000_000,
          startBatch: 0,
          numBatches: 1,
        })) {
          // nothing
        }
      })(),
    );
    assert.equal(tooBig.field, 'batchSize');
    // An endless stream (num_batches 0) runs until the client stops reading.
    let n = 0;
    for await (const m of readStream(svc.client, svc.client.readOnlineBatches, {
      datasetId: online.datasetId,
      batchSize: 32,
      startBatch: 5,
      numBatches: 0,
    })) {
      assert.equal(m.batchIndex, 5 + n);
      if (++n === 100) break;
    }
  });

  test('the one-copy ReadDataset serializer writes the generated encoder bytes', () => {
    const data = new Uint8Array(Float32Array.from({ length: 70_000 }, (_, i) => Math.cos(i)).buffer);
    const chunks = [
      ...toChunks([{ name: 'x', dtype: DataType.DATA_TYPE_FLOAT32, shape: [700, 100], data }], 65_536),
      ...toChunks(
        [{ name: 'empty', dtype: DataType.DATA_TYPE_INT64, shape: [0], data: new Uint8Array(0) }],
        10,
        1 << 20,
      ),
    ];
    chunks.push({ ...(chunks[0] as (typeof chunks)[number]), sequence: 2 ** 40, offset: 2 ** 33 });
    for (const chunk of chunks) {
      const fast = encodeReadDatasetResponse({ chunk });
      const reference = Buffer.from(ReadDatasetResponse.encode({ chunk }).finish());
      assert.deepEqual(fast, reference);
    }
    assert.equal(encodeReadDatasetResponse({ chunk: undefined }).byteLength, 0);
  });

  test('the streaming serializer encodes pool buffers in place and returns them to the pool', async () => {
    const pool = new BufferPool();
    const serialize = readDatasetSerializer(pool);
    const chunkOf = (data: Uint8Array, sequence = 0) =>
      [
        ...toChunks(
          [{ name: 'y_clean', dtype: DataType.DATA_TYPE_UINT8, shape: [data.byteLength], data }],
          1 << 20,
          sequence,
        ),
      ][0] as NonNullable<ReadDatasetResponse['chunk']>;
    // A pool buffer: the message is written around the data, in the same memory.
    const first = pool.acquire(1000).fill(7);
    const chunk = chunkOf(first, 2 ** 40);
    const out = serialize({ chunk });
    assert.deepEqual(Buffer.from(out), Buffer.from(ReadDatasetResponse.encode({ chunk }).finish()));
    assert.equal(out.buffer, first.buffer, 'encoded in place');
    // Released: the next acquire of that size lends the same memory.
    const second = pool.acquire(1000);
    assert.equal(second.buffer, first.buffer);
    // Any other buffer is encoded into a reused output buffer.
    const foreign = Buffer.alloc(5000, 3);
    const a = serialize({ chunk: chunkOf(foreign) });
    assert.deepEqual(
      Buffer.from(a),
      Buffer.from(ReadDatasetResponse.encode({ chunk: chunkOf(foreign) }).finish()),
    );
    assert.notEqual(a.buffer, foreign.buffer);
    const b = serialize({ chunk: chunkOf(Buffer.alloc(10, 1)) });
    assert.equal(b.buffer, a.buffer, 'the output buffer is reused');
    // A lease holds a stream to its cap of buffers not yet serialized, and gives up on abort.
    const controller = new AbortController();
    const lease = pool.lease(2500, controller.signal);
    {
      const a = await lease.acquire(1000);
      await lease.acquire(1000);
      let third = false;
      const waiting = lease.acquire(1000).then(() => {
        third = true;
      });
      await new Promise((r) => setImmediate(r));
      assert.equal(third, false, 'over the cap: the read waits');
      pool.release(a);
      await waiting;
      assert.equal(third, true, 'a serialized buffer makes room');
      const blocked = lease.acquire(1000);
      controller.abort(new Error('cancelled'));
      await assert.rejects(blocked, /cancelled/);
      lease.close();
    }
    // Buffers the pool did not lend are left alone.
    const stranger = Buffer.allocUnsafeSlow(1000);
    pool.release(stranger);
    assert.notEqual(pool.acquire(1000).buffer, stranger.buffer);
  });
});
