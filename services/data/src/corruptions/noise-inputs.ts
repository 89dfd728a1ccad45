// Inputs replaced by or mixed with Gaussian noise. Gaussian inputs (Zhang et al. 2017): every input
// value is drawn from N(mean, std^2) with the split's own mean and std before the corruption. Random
// inputs ("randX", Arpit et al. 2017): exactly round(fraction * n) examples chosen by the seed get
// such noise as inputs and keep their labels. Input noise (Badger): N(0, sigma^2) added to every value.
import type { GaussianInputs, InputNoise, RandomInputs } from '@gengap/proto/data/v1/dataset';
import { drawDistinct, fillNormal } from '../datasets/draws.ts';
import { featureCount } from '../datasets/types.ts';
import { type CorruptionContext, corruptionStream, inputMoments, splitsOf, storedSplits } from './context.ts';

export function applyGaussianInputs(v: GaussianInputs, ctx: CorruptionContext): void {
  for (const { name, split } of storedSplits(ctx.data, splitsOf(v.splits))) {
    const { mean, std } = inputMoments(split.x);
    fillNormal(corruptionStream(ctx, name), split.x, 0, split.x.length, mean, std);
  }
}

export function applyRandomInputs(v: RandomInputs, ctx: CorruptionContext): void {
  const features = featureCount(ctx.data.inputShape);
  for (const { name, split } of storedSplits(ctx.data, splitsOf(v.splits))) {
    const rng = corruptionStream(ctx, name);
    const { mean, std } = inputMoments(split.x);
    const chosen = drawDistinct(rng, split.n, Math.round(v.fraction * split.n));
    for (const i of [...chosen].sort((a, b) => a - b))
      fillNormal(rng, split.x, i * features, features, mean, std);
  }
}

export function applyInputNoise(v: InputNoise, ctx: CorruptionContext): void {
  for (const { name, split } of storedSplits(ctx.data, splitsOf(v.splits))) {
    const rng = corruptionStream(ctx, name);
    const x = split.x;
    for (let i = 0; i < x.length; i++) x[i] = (x[i] as number) + v.sigma * rng.normal();
  }
}
