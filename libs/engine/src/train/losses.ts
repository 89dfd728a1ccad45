// Losses as graph nodes, per example ([N]) so that callers can average, sum or report them.
// - cross-entropy: -sum_c t_c log softmax(z / T)_c, with t one-hot (integer labels) or soft labels;
// - MSE: mean over classes of (z - t)^2, matching torch.nn.MSELoss on one-hot targets;
// - multi-class hinge (Crammer-Singer): max(0, 1 + max_{j != y} z_j - z_y).
import { LossKind, type LossSpec } from '@gengap/proto/common/v1/model';
import { EngineSpecError } from '../errors.ts';
import type { Builder } from '../ir/builder.ts';
import { attr, type Value } from '../ir/types.ts';

/** Integer labels [N] (int64 in the graph) or probability targets [N, C]. */
export type Targets = { kind: 'labels'; labels: Value } | { kind: 'soft'; probabilities: Value };

export interface LossConfig {
  kind: 'crossEntropy' | 'mse' | 'hinge';
  temperature: number;
}

export function lossConfig(spec: LossSpec | undefined): LossConfig {
  const temperature = spec?.temperature ? spec.temperature : 1;
  if (!(temperature > 0))
    throw new EngineSpecError('loss.temperature', `must be positive, got ${temperature}`);
  switch (spec?.kind ?? LossKind.LOSS_KIND_UNSPECIFIED) {
    case LossKind.LOSS_KIND_UNSPECIFIED:
    case LossKind.LOSS_KIND_CROSS_ENTROPY:
      return { kind: 'crossEntropy', temperature };
    case LossKind.LOSS_KIND_MSE:
      return { kind: 'mse', temperature };
    case LossKind.LOSS_KIND_HINGE:
      return { kind: 'hinge', temperature };
    default:
      throw new EngineSpecError('loss.kind', `unknown loss kind ${spec?.kind}`);
  }
}

export function oneHot(b: Builder, labels: Value, classes: number, like: Value): Value {
  const values = b.constant({ dtype: like.dtype, shape: [2], data: [0, 1] });
  return b.op('OneHot', [labels, b.int64s([classes]), values], { axis: attr.int(-1) });
}

function targetMatrix(b: Builder, targets: Targets, logits: Value): Value {
  return targets.kind === 'soft'
    ? targets.probabilities
    : oneHot(b, targets.labels, logits.shape[1] as number, logits);
}

/** Integer class per example: the labels, or the most probable class of soft targets. */
export function targetClasses(b: Builder, targets: Targets): Value {
  return targets.kind === 'labels'
    ? targets.labels
    : b.op('ArgMax', [targets.probabilities], { axis: attr.int(1), keepdims: attr.int(0) });
}

function hinge(b: Builder, logits: Value, targets: Targets): Value {
  const classes = logits.shape[1] as number;
  const isTarget = b.cast(oneHot(b, targetClasses(b, targets), classes, logits), 'bool');
  const targetLogit = b.reduceSum(b.mul(logits, b.cast(isTarget, logits.dtype)), [1], false);
  const others = b.where(isTarget, b.scalarLike(logits, Number.NEGATIVE_INFINITY), logits);
  const margin = b.add(b.sub(b.reduceMax(others, [1], false), targetLogit), b.scalarLike(logits, 1));
  return b.op('Relu', [margin]);
}

export function perExampleLoss(b: Builder, logits: Value, targets: Targets, config: LossConfig): Value {
  switch (config.kind) {
    case 'crossEntropy': {
      const logProbabilities = b.logSoftmax(b.scale(logits, 1 / config.temperature), 1);
      return b.neg(b.reduceSum(b.mul(logProbabilities, targetMatrix(b, targets, logits)), [1], false));
    }
    case 'mse': {
      const diff = b.sub(logits, targetMatrix(b, targets, logits));
      return b.reduceMean(b.mul(diff, diff), [1], false);
    }
    case 'hinge':
      return hinge(b, logits, targets);
  }
}

/** 1 where argmax(logits) equals the target class, as a bool [N]. */
export function correctPredictions(b: Builder, logits: Value, targets: Targets): Value {
  const predicted = b.op('ArgMax', [logits], { axis: attr.int(1), keepdims: attr.int(0) });
  return b.equal(predicted, targetClasses(b, targets));
}
