// Property-based fuzzing (fast-check, fixed seed) of every RPC of the four services, on the real
// processes:
//   extreme-but-encodable messages: a valid base request with random fields replaced by extremes of
//     their type (0, -0, ±2^31, 2^32-1, 2^53, NaN, ±Infinity, 1e308, denormals; empty, huge, unicode,
//     NUL and path-like strings; long arrays), encoded with the generated code;
//   bytes on the wire: random bytes, truncated and bit-flipped encodings of valid requests, and valid
//     requests of other methods (wrong type), sent through a client with an identity serializer.
// Invariant for every call: a deliberate status (never UNKNOWN, never a handler's INTERNAL; grpc-js's
// INTERNAL "Error deserializing request" is the deliberate answer to undecodable bytes), no hang
// (a deadline on each call; unary calls must answer before it), the process alive and SERVING after
// every method's batch, and no more jobs stored than requests accepted. Jobs that fuzzing started are
// cancelled after each service. Limits are set low (dataset bytes, queues) so accepted extremes stay
// cheap.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { status } from '@grpc/grpc-js';
import fc from 'fast-check';
import { cancelLiveJobs, type Fixtures, jobCounts, prepareFixtures } from './support/fixtures.ts';
import { assertHealthy, isHandlerBug, RawCaller } from './support/probe.ts';
import {
  analysisSpec,
  datasetSpec,
  encodeRequest,
  experimentSpecJson,
  methodOf,
  runSpec,
  SERVICES,
  type ServiceName,
} from './support/requests.ts';
import { type ProcessStack, startProcessStack, statusName, tempRoot } from './support/stack.ts';

const SEED = 20261126;
const RUNS_PER_METHOD = Number(process.env.GENGAP_FUZZ_RUNS ?? 30);
const RAW_RUNS_PER_METHOD = Number(process.env.GENGAP_FUZZ_RAW_RUNS ?? 20);

const root = tempRoot('fuzz');
let stack: ProcessStack;
let fx: Fixtures;
const report: string[] = [];

before(async () => {
  stack = await startProcessStack({
    root: root.path,
    env: { GENGAP_LOG_LEVEL: 'warn', GENGAP_MAX_UNARY_DEADLINE_MS: '10000' },
    perService: {
      data: { GENGAP_MAX_DATASET_BYTES: String(64 * 1024 * 1024), GENGAP_DATASET_CONCURRENCY: '1' },
      trainer: { GENGAP_MAX_CONCURRENT_RUNS: '1', GENGAP_MAX_QUEUED_RUNS: '4' },
      analysis: { GENGAP_MAX_CONCURRENT_ANALYSES: '1', GENGAP_MAX_QUEUED_ANALYSES: '4' },
      coordinator: { GENGAP_MAX_CONCURRENT_RUNS: '1' },
    },
  });
  fx = await prepareFixtures(stack);
});

after(() => {
  stack?.kill();
  root.remove();
  if (report.length > 0) console.log(report.map((l) => `# ${l}`).join('\n'));
});

// ---- extreme values by type ------------------------------------------------------------------------

const extremeNumbers = [
  0,
  -0,
  1,
  -1,
  2 ** 31 - 1,
  -(2 ** 31),
  2 ** 32 - 1,
  2 ** 32,
  Number.MAX_SAFE_INTEGER,
  -Number.MAX_SAFE_INTEGER,
  Number.NaN,
  Number.POSITIVE_INFINITY,
  Number.NEGATIVE_INFINITY,
  1e308,
  5e-324,
  0.5,
];
const numberArb = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...extremeNumbers) },
  { weight: 1, arbitrary: fc.integer() },
  { weight: 1, arbitrary: fc.double() },
);
const stringArb = fc.oneof(
  fc.constantFrom('', '../../../etc/passwd', 'a\u0000b', '😀'.repeat(1000), 'x'.repeat(100_000), 'ñ✓ 数据'),
  fc.string({ unit: 'grapheme', maxLength: 64 }),
  fc.string({ unit: 'binary', maxLength: 64 }),
);

type LeafKind = 'number' | 'string' | 'boolean' | 'numbers' | 'strings' | 'map' | 'bytes';
interface Leaf {
  path: (string | number)[];
  kind: LeafKind;
}

function leavesOf(value: unknown, path: (string | number)[] = []): Leaf[] {
  if (typeof value === 'number') return [{ path, kind: 'number' }];
  if (typeof value === 'string') return [{ path, kind: 'string' }];
  if (typeof value === 'boolean') return [{ path, kind: 'boolean' }];
  if (value instanceof Uint8Array) return [{ path, kind: 'bytes' }];
  if (Array.isArray(value)) {
    if (value.every((v) => typeof v === 'number')) return [{ path, kind: 'numbers' }];
    if (value.every((v) => typeof v === 'string')) return [{ path, kind: 'strings' }];
    return value.flatMap((v, i) => leavesOf(v, [...path, i]));
  }
  if (value && typeof value === 'object') {
    const entries = Object.entries(value).filter(([k]) => k !== '$case');
    if (entries.length === 0 && path.at(-1) === 'labels') return [{ path, kind: 'map' }];
    return entries.flatMap(([k, v]) => leavesOf(v, [...path, k]));
  }
  return [];
}

function valueArb(kind: LeafKind): fc.Arbitrary<unknown> {
  switch (kind) {
    case 'number':
      return numberArb;
    case 'string':
      return stringArb;
    case 'boolean':
      return fc.boolean();
    case 'numbers':
      return fc.oneof(fc.array(numberArb, { maxLength: 12 }), fc.constant(Array(100_000).fill(1)));
    case 'strings':
      return fc.array(stringArb, { maxLength: 8 });
    case 'map':
      return fc.dictionary(stringArb, stringArb, { maxKeys: 8 });
    case 'bytes':
      return fc.uint8Array({ maxLength: 256 });
  }
}

function setAt(target: unknown, path: (string | number)[], value: unknown): void {
  let node = target as Record<string | number, unknown>;
  for (const part of path.slice(0, -1)) node = node[part] as Record<string | number, unknown>;
  node[path.at(-1) as string | number] = value;
}

// ---- the base request of every method -------------------------------------------------------------

interface Base {
  /** A valid request (before fromPartial). */
  request: () => Record<string, unknown>;
  /** Starts or creates work (accepted calls may store a job). */
  writes?: boolean;
  /** Mutate this JSON and put it, stringified, into source.specText (coordinator specs). */
  specJson?: () => Record<string, unknown>;
}

function bases(service: ServiceName): Record<string, Base> {
  const page = { page: { pageSize: 10, pageToken: '' } };
  const d = fx.datasetId;
  const r = fx.runId;
  const a = fx.analysisId;
  switch (service) {
    case 'data':
      return {
        createDataset: { request: () => ({ spec: datasetSpec(), idempotencyKey: '' }), writes: true },
        watchDataset: { request: () => ({ datasetId: d, fromSequence: 0 }) },
        getDataset: { request: () => ({ datasetId: d }) },
        listDatasets: { request: () => page },
        cancelDataset: { request: () => ({ datasetId: 'no-such' }) },
        deleteDataset: { request: () => ({ datasetId: 'no-such' }) },
        readDataset: { request: () => ({ datasetId: d, split: 1, chunkBytes: 0, inputDtype: 0 }) },
        readOnlineBatches: { request: () => ({ datasetId: d, batchSize: 8, startBatch: 0, numBatches: 2 }) },
        sampleDataset: { request: () => ({ datasetId: d, split: 1, count: 4, renderPng: true, seed: 1 }) },
        validateDatasetSpec: { request: () => ({ spec: datasetSpec() }) },
      };
    case 'trainer':
      return {
        startRun: { request: () => ({ spec: runSpec(d), idempotencyKey: 'k', labels: {} }), writes: true },
        watchRun: { request: () => ({ runId: r, fromSequence: 0, skipStepMetrics: false }) },
        getRun: { request: () => ({ runId: r }) },
        listRuns: { request: () => ({ ...page, state: 0, labels: {} }) },
        cancelRun: { request: () => ({ runId: 'no-such' }) },
        readParameters: {
          request: () => ({ checkpoint: { runId: r, step: 0 }, chunkBytes: 0, includeOptimizerState: false }),
        },
        getTrainerInfo: { request: () => ({}) },
      };
    case 'analysis':
      return {
        startAnalysis: {
          request: () => ({ spec: analysisSpec(r), idempotencyKey: 'k', labels: {} }),
          writes: true,
        },
        watchAnalysis: { request: () => ({ analysisId: a, fromSequence: 0 }) },
        getAnalysis: { request: () => ({ analysisId: a }) },
        listAnalyses: { request: () => ({ ...page, state: 0, labels: {} }) },
        cancelAnalysis: { request: () => ({ analysisId: 'no-such' }) },
        readAnalysisArtifact: { request: () => ({ analysisId: a, artifact: 'result.json', chunkBytes: 0 }) },
        getAnalysisInfo: { request: () => ({}) },
      };
    case 'coordinator': {
      const specJson = () => experimentSpecJson('fuzz');
      const text = () => ({ $case: 'specText', value: JSON.stringify(specJson()) });
      return {
        startExperiment: {
          request: () => ({ source: text(), idempotencyKey: 'k', labels: {} }),
          writes: true,
          specJson,
        },
        validateExperiment: { request: () => ({ source: text() }), specJson },
        watchExperiment: { request: () => ({ experimentId: 'no-such', fromSequence: 0 }) },
        getExperiment: { request: () => ({ experimentId: 'no-such' }) },
        listExperiments: { request: () => ({ ...page, state: 0 }) },
        cancelExperiment: { request: () => ({ experimentId: 'no-such' }) },
        listPresets: { request: () => ({}) },
        buildReport: { request: () => ({ experimentId: 'no-such' }) },
      };
    }
  }
}

// ---- one service ----------------------------------------------------------------------------------

let uniqueKey = 0;

async function fuzzService(service: ServiceName): Promise<void> {
  const proc = stack.services[service];
  if (!proc) throw new Error(`${service} is not running`);
  const caller = new RawCaller(proc.address);
  const failures: string[] = [];
  const codes = new Map<string, number>();
  let accepted = 0;
  let sent = 0;
  let unencodable = 0;
  const jobsBefore = await jobCounts(stack);
  const table = bases(service);
  const methods = Object.keys(SERVICES[service].def);
  assert.deepEqual(
    new Set(Object.keys(table)),
    new Set(methods),
    `${service}: a base request for every method`,
  );
  const validEncodings = methods.map((m) => encodeRequest(service, m, table[m]?.request()) as Uint8Array);

  const send = async (method: string, bytes: Uint8Array, label: string) => {
    const def = methodOf(service, method);
    const outcome = await caller.call(def, bytes, { deadlineMs: 12_000, maxMessages: 2 });
    sent++;
    const name = statusName(outcome.code);
    codes.set(name, (codes.get(name) ?? 0) + 1);
    if (outcome.code === status.OK && table[method]?.writes) accepted++;
    const hung = outcome.code === status.DEADLINE_EXCEEDED && !def.responseStream;
    if (isHandlerBug(outcome) || hung) {
      if (failures.length < 30) failures.push(`${method} ${label}: ${name} ${outcome.details.slice(0, 160)}`);
    }
  };

  try {
    for (const [index, method] of methods.entries()) {
      const base = table[method] as Base;
      // Extreme-but-encodable messages.
      const template = base.specJson ? base.specJson() : base.request();
      const typed = base.specJson
        ? template
        : (SERVICES[service].module as unknown as Record<string, { fromPartial(v: unknown): unknown }>)[
            `${method[0]?.toUpperCase()}${method.slice(1)}Request`
          ]?.fromPartial(template);
      const leaves = leavesOf(typed);
      if (leaves.length > 0) {
        const mutation = fc
          .uniqueArray(fc.integer({ min: 0, max: leaves.length - 1 }), { minLength: 1, maxLength: 3 })
          .chain((picked) =>
            fc.tuple(...picked.map((i) => valueArb((leaves[i] as Leaf).kind).map((v) => [i, v] as const))),
          );
        await fc.assert(
          fc.asyncProperty(mutation, async (changes) => {
            const message = structuredClone(typed) as Record<string, unknown>;
            for (const [i, v] of changes) setAt(message, (leaves[i] as Leaf).path, v);
            const request = base.specJson
              ? {
                  ...base.request(),
                  source: { $case: 'specText', value: JSON.stringify(message) },
                }
              : message;
            if (
              'idempotencyKey' in request &&
              !changes.some(([i]) => leaves[i]?.path[0] === 'idempotencyKey')
            ) {
              (request as { idempotencyKey: string }).idempotencyKey = `fuzz-${++uniqueKey}`;
            }
            const bytes = encodeRequest(service, method, request);
            if (!bytes) {
              unencodable++;
              return;
            }
            await send(
              method,
              bytes,
              `extreme ${changes.map(([i]) => (leaves[i] as Leaf).path.join('.')).join(',')}`,
            );
          }),
          { seed: SEED + index, numRuns: RUNS_PER_METHOD, endOnFailure: true },
        );
      }
      // Bytes on the wire.
      const valid = validEncodings[index] as Uint8Array;
      const others = validEncodings.filter((_, i) => i !== index && (validEncodings[i]?.length ?? 0) > 0);
      const raw = fc.oneof(
        fc.uint8Array({ maxLength: 512 }).map((b) => ({ label: 'random bytes', b })),
        fc.nat().map((n) => ({
          label: 'truncated',
          b: valid.subarray(0, valid.length === 0 ? 0 : n % valid.length),
        })),
        fc.tuple(fc.nat(), fc.integer({ min: 0, max: 7 })).map(([i, bit]) => {
          const b = Uint8Array.from(valid.length > 0 ? valid : [0]);
          b[i % b.length] = (b[i % b.length] as number) ^ (1 << bit);
          return { label: 'bit flip', b };
        }),
        fc.constantFrom(...(others.length > 0 ? others : [new Uint8Array([8, 1])])).map((b) => ({
          label: 'another method’s request',
          b,
        })),
      );
      await fc.assert(
        fc.asyncProperty(raw, async ({ label, b }) => {
          await send(method, b, label);
        }),
        { seed: SEED + 1000 + index, numRuns: RAW_RUNS_PER_METHOD, endOnFailure: true },
      );
      await assertHealthy(proc, `${service} after fuzzing ${method}`);
    }
  } finally {
    caller.close();
  }
  const jobsAfter = await jobCounts(stack);
  const stored = (jobsAfter[service] ?? 0) - (jobsBefore[service] ?? 0);
  report.push(
    `${service}: ${sent} fuzzed calls (${unencodable} unencodable skipped), ${accepted} accepted writes, ${stored} jobs stored -> ${[
      ...codes,
    ]
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}`,
  );
  await cancelLiveJobs(stack);
  assert.deepEqual(failures, [], `${service}: every fuzzed call gets a deliberate status`);
  assert.ok(stored <= accepted, `${service}: ${stored} jobs stored for ${accepted} accepted requests`);
  await assertHealthy(proc, `${service} after fuzzing`);
}

describe('fuzzing every RPC (fast-check, fixed seed)', () => {
  for (const service of ['data', 'trainer', 'analysis', 'coordinator'] as const) {
    test(service, async () => {
      await fuzzService(service);
    });
  }
});
