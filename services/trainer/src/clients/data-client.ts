// The data service as a DatasetReader: GetDataset for the manifest, ReadDataset's checksummed chunk
// streams for splits, ReadOnlineBatches for online datasets. Downstream statuses are translated
// here into domain errors (a missing dataset is the caller's mistake; an unreachable service is not).

import { JobState } from '@gengap/proto/common/v1/job';
import { Split } from '@gengap/proto/common/v1/refs';
import { DataType, type Tensor } from '@gengap/proto/common/v1/tensor';
import { DataServiceClient } from '@gengap/proto/data/v1/data_service';
import { callUnary, closeClient, createClient, readStream } from '@gengap/service-kit';
import { ChunkAssembler, type RawTensor } from '@gengap/tensor-io';
import { status } from '@grpc/grpc-js';
import type {
  DatasetInfo,
  DatasetReader,
  OnlineBatch,
  SplitName,
  SplitTensors,
} from '../datasets/dataset-source.ts';
import { DatasetNotReadyError, UnknownDatasetError } from '../runs/errors.ts';

function toFloat32(tensor: RawTensor | Tensor, shared: boolean): Float32Array {
  const bytes = tensor.data;
  const elements = (tensor.shape as number[]).reduce((a, b) => a * Number(b), 1);
  const out = shared ? new Float32Array(new SharedArrayBuffer(elements * 4)) : new Float32Array(elements);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  switch (tensor.dtype) {
    case DataType.DATA_TYPE_FLOAT32:
      new Uint8Array(out.buffer).set(bytes.subarray(0, elements * 4));
      break;
    case DataType.DATA_TYPE_FLOAT64:
      for (let i = 0; i < elements; i++) out[i] = view.getFloat64(i * 8, true);
      break;
    case DataType.DATA_TYPE_INT32:
      for (let i = 0; i < elements; i++) out[i] = view.getInt32(i * 4, true);
      break;
    case DataType.DATA_TYPE_INT64:
      for (let i = 0; i < elements; i++) out[i] = Number(view.getBigInt64(i * 8, true));
      break;
    case DataType.DATA_TYPE_UINT8:
      for (let i = 0; i < elements; i++) out[i] = view.getUint8(i);
      break;
    default:
      throw new Error(`tensor ${'name' in tensor ? tensor.name : ''} has unsupported dtype ${tensor.dtype}`);
  }
  return out;
}

function toInt64(tensor: RawTensor | Tensor, shared: boolean): BigInt64Array {
  const bytes = tensor.data;
  const elements = (tensor.shape as number[]).reduce((a, b) => a * Number(b), 1);
  const out = shared ? new BigInt64Array(new SharedArrayBuffer(elements * 8)) : new BigInt64Array(elements);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (tensor.dtype === DataType.DATA_TYPE_INT64) {
    for (let i = 0; i < elements; i++) out[i] = view.getBigInt64(i * 8, true);
  } else if (tensor.dtype === DataType.DATA_TYPE_INT32) {
    for (let i = 0; i < elements; i++) out[i] = BigInt(view.getInt32(i * 4, true));
  } else {
    throw new Error(`labels have dtype ${tensor.dtype}; expected int64`);
  }
  return out;
}

function isStatus(err: unknown, code: status): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === code;
}

export class DataServiceReader implements DatasetReader {
  private readonly client: DataServiceClient;
  private readonly deadlineMs: number;

  constructor(address: string, options: { deadlineMs?: number; maxMessageBytes?: number } = {}) {
    this.deadlineMs = options.deadlineMs ?? 30_000;
    this.client = createClient(DataServiceClient, address, {
      deadlineMs: this.deadlineMs,
      maxMessageBytes: options.maxMessageBytes ?? 64 * 1024 * 1024,
    });
  }

  close(): void {
    closeClient(this.client);
  }

  async info(datasetId: string, signal?: AbortSignal): Promise<DatasetInfo> {
    let response: Awaited<ReturnType<typeof this.getDataset>>;
    try {
      response = await this.getDataset(datasetId, signal);
    } catch (err) {
      if (isStatus(err, status.NOT_FOUND)) throw new UnknownDatasetError(datasetId);
      throw err;
    }
    const dataset = response.dataset;
    const manifest = dataset?.manifest;
    if (!dataset || dataset.status?.state !== JobState.JOB_STATE_SUCCEEDED || !manifest) {
      throw new DatasetNotReadyError(datasetId, dataset?.status?.state ?? JobState.JOB_STATE_UNSPECIFIED);
    }
    return {
      datasetId,
      numClasses: manifest.numClasses,
      inputShape: (manifest.train?.inputShape ?? manifest.test?.inputShape ?? []).map(Number),
      trainSize: Number(manifest.train?.numExamples ?? 0),
      testSize: Number(manifest.test?.numExamples ?? 0),
      online: manifest.onlineTrain,
    };
  }

  private getDataset(datasetId: string, signal?: AbortSignal) {
    const settings = signal ? { signal } : {};
    return callUnary(this.client, this.client.getDataset, { datasetId }, settings);
  }

  async readSplit(datasetId: string, split: SplitName, signal?: AbortSignal): Promise<SplitTensors> {
    const assembler = new ChunkAssembler();
    const request = {
      datasetId,
      split: split === 'train' ? Split.SPLIT_TRAIN : Split.SPLIT_TEST,
      chunkBytes: 0,
      inputDtype: DataType.DATA_TYPE_UNSPECIFIED,
      auxiliary: '',
    };
    const settings = signal ? { signal } : {};
    try {
      for await (const message of readStream(this.client, this.client.readDataset, request, settings)) {
        if (message.chunk) assembler.push(message.chunk);
      }
    } catch (err) {
      if (isStatus(err, status.NOT_FOUND)) throw new UnknownDatasetError(datasetId);
      throw err;
    }
    const tensors = new Map(assembler.finish().map((t) => [t.name, t]));
    const x = tensors.get('x');
    const y = tensors.get('y');
    if (!x || !y) throw new Error(`dataset ${datasetId} split ${split} lacks tensor "x" or "y"`);
    const yClean = tensors.get('y_clean');
    const out: SplitTensors = { x: toFloat32(x, true), xShape: x.shape.map(Number), y: toInt64(y, true) };
    if (yClean) out.yClean = toInt64(yClean, true);
    return out;
  }

  async onlineBatches(
    datasetId: string,
    batchSize: number,
    startBatch: number,
    count: number,
    signal?: AbortSignal,
  ): Promise<OnlineBatch[]> {
    const request = { datasetId, batchSize, startBatch, numBatches: count };
    const settings = signal ? { signal, deadlineMs: this.deadlineMs } : { deadlineMs: this.deadlineMs };
    const batches: OnlineBatch[] = [];
    for await (const message of readStream(this.client, this.client.readOnlineBatches, request, settings)) {
      if (!message.x || !message.y) throw new Error('online batch without x or y');
      batches.push({
        batchIndex: Number(message.batchIndex),
        x: toFloat32(message.x, false),
        xShape: message.x.shape.map(Number),
        y: toInt64(message.y, false),
      });
      if (batches.length === count) break;
    }
    if (batches.length !== count) throw new Error(`online stream ended after ${batches.length} of ${count}`);
    return batches;
  }
}
