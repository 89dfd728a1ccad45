// The analysis service's job plumbing over gRPC: idempotent StartAnalysis, errors with field paths,
// UNIMPLEMENTED kinds, the bounded queue (RESOURCE_EXHAUSTED), cancellation, WatchAnalysis resumption
// from a sequence number, monotone progress, responsiveness while a job computes on the main thread,
// and a job left RUNNING by a stopped process re-run on the next start (attempt 2). The kinds here are
// test kinds registered under real oneof names (injected registry), so no trainer is needed; the real
// kinds run against the real trainer and data services in service-e2e.test.ts.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { AnalysisSpec } from '@gengap/proto/analysis/v1/analysis';
import { JobState } from '@gengap/proto/common/v1/job';
import { callUnary, FIELD_METADATA_KEY, readStream } from '@gengap/service-kit';
import type { ServiceError } from '@grpc/grpc-js';
import { hessianEigenKind } from '../src/analyses/hessian-eigen.ts';
import { type AnalysisKind, defineKind } from '../src/analyses/kind.ts';
import { KindRegistry } from '../src/analyses/registry.ts';
import { RUN_LABEL } from '../src/jobs/analysis-jobs.ts';
import {
  type AnalysisHandle,
  readArtifact,
  runCheckpoint,
  startAnalysis,
  tempDir,
} from './support/harness.ts';

/** Succeeds after `steps` progress reports (spin ~20 ms of CPU each, as numerics would). */
const stepping = (steps: number): AnalysisKind =>
  defineKind({
    name: 'generalizationGap',
    validate() {},
    async run(ctx) {
      for (let i = 1; i <= steps; i++) {
        const until = Date.now() + 20;
        while (Date.now() < until) {
          /* busy: a numerics kernel between yields */
        }
        await ctx.progress.report(i / steps, `step ${i}`);
      }
      await ctx.artifacts.writeBytes('note.txt', 'text/plain', new TextEncoder().encode('hello'));
      return {
        result: {
          $case: 'generalizationGap',
          value: {
            trainLoss: 1,
            trainAccuracy: 0.5,
            testLoss: 2,
            testAccuracy: 0.25,
            lossGap: 1,
            accuracyGap: 0.25,
          },
        },
        table: { columns: ['a', 'b'], rows: [[1, 'x,y']] },
        plot: { mark: 'point', data: { values: [{ a: 1 }] } },
      };
    },
  }) as AnalysisKind;

/** Never finishes on its own: waits for its signal. */
const blocking = defineKind({
  name: 'sharpness',
  validate() {},
  async run(ctx) {
    await ctx.progress.report(0.25, 'waiting');
    await new Promise((_, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason)));
    throw new Error('unreachable');
  },
}) as AnalysisKind;

const registry = new KindRegistry([stepping(10), blocking, hessianEigenKind as AnalysisKind]);

let dir: ReturnType<typeof tempDir>;
let service: AnalysisHandle;

before(async () => {
  dir = tempDir('plumbing');
  service = await startAnalysis({
    stateDir: dir.path,
    registry,
    maxConcurrentAnalyses: 1,
    maxQueuedAnalyses: 1,
  });
});

after(async () => {
  await service?.close();
  dir?.remove();
});

const gapSpec = (runId = 'r1') =>
  AnalysisSpec.fromPartial({
    checkpoint: runCheckpoint(runId),
    kind: { $case: 'generalizationGap', value: {} },
  });
const blockingSpec = (runId = 'r1') =>
  AnalysisSpec.fromPartial({
    checkpoint: runCheckpoint(runId),
    kind: { $case: 'sharpness', value: { epsilon: 0, subspaceDimension: 0, maxIterations: 0, restarts: 0 } },
  });

function start(spec: AnalysisSpec, key: string, labels: Record<string, string> = {}) {
  return callUnary(service.client, service.client.startAnalysis, { spec, idempotencyKey: key, labels });
}

async function expectError(promise: Promise<unknown>, code: number, field?: string): Promise<ServiceError> {
  try {
    await promise;
  } catch (err) {
    const e = err as ServiceError;
    assert.equal(e.code, code, e.details);
    if (field !== undefined) assert.equal(e.metadata.get(FIELD_METADATA_KEY)[0], field);
    return e;
  }
  throw new Error('expected an error');
}

async function waitForEnd(id: string) {
  const events = [];
  for await (const m of readStream(service.client, service.client.watchAnalysis, {
    analysisId: id,
    fromSequence: 0,
  })) {
    events.push(m.event!);
  }
  return events;
}

describe('StartAnalysis', () => {
  test('is idempotent on its key; the same key with another spec is ALREADY_EXISTS', async () => {
    const first = await start(gapSpec(), 'idem-1', { team: 'a' });
    const again = await start(gapSpec(), 'idem-1', { team: 'a' });
    assert.equal(first.created, true);
    assert.equal(again.created, false);
    assert.equal(again.analysis?.analysisId, first.analysis?.analysisId);
    assert.equal(first.analysis?.labels[RUN_LABEL], 'r1');
    await expectError(start(gapSpec('r2'), 'idem-1'), 6);
    await waitForEnd(first.analysis!.analysisId);
  });

  test('bad specs are INVALID_ARGUMENT with the field path; unknown kinds UNIMPLEMENTED naming the kind', async () => {
    await expectError(start(gapSpec(), ''), 3, 'idempotency_key');
    await expectError(
      start(AnalysisSpec.fromPartial({ kind: { $case: 'generalizationGap', value: {} } }), 'k1'),
      3,
      'spec.checkpoint',
    );
    await expectError(
      start(AnalysisSpec.fromPartial({ checkpoint: runCheckpoint('r') }), 'k2'),
      3,
      'spec.kind',
    );
    await expectError(
      start(
        AnalysisSpec.fromPartial({
          checkpoint: runCheckpoint('r'),
          kind: { $case: 'hessianEigen', value: { topK: 51 } },
        }),
        'k3',
      ),
      3,
      'spec.hessian_eigen.top_k',
    );
    const e = await expectError(
      start(
        AnalysisSpec.fromPartial({ checkpoint: runCheckpoint('r'), kind: { $case: 'inversion', value: {} } }),
        'k4',
      ),
      12,
    );
    assert.match(e.details, /analysis kind inversion is not implemented yet/);
    // The coordinator's capability probe: a spec naming only a kind is UNIMPLEMENTED for a missing
    // kind and INVALID_ARGUMENT (nothing started) for one that exists.
    await expectError(start(AnalysisSpec.fromJSON({ attack: {} }), 'probe-1'), 12);
    await expectError(start(AnalysisSpec.fromJSON({ hessianEigen: {} }), 'probe-2'), 3, 'spec.checkpoint');
  });

  test('a full queue answers RESOURCE_EXHAUSTED at once; cancelling frees it', async () => {
    const running = await start(blockingSpec(), 'queue-1');
    const queued = await start(blockingSpec(), 'queue-2');
    await expectError(start(blockingSpec(), 'queue-3'), 8);
    // The repeat of an accepted key is still answered (idempotency wins over capacity).
    assert.equal((await start(blockingSpec(), 'queue-2')).created, false);
    const cancelled = await callUnary(service.client, service.client.cancelAnalysis, {
      analysisId: queued.analysis!.analysisId,
    });
    assert.equal(cancelled.analysis?.status?.state, JobState.JOB_STATE_CANCELLED);
    const third = await start(blockingSpec(), 'queue-3');
    assert.equal(third.created, true);
    for (const a of [running, third]) {
      await callUnary(service.client, service.client.cancelAnalysis, { analysisId: a.analysis!.analysisId });
    }
    const events = await waitForEnd(running.analysis!.analysisId);
    assert.equal(events.at(-1)?.status?.state, JobState.JOB_STATE_CANCELLED);
    // Cancelling a finished analysis changes nothing.
    const again = await callUnary(service.client, service.client.cancelAnalysis, {
      analysisId: running.analysis!.analysisId,
    });
    assert.equal(again.analysis?.status?.state, JobState.JOB_STATE_CANCELLED);
  });
});

describe('WatchAnalysis and results', () => {
  test('progress is monotone, the stream resumes from a sequence number, results and exports are readable', async () => {
    const { analysis } = await start(gapSpec('r9'), 'watch-1', { exp: 'e1' });
    const id = analysis!.analysisId;
    // The server stays responsive while the job computes: GetAnalysis answers quickly throughout.
    let worst = 0;
    for (let i = 0; i < 10; i++) {
      const t0 = performance.now();
      await callUnary(service.client, service.client.getAnalysis, { analysisId: id });
      worst = Math.max(worst, performance.now() - t0);
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.ok(worst < 150, `GetAnalysis took up to ${worst.toFixed(0)} ms during a job`);
    const events = await waitForEnd(id);
    assert.deepEqual(
      events.map((e) => e.sequence),
      events.map((_, i) => i),
    );
    const progress = events.map((e) => e.status!.progress);
    for (let i = 1; i < progress.length; i++) assert.ok(progress[i]! >= progress[i - 1]!);
    assert.equal(events[0]!.status!.state, JobState.JOB_STATE_QUEUED);
    assert.equal(events.at(-1)!.status!.state, JobState.JOB_STATE_SUCCEEDED);
    assert.ok(events.some((e) => e.status!.phase.startsWith('step ')));
    const tail = [];
    for await (const m of readStream(service.client, service.client.watchAnalysis, {
      analysisId: id,
      fromSequence: 2,
    })) {
      tail.push(m.event!.sequence);
    }
    assert.deepEqual(
      tail,
      events.slice(2).map((e) => e.sequence),
    );

    const { analysis: done } = await callUnary(service.client, service.client.getAnalysis, {
      analysisId: id,
    });
    assert.equal(done?.result?.kind?.$case, 'generalizationGap');
    assert.deepEqual(done?.result?.artifacts, ['note.txt', 'result.json', 'result.csv', 'plot.vl.json']);
    assert.ok((done?.result?.wallSeconds ?? 0) > 0);
    assert.equal(JSON.parse(done!.result!.plotSpecJson).mark, 'point');
    const csv = await readArtifact(service.client, id, 'result.csv');
    assert.equal(csv.mediaType, 'text/csv');
    assert.equal(new TextDecoder().decode(csv.tensors[0]!.data), 'a,b\n1,"x,y"\n');
    const json = JSON.parse(
      new TextDecoder().decode((await readArtifact(service.client, id, 'result.json')).tensors[0]!.data),
    );
    assert.equal(json.kind, 'generalization_gap');
    assert.equal(json.result.generalizationGap.testAccuracy, 0.25);

    const listed = await callUnary(service.client, service.client.listAnalyses, {
      page: { pageSize: 10, pageToken: '' },
      state: JobState.JOB_STATE_SUCCEEDED,
      labels: { exp: 'e1', [RUN_LABEL]: 'r9' },
    });
    assert.deepEqual(
      listed.analyses.map((a) => a.analysisId),
      [id],
    );
    await expectError(callUnary(service.client, service.client.getAnalysis, { analysisId: 'nope' }), 5);
    await expectError(readArtifact(service.client, id, 'missing.json'), 5);
    await expectError(readArtifact(service.client, id, '../escape.json'), 3);
  });
});

describe('restart', () => {
  test('a job left RUNNING by a stopped service runs again (attempt 2) on the next start and succeeds', async () => {
    const stateDir = `${dir.path}/restart`;
    const firstLife = await startAnalysis({ stateDir, registry: new KindRegistry([blocking]) });
    const { analysis } = await callUnary(firstLife.client, firstLife.client.startAnalysis, {
      spec: blockingSpec(),
      idempotencyKey: 'crash-1',
      labels: {},
    });
    const id = analysis!.analysisId;
    for (;;) {
      const { analysis: a } = await callUnary(firstLife.client, firstLife.client.getAnalysis, {
        analysisId: id,
      });
      if (a?.status?.progress === 0.25) break;
      await new Promise((r) => setTimeout(r, 10));
    }
    await firstLife.close();
    // The next process runs a kind that finishes (as a deterministic analysis would, given its seed).
    const done = defineKind({
      name: 'sharpness',
      validate() {},
      async run(ctx) {
        await ctx.progress.report(0.5, 'again');
        return {
          result: {
            $case: 'sharpness',
            value: {
              sharpness: 1,
              baseLoss: 0,
              maxLoss: 0.01,
              iterations: 1,
              subspaceDimension: 0,
              restartMaxLosses: [0.01],
              fractionAtBound: 0,
            },
          },
        };
      },
    }) as AnalysisKind;
    const secondLife = await startAnalysis({ stateDir, registry: new KindRegistry([done]) });
    try {
      const events = [];
      for await (const m of readStream(secondLife.client, secondLife.client.watchAnalysis, {
        analysisId: id,
        fromSequence: 0,
      })) {
        events.push(m.event!);
      }
      const final = events.at(-1)!.status!;
      assert.equal(final.state, JobState.JOB_STATE_SUCCEEDED);
      assert.equal(final.attempt, 2);
      assert.deepEqual(
        events
          .filter((e) => e.status!.state === JobState.JOB_STATE_RUNNING && e.status!.phase === 'starting')
          .map((e) => e.status!.attempt),
        [1, 2],
      );
      const progress = events.map((e) => e.status!.progress);
      for (let i = 1; i < progress.length; i++)
        assert.ok(progress[i]! >= progress[i - 1]!, 'progress stays monotone across attempts');
    } finally {
      await secondLife.close();
    }
  });
});
