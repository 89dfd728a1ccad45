// The corruption table: one entry per kind of the contract's Corruption oneof. Generation applies the
// spec's corruptions in order by looking each one up here.
import type { Corruption } from '@gengap/proto/data/v1/dataset';
import type { CorruptionContext } from './context.ts';
import { applyCovariateShift } from './covariate-shift.ts';
import { applyLabelNoise } from './label-noise.ts';
import { applyGaussianInputs, applyInputNoise, applyRandomInputs } from './noise-inputs.ts';
import { applyRandomPixels, applyShufflePixels } from './pixels.ts';
import { applyClassBalanced, applyReplaceOne, applySubsample } from './selection.ts';

type Kind = NonNullable<Corruption['kind']>;
type Rule<K extends Kind['$case']> = (
  value: Extract<Kind, { $case: K }>['value'],
  ctx: CorruptionContext,
) => void;

export const corruptionRules: { [K in Kind['$case']]: Rule<K> } = {
  labelNoise: applyLabelNoise,
  shufflePixels: applyShufflePixels,
  randomPixels: applyRandomPixels,
  gaussianInputs: applyGaussianInputs,
  randomInputs: applyRandomInputs,
  inputNoise: applyInputNoise,
  subsample: applySubsample,
  classBalanced: applyClassBalanced,
  replaceOne: applyReplaceOne,
  covariateShift: applyCovariateShift,
};

export function applyCorruption(kind: Kind, ctx: CorruptionContext): void {
  (corruptionRules[kind.$case] as Rule<typeof kind.$case>)(kind.value as never, ctx);
}
