// What the CLI makes of coordinator answers: gRPC errors as one line and an exit code (the field
// path of INVALID_ARGUMENT from the trailing metadata), the --json run summary, exit codes from
// final states, and how the run argument is read.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { JobState } from '@gengap/proto/common/v1/job';
import { Experiment } from '@gengap/proto/coordinator/v1/experiment';
import { FIELD_METADATA_KEY } from '@gengap/service-kit';
import { Metadata, status } from '@grpc/grpc-js';
import { EXIT } from '../src/cli/exit-codes.ts';
import { exitCodeFor } from '../src/cli/experiment-outcome.ts';
import { experimentSummaryJson } from '../src/cli/experiment-view.ts';
import { describeError } from '../src/cli/grpc-errors.ts';
import { finishedLine } from '../src/cli/progress-display.ts';
import { experimentSource, parseLabels } from '../src/cli/run-command.ts';

function grpcError(code: number, details: string, field?: string) {
  const metadata = new Metadata();
  if (field) metadata.set(FIELD_METADATA_KEY, field);
  return Object.assign(new Error(`${code} ${details}`), { code, details, metadata });
}

test('gRPC errors become one line and a meaningful exit code', () => {
  const invalid = describeError(
    grpcError(
      status.INVALID_ARGUMENT,
      'base.run.optimizer.learningRate: must be > 0',
      'base.run.optimizer.learningRate',
    ),
  );
  assert.deepEqual(invalid, {
    message: 'invalid base.run.optimizer.learningRate: must be > 0',
    exitCode: EXIT.usage,
  });
  // Without the metadata the field comes from the message's prefix.
  assert.equal(
    describeError(grpcError(status.INVALID_ARGUMENT, 'sweeps[0].axes[1].path: unknown field')).message,
    'invalid sweeps[0].axes[1].path: unknown field',
  );
  assert.equal(
    describeError(grpcError(status.NOT_FOUND, 'experiment "x" not found')).exitCode,
    EXIT.notFound,
  );
  const down = describeError(
    grpcError(
      status.UNAVAILABLE,
      'No connection established. Last error: Error: connect ECONNREFUSED 127.0.0.1:9. Resolution note: ',
    ),
    '127.0.0.1:9',
  );
  assert.equal(down.exitCode, EXIT.unavailable);
  assert.equal(
    down.message,
    'coordinator at 127.0.0.1:9 unreachable (UNAVAILABLE: connect ECONNREFUSED 127.0.0.1:9.); is the stack up? try "gengap up"',
  );
  assert.equal(describeError(grpcError(status.DEADLINE_EXCEEDED, 'deadline')).exitCode, EXIT.unavailable);
  assert.deepEqual(describeError(grpcError(status.FAILED_PRECONDITION, 'experiment already finished')), {
    message: 'FAILED_PRECONDITION: experiment already finished',
    exitCode: EXIT.failed,
  });
  assert.equal(describeError(new Error('boom')).exitCode, EXIT.failed);
});

const experiment = Experiment.fromPartial({
  experimentId: 'zhang2017-quick-1234',
  spec: { name: 'zhang2017-quick' },
  preset: 'zhang2017',
  status: { state: JobState.JOB_STATE_SUCCEEDED, progress: 1 },
  reportPath: '/tmp/r/index.html',
  runs: [
    {
      cellId: 'c0',
      label: 'labelCorruption=0',
      parameters: { labelCorruption: '0', inputs: 'null' },
      seed: 0,
      runId: 'r0',
      status: { state: JobState.JOB_STATE_SUCCEEDED },
      summary: {
        steps: 100,
        epochs: 12,
        finalTrainAccuracy: 1,
        finalTestAccuracy: 0.93,
        finalTrainLoss: 0.01,
        finalTestLoss: 0.3,
        timeToFit: { reached: true, epoch: 11, step: 90, wallSeconds: 3 },
      },
    },
    {
      cellId: 'c1',
      label: 'labelCorruption=0, inputs=gaussianInputs',
      parameters: { labelCorruption: '0', inputs: '{"gaussianInputs":{}}' },
      seed: 0,
      runId: 'r1',
      status: { state: JobState.JOB_STATE_FAILED, error: { code: 13, message: 'trainer crashed' } },
    },
  ],
});

test('the --json summary: per run its swept parameters, status, final accuracy and loss, time to fit', () => {
  const json = experimentSummaryJson(experiment);
  assert.equal(json.experimentId, 'zhang2017-quick-1234');
  assert.equal(json.reportPath, '/tmp/r/index.html');
  assert.equal(json.status, 'succeeded');
  assert.deepEqual(json.runs[0], {
    cellId: 'c0',
    label: 'labelCorruption=0',
    parameters: { labelCorruption: 0, inputs: null },
    seed: 0,
    status: 'succeeded',
    error: null,
    epochs: 12,
    finalTrainAccuracy: 1,
    finalTestAccuracy: 0.93,
    finalTrainLoss: 0.01,
    finalTestLoss: 0.3,
    timeToFitEpoch: 11,
    runId: 'r0',
  });
  const failed = json.runs[1]!;
  assert.deepEqual(failed.parameters, { labelCorruption: 0, inputs: { gaussianInputs: {} } });
  assert.equal(failed.status, 'failed');
  assert.equal(failed.error, 'trainer crashed');
  assert.equal(failed.finalTestAccuracy, null);
  assert.equal(failed.timeToFitEpoch, null);
  assert.equal(
    finishedLine(experiment.runs[0]!),
    'labelCorruption=0: succeeded, train 100.0%, test 93.0%, fitted at epoch 11',
  );
});

test('exit codes follow the final state: a failed run fails the command', () => {
  assert.equal(exitCodeFor(experiment), EXIT.failed);
  const allGood = { ...experiment, runs: experiment.runs.slice(0, 1) };
  assert.equal(exitCodeFor(allGood), EXIT.ok);
  assert.equal(
    exitCodeFor({ ...allGood, status: { ...allGood.status!, state: JobState.JOB_STATE_CANCELLED } }),
    EXIT.cancelled,
  );
  assert.equal(
    exitCodeFor({ ...allGood, status: { ...allGood.status!, state: JobState.JOB_STATE_FAILED } }),
    EXIT.failed,
  );
});

test('run reads a spec file when the argument names one, else a preset', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gengap-spec-'));
  try {
    const file = join(dir, 'spec.yaml');
    writeFileSync(file, 'name: tiny\n');
    assert.deepEqual(experimentSource(file, 'quick'), { $case: 'specText', value: 'name: tiny\n' });
    assert.deepEqual(experimentSource('zhang2017', 'full'), {
      $case: 'preset',
      value: { name: 'zhang2017', size: 'full' },
    });
    assert.throws(() => experimentSource(join(dir, 'nope.yaml'), 'quick'), /not found/);
    assert.deepEqual(parseLabels(['owner=ada', 'note=a=b']), { owner: 'ada', note: 'a=b' });
    assert.throws(() => parseLabels(['=x']), /key=value/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
