// Following an experiment's WatchExperiment stream to its end. If the stream breaks (the
// coordinator restarts, the connection drops) it resumes from the sequence after the last event
// seen, so no event is shown twice and none is missed; it gives up after `reconnectForMs` without
// reaching the coordinator.
import { setTimeout as sleep } from 'node:timers/promises';
import type { JobStatus } from '@gengap/proto/common/v1/job';
import type { Experiment, ExperimentEvent } from '@gengap/proto/coordinator/v1/experiment';
import { callUnary, readStream } from '@gengap/service-kit';
import { status } from '@grpc/grpc-js';
import type { Connection } from './coordinator-connection.ts';
import { isTerminal } from './experiment-view.ts';
import { isGrpcError } from './grpc-errors.ts';

export interface FollowOptions {
  /** First sequence to read (0: the whole history, which rebuilds the progress state). */
  fromSequence?: number;
  signal: AbortSignal;
  onEvent(event: ExperimentEvent): void;
  /** Called before each reconnection, with the error that broke the stream (if any). */
  onReconnect?(nextSequence: number, err: unknown): void;
  reconnectForMs?: number;
}

export interface FollowResult {
  /** The experiment once it reached a final state. */
  experiment: Experiment;
  finalStatus: JobStatus | undefined;
  nextSequence: number;
}

const retryable = new Set<number>([
  status.UNAVAILABLE,
  status.INTERNAL,
  status.UNKNOWN,
  status.DEADLINE_EXCEEDED,
  status.ABORTED,
  status.RESOURCE_EXHAUSTED,
  status.CANCELLED,
]);

export async function getExperiment(
  conn: Connection,
  experimentId: string,
  signal?: AbortSignal,
): Promise<Experiment> {
  const res = await callUnary(
    conn.client,
    conn.client.getExperiment,
    { experimentId },
    signal ? { signal } : {},
  );
  if (!res.experiment) throw new Error(`the coordinator returned no experiment for ${experimentId}`);
  return res.experiment;
}

export async function followExperiment(
  conn: Connection,
  experimentId: string,
  options: FollowOptions,
): Promise<FollowResult> {
  const { signal } = options;
  let next = options.fromSequence ?? 0;
  let lastContact = Date.now();
  let delay = 200;
  const reconnectForMs = options.reconnectForMs ?? 60_000;
  for (;;) {
    let failure: unknown;
    try {
      const stream = readStream(
        conn.client,
        conn.client.watchExperiment,
        { experimentId, fromSequence: next },
        { signal },
      );
      for await (const message of stream) {
        lastContact = Date.now();
        delay = 200;
        const event = message.event;
        if (!event || event.sequence < next) continue;
        next = event.sequence + 1;
        options.onEvent(event);
        if (event.event?.$case === 'status' && isTerminal(event.event.value.state)) {
          return {
            experiment: await getExperiment(conn, experimentId, signal),
            finalStatus: event.event.value,
            nextSequence: next,
          };
        }
      }
      // The stream ended without a final state: ask, in case the end came with the experiment's.
      const experiment = await getExperiment(conn, experimentId, signal);
      lastContact = Date.now();
      if (isTerminal(experiment.status?.state))
        return { experiment, finalStatus: experiment.status, nextSequence: next };
    } catch (err) {
      if (signal.aborted) throw err;
      if (!isGrpcError(err) || !retryable.has(err.code)) throw err;
      if (Date.now() - lastContact > reconnectForMs) throw err;
      failure = err;
    }
    options.onReconnect?.(next, failure);
    await sleep(delay, undefined, { signal });
    delay = Math.min(delay * 2, 5000);
  }
}
