// The contract between the job runner and each analysis: a kind validates its part of the spec
// (synchronously, at StartAnalysis, throwing InvalidArgumentError with the field path) and runs
// against an AnalysisContext that hands it everything it may need. A kind never touches gRPC, the job
// store or files directly: inputs, progress, cancellation and artifacts all come through the context,
// so the same kind runs in a server, in a test, or in a benchmark.
import type { AnalysisResult, AnalysisSpec } from '@gengap/proto/analysis/v1/analysis';
import type { LossSpec, ModelSpec } from '@gengap/proto/common/v1/model';
import type { CheckpointRef, Split } from '@gengap/proto/common/v1/refs';
import type { DataType } from '@gengap/proto/common/v1/tensor';
import type { Rng } from '@gengap/random';
import type { Logger } from 'pino';
import type { AnalysisModel } from '../inputs/analysis-model.ts';
import type { ExampleSet } from '../inputs/examples.ts';
import type { RunHistory, RunInfo } from '../inputs/run-history.ts';
import type { AuxiliaryArray } from '../inputs/sources.ts';

/** The oneof of AnalysisSpec: one entry per analysis kind. */
export type KindSpec = NonNullable<AnalysisSpec['kind']>;
export type KindName = KindSpec['$case'];
export type KindValue<K extends KindName> = Extract<KindSpec, { $case: K }>['value'];
/** The oneof of AnalysisResult. */
export type KindResult = NonNullable<AnalysisResult['kind']>;

/** A named tensor of parameters, as read from a checkpoint. */
export interface NamedTensor {
  name: string;
  shape: number[];
  data: Float32Array | Float64Array;
}

/** A model checkpoint: the architecture and its parameters, with where it came from. */
export interface LoadedCheckpoint {
  model: ModelSpec;
  parameters: NamedTensor[];
  /** The training run the parameters descend from (a rescaled checkpoint names its source run). */
  runId: string;
  /** Training step of the checkpoint (of the source, for derived checkpoints). */
  step: number;
  /** "run:<id>@<step>" or "analysis:<id>", for logs and results. */
  origin: string;
}

export interface ModelOptions {
  /** Examples per graph call (the HVP batch); 0 or absent means the engine's default (1000). */
  chunkSize?: number;
  /** The loss the model's graphs use instead of the run's (input-space analyses use temperature 1). */
  loss?: LossSpec;
}

export interface DataOptions {
  /** Which split; absent means the spec's split. */
  split?: Split;
  /** Examples to take; absent means the spec's num_examples (0 = all). */
  numExamples?: number;
}

/** Inputs of an analysis, loaded on demand and cached by immutable ids (run checkpoints, dataset ids). */
export interface AnalysisInputs {
  /** The checkpoint named by `ref`, or by the spec's checkpoint when absent. */
  checkpoint(ref?: CheckpointRef, field?: string): Promise<LoadedCheckpoint>;
  /**
   * A compiled model (loss and precision of the checkpoint's run unless the spec overrides them)
   * with the checkpoint's parameters loaded, for the spec's checkpoint when `ref` is absent.
   */
  model(ref?: CheckpointRef, options?: ModelOptions): Promise<AnalysisModel>;
  /**
   * Examples of the analysed dataset (the spec's dataset, or the checkpoint run's training dataset),
   * after the spec's seeded shuffle and num_examples, in the dtype the model needs.
   */
  examples(options?: DataOptions): Promise<ExampleSet>;
  /**
   * An auxiliary array of the analysed dataset (the same dataset as `examples`), e.g. a subspace
   * source's "basis"; INVALID_ARGUMENT on `field` when the dataset has no array of that name.
   */
  auxiliary(name: string, field: string): Promise<AuxiliaryArray>;
  /** A training run's spec, status, summary and checkpoint list (trainer GetRun). */
  run(runId: string): Promise<RunInfo>;
  /** A run's event log as of now: epoch metrics, step metrics, trajectory points, checkpoints... */
  runHistory(runId: string): Promise<RunHistory>;
}

export interface ProgressReporter {
  /**
   * Reports the fraction done (0..1, kept monotone) and the phase, then yields to the event loop
   * and throws if the analysis was cancelled. Cheap to call often: events are throttled.
   */
  report(fraction: number, phase?: string): Promise<void>;
  /**
   * A reporter for the share [from, to] of the whole: sub-tasks report 0..1 of their own work.
   */
  span(from: number, to: number, phase?: string): ProgressReporter;
}

/** Where an analysis writes its files (eigenvectors, derived checkpoints, PNGs); names are returned in the result. */
export interface ArtifactWriter {
  writeTensor(
    name: string,
    tensor: { dtype: DataType; shape: number[]; data: ArrayBufferView },
  ): Promise<string>;
  /**
   * A derived checkpoint: one tensor per parameter, in order, with the model it fits and the run and
   * step it descends from (usable afterwards as CheckpointRef.analysis_id).
   */
  writeCheckpoint(name: string, checkpoint: Omit<LoadedCheckpoint, 'origin'>): Promise<string>;
  writeBytes(name: string, mediaType: string, bytes: Uint8Array): Promise<string>;
}

export interface AnalysisContext {
  readonly analysisId: string;
  readonly spec: AnalysisSpec;
  readonly log: Logger;
  /** Aborts when the analysis is cancelled or the service stops; pass it to everything long. */
  readonly signal: AbortSignal;
  /** Intra-op threads for graph runs (the spec's, or the service default). */
  readonly threads: number;
  /** A seeded generator for one named purpose: rng('lanczos'), rng('probes')... (same seed, same numbers). */
  rng(stream: string): Rng;
  readonly inputs: AnalysisInputs;
  readonly progress: ProgressReporter;
  readonly artifacts: ArtifactWriter;
}

/** What a kind returns; the runner adds wall time, artifact names and the JSON/CSV exports. */
export interface AnalysisOutput {
  result: KindResult;
  /** A Vega-Lite specification (data inline) of the main chart. */
  plot?: Record<string, unknown>;
  /** The main table for the CSV export: a header row and data rows. */
  table?: { columns: string[]; rows: (string | number | boolean)[][] };
  /** Extra facts that do not fit the contract's result message, included in the JSON export. */
  details?: Record<string, unknown>;
}

export interface AnalysisKind<K extends KindName = KindName> {
  readonly name: K;
  /** Kind-specific checks of `value` (at spec.<snake_case kind>); throw InvalidArgumentError. */
  validate(value: KindValue<K>, spec: AnalysisSpec): void;
  run(ctx: AnalysisContext, value: KindValue<K>): Promise<AnalysisOutput>;
}

/** Declares a kind with its value type checked against the spec's oneof. */
export function defineKind<K extends KindName>(kind: AnalysisKind<K>): AnalysisKind<K> {
  return kind;
}
