// Semantically bad requests, table-driven, for every RPC of the four services (real processes):
// NaN and infinities, zero and negative sizes, shape/data mismatches, out-of-range enums and fractions,
// empty and oversized inputs, unicode and path-like names, malformed spec texts (bad JSON, deep
// nesting, a YAML alias bomb), unknown ids. Every call must end with a deliberate refusal
// (INVALID_ARGUMENT, NOT_FOUND, FAILED_PRECONDITION, RESOURCE_EXHAUSTED, ...; reads may also clamp and
// answer OK where marked), never UNKNOWN or an INTERNAL from a handler, never a hang (each call has a
// deadline); after each service's table the process is alive, health is SERVING, and the service
// stored nothing (no new job, no new file).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { AnalysisServiceClient, ListAnalysesRequest } from '@gengap/proto/analysis/v1/analysis_service';
import { callUnary, closeClient, createClient } from '@gengap/service-kit';
import { status } from '@grpc/grpc-js';
import { type Fixtures, jobCounts, prepareFixtures } from './support/fixtures.ts';
import {
  assertHealthy,
  type CallOutcome,
  isHandlerBug,
  isTransportRejection,
  RawCaller,
  storedFiles,
} from './support/probe.ts';
import {
  analysisSpec,
  datasetSpec,
  encodeRequest,
  experimentSpecJson,
  methodOf,
  runSpec,
  type ServiceName,
  withField,
} from './support/requests.ts';
import { type ProcessStack, startProcessStack, statusName, tempRoot } from './support/stack.ts';

const U32_MAX = 4294967295;
const REFUSALS = new Set<number>([
  status.INVALID_ARGUMENT,
  status.NOT_FOUND,
  status.FAILED_PRECONDITION,
  status.OUT_OF_RANGE,
  status.RESOURCE_EXHAUSTED,
  status.ALREADY_EXISTS,
  status.UNIMPLEMENTED,
]);

/** Ids no service knows: empty, unicode, path-like, control characters, very long. */
const BAD_IDS = [
  '',
  'nope',
  '数据集-😀-ñ',
  '../../../etc/passwd',
  '/etc/passwd',
  'a\u0000b',
  'x'.repeat(10_000),
];

interface Case {
  label: string;
  method: string;
  request: unknown;
  /** A read that may clamp a bad parameter and answer (OK is accepted, nothing may be written). */
  mayAnswer?: boolean;
  /**
   * A reference resolved when the job runs, not at the call (the analysis service's checkpoints):
   * the call may be accepted, and the job must then end FAILED with a deliberate code.
   */
  acceptedThenFails?: boolean;
  deadlineMs?: number;
}

const root = tempRoot('bad-input');
let stack: ProcessStack;
let fx: Fixtures;
const report: string[] = [];

before(async () => {
  stack = await startProcessStack({
    root: root.path,
    env: { GENGAP_LOG_LEVEL: 'warn' },
    perService: { trainer: { GENGAP_MAX_CONCURRENT_RUNS: '1' } },
  });
  fx = await prepareFixtures(stack);
});

after(() => {
  stack?.kill();
  root.remove();
  if (report.length > 0) console.log(report.map((l) => `# ${l}`).join('\n'));
});

async function runTable(
  service: ServiceName,
  cases: Case[],
  verifyAcceptedFail?: (count: number) => Promise<void>,
): Promise<void> {
  const proc = stack.services[service];
  if (!proc) throw new Error(`${service} is not running`);
  const caller = new RawCaller(proc.address);
  const jobsBefore = await jobCounts(stack);
  const filesBefore = storedFiles(proc.stateDir);
  const failures: string[] = [];
  const codes = new Map<string, number>();
  let acceptedThenFail = 0;
  try {
    for (const c of cases) {
      const bytes = c.request instanceof Uint8Array ? c.request : encodeRequest(service, c.method, c.request);
      if (!bytes) {
        failures.push(`${c.label}: the test could not encode its request`);
        continue;
      }
      const outcome: CallOutcome = await caller.call(methodOf(service, c.method), bytes, {
        deadlineMs: c.deadlineMs ?? 15_000,
      });
      const name = statusName(outcome.code);
      codes.set(name, (codes.get(name) ?? 0) + 1);
      if (c.acceptedThenFails && outcome.code === status.OK) acceptedThenFail++;
      const deliberate =
        REFUSALS.has(outcome.code) ||
        isTransportRejection(outcome) ||
        ((c.mayAnswer === true || c.acceptedThenFails === true) && outcome.code === status.OK);
      if (!deliberate || isHandlerBug(outcome)) {
        failures.push(`${c.method} ${c.label}: ${name} ${outcome.details.slice(0, 200)}`);
      }
    }
  } finally {
    caller.close();
  }
  await assertHealthy(proc, `${service} after its bad-input table`);
  report.push(
    `${service}: ${cases.length} bad requests -> ${[...codes].map(([k, v]) => `${k} ${v}`).join(', ')}`,
  );
  assert.deepEqual(failures, [], `${service}: every bad request gets a deliberate refusal`);
  const jobsAfter = await jobCounts(stack);
  const expected = { ...jobsBefore, [service]: (jobsBefore[service] ?? 0) + acceptedThenFail };
  assert.deepEqual(jobsAfter, expected, `${service}: no job was stored for a rejected request`);
  if (acceptedThenFail === 0) {
    assert.deepEqual(storedFiles(proc.stateDir), filesBefore, `${service}: no file was written`);
  } else {
    report.push(`${service}: ${acceptedThenFail} requests naming unknown checkpoints were accepted as jobs`);
    await verifyAcceptedFail?.(acceptedThenFail);
  }
}

/** The same broken field on CreateDataset and ValidateDatasetSpec. */
function datasetCases(): Case[] {
  const src = 'spec.source.value';
  const mutations: [string, string, unknown][] = [
    ['no source', 'spec.source', undefined],
    ['zero classes', `${src}.numClasses`, 0],
    ['one class', `${src}.numClasses`, 1],
    ['2^32-1 classes', `${src}.numClasses`, U32_MAX],
    ['zero dimension', `${src}.dimension`, 0],
    ['2^32-1 dimension', `${src}.dimension`, U32_MAX],
    ['no training examples', `${src}.trainSize`, 0],
    ['2^32-1 training examples', `${src}.trainSize`, U32_MAX],
    ['NaN separation', `${src}.separation`, Number.NaN],
    ['infinite separation', `${src}.separation`, Number.POSITIVE_INFINITY],
    ['-infinite separation', `${src}.separation`, Number.NEGATIVE_INFINITY],
    ['NaN cluster std', `${src}.clusterStd`, Number.NaN],
    ['negative cluster std', `${src}.clusterStd`, -1],
    [
      'label noise NaN',
      'spec.corruptions',
      [{ kind: { $case: 'labelNoise', value: { fraction: Number.NaN } } }],
    ],
    ['label noise -0.5', 'spec.corruptions', [{ kind: { $case: 'labelNoise', value: { fraction: -0.5 } } }]],
    ['label noise 1.5', 'spec.corruptions', [{ kind: { $case: 'labelNoise', value: { fraction: 1.5 } } }]],
    [
      'label noise on split 99',
      'spec.corruptions',
      [{ kind: { $case: 'labelNoise', value: { fraction: 0.5, splits: 99 } } }],
    ],
    [
      'input noise NaN',
      'spec.corruptions',
      [{ kind: { $case: 'inputNoise', value: { sigma: Number.NaN } } }],
    ],
    ['input noise -1', 'spec.corruptions', [{ kind: { $case: 'inputNoise', value: { sigma: -1 } } }]],
    ['random inputs 2.0', 'spec.corruptions', [{ kind: { $case: 'randomInputs', value: { fraction: 2 } } }]],
    [
      'subsample beyond size',
      'spec.corruptions',
      [{ kind: { $case: 'subsample', value: { size: 100_000 } } }],
    ],
    [
      'replace index 2^32-1',
      'spec.corruptions',
      [{ kind: { $case: 'replaceOne', value: { index: U32_MAX, replacement: 0 } } }],
    ],
    [
      'shift kind 99',
      'spec.corruptions',
      [{ kind: { $case: 'covariateShift', value: { kind: 99, severity: 0.5 } } }],
    ],
    [
      'shift severity NaN',
      'spec.corruptions',
      [{ kind: { $case: 'covariateShift', value: { kind: 1, severity: Number.NaN } } }],
    ],
    ['empty corruption', 'spec.corruptions', [{ kind: undefined }]],
    [
      'subspace larger than ambient',
      'spec.source',
      {
        $case: 'subspace',
        value: { ambientDimension: 4, subspaceDimension: 9, trainSize: 10, testSize: 10, label: 1 },
      },
    ],
    [
      'subspace label 99',
      'spec.source',
      {
        $case: 'subspace',
        value: { ambientDimension: 8, subspaceDimension: 2, trainSize: 10, testSize: 10, label: 99 },
      },
    ],
    [
      'parity larger than its bits',
      'spec.source',
      { $case: 'sparseParity', value: { numBits: 4, paritySize: 9, trainSize: 10, testSize: 10 } },
    ],
    [
      'parity coordinate out of range',
      'spec.source',
      {
        $case: 'sparseParity',
        value: { numBits: 8, paritySize: 2, hiddenCoordinates: [3, 99], trainSize: 10, testSize: 10 },
      },
    ],
    [
      'parity repeated coordinate',
      'spec.source',
      {
        $case: 'sparseParity',
        value: { numBits: 8, paritySize: 2, hiddenCoordinates: [3, 3], trainSize: 10, testSize: 10 },
      },
    ],
    ['empty CSV', 'spec.source', { $case: 'tabular', value: { table: { $case: 'csvText', value: '' } } }],
    [
      'CSV header only',
      'spec.source',
      { $case: 'tabular', value: { table: { $case: 'csvText', value: 'a,b\n' }, targetColumn: 'b' } },
    ],
    [
      'unicode target column that is not there',
      'spec.source',
      {
        $case: 'tabular',
        value: { table: { $case: 'csvText', value: 'a,b\n1,2\n3,4\n' }, targetColumn: 'ñ✓😀' },
      },
    ],
    [
      'ragged CSV rows',
      'spec.source',
      {
        $case: 'tabular',
        value: { table: { $case: 'csvText', value: 'a,b\n1,2,3\n4\n' }, targetColumn: 'b' },
      },
    ],
    [
      'unknown builtin table',
      'spec.source',
      { $case: 'tabular', value: { table: { $case: 'builtin', value: '表' } } },
    ],
    [
      'test fraction NaN',
      'spec.source',
      {
        $case: 'tabular',
        value: {
          table: { $case: 'csvText', value: 'a,b\n1,2\n3,4\n' },
          targetColumn: 'b',
          testFraction: Number.NaN,
        },
      },
    ],
    [
      'test fraction 1.5',
      'spec.source',
      {
        $case: 'tabular',
        value: {
          table: { $case: 'csvText', value: 'a,b\n1,2\n3,4\n' },
          targetColumn: 'b',
          testFraction: 1.5,
        },
      },
    ],
    [
      'field width 2^32-1',
      'spec.source',
      {
        $case: 'tabular',
        value: {
          table: { $case: 'csvText', value: 'a,b\n1,2\n3,4\n' },
          targetColumn: 'b',
          fieldWidth: U32_MAX,
        },
      },
    ],
    [
      'CSV over GENGAP_MAX_CSV_BYTES (9 MiB)',
      'spec.source',
      {
        $case: 'tabular',
        value: {
          table: { $case: 'csvText', value: `a,b\n${'1,2\n'.repeat(9 * 262_144)}` },
          targetColumn: 'b',
        },
      },
    ],
    ['MNIST scaling 99', 'spec.source', { $case: 'mnist', value: { scaling: 99 } }],
  ];
  const cases: Case[] = [];
  for (const [label, path, value] of mutations) {
    const request = withField({ spec: datasetSpec(), idempotencyKey: `bad-${label}` }, path, value);
    cases.push({ label, method: 'createDataset', request });
    cases.push({
      label,
      method: 'validateDatasetSpec',
      request: { spec: (request as { spec: unknown }).spec },
    });
  }
  cases.push({
    label: 'a request over GENGAP_MAX_MESSAGE_BYTES (17 MiB)',
    method: 'createDataset',
    request: withField({ spec: datasetSpec() }, 'spec.source', {
      $case: 'tabular',
      value: { table: { $case: 'csvText', value: 'x'.repeat(17 * 1024 * 1024) } },
    }),
  });
  cases.push({
    label: 'unicode idempotency key on an invalid spec',
    method: 'createDataset',
    request: withField(
      { spec: datasetSpec(), idempotencyKey: '鍵-😀'.repeat(1000) },
      `spec.source.value.trainSize`,
      0,
    ),
  });
  return cases;
}

describe('bad input, table-driven, every RPC', () => {
  test('data service', async () => {
    const d = fx.datasetId;
    const cases = datasetCases();
    for (const id of BAD_IDS) {
      cases.push(
        { label: `id ${JSON.stringify(id.slice(0, 24))}`, method: 'getDataset', request: { datasetId: id } },
        {
          label: `id ${JSON.stringify(id.slice(0, 24))}`,
          method: 'watchDataset',
          request: { datasetId: id },
        },
        {
          label: `id ${JSON.stringify(id.slice(0, 24))}`,
          method: 'cancelDataset',
          request: { datasetId: id },
        },
        {
          label: `id ${JSON.stringify(id.slice(0, 24))}`,
          method: 'deleteDataset',
          request: { datasetId: id },
        },
        {
          label: `id ${JSON.stringify(id.slice(0, 24))}`,
          method: 'readDataset',
          request: { datasetId: id, split: 1 },
        },
        {
          label: `id ${JSON.stringify(id.slice(0, 24))}`,
          method: 'readOnlineBatches',
          request: { datasetId: id, batchSize: 8, numBatches: 1 },
        },
        {
          label: `id ${JSON.stringify(id.slice(0, 24))}`,
          method: 'sampleDataset',
          request: { datasetId: id, split: 1, count: 4 },
        },
      );
    }
    cases.push(
      { label: 'split 99', method: 'readDataset', request: { datasetId: d, split: 99 } },
      { label: 'dtype 99', method: 'readDataset', request: { datasetId: d, split: 1, inputDtype: 99 } },
      {
        label: 'chunk of 1 byte',
        method: 'readDataset',
        request: { datasetId: d, split: 1, chunkBytes: 1 },
        mayAnswer: true,
      },
      {
        label: 'chunk of 2^32-1 bytes',
        method: 'readDataset',
        request: { datasetId: d, split: 1, chunkBytes: U32_MAX },
      },
      {
        label: 'online batches of a stored dataset',
        method: 'readOnlineBatches',
        request: { datasetId: d, batchSize: 8, numBatches: 1 },
      },
      {
        label: 'zero batch size',
        method: 'readOnlineBatches',
        request: { datasetId: d, batchSize: 0, numBatches: 1 },
      },
      { label: 'sample split 99', method: 'sampleDataset', request: { datasetId: d, split: 99, count: 4 } },
      {
        label: 'sample 2^32-1 examples',
        method: 'sampleDataset',
        request: { datasetId: d, split: 1, count: U32_MAX },
      },
      {
        label: 'sample 0 examples',
        method: 'sampleDataset',
        request: { datasetId: d, split: 1, count: 0 },
        mayAnswer: true,
      },
      {
        label: 'watch from sequence 2^53',
        method: 'watchDataset',
        request: { datasetId: d, fromSequence: Number.MAX_SAFE_INTEGER },
        mayAnswer: true,
      },
      { label: 'page size 2^32-1', method: 'listDatasets', request: { page: { pageSize: U32_MAX } } },
      {
        label: 'garbage page token',
        method: 'listDatasets',
        request: { page: { pageToken: 'zzz-not-a-token' } },
      },
      {
        label: 'unicode page token',
        method: 'listDatasets',
        request: { page: { pageToken: '😀'.repeat(100) } },
      },
    );
    await runTable('data', cases);
  });

  test('trainer', async () => {
    const base = () => runSpec(fx.datasetId);
    const layer = (kind: unknown) => [{ name: '', kind }];
    const mutations: [string, string, unknown][] = [
      ['no model', 'model', undefined],
      ['rank-0 input', 'model.inputShape', []],
      ['zero-sized input', 'model.inputShape', [0]],
      ['negative input dim', 'model.inputShape', [-1]],
      ['rank 10 input', 'model.inputShape', Array(10).fill(1)],
      ['10^10-element input', 'model.inputShape', [100_000, 100_000]],
      ['input shape that does not match the data', 'model.inputShape', [9]],
      ['zero outputs', 'model.numOutputs', 0],
      ['2^32-1 outputs', 'model.numOutputs', U32_MAX],
      ['outputs that do not match the classes', 'model.numOutputs', 7],
      ['dense of 0 units', 'model.layers', layer({ $case: 'dense', value: { units: 0 } })],
      [
        'a model of 10^12 parameters',
        'model.layers',
        [
          { name: '', kind: { $case: 'dense', value: { units: 1_000_000 } } },
          { name: '', kind: { $case: 'dense', value: { units: 1_000_000 } } },
          { name: '', kind: { $case: 'dense', value: { units: 3 } } },
        ],
      ],
      ['dense of 2^32-1 units', 'model.layers', layer({ $case: 'dense', value: { units: U32_MAX } })],
      ['activation 99', 'model.layers', layer({ $case: 'activation', value: { activation: 99 } })],
      ['dropout NaN', 'model.layers', layer({ $case: 'dropout', value: { rate: Number.NaN } })],
      ['dropout 1.5', 'model.layers', layer({ $case: 'dropout', value: { rate: 1.5 } })],
      [
        'conv on a vector',
        'model.layers',
        layer({ $case: 'conv2d', value: { outChannels: 2, kernelSize: 3 } }),
      ],
      ['conv kernel 0', 'model.layers', layer({ $case: 'conv2d', value: { outChannels: 2, kernelSize: 0 } })],
      [
        'embedding of 0 words',
        'model.layers',
        layer({ $case: 'embedding', value: { vocabularySize: 0, dimension: 4 } }),
      ],
      [
        'layer norm epsilon NaN',
        'model.layers',
        layer({ $case: 'layerNorm', value: { epsilon: Number.NaN } }),
      ],
      ['empty layer', 'model.layers', layer(undefined)],
      ['initializer scale NaN', 'model.defaultInitializer', { kind: 3, scale: Number.NaN }],
      ['no dataset', 'dataset', undefined],
      ['unknown dataset', 'dataset.datasetId', 'no-such-dataset'],
      ['unicode dataset id', 'dataset.datasetId', '数据😀'],
      ['loss kind 99', 'loss', { kind: 99 }],
      ['loss temperature NaN', 'loss', { kind: 1, temperature: Number.NaN }],
      ['loss temperature -1', 'loss', { kind: 1, temperature: -1 }],
      ['optimizer kind 99', 'optimizer.kind', 99],
      ['learning rate NaN', 'optimizer.learningRate', Number.NaN],
      ['learning rate Inf', 'optimizer.learningRate', Number.POSITIVE_INFINITY],
      ['learning rate -0.1', 'optimizer.learningRate', -0.1],
      ['momentum NaN', 'optimizer', { kind: 2, learningRate: 0.1, momentum: Number.NaN }],
      ['beta1 1.5', 'optimizer', { kind: 4, learningRate: 0.1, beta1: 1.5 }],
      ['epsilon -1', 'optimizer', { kind: 4, learningRate: 0.1, epsilon: -1 }],
      ['schedule kind 99', 'schedule', { kind: 99 }],
      ['schedule gamma NaN', 'schedule', { kind: 2, stepSize: 10, gamma: Number.NaN }],
      ['weight decay NaN', 'regularizers', { weightDecay: Number.NaN }],
      ['weight decay -1', 'regularizers', { weightDecay: -1 }],
      ['gradient clip Inf', 'regularizers', { gradientClipNorm: Number.POSITIVE_INFINITY }],
      ['batch size 2^32-1', 'batchSize', U32_MAX],
      ['no stop rule', 'stop', {}],
      ['target accuracy 2', 'stop', { maxEpochs: 1, targetTrainAccuracy: 2 }],
      ['max wall seconds NaN', 'stop', { maxWallSeconds: Number.NaN }],
      ['max wall seconds -1', 'stop', { maxWallSeconds: -1 }],
      ['max wall seconds Inf', 'stop', { maxWallSeconds: Number.POSITIVE_INFINITY }],
      ['device 99', 'device', 99],
      ['precision 99', 'precision', 99],
      ['trajectory of 2^32-1 dimensions', 'metrics', { trajectoryEvery: 1, trajectoryDimension: U32_MAX }],
      [
        'teacher temperature NaN',
        'teacher',
        { checkpoint: { source: { $case: 'run', value: { runId: 'x' } } }, temperature: Number.NaN },
      ],
      ['init from an unknown run', 'initFrom', { source: { $case: 'run', value: { runId: 'no-such-run' } } }],
      [
        'init from an unknown analysis',
        'initFrom',
        { source: { $case: 'analysisId', value: 'no-such-analysis' } },
      ],
      ['freeze an unknown parameter', 'frozenParameters', ['ñ😀.weight']],
      ['100000 threads', 'threads', 100_000],
      ['reconstruct layer 99', 'reconstruction', { layer: 99 }],
      ['disagreement weight NaN', 'disagreement', { weight: Number.NaN, querySize: 4 }],
    ];
    const cases: Case[] = mutations.map(([label, path, value]) => ({
      label,
      method: 'startRun',
      request: { spec: withField(base(), path, value), idempotencyKey: `bad-${label}`, labels: {} },
    }));
    cases.push(
      { label: 'no spec', method: 'startRun', request: { idempotencyKey: 'bad-no-spec' } },
      {
        label: 'no idempotency key (and a NaN learning rate)',
        method: 'startRun',
        request: { spec: withField(base(), 'optimizer.learningRate', Number.NaN) },
      },
      {
        label: 'unicode labels on an invalid spec',
        method: 'startRun',
        request: {
          spec: withField(base(), 'optimizer.learningRate', Number.NaN),
          idempotencyKey: 'bad-labels',
          labels: { 'ключ😀': 'значение'.repeat(1000) },
        },
      },
    );
    for (const id of BAD_IDS) {
      const l = `id ${JSON.stringify(id.slice(0, 24))}`;
      cases.push(
        { label: l, method: 'getRun', request: { runId: id } },
        { label: l, method: 'watchRun', request: { runId: id } },
        { label: l, method: 'cancelRun', request: { runId: id } },
        { label: l, method: 'readParameters', request: { checkpoint: { runId: id, step: 0 } } },
      );
    }
    cases.push(
      { label: 'no checkpoint', method: 'readParameters', request: {} },
      {
        label: 'step that was never saved',
        method: 'readParameters',
        request: { checkpoint: { runId: fx.runId, step: 123_456_789 } },
      },
      {
        label: 'chunk of 2^32-1 bytes',
        method: 'readParameters',
        request: { checkpoint: { runId: fx.runId }, chunkBytes: U32_MAX },
        mayAnswer: true,
      },
      {
        label: 'watch from 2^53',
        method: 'watchRun',
        request: { runId: fx.runId, fromSequence: Number.MAX_SAFE_INTEGER },
        mayAnswer: true,
      },
      {
        label: 'page size 2^32-1',
        method: 'listRuns',
        request: { page: { pageSize: U32_MAX } },
        mayAnswer: true,
      },
      { label: 'garbage page token', method: 'listRuns', request: { page: { pageToken: '!!' } } },
      { label: 'state 99', method: 'listRuns', request: { state: 99 }, mayAnswer: true },
    );
    await runTable('trainer', cases);
  });

  test('analysis service', async () => {
    const base = () => analysisSpec(fx.runId);
    const kind = (k: string, v: unknown) => ({ $case: k, value: v });
    const mutations: [string, string, unknown][] = [
      ['no kind', 'kind', undefined],
      ['no checkpoint', 'checkpoint', undefined],
      ['unknown run', 'checkpoint.source.value.runId', 'no-such-run'],
      ['unicode run id', 'checkpoint.source.value.runId', 'прогон😀'],
      ['a step never saved', 'checkpoint.source.value.step', 987_654_321],
      ['unknown analysis checkpoint', 'checkpoint.source', { $case: 'analysisId', value: 'no-such' }],
      ['unknown dataset', 'dataset', { datasetId: 'no-such-dataset' }],
      ['split 99', 'split', 99],
      ['precision 99', 'precision', 99],
      ['device 99', 'device', 99],
      ['100000 threads', 'threads', 100_000],
      ['top-k 0 of 51', 'kind', kind('hessianEigen', { topK: 51 })],
      ['top-k 2^32-1', 'kind', kind('hessianEigen', { topK: U32_MAX })],
      ['tolerance NaN', 'kind', kind('hessianEigen', { topK: 1, tolerance: Number.NaN })],
      ['tolerance -1', 'kind', kind('hessianEigen', { topK: 1, tolerance: -1 })],
      ['2^32-1 Lanczos iterations', 'kind', kind('hessianEigen', { topK: 1, maxIterations: U32_MAX })],
      ['trace of 2^32-1 queries', 'kind', kind('hessianTrace', { numQueries: U32_MAX })],
      ['density of 2^32-1 probes', 'kind', kind('spectralDensity', { numProbes: U32_MAX })],
      ['sharpness epsilon NaN', 'kind', kind('sharpness', { epsilon: Number.NaN })],
      ['sharpness epsilon -1', 'kind', kind('sharpness', { epsilon: -1 })],
      ['sharpness epsilon Inf', 'kind', kind('sharpness', { epsilon: Number.POSITIVE_INFINITY })],
      ['2^32-1 sharpness restarts', 'kind', kind('sharpness', { restarts: U32_MAX })],
      ['interpolation without the other model', 'kind', kind('interpolation', { numPoints: 5 })],
      [
        'interpolation alpha NaN',
        'kind',
        kind('interpolation', {
          other: { source: { $case: 'run', value: { runId: 'x' } } },
          alphaMin: Number.NaN,
        }),
      ],
      [
        'interpolation of 2^32-1 points',
        'kind',
        kind('interpolation', {
          other: { source: { $case: 'run', value: { runId: 'x' } } },
          numPoints: U32_MAX,
        }),
      ],
      ['random slice in 3 dimensions', 'kind', kind('randomSlice', { dimensions: 3 })],
      ['rescale alpha NaN', 'kind', kind('rescale', { alpha: Number.NaN })],
    ];
    const lateReferences = new Set([
      'unknown run',
      'unicode run id',
      'a step never saved',
      'unknown analysis checkpoint',
      'unknown dataset',
    ]);
    const cases: Case[] = mutations.map(([label, path, value]) => ({
      label,
      method: 'startAnalysis',
      request: { spec: withField(base(), path, value), idempotencyKey: `bad-${label}`, labels: {} },
      acceptedThenFails: lateReferences.has(label),
    }));
    cases.push(
      { label: 'no spec', method: 'startAnalysis', request: { idempotencyKey: 'bad-no-spec' } },
      {
        label: 'no idempotency key',
        method: 'startAnalysis',
        request: { spec: withField(base(), 'kind', undefined) },
      },
    );
    for (const id of BAD_IDS) {
      const l = `id ${JSON.stringify(id.slice(0, 24))}`;
      cases.push(
        { label: l, method: 'getAnalysis', request: { analysisId: id } },
        { label: l, method: 'watchAnalysis', request: { analysisId: id } },
        { label: l, method: 'cancelAnalysis', request: { analysisId: id } },
        { label: l, method: 'readAnalysisArtifact', request: { analysisId: id, artifact: 'result.json' } },
      );
    }
    for (const artifact of [
      '',
      '../../../etc/passwd',
      '/etc/passwd',
      '..',
      'ñ😀',
      'a\u0000b',
      'x'.repeat(5000),
    ]) {
      cases.push({
        label: `artifact ${JSON.stringify(artifact.slice(0, 24))} of a real analysis`,
        method: 'readAnalysisArtifact',
        request: { analysisId: fx.analysisId, artifact },
      });
    }
    cases.push(
      {
        label: 'page size 2^32-1',
        method: 'listAnalyses',
        request: { page: { pageSize: U32_MAX } },
        mayAnswer: true,
      },
      { label: 'garbage page token', method: 'listAnalyses', request: { page: { pageToken: '%%%' } } },
      { label: 'state 99', method: 'listAnalyses', request: { state: 99 }, mayAnswer: true },
    );
    await runTable('analysis', cases, async (count) => {
      // Each of them ends FAILED with a deliberate code, at once (nothing to compute).
      const client = createClient(AnalysisServiceClient, stack.services.analysis?.address as string);
      try {
        const deadline = Date.now() + 60_000;
        let failed: { status?: { error?: { code: number } } }[] = [];
        while (Date.now() < deadline) {
          const r = await callUnary(
            client,
            client.listAnalyses,
            ListAnalysesRequest.fromPartial({ state: 4 }),
          );
          failed = r.analyses;
          if (failed.length >= count) break;
          await new Promise((res) => setTimeout(res, 200));
        }
        assert.equal(failed.length, count, 'every accepted analysis of an unknown checkpoint failed');
        for (const a of failed) {
          assert.ok(
            [status.NOT_FOUND, status.FAILED_PRECONDITION, status.INVALID_ARGUMENT].includes(
              a.status?.error?.code ?? 0,
            ),
            `failed with ${statusName(a.status?.error?.code ?? 0)}`,
          );
        }
      } finally {
        closeClient(client);
      }
    });
  });

  test('coordinator', async () => {
    const text = (label: string, specText: string): Case[] => [
      {
        label,
        method: 'startExperiment',
        request: { source: { $case: 'specText', value: specText }, idempotencyKey: `bad-${label}` },
      },
      { label, method: 'validateExperiment', request: { source: { $case: 'specText', value: specText } } },
    ];
    const spec = (mutate: (s: Record<string, unknown>) => unknown) => {
      const s = experimentSpecJson('bad');
      mutate(s);
      return JSON.stringify(s);
    };
    const run = (s: Record<string, unknown>) => (s.base as { run: Record<string, unknown> }).run;
    const deep = `${'['.repeat(100_000)}${']'.repeat(100_000)}`;
    const yamlBomb = [
      'a: &a ["x","x","x","x","x","x","x","x","x","x"]',
      ...Array.from({ length: 9 }, (_, i) => {
        const p = String.fromCharCode(97 + i);
        const n = String.fromCharCode(98 + i);
        return `${n}: &${n} [*${p},*${p},*${p},*${p},*${p},*${p},*${p},*${p},*${p},*${p}]`;
      }),
      'name: *j',
    ].join('\n');
    const cases: Case[] = [
      ...text('empty spec text', ''),
      ...text('not JSON or YAML', '{{{ not a spec'),
      ...text('null', 'null'),
      ...text('a list', '[]'),
      ...text('wrong types', '{"name": 5, "base": "x"}'),
      ...text('100000-deep nesting', deep),
      ...text('YAML alias bomb (10^10 nodes)', yamlBomb),
      ...text(
        'YAML NaN learning rate',
        spec((s) =>
          Object.assign(run(s), { optimizer: { kind: 'OPTIMIZER_KIND_SGD', learningRate: 'NaN' } }),
        ),
      ),
      ...text(
        'YAML .nan learning rate',
        `name: bad\nbase:\n  run:\n    optimizer: { kind: OPTIMIZER_KIND_SGD, learningRate: .nan }\n`,
      ),
      ...text(
        'negative batch size',
        spec((s) => Object.assign(run(s), { batchSize: -4 })),
      ),
      ...text(
        'zero-sized input',
        spec((s) => Object.assign(run(s), { model: { inputShape: [0], numOutputs: 3, layers: [] } })),
      ),
      ...text(
        'unknown field',
        spec((s) => Object.assign(s, { surprise: true })),
      ),
      ...text(
        'unicode name with a bad field',
        spec((s) => Object.assign(s, { name: 'эксперимент😀', seeds: [-1] })),
      ),
      ...text(
        '20000 seeds (over the cell limit)',
        spec((s) => Object.assign(s, { seeds: Array.from({ length: 20_000 }, (_, i) => i) })),
      ),
      ...text(
        'sweeps of 10^8 cells',
        spec((s) =>
          Object.assign(s, {
            sweeps: Array.from({ length: 4 }, (_, i) => ({
              axis: `run.seed${i}`,
              values: Array.from({ length: 100 }, (_, j) => j),
            })),
          }),
        ),
      ),
      ...text(
        'max attempts 100',
        spec((s) => Object.assign(s, { execution: { maxAttempts: 100 } })),
      ),
      { label: 'no source', method: 'startExperiment', request: { idempotencyKey: 'bad-no-source' } },
      { label: 'no source', method: 'validateExperiment', request: {} },
      {
        label: 'empty typed spec',
        method: 'startExperiment',
        request: { source: { $case: 'spec', value: {} }, idempotencyKey: 'bad-typed' },
      },
      {
        label: 'unknown preset',
        method: 'startExperiment',
        request: { source: { $case: 'preset', value: { name: 'нет' } }, idempotencyKey: 'bad-preset' },
      },
      {
        label: 'unknown preset size',
        method: 'startExperiment',
        request: {
          source: { $case: 'preset', value: { name: 'zhang2017', size: 'enormous' } },
          idempotencyKey: 'bad-size',
        },
      },
      {
        label: 'unknown preset',
        method: 'validateExperiment',
        request: { source: { $case: 'preset', value: { name: '' } } },
      },
      {
        label: 'blank idempotency key',
        method: 'startExperiment',
        request: {
          source: { $case: 'specText', value: JSON.stringify(experimentSpecJson('ok')) },
          idempotencyKey: '   ',
        },
      },
    ];
    for (const id of BAD_IDS) {
      const l = `id ${JSON.stringify(id.slice(0, 24))}`;
      cases.push(
        { label: l, method: 'getExperiment', request: { experimentId: id } },
        { label: l, method: 'watchExperiment', request: { experimentId: id } },
        { label: l, method: 'cancelExperiment', request: { experimentId: id } },
        { label: l, method: 'buildReport', request: { experimentId: id } },
      );
    }
    cases.push(
      { label: 'page size 2^32-1', method: 'listExperiments', request: { page: { pageSize: U32_MAX } } },
      { label: 'garbage page token', method: 'listExperiments', request: { page: { pageToken: '@@' } } },
      { label: 'state 99', method: 'listExperiments', request: { state: 99 }, mayAnswer: true },
    );
    await runTable('coordinator', cases);
  });
});
