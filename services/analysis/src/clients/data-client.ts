// The data service as a DatasetSource: GetDataset for the manifest (classes, input shape), ReadDataset
// for the split's "x" and "y" tensors in checksummed chunks, or for one auxiliary array (the basis).

import { Split } from '@gengap/proto/common/v1/refs';
import { DataType } from '@gengap/proto/common/v1/tensor';
import { DataServiceClient } from '@gengap/proto/data/v1/data_service';
import {
  callUnary,
  closeClient,
  createClient,
  FailedPreconditionError,
  FIELD_METADATA_KEY,
  NotFoundError,
  readStream,
} from '@gengap/service-kit';
import { ChunkAssembler } from '@gengap/tensor-io';
import { type ServiceError, status } from '@grpc/grpc-js';
import type { SplitData } from '../inputs/examples.ts';
import { type AuxiliaryArray, type DatasetSource, UnknownAuxiliaryError } from '../inputs/sources.ts';
import { floatArrayOf, labelsOf } from './tensors.ts';

export class DataServiceDatasets implements DatasetSource {
  private readonly client: DataServiceClient;
  private readonly deadlineMs: number;

  constructor(address: string, options: { deadlineMs?: number } = {}) {
    this.deadlineMs = options.deadlineMs ?? 30_000;
    this.client = createClient(DataServiceClient, address, {
      deadlineMs: this.deadlineMs,
      maxMessageBytes: 64 * 1024 * 1024,
    });
  }

  close(): void {
    closeClient(this.client);
  }

  async readSplit(
    datasetId: string,
    split: Split,
    inputDtype: DataType,
    signal: AbortSignal,
  ): Promise<SplitData> {
    const { dataset } = await callUnary(this.client, this.client.getDataset, { datasetId }, { signal });
    const manifest = dataset?.manifest;
    if (!dataset) throw new NotFoundError('dataset', datasetId);
    if (!manifest) throw new FailedPreconditionError(`dataset ${datasetId} is not generated yet`);
    const stats = split === Split.SPLIT_TEST ? manifest.test : manifest.train;
    if (split !== Split.SPLIT_TEST && manifest.onlineTrain) {
      throw new FailedPreconditionError(
        `dataset ${datasetId} has an online train split; analyse its test split`,
      );
    }
    const assembler = new ChunkAssembler({ maxTensorBytes: 2 ** 32 });
    const stream = readStream(
      this.client,
      this.client.readDataset,
      { datasetId, split, chunkBytes: 0, inputDtype, auxiliary: '' },
      { signal, deadlineMs: 20 * this.deadlineMs },
    );
    for await (const message of stream) if (message.chunk) assembler.push(message.chunk);
    const tensors = assembler.finish();
    const x = tensors.find((t) => t.name === 'x');
    const y = tensors.find((t) => t.name === 'y');
    if (!x || !y) throw new FailedPreconditionError(`dataset ${datasetId} split ${split} lacks x or y`);
    const yClean = tensors.find((t) => t.name === 'y_clean');
    return {
      datasetId,
      split,
      x: floatArrayOf(x),
      y: labelsOf(y),
      inputShape: (stats?.inputShape.length ? stats.inputShape : x.shape.slice(1)).map(Number),
      numClasses: manifest.numClasses,
      yClean: yClean ? labelsOf(yClean) : undefined,
      datasetSpec: manifest.spec,
    };
  }

  async readAuxiliary(datasetId: string, name: string, signal: AbortSignal): Promise<AuxiliaryArray> {
    const assembler = new ChunkAssembler({ maxTensorBytes: 2 ** 32 });
    const stream = readStream(
      this.client,
      this.client.readDataset,
      {
        datasetId,
        split: Split.SPLIT_UNSPECIFIED,
        chunkBytes: 0,
        inputDtype: DataType.DATA_TYPE_UNSPECIFIED,
        auxiliary: name,
      },
      { signal, deadlineMs: 20 * this.deadlineMs },
    );
    try {
      for await (const message of stream) if (message.chunk) assembler.push(message.chunk);
    } catch (err) {
      // The data service names the request field `auxiliary` when the dataset has no such array.
      const e = err as Partial<ServiceError>;
      if (e.code === status.INVALID_ARGUMENT && e.metadata?.get(FIELD_METADATA_KEY)[0] === 'auxiliary') {
        throw new UnknownAuxiliaryError(e.details ?? `dataset ${datasetId} has no auxiliary array ${name}`);
      }
      throw err;
    }
    const tensor = assembler.finish().find((t) => t.name === name);
    if (!tensor)
      throw new FailedPreconditionError(`dataset ${datasetId} sent no tensor ${JSON.stringify(name)}`);
    const values = floatArrayOf(tensor);
    return {
      name,
      shape: tensor.shape.map(Number),
      values: values instanceof Float64Array ? values : Float64Array.from(values),
    };
  }
}
