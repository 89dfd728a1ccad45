// Greedy layer-wise pre-training, then fine-tuning (Erhan et al. 2010), as an experiment analysis
// (ExperimentSpec.experiment_analyses[].pretrain_finetune). For every cell of the experiment (one per
// seed, trained from scratch), a chain of runs on the same dataset and seed:
//   stage k = 0..L-1 (L hidden dense layers): an auto-encoder for hidden layer k (RunSpec.reconstruction
//     of the layer's input): the cell's layers up to hidden layer k and its activation, the layers
//     before it frozen and initialised from stage k-1, then a dense decoder back to the size of the
//     layer's input, trained by mean squared error;
//   fine-tuning: the cell's own run spec, initialised from the last stage (every encoder layer;
//     the output layer keeps its seeded initialisation), every layer trainable.
// Stages and fine-tuned runs are cells of their own (roles "pretrain" and "finetune"), with cell ids
// derived from the parent cell, the analysis and the stage, so they go through the cell runner like
// every run (idempotent attempt keys, resumes) and a restarted coordinator finds them instead of
// starting them again. The fine-tuned cell has the parent's parameters with `init` = "pretrained",
// so reports group it against the parent (which the preset names `init` = "scratch").
import { LossKind, type ModelSpec } from '@gengap/proto/common/v1/model';
import type { CheckpointRef } from '@gengap/proto/common/v1/refs';
import type { PretrainFinetune } from '@gengap/proto/coordinator/v1/experiment';
import { RunSpec, StopRules } from '@gengap/proto/trainer/v1/run';
import { hashJson } from '../spec/canonical.ts';
import type { CellRecord, NewCell } from '../store/coordinator-store.ts';
import type { ExperimentAnalysisDeps } from './experiment-analyses.ts';
import { RpcCode } from './failures.ts';

/** The parameter that tells pre-trained runs from their from-scratch parents in reports. */
export const INIT_PARAMETER = 'init';
export const PRETRAINED = 'pretrained';

/** Which layers a model's stages pre-train. */
export interface PretrainingPlan {
  /** Indices (into ModelSpec.layers) of the hidden dense layers, in order. */
  hidden: number[];
  /** Size of the input of each hidden layer (what its auto-encoder reconstructs). */
  inputSizes: number[];
  /** Index of the output layer. */
  output: number;
}

const SIZE_PRESERVING = new Set(['activation', 'dropout', 'layerNorm']);

/**
 * The hidden dense layers of an MLP and the sizes their auto-encoders reconstruct; a string says why
 * a model cannot be pre-trained this way (only vectors through dense layers, activations, dropout
 * and layer norms, ending in a dense output layer).
 */
export function pretrainingPlan(model: ModelSpec): PretrainingPlan | string {
  const layers = model.layers;
  const output = layers.length - 1;
  if (layers[output]?.kind?.$case !== 'dense') return 'the last layer is not a dense output layer';
  let size = model.inputShape.reduce((a, d) => a * Number(d), 1);
  const hidden: number[] = [];
  const inputSizes: number[] = [];
  for (const [i, layer] of layers.entries()) {
    const kind = layer.kind;
    if (kind?.$case === 'flatten' && hidden.length === 0) continue;
    if (kind?.$case === 'dense') {
      if (i === output) break;
      hidden.push(i);
      inputSizes.push(size);
      size = kind.value.units;
    } else if (!kind || !SIZE_PRESERVING.has(kind.$case)) {
      return `layer ${i} (${kind?.$case ?? 'unset'}) is not a dense layer, activation, dropout or layer norm`;
    } else if (hidden.length === 0) {
      return `layer ${i} (${kind.$case}) comes before the first dense layer`;
    }
  }
  if (hidden.length === 0) return 'the model has no hidden dense layer to pre-train';
  return { hidden, inputSizes, output };
}

/** The engine's parameter names of layers [0, end): "<name or index.kind>.weight|bias". */
function parameterNames(model: ModelSpec, end: number): string[] {
  const names: string[] = [];
  for (const [i, layer] of model.layers.slice(0, end).entries()) {
    const kind = layer.kind;
    const name = layer.name || `${i}.${kind?.$case}`;
    if (kind?.$case === 'dense') {
      names.push(`${name}.weight`);
      if (!kind.value.noBias) names.push(`${name}.bias`);
    } else if (kind?.$case === 'layerNorm') {
      names.push(`${name}.weight`, `${name}.bias`);
    }
  }
  return names;
}

/**
 * A derived cell's label: the parent's, with its `init` value ("scratch") replaced by `what`, or
 * `what` in front when the parent names no init.
 */
function labelOf(parent: CellRecord, what: string): string {
  const text = parent.parameters[INIT_PARAMETER];
  const init = text === undefined ? undefined : String(JSON.parse(text));
  if (init && parent.label.includes(init)) return parent.label.replace(init, what);
  return parent.label ? `${what}: ${parent.label}` : what;
}

const runCheckpoint = (runId: string): CheckpointRef => ({
  source: { $case: 'run', value: { runId, step: 0 } },
});

/** Settings that only make sense for the cell's own run: cleared in derived runs. */
function derivedRun(parent: RunSpec, datasetId: string): RunSpec {
  return RunSpec.fromPartial({
    ...parent,
    dataset: { datasetId },
    metrics: {
      ...parent.metrics,
      perExampleCorrectness: false,
      fullGradientNorm: false,
      trajectoryEvery: 0,
    },
    checkpoints: undefined,
    teacher: undefined,
  });
}

/** Stage k's run: the auto-encoder of hidden layer k over the frozen layers before it. */
export function stageRunSpec(
  parent: RunSpec,
  plan: PretrainingPlan,
  k: number,
  options: { datasetId: string; previousRunId?: string; pretrain: PretrainFinetune },
): RunSpec {
  const model = parent.model as ModelSpec;
  const layer = plan.hidden[k] as number;
  const end = k + 1 < plan.hidden.length ? (plan.hidden[k + 1] as number) : plan.output;
  const units = plan.inputSizes[k] as number;
  const masking = options.pretrain.inputMasking;
  // Denoising: a dropout layer in front of the encoded layer corrupts its input while the target
  // (the activation entering that dropout) stays clean. The layers after it move one place, so
  // they are named as they were before the move (the engine's default "<index>.<kind>"): their
  // parameters keep the names the next stage and the fine-tuned run load them by.
  const encoder = model.layers
    .slice(0, end)
    .map((l, i) => (l.name ? l : { ...l, name: `${i}.${l.kind?.$case}` }));
  const stageModel: ModelSpec = {
    ...model,
    numOutputs: units,
    layers: [
      ...(masking > 0
        ? [
            ...encoder.slice(0, layer),
            { name: `pretrain_masking_${k}`, kind: { $case: 'dropout' as const, value: { rate: masking } } },
            ...encoder.slice(layer),
          ]
        : model.layers.slice(0, end)),
      { name: `pretrain_decoder_${k}`, kind: { $case: 'dense', value: { units, noBias: false } } },
    ],
  };
  const optimizer = parent.optimizer;
  const spec = derivedRun(parent, options.datasetId);
  spec.model = stageModel;
  spec.loss = { kind: LossKind.LOSS_KIND_MSE, temperature: 0 };
  if (optimizer)
    spec.optimizer = {
      ...optimizer,
      learningRate: options.pretrain.pretrainLearningRate || optimizer.learningRate,
    };
  spec.stop = StopRules.fromPartial({
    maxEpochs: options.pretrain.pretrainEpochs || parent.stop?.maxEpochs || 1,
  });
  spec.reconstruction = { layer };
  spec.frozenParameters = parameterNames(model, layer);
  spec.initFrom = options.previousRunId ? runCheckpoint(options.previousRunId) : undefined;
  spec.disagreement = undefined;
  return spec;
}

/** The fine-tuned run: the parent's own spec, started from the last stage's parameters. */
export function finetuneRunSpec(parent: RunSpec, datasetId: string, lastStageRunId: string): RunSpec {
  return RunSpec.fromPartial({ ...parent, dataset: { datasetId }, initFrom: runCheckpoint(lastStageRunId) });
}

interface ArmStatistics {
  n: number;
  mean: number;
  std: number;
  testErrors: number[];
}

function statistics(values: number[]): ArmStatistics {
  const n = values.length;
  const mean = n ? values.reduce((a, b) => a + b, 0) / n : Number.NaN;
  const std = n > 1 ? Math.sqrt(values.reduce((a, v) => a + (v - mean) ** 2, 0) / (n - 1)) : 0;
  return { n, mean, std, testErrors: values };
}

const testError = (cell: CellRecord | undefined) =>
  cell?.state === 'SUCCEEDED' && cell.summary ? 1 - cell.summary.finalTestAccuracy : undefined;

/** Runs every parent's chain of stages and its fine-tuned run; records the comparison. */
export async function pretrainFinetune(
  deps: ExperimentAnalysisDeps,
  index: number,
  pretrain: PretrainFinetune,
  signal: AbortSignal,
): Promise<void> {
  const name = `experiment/pretrainFinetune${index}`;
  const parents = deps.store
    .cells(deps.experimentId)
    .filter((c) => c.role === 'cell' && c.datasetId && c.runSpec.model);
  if (parents.length === 0) {
    deps.runner.skip(name, '', 'no cell has a dataset to pre-train on', RpcCode.FAILED_PRECONDITION);
    return;
  }
  const problems: string[] = [];
  const chain = async (parent: CellRecord, ordinal: number): Promise<CellRecord | undefined> => {
    const plan = pretrainingPlan(parent.runSpec.model as ModelSpec);
    if (typeof plan === 'string') {
      problems.push(`${parent.label || parent.cellId}: ${plan}`);
      return undefined;
    }
    const cellOf = (stage: number | 'finetune', runSpec: RunSpec): NewCell => ({
      cellId: hashJson({ parent: parent.cellId, pretrainFinetune: index, stage }, 16),
      index: (index + 1) * 1_000_000 + ordinal * 100 + (stage === 'finetune' ? 99 : stage),
      role: stage === 'finetune' ? 'finetune' : 'pretrain',
      parentCellId: parent.cellId,
      label: labelOf(parent, stage === 'finetune' ? PRETRAINED : `pre-training layer ${stage + 1}`),
      parameters:
        stage === 'finetune'
          ? { ...parent.parameters, [INIT_PARAMETER]: JSON.stringify(PRETRAINED) }
          : { ...parent.parameters, [INIT_PARAMETER]: JSON.stringify('pre-training'), layer: String(stage) },
      seed: parent.seed,
      datasetSpec: undefined,
      runSpec,
      analyses: stage === 'finetune' ? parent.analyses : [],
    });
    let previous: CellRecord | undefined;
    for (let k = 0; k < plan.hidden.length; k++) {
      const spec = stageRunSpec(parent.runSpec, plan, k, {
        datasetId: parent.datasetId,
        pretrain,
        ...(previous ? { previousRunId: previous.runId } : {}),
      });
      const [stage] = await deps.runCells([cellOf(k, spec)], signal);
      if (stage?.state !== 'SUCCEEDED') {
        problems.push(
          `${parent.label || parent.cellId}: pre-training of layer ${k + 1} ${stage?.state.toLowerCase()}`,
        );
        return undefined;
      }
      previous = stage;
    }
    const spec = finetuneRunSpec(parent.runSpec, parent.datasetId, (previous as CellRecord).runId);
    const [finetuned] = await deps.runCells([cellOf('finetune', spec)], signal);
    return finetuned;
  };
  const finetuned = await Promise.all(parents.map((p, i) => chain(p, i)));

  // Pre-trained against from scratch, per group of parents that differ only in their seed.
  const groupOf = (c: CellRecord) =>
    JSON.stringify(
      Object.entries(c.parameters)
        .filter(([k]) => k !== INIT_PARAMETER)
        .sort(),
    );
  const groups = new Map<string, { scratch: number[]; pretrained: number[]; label: string }>();
  parents.forEach((parent, i) => {
    const key = groupOf(parent);
    const group = groups.get(key) ?? { scratch: [], pretrained: [], label: key };
    const scratch = testError(parent);
    const pretrained = testError(finetuned[i]);
    if (scratch !== undefined) group.scratch.push(scratch);
    if (pretrained !== undefined) group.pretrained.push(pretrained);
    groups.set(key, group);
  });
  const stages = deps.store
    .cells(deps.experimentId)
    .filter((c) => c.role === 'pretrain' && parents.some((p) => p.cellId === c.parentCellId));
  const arms = [...groups.values()].map((g) => ({
    group: Object.fromEntries(JSON.parse(g.label) as [string, string][]),
    scratch: statistics(g.scratch),
    pretrained: statistics(g.pretrained),
  }));
  const percent = (s: ArmStatistics) =>
    `${(100 * s.mean).toFixed(2)}% ± ${(100 * s.std).toFixed(2)} (n = ${s.n})`;
  const note = arms
    .map(
      (a) =>
        `${Object.values(a.group).join(', ') || 'test error'}: pre-trained ${percent(a.pretrained)}, from scratch ${percent(a.scratch)}`,
    )
    .join('; ');
  const succeeded = finetuned.filter((c) => c?.state === 'SUCCEEDED').length;
  deps.runner.record(name, {
    cellId: '',
    state: succeeded > 0 ? 'SUCCEEDED' : 'FAILED',
    note: `${note}${problems.length ? ` (${problems.join('; ')})` : ''}`,
    resultJson: JSON.stringify({
      statistic: 'testError',
      arms,
      stages: stages.map((s) => ({
        cellId: s.cellId,
        parentCellId: s.parentCellId,
        layer: Number(s.parameters.layer),
        runId: s.runId,
        state: s.state,
        finalTrainReconstructionMse: s.summary?.finalTrainLoss ?? null,
        finalTestReconstructionMse: s.summary?.finalTestLoss ?? null,
      })),
      problems,
    }),
  });
  deps.store.addNote(
    deps.experimentId,
    `Greedy layer-wise pre-training then fine-tuning (${succeeded} of ${parents.length} seeds), final test error mean ± std: ${note}.`,
  );
}
