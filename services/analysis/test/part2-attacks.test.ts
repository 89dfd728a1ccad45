// Attacks, input sensitivity and critical samples against MNIST MLPs (784-128-10, Adam, 2,000 training
// images) trained in-process: a plain network at temperature 1 and a defensively distilled one (a
// teacher at T = 20 on hard labels, then a student at T = 20 on the teacher's softmax(z / 20); Papernot
// et al. 2016), both analysed as deployed, at T = 1, on 200 test images.
// Asserted: FGSM and PGD (L-inf, L2) keep every perturbation within epsilon (tolerance 1e-6, float32
// rounding) and raise the loss; JSMA changes at most floor(0.145 * 784) = 113 features; distillation
// lowers the measured input-gradient magnitude by orders of magnitude (at least 1e3x in the median of
// FGSM's loss gradient over the attacked examples, and in the median loss sensitivity; the means move
// far less, dominated by the few low-margin examples whose gradients distillation scales up) and
// JSMA's success rate (by at least 0.3), while logit-margin PGD, the control, still succeeds against
// the distilled network.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { AttackMethod, attackMethodToJSON } from '@gengap/proto/analysis/v1/analysis';
import { LossKind } from '@gengap/proto/common/v1/model';
import { Split } from '@gengap/proto/common/v1/refs';
import { DatasetSpec } from '@gengap/proto/data/v1/dataset';
import { softLabels, trainAtTemperature } from './support/distillation.ts';
import { type AnalysisHandle, runCheckpoint, runOk, startAnalysis, tempDir } from './support/harness.ts';
import { LocalDatasets, LocalRuns } from './support/local-sources.ts';
import { loadMnist } from './support/mnist.ts';
import { detailsOf, renderedPlot, resultOf } from './support/results.ts';
import { mlp } from './support/train.ts';

const TEMPERATURE = 20;
let dir: ReturnType<typeof tempDir>;
let service: AnalysisHandle;

before(async () => {
  dir = tempDir('part2-attacks');
  const train = loadMnist('train', 2000);
  const testSplit = loadMnist('test', 1000);
  const model = mlp(784, [128], 10);
  const common = {
    model,
    x: train.x,
    count: train.count,
    epochs: 20,
    batchSize: 50,
    learningRate: 1e-3,
    seed: 1,
  };
  const plain = await trainAtTemperature({ ...common, targets: train.y, temperature: 1 });
  const teacher = await trainAtTemperature({ ...common, targets: train.y, temperature: TEMPERATURE });
  const student = await trainAtTemperature({
    ...common,
    targets: softLabels(teacher.logits, train.count, 10, TEMPERATURE),
    temperature: TEMPERATURE,
  });
  const runs = new LocalRuns();
  const dataset = { datasetId: 'mnist-2000' };
  runs.add('plain', { model, dataset, loss: { kind: LossKind.LOSS_KIND_CROSS_ENTROPY, temperature: 1 } }, [
    { step: 800, epoch: 20, permanent: true, parameters: plain.parameters },
  ]);
  runs.add(
    'distilled',
    { model, dataset, loss: { kind: LossKind.LOSS_KIND_CROSS_ENTROPY, temperature: TEMPERATURE } },
    [{ step: 800, epoch: 20, permanent: true, parameters: student.parameters }],
  );
  const datasets = new LocalDatasets();
  const mnistSpec = DatasetSpec.fromPartial({ source: { $case: 'mnist', value: { flatten: true } } });
  datasets.add('mnist-2000', Split.SPLIT_TRAIN, {
    x: train.x,
    y: train.y,
    inputShape: [784],
    numClasses: 10,
    datasetSpec: mnistSpec,
  });
  datasets.add('mnist-2000', Split.SPLIT_TEST, {
    x: testSplit.x,
    y: testSplit.y,
    inputShape: [784],
    numClasses: 10,
    datasetSpec: mnistSpec,
  });
  service = await startAnalysis({ stateDir: dir.path, runs, datasets });
});

after(async () => {
  await service?.close();
  dir?.remove();
});

const examples = { split: Split.SPLIT_TEST, numExamples: 200, seed: 3 };

async function attack(runId: string, method: AttackMethod, epsilon: number, fields = {}) {
  const analysis = await runOk(service.client, {
    checkpoint: runCheckpoint(runId),
    ...examples,
    kind: {
      $case: 'attack',
      value: {
        method,
        epsilon,
        steps: 0,
        stepSize: 0,
        featureBudget: 0,
        theta: 0,
        clipMin: 0,
        clipMax: 0,
        ...fields,
      },
    },
  });
  await renderedPlot(analysis);
  return { result: resultOf(analysis, 'attack'), details: await detailsOf(service.client, analysis) };
}

const name = (method: AttackMethod) => attackMethodToJSON(method);

test('FGSM and PGD stay inside their budget and raise the loss', async (t) => {
  for (const [method, epsilon, norm] of [
    [AttackMethod.ATTACK_METHOD_FGSM, 0.1, 'Linf'],
    [AttackMethod.ATTACK_METHOD_PGD_LINF, 0.1, 'Linf'],
    [AttackMethod.ATTACK_METHOD_PGD_L2, 1.5, 'L2'],
  ] as const) {
    const { result, details } = await attack('plain', method, epsilon);
    t.diagnostic(`${name(method)} eps ${epsilon}: ${JSON.stringify(result)}`);
    const largest = details[`maxPerturbation${norm}`] as number;
    assert.ok(
      largest <= epsilon + 1e-6,
      `${name(method)} largest ${norm} perturbation ${largest} > ${epsilon}`,
    );
    assert.ok(largest > epsilon / 2, `${name(method)} hardly perturbs (${largest})`);
    assert.ok(result.meanLossIncrease > 0, `${name(method)} loss increase ${result.meanLossIncrease}`);
    assert.ok(result.successRate > 0.2, `${name(method)} success ${result.successRate}`);
  }
});

test('JSMA changes at most its feature budget', async (t) => {
  for (const budget of [0.145, 0.05]) {
    const { result, details } = await attack('plain', AttackMethod.ATTACK_METHOD_JSMA, 0, {
      featureBudget: budget,
    });
    t.diagnostic(`JSMA budget ${budget}: ${JSON.stringify(result)}`);
    assert.ok(
      details.maxFeaturesChanged <= Math.floor(budget * 784),
      `changed ${details.maxFeaturesChanged}`,
    );
    assert.ok(result.meanFeaturesChanged > 0);
  }
});

test('defensive distillation (T = 20) masks input gradients and blunts JSMA; logit PGD is the control', async (t) => {
  const fgsmPlain = await attack('plain', AttackMethod.ATTACK_METHOD_FGSM, 0.1);
  const fgsmDistilled = await attack('distilled', AttackMethod.ATTACK_METHOD_FGSM, 0.1);
  const jsmaPlain = await attack('plain', AttackMethod.ATTACK_METHOD_JSMA, 0);
  const jsmaDistilled = await attack('distilled', AttackMethod.ATTACK_METHOD_JSMA, 0);
  const logitDistilled = await attack('distilled', AttackMethod.ATTACK_METHOD_LOGIT_PGD, 0.1);
  const sensitivity = async (runId: string) => {
    const analysis = await runOk(service.client, {
      checkpoint: runCheckpoint(runId),
      ...examples,
      kind: { $case: 'inputSensitivity', value: { numBins: 0, subspaceBasis: '' } },
    });
    await renderedPlot(analysis);
    return detailsOf(service.client, analysis);
  };
  const plainSensitivity = await sensitivity('plain');
  const distilledSensitivity = await sensitivity('distilled');
  const gradientRatio =
    fgsmPlain.details.inputGradientNorm.median / fgsmDistilled.details.inputGradientNorm.median;
  const meanRatio = fgsmPlain.result.meanInputGradientNorm / fgsmDistilled.result.meanInputGradientNorm;
  const medianRatio = plainSensitivity.lossGradientNorm.median / distilledSensitivity.lossGradientNorm.median;
  t.diagnostic(`FGSM plain ${JSON.stringify(fgsmPlain.result)}`);
  t.diagnostic(`FGSM distilled ${JSON.stringify(fgsmDistilled.result)}`);
  t.diagnostic(`JSMA plain ${JSON.stringify(jsmaPlain.result)}`);
  t.diagnostic(`JSMA distilled ${JSON.stringify(jsmaDistilled.result)}`);
  t.diagnostic(`logit PGD distilled ${JSON.stringify(logitDistilled.result)}`);
  t.diagnostic(`loss sensitivity plain ${JSON.stringify(plainSensitivity.lossGradientNorm)}`);
  t.diagnostic(`loss sensitivity distilled ${JSON.stringify(distilledSensitivity.lossGradientNorm)}`);
  t.diagnostic(`FGSM input-gradient norms plain ${JSON.stringify(fgsmPlain.details.inputGradientNorm)}`);
  t.diagnostic(
    `FGSM input-gradient norms distilled ${JSON.stringify(fgsmDistilled.details.inputGradientNorm)}`,
  );
  t.diagnostic(
    `plain / distilled: median FGSM gradient ${gradientRatio}, mean ${meanRatio}, median sensitivity ${medianRatio}`,
  );
  assert.ok(gradientRatio >= 1e3, `input-gradient ratio ${gradientRatio}`);
  assert.ok(medianRatio >= 1e3, `median sensitivity ratio ${medianRatio}`);
  assert.ok(
    jsmaDistilled.result.successRate <= jsmaPlain.result.successRate - 0.3,
    `JSMA success ${jsmaPlain.result.successRate} -> ${jsmaDistilled.result.successRate}`,
  );
  assert.ok(
    logitDistilled.result.successRate > fgsmDistilled.result.successRate + 0.2,
    `logit PGD ${logitDistilled.result.successRate} vs FGSM ${fgsmDistilled.result.successRate} on the distilled net`,
  );
});

test('critical sample ratio grows with the radius', async (t) => {
  const ratios: number[] = [];
  for (const radius of [0.01, 0.1]) {
    const analysis = await runOk(service.client, {
      checkpoint: runCheckpoint('plain'),
      ...examples,
      kind: { $case: 'criticalSampleRatio', value: { radius, steps: 0 } },
    });
    await renderedPlot(analysis);
    const r = resultOf(analysis, 'criticalSampleRatio');
    t.diagnostic(`radius ${radius}: ${JSON.stringify(r)}`);
    assert.equal(r.examined, 200);
    ratios.push(r.ratio);
  }
  assert.ok(ratios[1]! > ratios[0]!, `ratios ${ratios}`);
});
