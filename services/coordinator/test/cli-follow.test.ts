// Following WatchExperiment when the stream breaks: the client reconnects from the sequence after
// the last event it saw, shows no event twice and stops at the final status. A scripted
// CoordinatorService stands in for the real one here because the real one cannot be made to drop
// a stream on cue; the real coordinator is exercised in cli-stack.test.ts.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { JobState } from '@gengap/proto/common/v1/job';
import { CoordinatorServiceService } from '@gengap/proto/coordinator/v1/coordinator_service';
import { Experiment, type ExperimentEvent } from '@gengap/proto/coordinator/v1/experiment';
import {
  Server,
  ServerCredentials,
  type ServerWritableStream,
  type sendUnaryData,
  status,
} from '@grpc/grpc-js';
import { connect } from '../src/cli/coordinator-connection.ts';
import { followExperiment } from '../src/cli/follow-experiment.ts';

const events: ExperimentEvent[] = [
  {
    sequence: 0,
    event: {
      $case: 'status',
      value: { state: JobState.JOB_STATE_RUNNING, progress: 0, phase: 'starting', attempt: 1 },
    },
  },
  { sequence: 1, event: { $case: 'runProgress', value: { cellId: 'a', progress: 0.5 } } },
  { sequence: 2, event: { $case: 'runProgress', value: { cellId: 'a', progress: 0.9 } } },
  {
    sequence: 3,
    event: {
      $case: 'status',
      value: { state: JobState.JOB_STATE_RUNNING, progress: 0.9, phase: 'report', attempt: 1 },
    },
  },
  {
    sequence: 4,
    event: {
      $case: 'status',
      value: { state: JobState.JOB_STATE_SUCCEEDED, progress: 1, phase: 'finished', attempt: 1 },
    },
  },
];

test('a broken watch stream resumes from the next sequence, without duplicates', {
  timeout: 30_000,
}, async () => {
  const requested: number[] = [];
  const server = new Server();
  server.addService(CoordinatorServiceService, {
    watchExperiment(call: ServerWritableStream<{ experimentId: string; fromSequence: number }, unknown>) {
      const from = call.request.fromSequence;
      requested.push(from);
      if (requested.length === 1) {
        // First stream: three events, then the connection "breaks".
        for (const e of events.slice(0, 3)) call.write({ event: e });
        setTimeout(() => call.emit('error', { code: status.UNAVAILABLE, details: 'gone' }), 20);
        return;
      }
      // Later streams replay from one event before where they were asked to (the client must drop it).
      for (const e of events.slice(Math.max(0, from - 1))) call.write({ event: e });
      call.end();
    },
    getExperiment(_call: unknown, callback: sendUnaryData<unknown>) {
      callback(null, {
        experiment: Experiment.fromPartial({
          experimentId: 'e',
          status: { state: JobState.JOB_STATE_SUCCEEDED },
        }),
      });
    },
  } as never);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (err, p) =>
      err ? reject(err) : resolve(p),
    ),
  );
  const conn = connect(`127.0.0.1:${port}`);
  try {
    const seen: number[] = [];
    const reconnects: number[] = [];
    const result = await followExperiment(conn, 'e', {
      signal: new AbortController().signal,
      onEvent: (e) => seen.push(e.sequence),
      onReconnect: (next) => reconnects.push(next),
    });
    assert.deepEqual(seen, [0, 1, 2, 3, 4]);
    assert.deepEqual(requested, [0, 3]);
    assert.deepEqual(reconnects, [3]);
    assert.equal(result.finalStatus?.state, JobState.JOB_STATE_SUCCEEDED);
    assert.equal(result.nextSequence, 5);
  } finally {
    conn.close();
    server.forceShutdown();
  }
});
