// Client-side helpers for the container suite: following an experiment's watch stream (resuming
// from the last sequence after a disconnect, as any client should), polling, and reading a
// trainer run's event log, all through the generated TypeScript clients.
import { setTimeout as sleep } from 'node:timers/promises';
import { JobState } from '@gengap/proto/common/v1/job';
import {
  CoordinatorServiceClient,
  type StartExperimentRequest,
} from '@gengap/proto/coordinator/v1/coordinator_service';
import type { Experiment, ExperimentEvent } from '@gengap/proto/coordinator/v1/experiment';
import type { RunEvent } from '@gengap/proto/trainer/v1/run';
import { TrainerServiceClient } from '@gengap/proto/trainer/v1/trainer_service';
import { callUnary, closeClient, createClient, readStream } from '@gengap/service-kit';
import { type ServiceError, status } from '@grpc/grpc-js';

export const TERMINAL_STATES: readonly number[] = [
  JobState.JOB_STATE_SUCCEEDED,
  JobState.JOB_STATE_FAILED,
  JobState.JOB_STATE_CANCELLED,
];

export const stateName = (state: number | undefined) =>
  Object.entries(JobState).find(([, v]) => v === state)?.[0] ?? String(state);

export function coordinatorClient(address: string): CoordinatorServiceClient {
  return createClient(CoordinatorServiceClient, address, { deadlineMs: 60_000 });
}

export function trainerClient(address: string): TrainerServiceClient {
  return createClient(TrainerServiceClient, address, {
    deadlineMs: 60_000,
    maxMessageBytes: 64 * 1024 * 1024,
  });
}

/** The status code of a failed call, or undefined when it succeeded. */
export async function codeOf(promise: Promise<unknown>): Promise<number | undefined> {
  try {
    await promise;
    return undefined;
  } catch (err) {
    return (err as ServiceError).code ?? status.UNKNOWN;
  }
}

export async function startExperiment(address: string, request: StartExperimentRequest): Promise<Experiment> {
  const client = coordinatorClient(address);
  try {
    const res = await callUnary(client, client.startExperiment, request);
    if (!res.experiment) throw new Error('StartExperiment returned no experiment');
    return res.experiment;
  } finally {
    closeClient(client);
  }
}

export async function getExperiment(address: string, experimentId: string): Promise<Experiment> {
  const client = coordinatorClient(address);
  try {
    const res = await callUnary(client, client.getExperiment, { experimentId });
    return res.experiment as Experiment;
  } finally {
    closeClient(client);
  }
}

export interface FollowResult {
  events: ExperimentEvent[];
  finalState: number;
  reconnects: number;
}

/**
 * Follows WatchExperiment until a terminal status; on UNAVAILABLE (or a stream that ends early)
 * reconnects from the next sequence. Fails on a repeated or out-of-order sequence number.
 */
export async function followExperiment(
  address: string,
  experimentId: string,
  options: { timeoutMs: number; onEvent?: (e: ExperimentEvent) => void },
): Promise<FollowResult> {
  const deadline = Date.now() + options.timeoutMs;
  const events: ExperimentEvent[] = [];
  let next = 0;
  let reconnects = 0;
  while (Date.now() < deadline) {
    const client = coordinatorClient(address);
    try {
      for await (const res of readStream(
        client,
        client.watchExperiment,
        { experimentId, fromSequence: next },
        { deadlineMs: Math.max(1000, deadline - Date.now()) },
      )) {
        const event = res.event;
        if (!event) continue;
        if (event.sequence < next) throw new Error(`event ${event.sequence} repeated (next was ${next})`);
        next = event.sequence + 1;
        events.push(event);
        options.onEvent?.(event);
        if (event.event?.$case === 'status' && TERMINAL_STATES.includes(event.event.value.state)) {
          return { events, finalState: event.event.value.state, reconnects };
        }
      }
      const experiment = await getExperiment(address, experimentId);
      const state = experiment.status?.state ?? 0;
      if (TERMINAL_STATES.includes(state)) return { events, finalState: state, reconnects };
    } catch (err) {
      const code = (err as ServiceError).code;
      if (code !== status.UNAVAILABLE && code !== status.CANCELLED && code !== status.DEADLINE_EXCEEDED)
        throw err;
    } finally {
      closeClient(client);
    }
    reconnects += 1;
    await sleep(500);
  }
  throw new Error(`experiment ${experimentId} did not finish within ${options.timeoutMs} ms`);
}

/** Polls `probe` until it returns a value, or throws after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined> | T | undefined,
  timeoutMs: number,
  intervalMs = 250,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (err) {
      lastError = err;
    }
    await sleep(intervalMs);
  }
  throw new Error(
    `timed out waiting for ${what}${lastError ? ` (last error: ${(lastError as Error).message})` : ''}`,
  );
}

/** A trainer run's stored event log (without step metrics), read to its end or to `stopWhen`. */
export async function runEvents(
  trainerAddress: string,
  runId: string,
  options: { stopWhen?: (e: RunEvent) => boolean; timeoutMs?: number } = {},
): Promise<RunEvent[]> {
  const client = trainerClient(trainerAddress);
  const events: RunEvent[] = [];
  try {
    for await (const res of readStream(
      client,
      client.watchRun,
      { runId, fromSequence: 0, skipStepMetrics: true },
      { deadlineMs: options.timeoutMs ?? 120_000 },
    )) {
      if (!res.event) continue;
      events.push(res.event);
      if (options.stopWhen?.(res.event)) break;
      if (res.event.event?.$case === 'status' && TERMINAL_STATES.includes(res.event.event.value.state)) break;
    }
  } finally {
    closeClient(client);
  }
  return events;
}

/** Every run the trainer knows (all pages). */
export async function listTrainerRuns(trainerAddress: string) {
  const client = trainerClient(trainerAddress);
  try {
    const runs = [];
    let pageToken = '';
    do {
      const res = await callUnary(client, client.listRuns, {
        page: { pageSize: 1000, pageToken },
        state: JobState.JOB_STATE_UNSPECIFIED,
        labels: {},
      });
      runs.push(...res.runs);
      pageToken = res.nextPageToken;
    } while (pageToken);
    return runs;
  } finally {
    closeClient(client);
  }
}
