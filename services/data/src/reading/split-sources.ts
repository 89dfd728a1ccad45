// A stored split as chunk sources for ReadDataset: "x", "y" and, after label corruption, "y_clean"
// (or one auxiliary array such as the subspace basis, as stored), read from the .npy files a chunk at a time, so a stream of any size keeps a bounded amount of memory.
// Stored tensors stream with the sha256 recorded at generation (no re-hashing). Inputs can also be
// delivered as float64, or as integers when every input value is an integer in the dtype's range
// (character codes, +-1 bits); those are converted chunk by chunk and hashed as they stream.
import { DataType } from '@gengap/proto/common/v1/tensor';
import { InvalidArgumentError } from '@gengap/service-kit';
import { BlockCrc32, type ChunkSource, dtypeToProto, type NpyReader } from '@gengap/tensor-io';
import type { SplitName } from '../datasets/types.ts';
import type { DatasetStorage } from '../storage/dataset-storage.ts';
import { CRC_BLOCK_BYTES, type ManifestFile, type StoredTensor } from '../storage/manifest-file.ts';
import type { Lease } from './buffer-pool.ts';

/** Tensor order in a ReadDataset stream. */
export const STREAM_TENSORS = ['x', 'y', 'y_clean'] as const;

interface Conversion {
  bytes: number;
  /** Converts float32 values to the dtype's little-endian bytes (every supported host is little-endian). */
  convert(values: Float32Array): Uint8Array;
}

const asBytes = (v: ArrayBufferView) => new Uint8Array(v.buffer, v.byteOffset, v.byteLength);

const conversions: Partial<Record<DataType, Conversion>> = {
  [DataType.DATA_TYPE_FLOAT64]: { bytes: 8, convert: (v) => asBytes(Float64Array.from(v)) },
  [DataType.DATA_TYPE_INT32]: { bytes: 4, convert: (v) => asBytes(Int32Array.from(v)) },
  [DataType.DATA_TYPE_INT64]: {
    bytes: 8,
    convert: (v) => {
      // Integers within 2^53 as (low word, high word) pairs, without BigInt per element.
      const words = new Uint32Array(v.length * 2);
      for (let i = 0; i < v.length; i++) {
        const x = v[i] as number;
        words[2 * i] = x >>> 0;
        words[2 * i + 1] = Math.floor(x / 2 ** 32) >>> 0;
      }
      return asBytes(words);
    },
  },
  [DataType.DATA_TYPE_UINT8]: { bytes: 1, convert: (v) => Uint8Array.from(v) },
};

/** Checks that the inputs can be delivered as `dtype` without loss; returns the dtype to send. */
export function inputDtypeFor(file: ManifestFile, dtype: DataType): DataType {
  if (dtype === DataType.DATA_TYPE_UNSPECIFIED || dtype === DataType.DATA_TYPE_FLOAT32)
    return DataType.DATA_TYPE_FLOAT32;
  if (dtype === DataType.DATA_TYPE_FLOAT64) return dtype;
  const { integral, min, max } = file.storage.inputs;
  const ranges: Partial<Record<DataType, [number, number]>> = {
    [DataType.DATA_TYPE_INT32]: [-(2 ** 31), 2 ** 31 - 1],
    [DataType.DATA_TYPE_INT64]: [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
    [DataType.DATA_TYPE_UINT8]: [0, 255],
  };
  const range = ranges[dtype];
  if (!range) throw new InvalidArgumentError('inputDtype', `unsupported dtype ${dtype}`);
  if (!integral || min < range[0] || max > range[1]) {
    throw new InvalidArgumentError(
      'inputDtype',
      `this dataset's inputs (in [${min}, ${max}]${integral ? '' : ', not all integers'}) do not fit the dtype exactly; ask for DATA_TYPE_FLOAT32 or DATA_TYPE_FLOAT64`,
    );
  }
  return dtype;
}

function storedSource(name: string, tensor: StoredTensor, reader: NpyReader, lease: Lease): ChunkSource {
  const source: ChunkSource = {
    name,
    dtype: dtypeToProto(tensor.dtype),
    shape: tensor.shape,
    byteLength: reader.dataBytes,
    sha256Hex: tensor.sha256,
    read: async (offset, length) => reader.readInto(await lease.acquire(length), offset),
  };
  if (tensor.blockCrc32) {
    // CRCs recorded at generation: block-aligned chunks (any multiple of 64 KiB) are not re-scanned.
    const bytes = Buffer.from(tensor.blockCrc32, 'base64');
    const blocks = new Uint32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
    const crcs = new BlockCrc32(blocks, CRC_BLOCK_BYTES, reader.dataBytes);
    source.crc32 = (offset, length) => crcs.range(offset, length);
  }
  return source;
}

/** float32 inputs delivered as another dtype, converted a chunk at a time. */
function convertedSource(tensor: StoredTensor, reader: NpyReader, dtype: DataType): ChunkSource {
  const conversion = conversions[dtype] as Conversion;
  const elements = tensor.shape.reduce((a, b) => a * b, 1);
  return {
    name: 'x',
    dtype,
    shape: tensor.shape,
    byteLength: elements * conversion.bytes,
    async read(offset, length) {
      const first = Math.floor(offset / conversion.bytes);
      const end = Math.ceil((offset + length) / conversion.bytes);
      const raw = await reader.read(first * 4, (end - first) * 4);
      const out = conversion.convert(new Float32Array(raw.buffer, raw.byteOffset, end - first));
      const skip = offset - first * conversion.bytes;
      return out.subarray(skip, skip + length);
    },
  };
}

export interface OpenSplit {
  sources: ChunkSource[];
  close(): Promise<void>;
}

export async function openSplit(
  storage: DatasetStorage,
  file: ManifestFile,
  split: SplitName,
  inputDtype: DataType,
  lease: Lease,
): Promise<OpenSplit> {
  const datasetId = file.manifest.datasetId;
  const tensors = file.storage.splits[split];
  if (!tensors) throw new Error(`dataset ${datasetId} stores no ${split} split`);
  const readers: NpyReader[] = [];
  const close = async () => {
    await Promise.all(readers.map((r) => r.close()));
  };
  try {
    const sources: ChunkSource[] = [];
    for (const name of STREAM_TENSORS) {
      const tensor = tensors[name];
      if (!tensor) continue;
      const reader = await storage.openTensor(datasetId, tensor.file);
      readers.push(reader);
      const converted = name === 'x' && inputDtype !== DataType.DATA_TYPE_FLOAT32;
      sources.push(
        converted ? convertedSource(tensor, reader, inputDtype) : storedSource(name, tensor, reader, lease),
      );
    }
    return { sources, close };
  } catch (err) {
    await close();
    throw err;
  }
}

/**
 * One auxiliary array (the subspace basis, mixture centres...) as a single chunk source named after
 * it, in its stored dtype. An unknown name is INVALID_ARGUMENT on `auxiliary`, listing the names.
 */
export async function openAuxiliary(
  storage: DatasetStorage,
  file: ManifestFile,
  name: string,
  lease: Lease,
): Promise<OpenSplit> {
  const datasetId = file.manifest.datasetId;
  const arrays = file.storage.auxiliary ?? {};
  const tensor = Object.hasOwn(arrays, name) ? arrays[name] : undefined;
  if (!tensor) {
    const known = Object.keys(arrays).sort();
    throw new InvalidArgumentError(
      'auxiliary',
      `dataset ${datasetId} has no auxiliary array ${JSON.stringify(name)} (${known.length > 0 ? `it has ${known.map((k) => JSON.stringify(k)).join(', ')}` : 'it has none'})`,
    );
  }
  const reader = await storage.openTensor(datasetId, tensor.file);
  return { sources: [storedSource(name, tensor, reader, lease)], close: () => reader.close() };
}
