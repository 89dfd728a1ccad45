// The analysis service killed with SIGKILL in the middle of an analysis (no drain, no clean-up) and
// started again on the same state folder: the job resumes as attempt 2 and succeeds once, with the
// same result as an uninterrupted run of the same spec (analyses are deterministic given their seed),
// a gap-free event log holding exactly one SUCCEEDED status, monotone progress, and its artifacts
// readable. (Trainer, data and coordinator SIGKILLs are covered by their own suites; see the README's
// "Operating GenGap".)
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { AnalysisServiceClient, StartAnalysisRequest } from '@gengap/proto/analysis/v1/analysis_service';
import { JobState } from '@gengap/proto/common/v1/job';
import { callUnary, closeClient, createClient, readStream } from '@gengap/service-kit';
import { type ServiceProcess, startServiceProcess } from '../support/processes.ts';
import { type Fixtures, prepareFixtures } from './support/fixtures.ts';
import { analysisSpec, withField } from './support/requests.ts';
import { type ProcessStack, startProcessStack, tempRoot } from './support/stack.ts';

const root = tempRoot('analysis-sigkill');
let stack: ProcessStack;
let fx: Fixtures;
let analysis: ServiceProcess;
const stateDir = join(root.path, 'analysis-under-test');

const analysisEnv = () => ({
  GENGAP_STATE_DIR: stateDir,
  GENGAP_TRAINER_ADDRESS: stack.services.trainer?.address as string,
  GENGAP_DATA_ADDRESS: stack.services.data?.address as string,
  GENGAP_ANALYSIS_THREADS: '1',
});

before(async () => {
  stack = await startProcessStack({
    root: root.path,
    keys: ['data', 'trainer'],
    env: { GENGAP_LOG_LEVEL: 'warn' },
  });
  fx = await prepareFixtures(stack, 'sigkill');
  analysis = await startServiceProcess('analysis', analysisEnv());
});

after(() => {
  if (analysis && analysis.child.exitCode === null) analysis.child.kill('SIGKILL');
  stack?.kill();
  root.remove();
});

/** A spectral density heavy enough to take several seconds. */
function slowSpec(seed: number) {
  return withField(
    withField(analysisSpec(fx.runId), 'kind', {
      $case: 'spectralDensity',
      value: { numProbes: 40, lanczosSteps: 60, numGridPoints: 200 },
    }),
    'seed',
    seed,
  );
}

async function waitDone(client: AnalysisServiceClient, analysisId: string) {
  const deadline = Date.now() + 180_000;
  while (Date.now() < deadline) {
    const { analysis: a } = await callUnary(client, client.getAnalysis, { analysisId });
    if ([3, 4, 5].includes(a?.status?.state ?? 0)) return a;
    await sleep(200);
  }
  throw new Error('the analysis did not finish');
}

test('SIGKILL mid-analysis, restart: resumed as attempt 2, one success, same result as an uninterrupted run', async () => {
  let client = createClient(AnalysisServiceClient, analysis.address);
  const { analysis: started } = await callUnary(
    client,
    client.startAnalysis,
    StartAnalysisRequest.fromPartial({ spec: slowSpec(7) as never, idempotencyKey: 'killed' }),
  );
  const id = started?.analysisId as string;
  for await (const m of readStream(client, client.watchAnalysis, { analysisId: id, fromSequence: 0 })) {
    if (m.event?.status?.state === JobState.JOB_STATE_RUNNING && (m.event.status.progress ?? 0) > 0.05) break;
    if ([3, 4, 5].includes(m.event?.status?.state ?? 0))
      assert.fail('the analysis finished before the kill; make it slower');
  }
  analysis.child.kill('SIGKILL');
  await analysis.exited;
  closeClient(client);

  rmSync(join(stateDir, 'ready.json'), { force: true });
  analysis = await startServiceProcess('analysis', analysisEnv());
  client = createClient(AnalysisServiceClient, analysis.address);
  const done = await waitDone(client, id);
  assert.equal(done?.status?.state, JobState.JOB_STATE_SUCCEEDED, done?.status?.error?.message);
  assert.ok((done?.status?.attempt ?? 0) >= 2, `resumed as a new attempt (attempt ${done?.status?.attempt})`);

  const events = [];
  for await (const m of readStream(client, client.watchAnalysis, { analysisId: id, fromSequence: 0 })) {
    if (m.event) events.push(m.event);
  }
  assert.deepEqual(
    events.map((e) => e.sequence),
    events.map((_, i) => i),
    'gap-free sequence numbers',
  );
  assert.equal(
    events.filter((e) => e.status?.state === JobState.JOB_STATE_SUCCEEDED).length,
    1,
    'one success',
  );
  const progress = events.map((e) => e.status?.progress ?? 0);
  assert.ok(
    progress.every((p, i) => i === 0 || p >= (progress[i - 1] as number) - 1e-12),
    'progress is monotone across attempts',
  );

  // The same spec, uninterrupted, gives the same result.
  const { analysis: reference } = await callUnary(
    client,
    client.startAnalysis,
    StartAnalysisRequest.fromPartial({ spec: slowSpec(7) as never, idempotencyKey: 'uninterrupted' }),
  );
  const ref = await waitDone(client, reference?.analysisId as string);
  assert.deepEqual(done?.result?.kind, ref?.result?.kind, 'same result as an uninterrupted run');
  const chunks = [];
  for await (const m of readStream(client, client.readAnalysisArtifact, {
    analysisId: id,
    artifact: 'result.json',
    chunkBytes: 0,
  })) {
    chunks.push(m);
  }
  assert.ok(chunks.length > 0, 'its artifacts are readable');
  closeClient(client);
});
