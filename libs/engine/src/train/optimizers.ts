// Optimizer updates as graph nodes, following PyTorch 1.13's formulas (torch.optim.SGD with momentum and
// nesterov, Adam, AdamW) so that runs match the reference; LARS (You et al. 2017) and LAMB (You et al.
// 2019) follow their papers' per-tensor trust ratios. Scalar bookkeeping (bias corrections, step sizes)
// is computed in float64, as PyTorch does with Python floats, then cast to the parameters' dtype.
import { OptimizerKind, type OptimizerSpec, type Regularizers } from '@gengap/proto/common/v1/model';
import { EngineSpecError } from '../errors.ts';
import type { Builder } from '../ir/builder.ts';
import type { Value } from '../ir/types.ts';

export type OptimizerName = 'sgd' | 'momentum' | 'nesterov' | 'adam' | 'adamw' | 'lars' | 'lamb';

export interface OptimizerConfig {
  name: OptimizerName;
  momentum: number;
  beta1: number;
  beta2: number;
  epsilon: number;
  trustCoefficient: number;
  weightDecay: number;
  gradientClipNorm: number;
  gradientNormPenalty: number;
}

const NAMES: Record<number, OptimizerName> = {
  [OptimizerKind.OPTIMIZER_KIND_UNSPECIFIED]: 'sgd',
  [OptimizerKind.OPTIMIZER_KIND_SGD]: 'sgd',
  [OptimizerKind.OPTIMIZER_KIND_MOMENTUM]: 'momentum',
  [OptimizerKind.OPTIMIZER_KIND_NESTEROV]: 'nesterov',
  [OptimizerKind.OPTIMIZER_KIND_ADAM]: 'adam',
  [OptimizerKind.OPTIMIZER_KIND_ADAMW]: 'adamw',
  [OptimizerKind.OPTIMIZER_KIND_LARS]: 'lars',
  [OptimizerKind.OPTIMIZER_KIND_LAMB]: 'lamb',
};

function nonNegative(field: string, value: number): number {
  if (!(value >= 0) || !Number.isFinite(value))
    throw new EngineSpecError(field, `must be a finite value >= 0, got ${value}`);
  return value;
}

export function optimizerConfig(
  spec: OptimizerSpec | undefined,
  regularizers: Regularizers | undefined,
): OptimizerConfig {
  const name = NAMES[spec?.kind ?? 0];
  if (name === undefined) throw new EngineSpecError('optimizer.kind', `unknown optimizer kind ${spec?.kind}`);
  const or = (v: number | undefined, d: number) => (v ? v : d);
  return {
    name,
    momentum: nonNegative('optimizer.momentum', or(spec?.momentum, 0.9)),
    beta1: nonNegative('optimizer.beta1', or(spec?.beta1, 0.9)),
    beta2: nonNegative('optimizer.beta2', or(spec?.beta2, 0.999)),
    epsilon: nonNegative('optimizer.epsilon', or(spec?.epsilon, 1e-8)),
    trustCoefficient: nonNegative(
      'optimizer.trustCoefficient',
      or(spec?.trustCoefficient, name === 'lars' ? 0.001 : 1),
    ),
    weightDecay: nonNegative('regularizers.weightDecay', regularizers?.weightDecay ?? 0),
    gradientClipNorm: nonNegative('regularizers.gradientClipNorm', regularizers?.gradientClipNorm ?? 0),
    gradientNormPenalty: nonNegative(
      'regularizers.gradientNormPenalty',
      regularizers?.gradientNormPenalty ?? 0,
    ),
  };
}

/** Per-parameter state tensors (each shaped like its parameter), by suffix. */
export function stateSlots(config: OptimizerConfig): string[] {
  switch (config.name) {
    case 'sgd':
      return [];
    case 'momentum':
    case 'nesterov':
    case 'lars':
      return ['momentum'];
    case 'adam':
    case 'adamw':
    case 'lamb':
      return ['exp_avg', 'exp_avg_sq'];
  }
}

/** Scalar state shared by all parameters: the Adam-family step count. */
export function globalSlots(config: OptimizerConfig): string[] {
  return ['adam', 'adamw', 'lamb'].includes(config.name) ? ['step'] : [];
}

export interface ParameterUpdate {
  param: Value;
  grad: Value;
  state: Value[];
}

export interface UpdateResult {
  params: Value[];
  states: Value[][];
  globals: Value[];
}

const norm = (b: Builder, x: Value): Value => b.sqrt(b.sumOfSquares(x));

/** ratio = numerator / denominator where both are positive, else 1 (LARS/LAMB trust ratios). */
function safeRatio(b: Builder, numerator: Value, denominator: Value): Value {
  const ok = b.greater(b.mul(numerator, denominator), b.scalarLike(numerator, 0));
  const one = b.scalarLike(numerator, 1);
  return b.where(ok, b.div(numerator, b.where(ok, denominator, one)), one);
}

interface StepScalars {
  /** Learning rate as float64 and cast to the parameters' dtype. */
  lr64: Value;
  lr: Value;
}

function sgdFamily(b: Builder, c: OptimizerConfig, u: ParameterUpdate, s: StepScalars): [Value, Value[]] {
  const g = c.weightDecay > 0 ? b.add(u.grad, b.scale(u.param, c.weightDecay)) : u.grad;
  if (c.name === 'sgd') return [b.sub(u.param, b.mul(s.lr, g)), []];
  if (c.name === 'lars') {
    const pn = norm(b, u.param);
    const denominator = b.add(norm(b, u.grad), b.scale(pn, c.weightDecay));
    const trust = b.scale(safeRatio(b, pn, denominator), c.trustCoefficient);
    const buffer = b.add(b.scale(u.state[0]!, c.momentum), b.mul(b.mul(s.lr, trust), g));
    return [b.sub(u.param, buffer), [buffer]];
  }
  const buffer = b.add(b.scale(u.state[0]!, c.momentum), g);
  const direction = c.name === 'nesterov' ? b.add(g, b.scale(buffer, c.momentum)) : buffer;
  return [b.sub(u.param, b.mul(s.lr, direction)), [buffer]];
}

interface AdamScalars {
  /** lr / (1 - beta1^t), and sqrt(1 - beta2^t), in the parameters' dtype. */
  stepSize: Value;
  correction2Sqrt: Value;
  correction1: Value;
  correction2: Value;
}

function adamScalars(
  b: Builder,
  c: OptimizerConfig,
  step: Value,
  s: StepScalars,
  dtype: Value['dtype'],
): AdamScalars {
  const t = b.cast(step, 'float64');
  const one = b.scalar(1, 'float64');
  const correction1 = b.sub(one, b.op('Pow', [b.scalar(c.beta1, 'float64'), t]));
  const correction2 = b.sub(one, b.op('Pow', [b.scalar(c.beta2, 'float64'), t]));
  return {
    stepSize: b.cast(b.div(s.lr64, correction1), dtype),
    correction2Sqrt: b.cast(b.sqrt(correction2), dtype),
    correction1: b.cast(correction1, dtype),
    correction2: b.cast(correction2, dtype),
  };
}

function adamFamily(
  b: Builder,
  c: OptimizerConfig,
  u: ParameterUpdate,
  s: StepScalars,
  a: AdamScalars,
): [Value, Value[]] {
  let param = u.param;
  let g = u.grad;
  if (c.name === 'adamw' && c.weightDecay > 0)
    param = b.mul(param, b.sub(b.scalarLike(param, 1), b.scale(s.lr, c.weightDecay)));
  if (c.name === 'adam' && c.weightDecay > 0) g = b.add(g, b.scale(param, c.weightDecay));
  const m = b.add(b.scale(u.state[0]!, c.beta1), b.scale(g, 1 - c.beta1));
  const v = b.add(b.scale(u.state[1]!, c.beta2), b.scale(b.mul(g, g), 1 - c.beta2));
  if (c.name === 'lamb') {
    // r = m_hat / (sqrt(v_hat) + eps) + wd * theta; theta -= lr * (||theta|| / ||r||) * r.
    const mHat = b.div(m, a.correction1);
    const vHat = b.div(v, a.correction2);
    let r = b.div(mHat, b.add(b.sqrt(vHat), b.scalarLike(v, c.epsilon)));
    if (c.weightDecay > 0) r = b.add(r, b.scale(param, c.weightDecay));
    const trust = b.scale(safeRatio(b, norm(b, param), norm(b, r)), c.trustCoefficient);
    return [b.sub(param, b.mul(b.mul(s.lr, trust), r)), [m, v]];
  }
  const denominator = b.add(b.div(b.sqrt(v), a.correction2Sqrt), b.scalarLike(v, c.epsilon));
  return [b.sub(param, b.mul(a.stepSize, b.div(m, denominator))), [m, v]];
}

/** One optimizer step for every trainable parameter; `lr64` is the step's learning rate (float64 scalar). */
export function applyUpdates(
  b: Builder,
  c: OptimizerConfig,
  updates: ParameterUpdate[],
  globals: Value[],
  lr64: Value,
): UpdateResult {
  const dtype = updates[0]?.param.dtype ?? 'float32';
  const s: StepScalars = { lr64, lr: b.cast(lr64, dtype) };
  if (globalSlots(c).length === 0) {
    const results = updates.map((u) => sgdFamily(b, c, u, s));
    return { params: results.map((r) => r[0]), states: results.map((r) => r[1]), globals: [] };
  }
  const step = b.add(globals[0]!, b.scalarLike(globals[0]!, 1));
  const a = adamScalars(b, c, step, s, dtype);
  const results = updates.map((u) => adamFamily(b, c, u, s, a));
  return { params: results.map((r) => r[0]), states: results.map((r) => r[1]), globals: [step] };
}
