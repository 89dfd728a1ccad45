// @gengap/engine: ModelSpec -> ONNX training and analysis graphs with exact autodiff, run by
// onnxruntime. See README.md for the API.
export { DeviceUnavailableError, EngineSpecError } from './errors.ts';
export type { GraphKind } from './graphs/catalog.ts';
export type { TensorView } from './model/layout.ts';
export { FlatLayout } from './model/layout.ts';
export {
  bitsAt,
  CounterRandom,
  dropoutKey,
  dropoutUniform,
  seedWords,
  stepSeed,
  uniformAt,
} from './prng.ts';
export type {
  AnalysisOptions,
  Evaluation,
  GradientResult,
  HvpResult,
  InputGradientResult,
} from './runtime/analysis.ts';
export { compileModel } from './runtime/compile.ts';
export type { LayerInfo, TrainBatch, TrainMetrics } from './runtime/compiled-model.ts';
export { CompiledModel } from './runtime/compiled-model.ts';
export type { Examples } from './runtime/examples.ts';
export type { HvpOperator } from './runtime/hvp-operator.ts';
export type { CompileOptions } from './runtime/options.ts';
export type { DeviceName } from './runtime/session.ts';
export { FlatStore } from './runtime/store.ts';
export type { FloatArray, FloatDType } from './runtime/tensors.ts';
