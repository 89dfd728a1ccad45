// Tensors of a checkpoint file <-> safetensors bytes (@gengap/tensor-io's codec). Files list tensors
// in the reference writer's order (by dtype, then name), so readers look tensors up by name.
import {
  decodeSafetensors as decode,
  encodeSafetensors as encode,
  type HostTensor,
  hostTensor,
} from '@gengap/tensor-io';
import type { NamedArray } from './worker-protocol.ts';

export function encodeSafetensors(
  tensors: readonly NamedArray[],
  metadata: Record<string, string>,
): Uint8Array {
  const map = new Map<string, HostTensor>();
  for (const t of tensors) map.set(t.name, hostTensor(t.dtype, t.shape, t.data));
  return encode(map, metadata);
}

export function decodeSafetensors(bytes: Uint8Array): NamedArray[] {
  const out: NamedArray[] = [];
  for (const [name, tensor] of decode(bytes).tensors) {
    // Copy out of the file's buffer: each tensor gets its own aligned memory.
    const copy = new Uint8Array(tensor.data);
    if (tensor.dtype === 'float32') {
      out.push({ name, shape: tensor.shape, dtype: 'float32', data: new Float32Array(copy.buffer) });
    } else if (tensor.dtype === 'float64') {
      out.push({ name, shape: tensor.shape, dtype: 'float64', data: new Float64Array(copy.buffer) });
    } else {
      throw new Error(`checkpoint tensor ${name} has dtype ${tensor.dtype}; expected float32 or float64`);
    }
  }
  return out;
}
