// ENSEMBLE_DISAGREEMENT (Detectron's statistics for a given ensemble, Ginsberg et al. 2023): the
// spec's checkpoint is the base model f, `members` the constrained disagreement classifiers. On the
// analysed examples (the query set), every model as deployed (temperature 1):
//  - disagreement_rate: the fraction of examples on which at least one member's prediction differs
//    from f's (Detectron's rejection rate, 1 - count / N after the members' sequential refinement);
//  - per_example_entropy: the entropy (nats) of the mean softmax of f and the members (Detectron's
//    entropy test input), and its mean.
// Fine-tuning the members and the hypothesis test over repeated query sets are not part of this kind:
// see src/detectron/ (statistics and the training objective) and the README.
import { InvalidArgumentError } from '@gengap/service-kit';
import { argmaxRows } from '../adversarial/input-oracle.ts';
import { entropy } from '../detectron/hypothesis-test.ts';
import { histogram } from '../numerics/distributions.ts';
import { validateCheckpointRef } from './checks.ts';
import { deployedModel, nativeParameters, probabilities } from './input-space.ts';
import { defineKind } from './kind.ts';

const FIELD = 'spec.ensemble_disagreement';

export const ensembleDisagreementKind = defineKind({
  name: 'ensembleDisagreement',
  validate(v) {
    if (v.members.length === 0)
      throw new InvalidArgumentError(`${FIELD}.members`, 'needs at least one member');
    if (v.members.length > 64) throw new InvalidArgumentError(`${FIELD}.members`, 'at most 64 members');
    for (const [i, member] of v.members.entries()) validateCheckpointRef(member, `${FIELD}.members[${i}]`);
  },
  async run(ctx, v) {
    const examples = await ctx.inputs.examples();
    const n = examples.count;
    const base = await deployedModel(ctx);
    const classes = base.engine.numOutputs;
    const baseLogits = (
      await base.engine.evaluate(examples.x, examples.y, { parameters: nativeParameters(base) })
    ).logits;
    const basePredictions = argmaxRows(baseLogits, n, classes);
    const meanProbabilities = probabilities(baseLogits, n, classes);
    const rejected = new Uint8Array(n);
    const memberRates: number[] = [];
    const origins: string[] = [];
    for (const [k, ref] of v.members.entries()) {
      await ctx.progress.report(k / v.members.length, `member ${k + 1}/${v.members.length}`);
      const member = await deployedModel(ctx, { ref });
      if (member.engine.numOutputs !== classes) {
        throw new InvalidArgumentError(
          `${FIELD}.members[${k}]`,
          `has ${member.engine.numOutputs} outputs; the base model has ${classes}`,
        );
      }
      origins.push(member.checkpoint.origin);
      const logits = (
        await member.engine.evaluate(examples.x, examples.y, { parameters: nativeParameters(member) })
      ).logits;
      const predictions = argmaxRows(logits, n, classes);
      let disagreements = 0;
      for (let i = 0; i < n; i++) {
        if (predictions[i] !== basePredictions[i]) {
          rejected[i] = 1;
          disagreements++;
        }
      }
      memberRates.push(disagreements / n);
      const p = probabilities(logits, n, classes);
      for (let j = 0; j < p.length; j++) meanProbabilities[j]! += p[j]!;
    }
    const models = v.members.length + 1;
    const perExampleEntropy = Array.from({ length: n }, (_, i) =>
      entropy(meanProbabilities.subarray(i * classes, (i + 1) * classes).map((p) => p / models)),
    );
    const rejectedCount = rejected.reduce((a, r) => a + r, 0);
    const meanEntropy = perExampleEntropy.reduce((a, e) => a + e, 0) / n;
    const h = histogram(perExampleEntropy, 20);
    return {
      result: {
        $case: 'ensembleDisagreement',
        value: {
          disagreementRate: rejectedCount / n,
          meanEntropy,
          perExampleEntropy,
          rejectedIndices: [...rejected.keys()].filter((i) => rejected[i] === 1),
        },
      },
      plot: {
        $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
        title: `Entropy of the ensemble's mean prediction (${models} models, ${n} examples; disagreement ${(rejectedCount / n).toFixed(3)})`,
        data: { values: h.centres.map((centre, b) => ({ entropy: centre, examples: h.counts[b]! })) },
        mark: 'bar',
        encoding: {
          x: { field: 'entropy', type: 'quantitative', title: 'entropy (nats)' },
          y: { field: 'examples', type: 'quantitative', title: 'examples' },
        },
      },
      table: {
        columns: ['index', 'label', 'base_prediction', 'rejected', 'entropy'],
        rows: perExampleEntropy.map((e, i) => [i, examples.y[i]!, basePredictions[i]!, rejected[i] === 1, e]),
      },
      details: {
        examples: n,
        rejected: rejectedCount,
        acceptedCount: n - rejectedCount,
        members: origins,
        memberDisagreementRates: memberRates,
        baseAccuracy: basePredictions.reduce((a, p, i) => a + (p === examples.y[i] ? 1 : 0), 0) / n,
      },
    };
  },
});
