// Checks a RunSpec before anything is stored, and resolves it (with its dataset's shape) into the
// plan the training loop follows. Every "0 means ..." default of the contract is applied here and
// nowhere else. Field paths in errors are the proto's snake_case paths ("spec.optimizer.learning_rate").
import { createHash } from 'node:crypto';
import {
  Device,
  LossKind,
  type ModelSpec,
  OptimizerKind,
  Precision,
  ScheduleKind,
} from '@gengap/proto/common/v1/model';
import type { CheckpointRef } from '@gengap/proto/common/v1/refs';
import { RunSpec } from '@gengap/proto/trainer/v1/run';
import { InvalidArgumentError } from '@gengap/service-kit';
import type { DatasetInfo } from '../datasets/dataset-source.ts';
import { type QueryPlan, validateObjectives } from './objective-spec.ts';

const invalid = (field: string, message: string) => new InvalidArgumentError(`spec.${field}`, message);

const finite = (v: number) => Number.isFinite(v);

function requireRange(field: string, value: number, min: number, max: number, what = 'be'): void {
  if (!finite(value) || value < min || value > max) {
    throw invalid(field, `must ${what} in [${min}, ${max}] (got ${value})`);
  }
}

function requireKnown(field: string, value: number, values: Record<string, number>): void {
  if (!Object.values(values).includes(value) || value < 0) throw invalid(field, `unknown value ${value}`);
}

/** Hash of the spec's bytes: equal specs (as sent) have equal hashes; used for idempotency. */
export function specHash(spec: RunSpec): string {
  return createHash('sha256').update(RunSpec.encode(spec).finish()).digest('hex');
}

function validateModel(model: ModelSpec | undefined): void {
  if (!model) throw invalid('model', 'is required');
  if (model.inputShape.length === 0) throw invalid('model.input_shape', 'is required');
  model.inputShape.forEach((d, i) => {
    if (!Number.isInteger(d) || d <= 0) throw invalid(`model.input_shape[${i}]`, `must be > 0 (got ${d})`);
  });
  if (!(model.numOutputs > 0)) throw invalid('model.num_outputs', 'must be > 0');
  if (model.layers.length === 0) throw invalid('model.layers', 'needs at least one layer');
  model.layers.forEach((layer, i) => {
    if (!layer.kind) throw invalid(`model.layers[${i}]`, 'has no kind');
    const kind = layer.kind;
    if (kind.$case === 'dense' && !(kind.value.units > 0)) {
      throw invalid(`model.layers[${i}].dense.units`, 'must be > 0');
    }
    if (kind.$case === 'dropout') requireRange(`model.layers[${i}].dropout.rate`, kind.value.rate, 0, 0.999);
    if (kind.$case === 'conv2d') {
      if (!(kind.value.outChannels > 0))
        throw invalid(`model.layers[${i}].conv2d.out_channels`, 'must be > 0');
      if (!(kind.value.kernelSize > 0)) throw invalid(`model.layers[${i}].conv2d.kernel_size`, 'must be > 0');
    }
  });
}

/**
 * Checks everything that does not need the dataset or the device. Throws InvalidArgumentError with
 * the offending field's path.
 */
export function validateRunSpec(spec: RunSpec | undefined): asserts spec is RunSpec {
  if (!spec) throw new InvalidArgumentError('spec', 'is required');
  validateModel(spec.model);
  if (!spec.dataset?.datasetId) throw invalid('dataset.dataset_id', 'is required');

  const loss = spec.loss;
  if (loss) {
    requireKnown('loss.kind', loss.kind, LossKind);
    requireRange('loss.temperature', loss.temperature, 0, 1e6);
  }
  const optimizer = spec.optimizer;
  if (!optimizer) throw invalid('optimizer', 'is required');
  requireKnown('optimizer.kind', optimizer.kind, OptimizerKind);
  if (!(finite(optimizer.learningRate) && optimizer.learningRate > 0)) {
    throw invalid('optimizer.learning_rate', `must be a finite number > 0 (got ${optimizer.learningRate})`);
  }
  requireRange('optimizer.momentum', optimizer.momentum, 0, 0.999999);
  requireRange('optimizer.beta1', optimizer.beta1, 0, 0.999999);
  requireRange('optimizer.beta2', optimizer.beta2, 0, 0.999999999);
  requireRange('optimizer.epsilon', optimizer.epsilon, 0, 1);
  requireRange('optimizer.trust_coefficient', optimizer.trustCoefficient, 0, 1e3);

  const schedule = spec.schedule;
  if (schedule) {
    requireKnown('schedule.kind', schedule.kind, ScheduleKind);
    if (schedule.kind === ScheduleKind.SCHEDULE_KIND_STEP) {
      if (!(schedule.stepSize > 0)) throw invalid('schedule.step_size', 'must be > 0 for a step schedule');
      if (!(finite(schedule.gamma) && schedule.gamma > 0)) {
        throw invalid('schedule.gamma', 'must be > 0 for a step schedule');
      }
    }
    requireRange('schedule.min_factor', schedule.minFactor, 0, 1);
  }

  const reg = spec.regularizers;
  if (reg) {
    requireRange('regularizers.weight_decay', reg.weightDecay, 0, 1e3);
    requireRange('regularizers.gradient_clip_norm', reg.gradientClipNorm, 0, 1e12);
    requireRange('regularizers.gradient_norm_penalty', reg.gradientNormPenalty, 0, 1e6);
    requireRange('regularizers.augment_random_shift', reg.augmentRandomShift, 0, 64);
  }

  const stop = spec.stop;
  if (!stop || !(stop.maxEpochs > 0 || stop.maxSteps > 0 || stop.maxWallSeconds > 0)) {
    throw invalid('stop', 'set at least one of max_epochs, max_steps or max_wall_seconds');
  }
  requireRange('stop.target_train_accuracy', stop.targetTrainAccuracy, 0, 1);
  requireRange('stop.target_train_loss', stop.targetTrainLoss, 0, Number.MAX_VALUE);
  requireRange('stop.max_wall_seconds', stop.maxWallSeconds, 0, 366 * 86400);
  if (stop.patienceEpochs > 0 && !(stop.targetTrainAccuracy > 0)) {
    throw invalid('stop.patience_epochs', 'needs target_train_accuracy');
  }

  requireKnown('device', spec.device, Device);
  requireKnown('precision', spec.precision, Precision);

  const metrics = spec.metrics;
  if (metrics) {
    requireRange('metrics.trajectory_dimension', metrics.trajectoryDimension, 0, 4096);
    requireRange('metrics.online_epoch_steps', metrics.onlineEpochSteps, 0, 1e9);
  }
  const teacherRef = spec.teacher?.checkpoint;
  if (spec.teacher) {
    if (!teacherRef?.source) throw invalid('teacher.checkpoint', 'is required when teacher is set');
    requireRange('teacher.temperature', spec.teacher.temperature, 0, 1e6);
  }
  if (spec.initFrom && !spec.initFrom.source) throw invalid('init_from', 'names no checkpoint');
  validateObjectives(spec);
  const refs: [string, CheckpointRef | undefined][] = [
    ['teacher.checkpoint', teacherRef],
    ['init_from', spec.initFrom],
    ['disagreement.base', spec.disagreement?.base],
  ];
  for (const [field, ref] of refs) {
    if (ref?.source?.$case === 'run' && !ref.source.value.runId)
      throw invalid(`${field}.run.run_id`, 'is required');
    if (ref?.source?.$case === 'analysisId' && !ref.source.value)
      throw invalid(`${field}.analysis_id`, 'is empty');
  }
  if (!Number.isSafeInteger(spec.seed) || spec.seed < 0) {
    throw invalid('seed', `must be an integer in [0, 2^53) (got ${spec.seed})`);
  }
  requireRange('threads', spec.threads, 0, 256);
  requireRange('steps_per_call', spec.stepsPerCall, 0, 100_000);
  const frozen = new Set<string>();
  spec.frozenParameters.forEach((name, i) => {
    if (!name) throw invalid(`frozen_parameters[${i}]`, 'is empty');
    if (frozen.has(name)) throw invalid(`frozen_parameters[${i}]`, `repeats ${JSON.stringify(name)}`);
    frozen.add(name);
  });
}

/** The resolved schedule of a run: what the training loop follows, with every default applied. */
export interface RunPlan {
  /** Examples an epoch goes through: the training split, then the query set of a disagreement run. */
  trainSize: number;
  /** Query examples at the end of the training set (disagreement runs; 0 otherwise). */
  queryExamples: number;
  /** Weight of a query example's disagreement cross-entropy (Detectron's lambda). */
  disagreementWeight: number;
  testSize: number;
  online: boolean;
  fullBatch: boolean;
  batchSize: number;
  stepsPerEpoch: number;
  /** Step budget: min(max_steps, max_epochs * steps per epoch); Infinity when only wall time bounds it. */
  maxSteps: number;
  maxEpochs: number;
  maxWallSeconds: number;
  targetTrainAccuracy: number;
  targetTrainLoss: number;
  patienceEpochs: number;
  stepsPerCall: number;
  shuffle: boolean;
  stepEvery: number;
  evalEveryEpochs: number;
  evalTrainSubset: number;
  perExampleCorrectness: boolean;
  trajectoryEvery: number;
  trajectoryDimension: number;
  trajectorySeed: number;
  fullGradientNorm: boolean;
  /** Resume checkpoint interval in steps (epoch ends are always checkpointed when every_steps is 0). */
  checkpointEverySteps: number;
  checkpointEachEpoch: boolean;
  keepEpochs: ReadonlySet<number>;
  keepEveryEpochs: number;
  temperature: number;
  teacherTemperature: number;
  precision: 'float32' | 'float64';
}

/** Bytes of one chunk's gathered inputs that the automatic steps-per-call aims for. */
const AUTO_CHUNK_BYTES = 16 * 1024 * 1024;
const AUTO_MAX_STEPS_PER_CALL = 64;

/**
 * Checks the spec against its dataset and resolves it. `checkpointCapSteps` bounds the interval of
 * per-epoch checkpointing for long epochs (trainer config); `query` is the disagreement run's query
 * set (planQuery).
 */
export function planRun(
  spec: RunSpec,
  info: DatasetInfo,
  checkpointCapSteps: number,
  query?: QueryPlan,
): RunPlan {
  const model = spec.model as ModelSpec;
  const shape = model.inputShape.map(Number);
  if (shape.length !== info.inputShape.length || shape.some((d, i) => d !== info.inputShape[i])) {
    throw invalid(
      'model.input_shape',
      `is [${shape.join(', ')}] but dataset ${info.datasetId} has inputs of shape [${info.inputShape.join(', ')}]`,
    );
  }
  // An auto-encoder stage's outputs are the size of its target (checked against the layers by the engine).
  if (!spec.reconstruction && model.numOutputs !== info.numClasses) {
    throw invalid(
      'model.num_outputs',
      `is ${model.numOutputs} but the dataset has ${info.numClasses} classes`,
    );
  }
  const reg = spec.regularizers;
  if ((reg?.augmentRandomShift || reg?.augmentHorizontalFlip) && shape.length !== 3) {
    throw invalid(
      reg?.augmentRandomShift ? 'regularizers.augment_random_shift' : 'regularizers.augment_horizontal_flip',
      `needs image inputs [C, H, W]; this model's input_shape is [${shape.join(', ')}]`,
    );
  }
  const metrics = spec.metrics;
  const stop = spec.stop!;
  const online = info.online;
  if (online && spec.batchSize === 0) {
    throw invalid('batch_size', 'full-batch training needs a stored training split; this dataset is online');
  }
  if (!online && spec.batchSize > info.trainSize) {
    throw invalid('batch_size', `is ${spec.batchSize} but the training split has ${info.trainSize} examples`);
  }
  if (!online && info.trainSize === 0) throw invalid('dataset.dataset_id', 'the training split is empty');
  if (spec.teacher && online) throw invalid('teacher', 'distillation needs a stored training split');
  if (spec.reconstruction && online)
    throw invalid(
      'reconstruction',
      'an auto-encoder stage needs a stored training split; this dataset is online',
    );
  if (spec.disagreement && online)
    throw invalid(
      'disagreement',
      'disagreement training needs a stored training split; this dataset is online',
    );
  if (spec.disagreement && !query) throw new Error('planRun: a disagreement run needs its query plan');
  const queryExamples = spec.disagreement ? (query as QueryPlan).size : 0;
  // A disagreement run's epoch goes through the training split and the query set, mixed.
  const trainSize = info.trainSize + queryExamples;
  const fullBatch = spec.batchSize === 0;
  const batchSize = fullBatch ? trainSize : spec.batchSize;
  const stepsPerEpoch = online
    ? metrics?.onlineEpochSteps || 100
    : fullBatch
      ? 1
      : Math.ceil(trainSize / batchSize);
  const byEpochs = stop.maxEpochs > 0 ? stop.maxEpochs * stepsPerEpoch : Infinity;
  const bySteps = stop.maxSteps > 0 ? stop.maxSteps : Infinity;
  const maxSteps = Math.min(byEpochs, bySteps);
  const schedule = spec.schedule;
  if (
    schedule?.kind === ScheduleKind.SCHEDULE_KIND_COSINE &&
    !(schedule.totalSteps > 0) &&
    maxSteps === Infinity
  ) {
    throw invalid(
      'schedule.total_steps',
      'a cosine schedule needs total_steps when only max_wall_seconds stops the run',
    );
  }
  const featureBytes = shape.reduce((a, b) => a * b, 1) * 4;
  // Full-batch chunks feed the split once (the engine's sameBatch), so their size does not cost memory.
  const autoSteps = fullBatch
    ? AUTO_MAX_STEPS_PER_CALL
    : Math.max(
        1,
        Math.min(
          AUTO_MAX_STEPS_PER_CALL,
          Math.floor(AUTO_CHUNK_BYTES / Math.max(1, batchSize * featureBytes)),
        ),
      );
  const checkpoints = spec.checkpoints;
  const everySteps = checkpoints?.everySteps ?? 0;
  const evalEveryEpochs = metrics?.evalEveryEpochs || 1;
  // In full-batch training an epoch is a single step: "once per epoch" becomes every
  // max(100, eval interval) steps (at most the trainer's cap).
  const fullBatchCheckpointSteps = Math.min(checkpointCapSteps, Math.max(100, evalEveryEpochs));
  const lossTemperature = spec.loss?.temperature || 1;
  return {
    trainSize,
    queryExamples,
    disagreementWeight: spec.disagreement?.weight || 1 / (queryExamples + 1),
    testSize: info.testSize,
    online,
    fullBatch,
    batchSize,
    stepsPerEpoch,
    maxSteps,
    maxEpochs: stop.maxEpochs,
    maxWallSeconds: stop.maxWallSeconds,
    targetTrainAccuracy: stop.targetTrainAccuracy,
    targetTrainLoss: stop.targetTrainLoss,
    patienceEpochs: stop.patienceEpochs,
    stepsPerCall: spec.stepsPerCall || autoSteps,
    shuffle: !spec.noShuffle && !fullBatch,
    stepEvery: metrics?.stepEvery || 10,
    evalEveryEpochs,
    evalTrainSubset: metrics?.evalTrainSubset ?? 0,
    perExampleCorrectness: metrics?.perExampleCorrectness ?? false,
    trajectoryEvery: metrics?.trajectoryEvery ?? 0,
    trajectoryDimension: metrics?.trajectoryDimension || 64,
    trajectorySeed: metrics?.trajectorySeed ?? 0,
    fullGradientNorm: metrics?.fullGradientNorm ?? false,
    checkpointEverySteps:
      everySteps > 0 ? everySteps : fullBatch ? fullBatchCheckpointSteps : checkpointCapSteps,
    checkpointEachEpoch: everySteps === 0 && !fullBatch,
    keepEpochs: new Set(checkpoints?.keepEpochs ?? []),
    keepEveryEpochs: checkpoints?.keepEveryEpochs ?? 0,
    temperature: lossTemperature,
    teacherTemperature: spec.teacher?.temperature || lossTemperature,
    precision: spec.precision === Precision.PRECISION_FLOAT64 ? 'float64' : 'float32',
  };
}
