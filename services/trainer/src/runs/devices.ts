// Which devices this trainer can train on. CPU always; CUDA when onnxruntime-node's CUDA execution
// provider libraries sit next to its core library (`npm run setup:cuda` puts them there), an NVIDIA
// driver is present, and a one-node probe session actually starts on the CUDA provider.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { DeviceUnavailableError } from './errors.ts';

export interface DeviceStatus {
  available: boolean;
  /** Why not, in words a user can act on. */
  reason: string;
}

type Ort = typeof import('onnxruntime-node');

const require = createRequire(import.meta.url);

/** Folder holding libonnxruntime.so.1 of the onnxruntime-node the engine loads. */
export function onnxruntimeLibraryDir(): string {
  const entry = require.resolve('onnxruntime-node');
  return join(dirname(entry), '..', 'bin', 'napi-v6', process.platform, process.arch);
}

export function onnxruntimeVersion(): string {
  return (require('onnxruntime-node') as Ort).env.versions.node ?? 'unknown';
}

// A graph with one Relu on a float tensor of shape [N, 4] (ONNX IR 8, opset 17).
const PROBE_MODEL = Buffer.from(
  'CAgSDGdlbmdhcC1wcm9iZTo9CgwKAXgSAXkiBFJlbHUSAWdaFAoBeBIPCg0IARIJCgMSAU4KAggEYhQKAXkSDwoNCAESCQoDEgFOCgIIBEIECgAQEQ==',
  'base64',
);

export const CUDA_PROVIDER_LIBRARIES = [
  'libonnxruntime_providers_shared.so',
  'libonnxruntime_providers_cuda.so',
];

let cudaStatus: Promise<DeviceStatus> | undefined;

async function probeCuda(): Promise<DeviceStatus> {
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    return {
      available: false,
      reason: `CUDA training is supported on linux-x64 only (this is ${process.platform}-${process.arch})`,
    };
  }
  const dir = onnxruntimeLibraryDir();
  const missing = CUDA_PROVIDER_LIBRARIES.filter((lib) => !existsSync(join(dir, lib)));
  if (missing.length > 0) {
    return {
      available: false,
      reason: `the CUDA execution provider is not installed (${missing.join(', ')} missing in ${dir}); run \`npm run setup:cuda\` on a machine with an NVIDIA GPU`,
    };
  }
  if (!existsSync('/dev/nvidiactl') && !existsSync('/proc/driver/nvidia/version')) {
    return {
      available: false,
      reason: 'no NVIDIA GPU or driver found on this machine (/dev/nvidiactl is absent)',
    };
  }
  try {
    const ort = require('onnxruntime-node') as Ort;
    const session = await ort.InferenceSession.create(PROBE_MODEL, {
      executionProviders: [{ name: 'cuda', deviceId: 0 } as never],
      logSeverityLevel: 3,
    });
    const x = new ort.Tensor('float32', Float32Array.from([-1, 2, -3, 4]), [1, 4]);
    await session.run({ x });
    await session.release();
    return { available: true, reason: '' };
  } catch (err) {
    return {
      available: false,
      reason: `the CUDA execution provider failed to start: ${(err as Error).message}`,
    };
  }
}

/** Whether CUDA works here; probed once per process. */
export function cudaStatusOnce(): Promise<DeviceStatus> {
  cudaStatus ??= probeCuda();
  return cudaStatus;
}

/** Throws DeviceUnavailableError (FAILED_PRECONDITION) when a run asks for CUDA and there is none. */
export async function requireCuda(): Promise<void> {
  const status = await cudaStatusOnce();
  if (!status.available)
    throw new DeviceUnavailableError(`spec.device: DEVICE_CUDA is not available: ${status.reason}`);
}
