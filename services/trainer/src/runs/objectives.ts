// What a run trains on, per objective, computed once in the worker before the first step (and again,
// identically, when an attempt resumes): the rows the batches are drawn from and the targets that
// replace their labels in the loss.
//  - labels: the training split and its labels;
//  - distillation (`teacher`): the teacher's softmax(logits / T) over the training split;
//  - auto-encoder stage (`reconstruction`, Erhan et al. 2010): the activation entering layer k of
//    every example, computed by the fixed layers before k (init_from, else the seeded
//    initialisation), or the flattened input for k = 0; trained and evaluated by mean squared error;
//  - disagreement (`disagreement`, Ginsberg et al. 2023): the training split with its labels, then the
//    query set (the plan's rows of the query split: the first `query_size`, after the seeded shuffle
//    when asked, less the excluded ones), each with Detectron's disagreement cross-entropy as a soft
//    target: weight * (1 - onehot(f(x))) / (C - 1), f = the base model's prediction. Since
//    cross-entropy is linear in its target, the mean loss over a batch is exactly the batch's share of
//    Detectron's objective. The query rows follow the training rows in one set, so the epoch's
//    permutation (data-order.ts) mixes them into batches deterministically and resumably.
import type { ModelSpec } from '@gengap/proto/common/v1/model';
import type { RunSpec } from '@gengap/proto/trainer/v1/run';
import type { RunPlan } from './run-spec.ts';
import type { FrozenNetwork, LabelledSplit } from './training-backend.ts';
import type { NamedArray } from './worker-protocol.ts';

/** The batches' rows and targets, and the splits every evaluation scores. */
export interface TrainingSet {
  /** Rows the epoch's permutation picks batches from. */
  rows: LabelledSplit;
  /** Targets [rows, softWidth] that replace the labels in the loss, when the objective has them. */
  soft?: Float32Array;
  softWidth: number;
  /** Evaluated at every evaluation (with reconstruction targets for an auto-encoder stage). */
  train: LabelledSplit;
  test?: LabelledSplit;
}

export interface ObjectiveInputs {
  spec: RunSpec;
  plan: RunPlan;
  numClasses: number;
  train: LabelledSplit;
  test?: LabelledSplit;
  teacher?: { model: ModelSpec; parameters: NamedArray[] };
  /** A disagreement run's base model, query split (all of it) and the rows of it in the objective. */
  base?: { model: ModelSpec; parameters: NamedArray[] };
  query?: LabelledSplit;
  queryRows?: Uint32Array;
  /** init_from's parameters (the fixed layers of an auto-encoder stage). */
  initFrom?: NamedArray[];
  /** Compiles a network that is only evaluated (engine-backend's createFrozenNetwork). */
  frozenNetwork(
    model: ModelSpec,
    parameters: readonly NamedArray[],
    options?: { partial?: { seed: number } },
  ): Promise<FrozenNetwork>;
}

async function using<T>(network: Promise<FrozenNetwork>, use: (n: FrozenNetwork) => Promise<T>): Promise<T> {
  const opened = await network;
  try {
    return await use(opened);
  } finally {
    await opened.dispose();
  }
}

function sharedFloat32(length: number): Float32Array {
  return new Float32Array(new SharedArrayBuffer(length * 4));
}

/** Detectron's DCE of one example as a cross-entropy target row: weight * (1 - onehot(y)) / (C - 1). */
export function disagreementTarget(
  out: Float32Array,
  offset: number,
  prediction: number,
  classes: number,
  weight: number,
): void {
  const share = weight / (classes - 1);
  for (let c = 0; c < classes; c++) out[offset + c] = c === prediction ? 0 : share;
}

async function reconstructionSet(inputs: ObjectiveInputs): Promise<TrainingSet> {
  const { spec, train, test } = inputs;
  const layer = spec.reconstruction?.layer ?? 0;
  const model = spec.model as ModelSpec;
  const [trainTargets, testTargets] = await using(
    inputs.frozenNetwork(model, inputs.initFrom ?? [], { partial: { seed: spec.seed } }),
    async (prefix) => [
      await prefix.activationsEntering(layer, train.x),
      test && test.n > 0 ? await prefix.activationsEntering(layer, test.x) : undefined,
    ],
  );
  const width = train.n > 0 ? trainTargets.length / train.n : 0;
  const withTargets = (split: LabelledSplit, targets: Float32Array): LabelledSplit => ({
    ...split,
    targets,
    targetSize: width,
  });
  return {
    rows: train,
    soft: trainTargets,
    softWidth: width,
    train: withTargets(train, trainTargets),
    ...(test && testTargets ? { test: withTargets(test, testTargets) } : test ? { test } : {}),
  };
}

async function disagreementSet(inputs: ObjectiveInputs): Promise<TrainingSet> {
  const { plan, train, numClasses } = inputs;
  const query = inputs.query;
  const base = inputs.base;
  if (!query || !base) throw new Error('a disagreement run needs its query split and base model');
  const rows = inputs.queryRows;
  if (!rows) throw new Error('a disagreement run needs its query plan');
  const q = rows.length;
  const p = train.n;
  const rowSize = train.rowSize;
  const queryX = new Float32Array(q * rowSize);
  rows.forEach((row, i) => {
    queryX.set(query.x.subarray(row * rowSize, (row + 1) * rowSize), i * rowSize);
  });
  const predictions = await using(inputs.frozenNetwork(base.model, base.parameters), (f) =>
    f.predictions(queryX, q),
  );
  const x = sharedFloat32((p + q) * rowSize);
  x.set(train.x.subarray(0, p * rowSize));
  x.set(queryX, p * rowSize);
  const y = new Int32Array(new SharedArrayBuffer((p + q) * 4));
  y.set(train.y.subarray(0, p));
  y.set(predictions, p);
  const soft = sharedFloat32((p + q) * numClasses);
  for (let i = 0; i < p; i++) soft[i * numClasses + (train.y[i] as number)] = 1;
  for (let i = 0; i < q; i++)
    disagreementTarget(
      soft,
      (p + i) * numClasses,
      predictions[i] as number,
      numClasses,
      plan.disagreementWeight,
    );
  return {
    rows: { x, y, n: p + q, rowSize },
    soft,
    softWidth: numClasses,
    train,
    ...(inputs.test ? { test: inputs.test } : {}),
  };
}

export async function trainingSet(inputs: ObjectiveInputs): Promise<TrainingSet> {
  const { spec, plan, train, test, numClasses } = inputs;
  if (spec.reconstruction) return reconstructionSet(inputs);
  if (spec.disagreement) return disagreementSet(inputs);
  let soft: Float32Array | undefined;
  if (inputs.teacher) {
    const teacher = inputs.teacher;
    soft = await using(inputs.frozenNetwork(teacher.model, teacher.parameters), (t) =>
      t.probabilities(train.x, train.n, plan.teacherTemperature),
    );
  }
  return {
    rows: train,
    ...(soft ? { soft } : {}),
    softWidth: numClasses,
    train,
    ...(test ? { test } : {}),
  };
}
