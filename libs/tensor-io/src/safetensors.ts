// The safetensors format (https://github.com/huggingface/safetensors): an 8-byte little-endian header
// length, a JSON header {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {str: str}}
// padded with spaces to a multiple of 8 bytes, then the tensors' bytes back to back. Used for datasets,
// checkpoints and analysis artifacts, and opened in Python with `safetensors` or ten lines of numpy.
//
// Writer: tensors are laid out like the reference implementation does (wider dtypes first, then by
// name), so every tensor starts at an offset aligned to its element size and the same input
// always gives the same bytes. Reader: validates the header the way the reference does (known dtypes,
// sizes matching shapes, offsets contiguous and covering the whole buffer) and returns views.
import { readFile } from 'node:fs/promises';
import { writeFileAtomic } from './atomic-file.ts';
import {
  type DTypeName,
  dtypeFromSafetensors,
  dtypeInfo,
  elementCount,
  type HostTensor,
  isDTypeName,
} from './dtypes.ts';

export const SAFETENSORS_METADATA_KEY = '__metadata__';
/** Largest JSON header accepted when reading (the reference implementation's limit). */
const MAX_HEADER_BYTES = 100_000_000;

export class SafetensorsFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SafetensorsFormatError';
  }
}

export interface SafetensorsContents {
  /** Tensors by name, in file order; each one's data is a view into the decoded bytes. */
  tensors: Map<string, HostTensor>;
  metadata: Record<string, string>;
}

type TensorInput = Map<string, HostTensor> | Record<string, HostTensor>;

function entriesOf(tensors: TensorInput): [string, HostTensor][] {
  return tensors instanceof Map ? [...tensors.entries()] : Object.entries(tensors);
}

/** The reference implementation's dtype order (its Rust enum); it sorts by it, descending. */
const referenceRank = [
  'BOOL',
  'U8',
  'I8',
  'F8_E5M2',
  'F8_E4M3',
  'I16',
  'U16',
  'F16',
  'BF16',
  'I32',
  'U32',
  'F32',
  'F64',
  'I64',
  'U64',
];

function rankOf(dtype: DTypeName): number {
  return referenceRank.indexOf(dtypeInfo(dtype).safetensors);
}

/** Orders tensors as the reference writer does: dtype rank descending (so wide types first), then name. */
function layout(tensors: TensorInput): [string, HostTensor][] {
  const entries = entriesOf(tensors);
  for (const [name, t] of entries) {
    if (name === SAFETENSORS_METADATA_KEY) throw new SafetensorsFormatError(`${name} is reserved`);
    if (!isDTypeName(t.dtype)) throw new SafetensorsFormatError(`tensor ${name}: unknown dtype ${t.dtype}`);
    const expected = elementCount(t.shape) * dtypeInfo(t.dtype).bytes;
    if (t.data.byteLength !== expected) {
      throw new SafetensorsFormatError(
        `tensor ${name}: shape [${t.shape}] of ${t.dtype} needs ${expected} bytes, got ${t.data.byteLength}`,
      );
    }
  }
  return entries.sort(([na, a], [nb, b]) => {
    const byRank = rankOf(b.dtype) - rankOf(a.dtype);
    return byRank !== 0 ? byRank : na < nb ? -1 : na > nb ? 1 : 0;
  });
}

/** The header bytes (length prefix + padded JSON) and the tensor order for a set of tensors. */
function encodeHeader(
  tensors: TensorInput,
  metadata: Record<string, string> | undefined,
): { header: Uint8Array; ordered: [string, HostTensor][] } {
  const ordered = layout(tensors);
  const json: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length > 0) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string') throw new SafetensorsFormatError(`metadata ${k} must be a string`);
    }
    json[SAFETENSORS_METADATA_KEY] = Object.fromEntries(
      Object.entries(metadata).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
    );
  }
  let offset = 0;
  for (const [name, t] of ordered) {
    const end = offset + t.data.byteLength;
    json[name] = { dtype: dtypeInfo(t.dtype).safetensors, shape: t.shape, data_offsets: [offset, end] };
    offset = end;
  }
  const text = new TextEncoder().encode(JSON.stringify(json));
  const padded = Math.ceil(text.byteLength / 8) * 8;
  const header = new Uint8Array(8 + padded).fill(0x20, 8 + text.byteLength);
  new DataView(header.buffer).setBigUint64(0, BigInt(padded), true);
  header.set(text, 8);
  return { header, ordered };
}

/** Serialises tensors and string metadata into one safetensors buffer. */
export function encodeSafetensors(tensors: TensorInput, metadata?: Record<string, string>): Uint8Array {
  const { header, ordered } = encodeHeader(tensors, metadata);
  const total = ordered.reduce((n, [, t]) => n + t.data.byteLength, header.byteLength);
  const out = new Uint8Array(total);
  out.set(header, 0);
  let offset = header.byteLength;
  for (const [, t] of ordered) {
    out.set(t.data, offset);
    offset += t.data.byteLength;
  }
  return out;
}

/** Parses a safetensors buffer; tensor data are views into `bytes` (copy them to keep them apart). */
export function decodeSafetensors(bytes: Uint8Array): SafetensorsContents {
  if (bytes.byteLength < 8) throw new SafetensorsFormatError('file shorter than its 8-byte header length');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = Number(view.getBigUint64(0, true));
  if (headerLength > MAX_HEADER_BYTES)
    throw new SafetensorsFormatError(`header of ${headerLength} bytes is too large`);
  if (8 + headerLength > bytes.byteLength)
    throw new SafetensorsFormatError('header extends past the end of the file');
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + headerLength)));
  } catch (err) {
    throw new SafetensorsFormatError(`header is not valid UTF-8 JSON: ${(err as Error).message}`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new SafetensorsFormatError('header is not a JSON object');
  }
  const dataStart = 8 + headerLength;
  const dataLength = bytes.byteLength - dataStart;
  const metadata: Record<string, string> = {};
  const found: { name: string; dtype: DTypeName; shape: number[]; begin: number; end: number }[] = [];
  for (const [name, entry] of Object.entries(json as Record<string, unknown>)) {
    if (name === SAFETENSORS_METADATA_KEY) {
      if (typeof entry !== 'object' || entry === null)
        throw new SafetensorsFormatError('__metadata__ must be an object');
      for (const [k, v] of Object.entries(entry as Record<string, unknown>)) {
        if (typeof v !== 'string') throw new SafetensorsFormatError(`metadata ${k} is not a string`);
        metadata[k] = v;
      }
      continue;
    }
    const e = entry as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    const dtype = typeof e.dtype === 'string' ? dtypeFromSafetensors(e.dtype) : undefined;
    if (!dtype) throw new SafetensorsFormatError(`tensor ${name}: unknown dtype ${JSON.stringify(e.dtype)}`);
    if (!Array.isArray(e.shape) || !e.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw new SafetensorsFormatError(`tensor ${name}: invalid shape`);
    }
    const offsets = e.data_offsets;
    if (
      !Array.isArray(offsets) ||
      offsets.length !== 2 ||
      !offsets.every((o) => Number.isSafeInteger(o) && o >= 0) ||
      offsets[0] > offsets[1]
    ) {
      throw new SafetensorsFormatError(`tensor ${name}: invalid data_offsets`);
    }
    const shape = e.shape as number[];
    const [begin, end] = offsets as [number, number];
    if (end - begin !== elementCount(shape) * dtypeInfo(dtype).bytes) {
      throw new SafetensorsFormatError(`tensor ${name}: ${end - begin} bytes do not match shape [${shape}]`);
    }
    found.push({ name, dtype, shape, begin, end });
  }
  // Offsets must tile the data section exactly: no gaps, no overlaps, nothing left over.
  found.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let cursor = 0;
  for (const t of found) {
    if (t.begin !== cursor)
      throw new SafetensorsFormatError(`tensor ${t.name} does not start at offset ${cursor}`);
    cursor = t.end;
  }
  if (cursor !== dataLength) {
    throw new SafetensorsFormatError(`tensors cover ${cursor} bytes but the data section has ${dataLength}`);
  }
  const tensors = new Map<string, HostTensor>();
  for (const t of found) {
    tensors.set(t.name, {
      dtype: t.dtype,
      shape: t.shape,
      data: bytes.subarray(dataStart + t.begin, dataStart + t.end),
    });
  }
  return { tensors, metadata };
}

/** Writes a safetensors file atomically (temporary file, fsync, rename): readers never see half a file. */
export async function writeSafetensorsFile(
  path: string,
  tensors: TensorInput,
  metadata?: Record<string, string>,
): Promise<void> {
  const { header, ordered } = encodeHeader(tensors, metadata);
  await writeFileAtomic(path, [header, ...ordered.map(([, t]) => t.data)]);
}

export async function readSafetensorsFile(path: string): Promise<SafetensorsContents> {
  const bytes = await readFile(path);
  return decodeSafetensors(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength));
}
