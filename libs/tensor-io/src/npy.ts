// NumPy's .npy format (versions 1.0-3.0 read, 1.0 written, little-endian C order only), so that a
// Python user opens GenGap's files with nothing but `numpy.load`. The writer produces the same bytes
// as numpy's `np.save` (header layout, 64-byte alignment and the spare room numpy leaves for growing
// the first axis), which the tests check against Debian's numpy.
import { open } from 'node:fs/promises';
import { type DTypeName, dtypeFromNpy, dtypeInfo, elementCount, type HostTensor } from './dtypes.ts';

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // "\x93NUMPY"
const ARRAY_ALIGN = 64;
/** numpy >= 1.23 pads the header so the first dimension can grow to 21 digits in place. */
const GROWTH_AXIS_MAX_DIGITS = 21;
/** Largest header we accept when reading (numpy refuses more than 10 000 bytes by default). */
const MAX_HEADER_BYTES = 64 * 1024;

export class NpyFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NpyFormatError';
  }
}

export interface NpyHeader {
  dtype: DTypeName;
  shape: number[];
  /** Byte offset of the first element in the file. */
  dataOffset: number;
  /** Bytes of element data (elements x element size). */
  dataBytes: number;
}

function pythonTuple(shape: readonly number[]): string {
  if (shape.length === 0) return '()';
  if (shape.length === 1) return `(${shape[0]},)`;
  return `(${shape.join(', ')})`;
}

/** The header (magic, version 1.0, length, dict, padding) that np.save writes for this dtype and shape. */
export function encodeNpyHeader(dtype: DTypeName, shape: readonly number[]): Uint8Array {
  const descr = dtypeInfo(dtype).npy;
  if (descr === undefined) throw new NpyFormatError(`numpy has no dtype for ${dtype}`);
  elementCount(shape);
  let dict = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${pythonTuple(shape)}, }`;
  if (shape.length > 0) dict += ' '.repeat(GROWTH_AXIS_MAX_DIGITS - String(shape[0]).length);
  const prefix = MAGIC.length + 2 + 2;
  const unpadded = prefix + dict.length + 1;
  // Like numpy: 1..ARRAY_ALIGN spaces (a whole ARRAY_ALIGN when the header is already aligned).
  const pad = ARRAY_ALIGN - (unpadded % ARRAY_ALIGN);
  const body = `${dict}${' '.repeat(pad)}\n`;
  if (body.length > 0xffff) throw new NpyFormatError('shape too long for a version 1.0 header');
  const out = new Uint8Array(prefix + body.length);
  out.set(MAGIC, 0);
  out[6] = 1;
  out[7] = 0;
  out[8] = body.length & 0xff;
  out[9] = body.length >> 8;
  for (let i = 0; i < body.length; i++) out[prefix + i] = body.charCodeAt(i);
  return out;
}

/** Parses the header at the start of `bytes` (which must hold at least the whole header). */
export function parseNpyHeader(bytes: Uint8Array): NpyHeader {
  if (bytes.byteLength < 10 || MAGIC.some((b, i) => bytes[i] !== b)) {
    throw new NpyFormatError('not a .npy file (bad magic)');
  }
  const major = bytes[6] as number;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let headerLength: number;
  let start: number;
  if (major === 1) {
    headerLength = view.getUint16(8, true);
    start = 10;
  } else if (major === 2 || major === 3) {
    if (bytes.byteLength < 12) throw new NpyFormatError('truncated .npy header');
    headerLength = view.getUint32(8, true);
    start = 12;
  } else {
    throw new NpyFormatError(`unsupported .npy version ${major}.${bytes[7]}`);
  }
  if (headerLength > MAX_HEADER_BYTES)
    throw new NpyFormatError(`header of ${headerLength} bytes is too long`);
  if (bytes.byteLength < start + headerLength) throw new NpyFormatError('truncated .npy header');
  const text = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(
    bytes.subarray(start, start + headerLength),
  );
  const descr = /'descr'\s*:\s*'([^']*)'/.exec(text)?.[1];
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(text)?.[1];
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(text)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined) {
    throw new NpyFormatError(`malformed .npy header: ${text.trim()}`);
  }
  if (fortran === 'True') throw new NpyFormatError('Fortran-order arrays are not supported');
  const dtype = dtypeFromNpy(descr);
  if (!dtype) throw new NpyFormatError(`unsupported dtype ${descr} (little-endian numeric types only)`);
  const shape = shapeText
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
    .map((s) => {
      if (!/^\d+L?$/.test(s)) throw new NpyFormatError(`bad dimension ${s} in .npy header`);
      return Number.parseInt(s, 10);
    });
  const dataBytes = elementCount(shape) * dtypeInfo(dtype).bytes;
  return { dtype, shape, dataOffset: start + headerLength, dataBytes };
}

/** The complete .npy bytes of a tensor (one copy of its data). */
export function encodeNpy(tensor: HostTensor): Uint8Array {
  const header = encodeNpyHeader(tensor.dtype, tensor.shape);
  checkLength(tensor);
  const out = new Uint8Array(header.byteLength + tensor.data.byteLength);
  out.set(header, 0);
  out.set(tensor.data, header.byteLength);
  return out;
}

/** Decodes .npy bytes; the returned tensor's data is a view into `bytes`. */
export function decodeNpy(bytes: Uint8Array): HostTensor {
  const header = parseNpyHeader(bytes);
  const end = header.dataOffset + header.dataBytes;
  if (bytes.byteLength < end) {
    throw new NpyFormatError(
      `truncated .npy data: ${bytes.byteLength - header.dataOffset} of ${header.dataBytes} bytes`,
    );
  }
  return { dtype: header.dtype, shape: header.shape, data: bytes.subarray(header.dataOffset, end) };
}

function checkLength(tensor: HostTensor): void {
  const expected = elementCount(tensor.shape) * dtypeInfo(tensor.dtype).bytes;
  if (tensor.data.byteLength !== expected) {
    throw new NpyFormatError(
      `shape [${tensor.shape}] of ${tensor.dtype} needs ${expected} bytes, got ${tensor.data.byteLength}`,
    );
  }
}

/**
 * Writes a tensor as a .npy file without concatenating header and data in memory. Not atomic by
 * itself: write into a staging directory or use writeFileAtomic for that.
 */
export async function writeNpyFile(path: string, tensor: HostTensor, options: { sync?: boolean } = {}) {
  checkLength(tensor);
  const header = encodeNpyHeader(tensor.dtype, tensor.shape);
  const file = await open(path, 'w');
  try {
    await file.write(header, 0, header.byteLength, 0);
    let offset = 0;
    while (offset < tensor.data.byteLength) {
      const { bytesWritten } = await file.write(
        tensor.data,
        offset,
        Math.min(tensor.data.byteLength - offset, 64 * 1024 * 1024),
        header.byteLength + offset,
      );
      offset += bytesWritten;
    }
    if (options.sync) await file.sync();
  } finally {
    await file.close();
  }
}

/** Reads only the header of a .npy file. */
export async function readNpyHeader(path: string): Promise<NpyHeader> {
  const file = await open(path, 'r');
  try {
    return await readHeaderFrom(file);
  } finally {
    await file.close();
  }
}

async function readHeaderFrom(file: import('node:fs/promises').FileHandle): Promise<NpyHeader> {
  const first = new Uint8Array(12);
  const { bytesRead } = await file.read(first, 0, 12, 0);
  const probe = first.subarray(0, bytesRead);
  if (bytesRead < 10 || MAGIC.some((b, i) => probe[i] !== b)) throw new NpyFormatError('not a .npy file');
  const view = new DataView(first.buffer);
  const length = first[6] === 1 ? 10 + view.getUint16(8, true) : 12 + view.getUint32(8, true);
  if (length > MAX_HEADER_BYTES + 12) throw new NpyFormatError(`header of ${length} bytes is too long`);
  const head = new Uint8Array(length);
  await file.read(head, 0, length, 0);
  const header = parseNpyHeader(head);
  const { size } = await file.stat();
  if (size < header.dataOffset + header.dataBytes) {
    throw new NpyFormatError(
      `truncated .npy file: ${size} bytes, header promises ${header.dataOffset + header.dataBytes}`,
    );
  }
  return header;
}

/** Reads a whole .npy file into memory. */
export async function readNpyFile(path: string): Promise<HostTensor> {
  const file = await open(path, 'r');
  try {
    const header = await readHeaderFrom(file);
    const data = new Uint8Array(header.dataBytes);
    let offset = 0;
    while (offset < header.dataBytes) {
      const { bytesRead } = await file.read(
        data,
        offset,
        header.dataBytes - offset,
        header.dataOffset + offset,
      );
      if (bytesRead === 0) throw new NpyFormatError('unexpected end of .npy file');
      offset += bytesRead;
    }
    return { dtype: header.dtype, shape: header.shape, data };
  } finally {
    await file.close();
  }
}

/** An open .npy file whose element bytes are read by range (for streaming large arrays). */
export interface NpyReader extends NpyHeader {
  /** Reads `length` bytes of element data starting at byte `offset` of the data (not of the file). */
  read(offset: number, length: number): Promise<Uint8Array>;
  /** Fills `target` with element data starting at byte `offset` of the data (for pooled buffers). */
  readInto(target: Uint8Array, offset: number): Promise<Uint8Array>;
  close(): Promise<void>;
}

export async function openNpyFile(path: string): Promise<NpyReader> {
  const file = await open(path, 'r');
  let header: NpyHeader;
  try {
    header = await readHeaderFrom(file);
  } catch (err) {
    await file.close();
    throw err;
  }
  const readInto = async (target: Uint8Array, offset: number) => {
    const length = target.byteLength;
    if (offset < 0 || offset + length > header.dataBytes) {
      throw new RangeError(`range ${offset}+${length} outside ${header.dataBytes} data bytes`);
    }
    let done = 0;
    while (done < length) {
      const { bytesRead } = await file.read(target, done, length - done, header.dataOffset + offset + done);
      if (bytesRead === 0) throw new NpyFormatError('unexpected end of .npy file');
      done += bytesRead;
    }
    return target;
  };
  return {
    ...header,
    // A fresh, unpooled buffer per read (offset 0, so aligned for typed-array views): callers hand
    // it to a transport that may still hold it after the next read.
    read: (offset, length) => {
      if (length < 0) return Promise.reject(new RangeError(`negative length ${length}`));
      return readInto(Buffer.allocUnsafeSlow(length), offset);
    },
    readInto,
    close: () => file.close(),
  };
}
