// The data service as a DatasetSource: GetDataset for the manifest (classes, input shape), ReadDataset
// for the split's "x" and "y" tensors in checksummed chunks.

import { Split } from '@gengap/proto/common/v1/refs';
import type { DataType } from '@gengap/proto/common/v1/tensor';
import { DataServiceClient } from '@gengap/proto/data/v1/data_service';
import {
  callUnary,
  closeClient,
  createClient,
  FailedPreconditionError,
  NotFoundError,
  readStream,
} from '@gengap/service-kit';
import { ChunkAssembler } from '@gengap/tensor-io';
import type { SplitData } from '../inputs/examples.ts';
import type { DatasetSource } from '../inputs/sources.ts';
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
}
