// One optimizer step as graph nodes: forward, loss, exact gradient (reverse mode), optional gradient-norm
// penalty (its gradient 2 mu H g is a forward-over-reverse Hessian-vector product with v = g), clipping,
// and the optimizer update. Shared by the K-step Scan body and the single-step graph.
import { jvp } from '../autodiff/jvp.ts';
import { vjpOrZeros } from '../autodiff/vjp.ts';
import type { Builder } from '../ir/builder.ts';
import type { Value } from '../ir/types.ts';
import { forwardLogits } from '../model/forward.ts';
import type { ResolvedModel } from '../model/resolve.ts';
import { correctPredictions, type LossConfig, perExampleLoss, type Targets } from './losses.ts';
import { applyUpdates, type OptimizerConfig, stateSlots } from './optimizers.ts';

export interface TrainSetup {
  loss: LossConfig;
  optimizer: OptimizerConfig;
  /** Per parameter (model.parameters order): false for frozen parameters. */
  trainable: readonly boolean[];
}

export interface StepInputs {
  x: Value;
  targets: Targets;
  /** float64 scalar. */
  learningRate: Value;
  /** uint32 scalar, for dropout. */
  stepSeed?: Value;
  params: readonly Value[];
  /** Optimizer state in optimizerLayout order: slots of trainable parameters, then globals. */
  state: readonly Value[];
}

export interface StepOutputs {
  params: Value[];
  state: Value[];
  loss: Value;
  gradientNorm: Value;
  accuracy: Value;
}

function squaredNorm(b: Builder, tensors: readonly Value[]): Value {
  return b.sum(tensors.map((t) => b.sumOfSquares(t)));
}

/** PyTorch's clip_grad_norm_: scale by min(1, max_norm / (norm + 1e-6)). */
function clip(b: Builder, grads: Value[], norm: Value, maxNorm: number): Value[] {
  const coefficient = b.div(b.scalarLike(norm, maxNorm), b.add(norm, b.scalarLike(norm, 1e-6)));
  const one = b.scalarLike(norm, 1);
  const factor = b.where(b.op('Less', [coefficient, one]), coefficient, one);
  return grads.map((g) => b.mul(g, factor));
}

export function buildTrainStep(
  b: Builder,
  model: ResolvedModel,
  setup: TrainSetup,
  inputs: StepInputs,
): StepOutputs {
  const logits = forwardLogits(b, model, inputs.params, inputs.x, {
    training: true,
    ...(inputs.stepSeed !== undefined ? { stepSeed: inputs.stepSeed } : {}),
  });
  const loss = b.reduceMean(perExampleLoss(b, logits, inputs.targets, setup.loss), [0], false);
  const trainable = inputs.params.filter((_, i) => setup.trainable[i]);
  let grads = vjpOrZeros(b, loss, b.scalarLike(loss, 1), trainable);
  const gradientNorm = b.sqrt(squaredNorm(b, grads));
  const c = setup.optimizer;
  if (c.gradientNormPenalty > 0) {
    // d/dtheta (L + mu ||g||^2) = g + 2 mu H g.
    const seeds = new Map(trainable.map((p, i) => [p.name, grads[i]!]));
    const hessianTimesGrad = jvp(b, seeds, grads).map((t, i) => t ?? b.zerosLike(grads[i]!));
    grads = grads.map((g, i) => b.add(g, b.scale(hessianTimesGrad[i]!, 2 * c.gradientNormPenalty)));
  }
  if (c.gradientClipNorm > 0) {
    const norm = c.gradientNormPenalty > 0 ? b.sqrt(squaredNorm(b, grads)) : gradientNorm;
    grads = clip(b, grads, norm, c.gradientClipNorm);
  }
  const slots = stateSlots(c).length;
  const updates = trainable.map((param, i) => ({
    param,
    grad: grads[i]!,
    state: inputs.state.slice(i * slots, (i + 1) * slots),
  }));
  const result = applyUpdates(
    b,
    c,
    updates,
    inputs.state.slice(trainable.length * slots),
    inputs.learningRate,
  );
  let next = 0;
  const params = inputs.params.map((p, i) => (setup.trainable[i] ? result.params[next++]! : p));
  const accuracy = b.reduceMean(
    b.cast(correctPredictions(b, logits, inputs.targets), loss.dtype),
    [0],
    false,
  );
  return { params, state: [...result.states.flat(), ...result.globals], loss, gradientNorm, accuracy };
}
