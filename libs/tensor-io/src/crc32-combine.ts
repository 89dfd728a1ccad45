// CRC-32 (zlib's polynomial) of a concatenation from the CRCs of its parts, as zlib's crc32_combine
// does it: appending len2 zero bytes to the first CRC is a linear map over GF(2), applied by repeated
// squaring of the one-zero-bit operator in O(log len2) 32x32 matrix products. With CRCs recorded per
// block when a tensor is stored, a stream can send the CRC of any block-aligned chunk without reading
// its bytes twice.

const POLY = 0xedb88320;

function gf2MatrixTimes(mat: Uint32Array, vec: number): number {
  let sum = 0;
  let v = vec >>> 0;
  for (let i = 0; v !== 0; i++, v >>>= 1) if (v & 1) sum ^= mat[i] as number;
  return sum >>> 0;
}

function gf2MatrixSquare(square: Uint32Array, mat: Uint32Array): void {
  for (let n = 0; n < 32; n++) square[n] = gf2MatrixTimes(mat, mat[n] as number);
}

/** The GF(2) operator that appends `len` zero bytes to a CRC (apply with gf2MatrixTimes). */
export function crc32ZerosOperator(len: number): Uint32Array {
  // Start from the identity and multiply in the operator for 2^k zero bytes for each bit k of len.
  const result = new Uint32Array(32);
  for (let n = 0; n < 32; n++) result[n] = (1 << n) >>> 0;
  const odd = new Uint32Array(32);
  const even = new Uint32Array(32);
  odd[0] = POLY;
  let row = 1;
  for (let n = 1; n < 32; n++) {
    odd[n] = row;
    row <<= 1;
  }
  gf2MatrixSquare(even, odd); // 2 zero bits
  gf2MatrixSquare(odd, even); // 4 zero bits
  gf2MatrixSquare(even, odd); // 8 zero bits: one zero byte
  let power = even; // operator for 2^k zero bytes
  let spare = odd;
  let remaining = len;
  const tmp = new Uint32Array(32);
  while (remaining > 0) {
    if (remaining % 2 === 1) {
      for (let n = 0; n < 32; n++) tmp[n] = gf2MatrixTimes(power, result[n] as number);
      result.set(tmp);
    }
    remaining = Math.floor(remaining / 2);
    if (remaining > 0) {
      gf2MatrixSquare(spare, power);
      [power, spare] = [spare, power];
    }
  }
  return result;
}

/** CRC-32 of A + B from crc(A), crc(B) and the length of B in bytes. */
export function crc32Combine(crc1: number, crc2: number, len2: number): number {
  if (len2 <= 0) return crc1 >>> 0;
  return (gf2MatrixTimes(crc32ZerosOperator(len2), crc1) ^ crc2) >>> 0;
}

/** CRC-32 of every `blockBytes` block of `data` (the last block may be shorter). */
export function blockCrc32s(
  data: Uint8Array,
  blockBytes: number,
  crc32: (d: Uint8Array) => number,
): Uint32Array {
  const blocks = Math.ceil(data.byteLength / blockBytes);
  const out = new Uint32Array(blocks);
  for (let b = 0; b < blocks; b++)
    out[b] = crc32(data.subarray(b * blockBytes, Math.min(data.byteLength, (b + 1) * blockBytes)));
  return out;
}

/** Per-block CRCs of a tensor, from which the CRC of any block-aligned range is cheap. */
export class BlockCrc32 {
  readonly blocks: Uint32Array;
  readonly blockBytes: number;
  readonly total: number;
  /** Appends one whole block of zeros to a CRC. */
  private readonly shift: Uint32Array;

  constructor(blocks: Uint32Array, blockBytes: number, total: number) {
    if (blocks.length !== Math.ceil(total / blockBytes)) {
      throw new RangeError(`${blocks.length} block CRCs for ${total} bytes in blocks of ${blockBytes}`);
    }
    this.blocks = blocks;
    this.blockBytes = blockBytes;
    this.total = total;
    this.shift = crc32ZerosOperator(blockBytes);
  }

  /**
   * CRC-32 of bytes [offset, offset + length), or undefined unless the range starts on a block
   * boundary and ends on one or at the end of the data.
   */
  range(offset: number, length: number): number | undefined {
    const { blockBytes, total } = this;
    const end = offset + length;
    if (
      length <= 0 ||
      offset % blockBytes !== 0 ||
      (end % blockBytes !== 0 && end !== total) ||
      end > total
    ) {
      return undefined;
    }
    let crc = this.blocks[offset / blockBytes] as number;
    for (let at = offset + blockBytes; at < end; at += blockBytes) {
      const block = this.blocks[at / blockBytes] as number;
      const n = Math.min(blockBytes, total - at);
      crc = n === blockBytes ? (gf2MatrixTimes(this.shift, crc) ^ block) >>> 0 : crc32Combine(crc, block, n);
    }
    return crc >>> 0;
  }
}
