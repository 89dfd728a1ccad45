// compileModel: validates a ModelSpec and training configuration and returns a CompiledModel whose
// graphs are built and loaded on first use.
import type { ModelSpec } from '@gengap/proto/common/v1/model';
import { EngineSpecError } from '../errors.ts';
import { resolveModel } from '../model/resolve.ts';
import { lossConfig } from '../train/losses.ts';
import { optimizerConfig } from '../train/optimizers.ts';
import type { TrainSetup } from '../train/step.ts';
import { CompiledModel } from './compiled-model.ts';
import { type CompileOptions, deviceOf, positiveInteger, precisionOf } from './options.ts';

export async function compileModel(spec: ModelSpec, options: CompileOptions = {}): Promise<CompiledModel> {
  const model = resolveModel(spec);
  const frozen = new Set(options.frozenParameters ?? []);
  for (const name of frozen) {
    if (!model.parameters.some((p) => p.name === name)) {
      throw new EngineSpecError('frozenParameters', `no parameter named ${name}`);
    }
  }
  const setup: TrainSetup = {
    loss: lossConfig(options.loss),
    optimizer: optimizerConfig(options.optimizer, options.regularizers),
    trainable: model.parameters.map((p) => !frozen.has(p.name)),
  };
  if (!setup.trainable.some(Boolean))
    throw new EngineSpecError('frozenParameters', 'every parameter is frozen');
  const compiled = new CompiledModel(model, setup, {
    dtype: precisionOf(options.precision),
    device: deviceOf(options.device),
    threads: positiveInteger('threads', options.threads, 1),
    chunkSize: positiveInteger('chunkSize', options.chunkSize, 1000),
  });
  // Fail now, with DeviceUnavailableError, when the device cannot run graphs at all.
  if (compiled.device === 'cuda') await compiled.session('eval');
  return compiled;
}
