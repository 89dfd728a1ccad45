// onnxruntime sessions: created once per graph and reused. CPU by default; the CUDA execution provider
// when asked, failing with DeviceUnavailableError where its provider libraries or a GPU are missing
// (onnxruntime-node ships the CPU runtime only; see scripts/setup-cuda.ts for installing the providers).
import './ort-environment.ts';
import * as ort from 'onnxruntime-node';
import { DeviceUnavailableError } from '../errors.ts';

export type DeviceName = 'cpu' | 'cuda';

export interface SessionConfig {
  device: DeviceName;
  /** Intra-op threads; results are bitwise reproducible for a fixed thread count on CPU. */
  threads: number;
}

function sessionOptions(config: SessionConfig): ort.InferenceSession.SessionOptions {
  return {
    graphOptimizationLevel: 'all',
    intraOpNumThreads: config.threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    executionProviders: config.device === 'cuda' ? ['cuda'] : ['cpu'],
    extra: {
      // GemmTransposeFusion folds a Transpose feeding a Gemm into transA. On the CPU that is slower
      // for the products the autodiff emits (weight cotangents g^T x and their HVP tangents): MLAS
      // re-transposes A for every 128-column slice of the output, where the explicit Transpose
      // copies the (small) cotangent once. 4% off an exact HVP of the MNIST MLP at batch 1000.
      optimization: { disable_specified_optimizers: 'GemmTransposeFusion' },
    },
  };
}

export async function createSession(model: Uint8Array, config: SessionConfig): Promise<ort.InferenceSession> {
  try {
    return await ort.InferenceSession.create(model, sessionOptions(config));
  } catch (error) {
    if (config.device === 'cuda') {
      const reason = (error as Error).message;
      throw new DeviceUnavailableError(
        'cuda',
        `the CUDA execution provider is not available on this machine (${reason}); install the onnxruntime ` +
          'CUDA provider libraries next to libonnxruntime.so (npm run setup:cuda) on a machine with an NVIDIA GPU, ' +
          'or run on the CPU',
        { cause: error },
      );
    }
    throw error;
  }
}
