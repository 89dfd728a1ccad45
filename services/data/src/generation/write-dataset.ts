// Writes a generated dataset into a staging directory: one .npy per tensor (float32 inputs, int64
// labels, float64 auxiliary arrays), each fsynced, then manifest.json with the statistics and the
// sha256 of every file. Publishing the directory is the storage's job (an atomic rename).
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { DataType } from '@gengap/proto/common/v1/tensor';
import type { DatasetManifest, DatasetSpec, SplitStatistics } from '@gengap/proto/data/v1/dataset';
import {
  blockCrc32s,
  encodeNpyHeader,
  type HostTensor,
  writeFileAtomic,
  writeNpyFile,
} from '@gengap/tensor-io';
import type { DatasetData, SplitData, SplitName } from '../datasets/types.ts';
import {
  CRC_BLOCK_BYTES,
  encodeManifestFile,
  MANIFEST_FILE,
  type ManifestFile,
  type StoredTensor,
} from '../storage/manifest-file.ts';
import { FORMAT_VERSION } from '../validation/canonical.ts';
import { inputRange, splitStatistics } from './statistics.ts';

export interface WriteRequest {
  datasetId: string;
  spec: DatasetSpec;
  canonicalSpecJson: string;
}

/** Labels as little-endian int64 (the contract's label dtype) without going through BigInt. */
function int64Labels(y: Int32Array): Uint8Array {
  const words = new Int32Array(y.length * 2);
  for (let i = 0; i < y.length; i++) {
    const v = y[i] as number;
    words[2 * i] = v;
    words[2 * i + 1] = v < 0 ? -1 : 0;
  }
  return new Uint8Array(words.buffer);
}

interface Written {
  tensor: StoredTensor;
  fileSha256: string;
  bytes: number;
}

async function writeTensor(dir: string, file: string, tensor: HostTensor): Promise<Written> {
  await writeNpyFile(join(dir, file), tensor, { sync: true });
  const header = encodeNpyHeader(tensor.dtype, tensor.shape);
  const dataSha256 = createHash('sha256').update(tensor.data).digest('hex');
  const fileSha256 = createHash('sha256').update(header).update(tensor.data).digest('hex');
  const blocks = blockCrc32s(tensor.data, CRC_BLOCK_BYTES, crc32);
  return {
    tensor: {
      file,
      dtype: tensor.dtype as StoredTensor['dtype'],
      shape: tensor.shape,
      sha256: dataSha256,
      blockCrc32: Buffer.from(blocks.buffer, blocks.byteOffset, blocks.byteLength).toString('base64'),
    },
    fileSha256,
    bytes: header.byteLength + tensor.data.byteLength,
  };
}

function bytesOf(values: Float32Array | Float64Array): Uint8Array {
  return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
}

export async function writeDataset(
  dir: string,
  request: WriteRequest,
  data: DatasetData,
  progress: (fraction: number) => void,
): Promise<ManifestFile> {
  const fileSha256: Record<string, string> = {};
  let sizeBytes = 0;
  const record = (w: Written) => {
    fileSha256[w.tensor.file] = w.fileSha256;
    sizeBytes += w.bytes;
    return w.tensor;
  };
  const splitFiles = async (name: SplitName, split: SplitData) => {
    const tensors: Record<string, StoredTensor> = {};
    const shape = [split.n, ...data.inputShape];
    tensors.x = record(
      await writeTensor(dir, `${name}_x.npy`, { dtype: 'float32', shape, data: bytesOf(split.x) }),
    );
    tensors.y = record(
      await writeTensor(dir, `${name}_y.npy`, {
        dtype: 'int64',
        shape: [split.n],
        data: int64Labels(split.y),
      }),
    );
    if (split.yClean) {
      tensors.y_clean = record(
        await writeTensor(dir, `${name}_y_clean.npy`, {
          dtype: 'int64',
          shape: [split.n],
          data: int64Labels(split.yClean),
        }),
      );
    }
    return tensors;
  };
  const splits: ManifestFile['storage']['splits'] = { test: {} };
  if (data.train) splits.train = await splitFiles('train', data.train);
  progress(0.5);
  splits.test = await splitFiles('test', data.test);
  const auxiliary: Record<string, StoredTensor> = {};
  for (const [name, a] of [...data.auxiliary.entries()].sort(([x], [y]) => (x < y ? -1 : 1))) {
    auxiliary[name] = record(
      await writeTensor(dir, `${name}.npy`, { dtype: a.dtype, shape: a.shape, data: bytesOf(a.data) }),
    );
  }
  progress(0.8);

  const onlineTrain: SplitStatistics = {
    numExamples: 0,
    inputShape: data.inputShape,
    inputDtype: DataType.DATA_TYPE_FLOAT32,
    classCounts: [],
    // Uniform +-1 bits: mean 0 and std 1 exactly, in expectation.
    inputMean: 0,
    inputStd: 1,
    labelCorruptionFraction: data.onlineLabelCorruption,
  };
  const manifest: DatasetManifest = {
    datasetId: request.datasetId,
    spec: request.spec,
    canonicalSpecJson: request.canonicalSpecJson,
    numClasses: data.numClasses,
    train: data.train ? splitStatistics(data.train, data.inputShape, data.numClasses) : onlineTrain,
    test: splitStatistics(data.test, data.inputShape, data.numClasses),
    fileSha256: Object.fromEntries(Object.entries(fileSha256).sort(([a], [b]) => (a < b ? -1 : 1))),
    onlineTrain: data.train === undefined,
    fieldNames: fieldNamesOf(data.details),
    formatVersion: FORMAT_VERSION,
    sizeBytes,
    // Readable with ReadDatasetRequest.auxiliary, in file-name order.
    auxiliaryArrays: Object.keys(auxiliary),
    classNames: data.classNames ?? [],
  };
  const storage: ManifestFile['storage'] = {
    splits,
    auxiliary,
    inputs: inputRange([data.train, data.test]),
    details: data.details,
  };
  if (data.image) storage.image = { shape: [...data.image.shape], background: data.image.background };
  if (data.classNames) storage.classNames = data.classNames;
  const file: ManifestFile = { manifest, storage };
  // Written last, and like the .npy files made durable (writeFileAtomic also fsyncs the directory,
  // so every entry is on disk before the staging directory is published).
  await writeFileAtomic(join(dir, MANIFEST_FILE), [Buffer.from(encodeManifestFile(file), 'utf8')]);
  progress(1);
  return file;
}

/** Tabular sources record their feature columns in `details.fieldNames`; other sources have none. */
function fieldNamesOf(details: Record<string, unknown>): string[] {
  const names = details.fieldNames;
  return Array.isArray(names) ? names.map(String) : [];
}
