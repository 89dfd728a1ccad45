// Tensors of a checkpoint file <-> safetensors bytes. Thin adapter so the checkpoint module does not
// depend on how the codec is spelled.
// TEMPORARY: a minimal safetensors writer/reader until @gengap/tensor-io publishes its own.
import type { NamedArray } from './worker-protocol.ts';

const codes = { float32: 'F32', float64: 'F64' } as const;

export function encodeSafetensors(
  tensors: readonly NamedArray[],
  metadata: Record<string, string>,
): Uint8Array {
  const header: Record<string, unknown> = { __metadata__: metadata };
  let offset = 0;
  for (const t of tensors) {
    header[t.name] = {
      dtype: codes[t.dtype],
      shape: t.shape,
      data_offsets: [offset, offset + t.data.byteLength],
    };
    offset += t.data.byteLength;
  }
  let json = JSON.stringify(header);
  // Pad the header with spaces so the data starts 8-byte aligned.
  json += ' '.repeat((8 - ((8 + Buffer.byteLength(json)) % 8)) % 8);
  const headerBytes = Buffer.from(json);
  const out = new Uint8Array(8 + headerBytes.byteLength + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerBytes.byteLength), true);
  out.set(headerBytes, 8);
  let at = 8 + headerBytes.byteLength;
  for (const t of tensors) {
    out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), at);
    at += t.data.byteLength;
  }
  return out;
}

export function decodeSafetensors(bytes: Uint8Array): NamedArray[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = Number(view.getBigUint64(0, true));
  const header = JSON.parse(Buffer.from(bytes.subarray(8, 8 + headerLength)).toString('utf8')) as Record<
    string,
    { dtype: string; shape: number[]; data_offsets: [number, number] }
  >;
  const base = 8 + headerLength;
  const out: NamedArray[] = [];
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const [begin, end] = entry.data_offsets;
    const slice = new Uint8Array(end - begin);
    slice.set(bytes.subarray(base + begin, base + end));
    if (entry.dtype === 'F32') {
      out.push({ name, shape: entry.shape, dtype: 'float32', data: new Float32Array(slice.buffer) });
    } else if (entry.dtype === 'F64') {
      out.push({ name, shape: entry.shape, dtype: 'float64', data: new Float64Array(slice.buffer) });
    } else {
      throw new Error(`tensor ${name}: unsupported dtype ${entry.dtype}`);
    }
  }
  // safetensors sorts nothing; keep the writer's order (offsets) so flat layouts round-trip.
  return out.sort((a, b) => (header[a.name]?.data_offsets[0] ?? 0) - (header[b.name]?.data_offsets[0] ?? 0));
}
