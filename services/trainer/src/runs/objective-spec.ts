// The objectives beyond "cross-entropy against the labels" (RunSpec.reconstruction: an auto-encoder
// stage; RunSpec.disagreement: Detectron's disagreement training): their field checks, the loss an
// auto-encoder stage defaults to, and the disagreement run's query set. Like run-spec.ts, every
// "0 means ..." of these fields is applied here and nowhere else; field paths are the proto's.
import { LossKind, type LossSpec, type ModelSpec } from '@gengap/proto/common/v1/model';
import { Split } from '@gengap/proto/common/v1/refs';
import type { RunSpec } from '@gengap/proto/trainer/v1/run';
import { InvalidArgumentError } from '@gengap/service-kit';
import { querySelection } from '@gengap/shift-detection';
import type { DatasetInfo, SplitName } from '../datasets/dataset-source.ts';

const invalid = (field: string, message: string) => new InvalidArgumentError(`spec.${field}`, message);

/**
 * The objectives other than "cross-entropy against the labels": an auto-encoder stage
 * (`reconstruction`) or Detectron's disagreement training (`disagreement`). Each excludes the others
 * and distillation; each refuses what has no meaning for it.
 */
export function validateObjectives(spec: RunSpec): void {
  const { reconstruction, disagreement, metrics } = spec;
  const lossKind = spec.loss?.kind ?? LossKind.LOSS_KIND_UNSPECIFIED;
  if (reconstruction) {
    if (disagreement)
      throw invalid('disagreement', 'cannot be combined with reconstruction (one objective per run)');
    if (spec.teacher) throw invalid('teacher', 'distillation cannot be combined with reconstruction');
    const layers = spec.model?.layers.length ?? 0;
    if (!Number.isInteger(reconstruction.layer) || reconstruction.layer >= layers)
      throw invalid('reconstruction.layer', `must be in [0, ${layers - 1}] (got ${reconstruction.layer})`);
    if (lossKind !== LossKind.LOSS_KIND_UNSPECIFIED && lossKind !== LossKind.LOSS_KIND_MSE)
      throw invalid(
        'loss.kind',
        'an auto-encoder stage is trained by mean squared error: LOSS_KIND_MSE or unspecified',
      );
    if (spec.stop?.targetTrainAccuracy)
      throw invalid(
        'stop.target_train_accuracy',
        'an auto-encoder stage has no accuracy (use target_train_loss)',
      );
    if (metrics?.perExampleCorrectness)
      throw invalid('metrics.per_example_correctness', 'an auto-encoder stage has no correctness');
    if (metrics?.fullGradientNorm)
      throw invalid(
        'metrics.full_gradient_norm',
        'is measured on the label loss; not available for reconstruction',
      );
  }
  if (disagreement) {
    if (spec.teacher) throw invalid('teacher', 'distillation cannot be combined with disagreement');
    if (!disagreement.base?.source) throw invalid('disagreement.base', 'is required');
    if (!disagreement.query?.datasetId) throw invalid('disagreement.query.dataset_id', 'is required');
    if (!Object.values(Split).includes(disagreement.querySplit))
      throw invalid('disagreement.query_split', `unknown value ${disagreement.querySplit}`);
    if (!Number.isSafeInteger(disagreement.querySeed) || disagreement.querySeed < 0)
      throw invalid(
        'disagreement.query_seed',
        `must be an integer in [0, 2^53) (got ${disagreement.querySeed})`,
      );
    if (!Number.isFinite(disagreement.weight) || disagreement.weight < 0)
      throw invalid('disagreement.weight', `must be a finite number >= 0 (got ${disagreement.weight})`);
    if (lossKind !== LossKind.LOSS_KIND_UNSPECIFIED && lossKind !== LossKind.LOSS_KIND_CROSS_ENTROPY)
      throw invalid(
        'loss.kind',
        "Detectron's disagreement objective is a cross-entropy: LOSS_KIND_CROSS_ENTROPY or unspecified",
      );
    if (metrics?.fullGradientNorm)
      throw invalid(
        'metrics.full_gradient_norm',
        'is measured on the label loss; not available for disagreement training',
      );
  }
}

/** The loss the engine trains with: an auto-encoder stage's unspecified loss means mean squared error. */
export function effectiveLoss(spec: RunSpec): LossSpec | undefined {
  const loss = spec.loss;
  if (!spec.reconstruction || (loss && loss.kind !== LossKind.LOSS_KIND_UNSPECIFIED)) return loss;
  return { kind: LossKind.LOSS_KIND_MSE, temperature: loss?.temperature ?? 0 };
}

/** The query set of a disagreement run: which split of the query dataset, and which of its examples. */
export interface QueryPlan {
  split: SplitName;
  /**
   * Indices into the split (stored order) of the examples in the objective, in query order: the
   * first query_size after the optional seeded shuffle, less the excluded ones.
   */
  rows: Uint32Array;
  /** rows.length: the "query size" of the objective (its default weight is 1 / (size + 1)). */
  size: number;
}

/**
 * Checks the query dataset of a disagreement run (stored, same inputs as the model, enough examples)
 * and resolves its defaults: the test split, all of its examples, in stored order. A shuffled query
 * set is the analysis service's selection for the same seed (@gengap/shift-detection querySelection),
 * so an EnsembleDisagreement analysis with shuffle_examples and that seed scores the same rows.
 */
export function planQuery(spec: RunSpec, query: DatasetInfo): QueryPlan {
  const disagreement = spec.disagreement;
  if (!disagreement) throw new Error('planQuery: the run has no disagreement objective');
  const model = spec.model as ModelSpec;
  const shape = model.inputShape.map(Number);
  if (query.online)
    throw invalid(
      'disagreement.query.dataset_id',
      `dataset ${query.datasetId} is online; a query set needs a stored split`,
    );
  if (shape.length !== query.inputShape.length || shape.some((d, i) => d !== query.inputShape[i])) {
    throw invalid(
      'disagreement.query.dataset_id',
      `dataset ${query.datasetId} has inputs of shape [${query.inputShape.join(', ')}] but the model takes [${shape.join(', ')}]`,
    );
  }
  const split: SplitName = disagreement.querySplit === Split.SPLIT_TRAIN ? 'train' : 'test';
  const available = split === 'train' ? query.trainSize : query.testSize;
  if (available === 0)
    throw invalid('disagreement.query_split', `the ${split} split of ${query.datasetId} is empty`);
  if (disagreement.querySize > available) {
    throw invalid(
      'disagreement.query_size',
      `is ${disagreement.querySize} but the ${split} split of ${query.datasetId} has ${available} examples`,
    );
  }
  const selected = querySelection({
    count: available,
    size: disagreement.querySize,
    shuffle: disagreement.shuffleQuery,
    seed: disagreement.querySeed,
    split: split === 'train' ? Split.SPLIT_TRAIN : Split.SPLIT_TEST,
  });
  disagreement.excludedQueryIndices.forEach((index, i) => {
    if (!(index < available)) {
      throw invalid(
        `disagreement.excluded_query_indices[${i}]`,
        `is ${index} but the ${split} split of ${query.datasetId} has ${available} examples`,
      );
    }
  });
  const excluded = new Set(disagreement.excludedQueryIndices);
  const rows = selected.filter((index) => !excluded.has(index));
  if (rows.length === 0)
    throw invalid('disagreement.excluded_query_indices', 'leaves no query example in the objective');
  return { split, rows, size: rows.length };
}
