// Reading generated datasets: ReadDataset (checksummed chunk streams of x, y, y_clean, or of one
// auxiliary array), ReadOnlineBatches (fresh sparse-parity batches) and SampleDataset (a few
// examples, a PNG grid).
import { setImmediate } from 'node:timers/promises';
import { Split } from '@gengap/proto/common/v1/refs';
import { DataType, type Tensor } from '@gengap/proto/common/v1/tensor';
import type {
  ReadDatasetRequest,
  ReadDatasetResponse,
  ReadOnlineBatchesRequest,
  ReadOnlineBatchesResponse,
  SampleDatasetRequest,
  SampleDatasetResponse,
} from '@gengap/proto/data/v1/data_service';
import {
  type CallContext,
  FailedPreconditionError,
  InvalidArgumentError,
  type StreamSink,
} from '@gengap/service-kit';
import { DEFAULT_CHUNK_BYTES, renderImageGrid, toChunksFrom } from '@gengap/tensor-io';
import type { SplitName } from '../datasets/types.ts';
import type { DatasetJobs } from '../jobs/dataset-jobs.ts';
import type { BufferPool } from '../reading/buffer-pool.ts';
import { onlineBatch } from '../reading/online-batches.ts';
import { sampleSplit } from '../reading/sample.ts';
import { inputDtypeFor, type OpenSplit, openAuxiliary, openSplit } from '../reading/split-sources.ts';
import type { DatasetStorage } from '../storage/dataset-storage.ts';

const DEFAULT_SAMPLE = 16;
const MAX_SAMPLE = 256;
/** Bytes of a ReadDataset stream read from disk but not yet handed to HTTP/2 (at least two chunks). */
const IN_FLIGHT_BYTES = 8 * 1024 * 1024;
/** Room for everything but the tensor bytes in one message. */
const MESSAGE_OVERHEAD = 64 * 1024;

function splitName(split: Split): SplitName {
  if (split === Split.SPLIT_TRAIN) return 'train';
  if (split === Split.SPLIT_TEST) return 'test';
  throw new InvalidArgumentError('split', 'must be SPLIT_TRAIN or SPLIT_TEST');
}

function int64Bytes(values: Int32Array): Buffer {
  const out = Buffer.alloc(values.length * 8);
  values.forEach((v, i) => {
    out.writeBigInt64LE(BigInt(v), i * 8);
  });
  return out;
}

function float32Tensor(name: string, shape: number[], values: Float32Array): Tensor {
  return {
    name,
    dtype: DataType.DATA_TYPE_FLOAT32,
    shape,
    data: Buffer.from(values.buffer, values.byteOffset, values.byteLength),
  };
}

export function readHandlers(jobs: DatasetJobs, storage: DatasetStorage, pool: BufferPool) {
  const { limits } = jobs;
  return {
    async readDataset(request: ReadDatasetRequest, ctx: CallContext, sink: StreamSink<ReadDatasetResponse>) {
      const chunkBytes = request.chunkBytes === 0 ? DEFAULT_CHUNK_BYTES : request.chunkBytes;
      if (chunkBytes > limits.maxChunkBytes) {
        throw new InvalidArgumentError('chunkBytes', `must be at most ${limits.maxChunkBytes}`);
      }
      // One stored array instead of a split: `split` and `input_dtype` are then ignored.
      const auxiliary = request.auxiliary;
      const split = auxiliary ? undefined : splitName(request.split);
      const file = await jobs.manifestFile(request.datasetId);
      if (split === 'train' && file.manifest.onlineTrain) {
        throw new FailedPreconditionError(
          `the train split of ${request.datasetId} is online: use ReadOnlineBatches`,
        );
      }
      const dtype = split ? inputDtypeFor(file, request.inputDtype) : DataType.DATA_TYPE_UNSPECIFIED;
      // At most two chunks (or 8 MiB) of this stream wait in grpc-js's queue at a time.
      const lease = pool.lease(Math.max(2 * chunkBytes, IN_FLIGHT_BYTES), ctx.signal);
      let open: OpenSplit;
      try {
        open = split
          ? await openSplit(storage, file, split, dtype, lease)
          : await openAuxiliary(storage, file, auxiliary, lease);
      } catch (err) {
        lease.close();
        throw err;
      }
      try {
        for await (const chunk of toChunksFrom(open.sources, chunkBytes)) await sink.write({ chunk });
      } finally {
        lease.close();
        await open.close();
      }
      if (split) ctx.log.debug({ datasetId: request.datasetId, split }, 'split streamed');
      else ctx.log.debug({ datasetId: request.datasetId, auxiliary }, 'auxiliary array streamed');
    },

    async readOnlineBatches(
      request: ReadOnlineBatchesRequest,
      _ctx: CallContext,
      sink: StreamSink<ReadOnlineBatchesResponse>,
    ) {
      const file = await jobs.manifestFile(request.datasetId);
      const spec = file.manifest.spec;
      if (!file.manifest.onlineTrain || !spec) {
        throw new FailedPreconditionError(`dataset ${request.datasetId} has no online train split`);
      }
      const features = (file.manifest.train?.inputShape ?? []).reduce((a, b) => a * Number(b), 1);
      const maxBatch = Math.floor((limits.maxMessageBytes - MESSAGE_OVERHEAD) / (features * 4 + 8));
      if (request.batchSize < 1 || request.batchSize > maxBatch) {
        throw new InvalidArgumentError(
          'batchSize',
          `must be in [1, ${maxBatch}] (one batch must fit in a message)`,
        );
      }
      const end =
        request.numBatches === 0 ? Number.POSITIVE_INFINITY : request.startBatch + request.numBatches;
      for (let b = request.startBatch; b < end; b++) {
        const batch = onlineBatch(spec, b, request.batchSize);
        await sink.write({
          batchIndex: b,
          x: float32Tensor('x', [request.batchSize, features], batch.x),
          y: {
            name: 'y',
            dtype: DataType.DATA_TYPE_INT64,
            shape: [request.batchSize],
            data: int64Bytes(batch.y),
          },
        });
        // Let cancellation and other calls in between batches of an endless stream.
        if ((b - request.startBatch) % 16 === 15) await setImmediate();
      }
    },

    async sampleDataset(request: SampleDatasetRequest): Promise<SampleDatasetResponse> {
      const split = splitName(request.split);
      const count = request.count === 0 ? DEFAULT_SAMPLE : request.count;
      if (count > MAX_SAMPLE) throw new InvalidArgumentError('count', `must be at most ${MAX_SAMPLE}`);
      const file = await jobs.manifestFile(request.datasetId);
      const spec = file.manifest.spec;
      if (!spec)
        throw new FailedPreconditionError(`dataset ${request.datasetId} has no spec in its manifest`);
      const stats = split === 'train' ? file.manifest.train : file.manifest.test;
      const features = (stats?.inputShape ?? []).reduce((a, b) => a * Number(b), 1);
      if (count * (features * 4 + 16) > limits.maxMessageBytes - MESSAGE_OVERHEAD) {
        const fit = Math.floor((limits.maxMessageBytes - MESSAGE_OVERHEAD) / (features * 4 + 16));
        throw new InvalidArgumentError('count', `at most ${fit} examples of this dataset fit in one message`);
      }
      const image = file.storage.image;
      if (request.renderPng && !image) {
        throw new FailedPreconditionError(
          `dataset ${request.datasetId} is not an image dataset; no PNG grid`,
        );
      }
      const sample = await sampleSplit(storage, file, spec, split, count, request.seed);
      const k = sample.indices.length;
      let png: Buffer = Buffer.alloc(0);
      if (request.renderPng && image) {
        const [channels = 1, height = 1, width = 1] = image.shape;
        png = Buffer.from(renderImageGrid(sample.x, k, { channels, height, width }));
      }
      return {
        x: float32Tensor('x', sample.shape, sample.x),
        y: { name: 'y', dtype: DataType.DATA_TYPE_INT64, shape: [k], data: int64Bytes(sample.y) },
        indices: sample.indices,
        png,
      };
    },
  };
}
