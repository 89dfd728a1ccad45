// Real objects for the hardening tables to aim at (a dataset, a finished run, a finished analysis),
// and the number of jobs each service stores (to prove a rejected request stored nothing).
import { setTimeout as sleep } from 'node:timers/promises';
import {
  AnalysisServiceClient,
  ListAnalysesRequest,
  StartAnalysisRequest,
} from '@gengap/proto/analysis/v1/analysis_service';
import { JobState } from '@gengap/proto/common/v1/job';
import {
  CoordinatorServiceClient,
  ListExperimentsRequest,
} from '@gengap/proto/coordinator/v1/coordinator_service';
import {
  CreateDatasetRequest,
  DataServiceClient,
  ListDatasetsRequest,
} from '@gengap/proto/data/v1/data_service';
import {
  ListRunsRequest,
  StartRunRequest,
  TrainerServiceClient,
} from '@gengap/proto/trainer/v1/trainer_service';
import { callUnary, closeClient, createClient } from '@gengap/service-kit';
import { analysisSpec, datasetSpec, runSpec } from './requests.ts';
import type { ProcessStack } from './stack.ts';

export interface Fixtures {
  datasetId: string;
  runId: string;
  analysisId: string;
}

const TERMINAL = new Set<number>([
  JobState.JOB_STATE_SUCCEEDED,
  JobState.JOB_STATE_FAILED,
  JobState.JOB_STATE_CANCELLED,
]);

function address(stack: ProcessStack, key: 'data' | 'trainer' | 'analysis' | 'coordinator'): string {
  const p = stack.services[key];
  if (!p) throw new Error(`${key} is not running`);
  return p.address;
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 120_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const v = await probe();
    if (v !== undefined) return v;
    await sleep(100);
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** A dataset, a one-epoch run on it and a tiny Hessian analysis of the run, all finished. */
export async function prepareFixtures(stack: ProcessStack, tag = 'fixture'): Promise<Fixtures> {
  const data = createClient(DataServiceClient, address(stack, 'data'));
  const trainer = createClient(TrainerServiceClient, address(stack, 'trainer'));
  const analysis = stack.services.analysis
    ? createClient(AnalysisServiceClient, address(stack, 'analysis'))
    : undefined;
  try {
    const created = await callUnary(
      data,
      data.createDataset,
      CreateDatasetRequest.fromPartial({ spec: datasetSpec() as never, idempotencyKey: `${tag}-dataset` }),
    );
    const datasetId = created.dataset?.datasetId as string;
    await until('the dataset', async () => {
      const d = await callUnary(data, data.getDataset, { datasetId });
      const state = d.dataset?.status?.state ?? 0;
      if (state === JobState.JOB_STATE_SUCCEEDED) return true;
      if (TERMINAL.has(state))
        throw new Error(`fixture dataset ended ${state}: ${d.dataset?.status?.error?.message}`);
      return undefined;
    });
    const started = await callUnary(
      trainer,
      trainer.startRun,
      StartRunRequest.fromPartial({ spec: runSpec(datasetId) as never, idempotencyKey: `${tag}-run` }),
    );
    const runId = started.run?.runId as string;
    await until('the run', async () => {
      const r = await callUnary(trainer, trainer.getRun, { runId });
      const state = r.run?.status?.state ?? 0;
      if (state === JobState.JOB_STATE_SUCCEEDED) return true;
      if (TERMINAL.has(state))
        throw new Error(`fixture run ended ${state}: ${r.run?.status?.error?.message}`);
      return undefined;
    });
    let analysisId = '';
    if (analysis) {
      const a = await callUnary(
        analysis,
        analysis.startAnalysis,
        StartAnalysisRequest.fromPartial({
          spec: analysisSpec(runId) as never,
          idempotencyKey: `${tag}-analysis`,
        }),
      );
      analysisId = a.analysis?.analysisId as string;
      await until('the analysis', async () => {
        const g = await callUnary(analysis, analysis.getAnalysis, { analysisId });
        const state = g.analysis?.status?.state ?? 0;
        if (state === JobState.JOB_STATE_SUCCEEDED) return true;
        if (TERMINAL.has(state))
          throw new Error(`fixture analysis ended ${state}: ${g.analysis?.status?.error?.message}`);
        return undefined;
      });
    }
    return { datasetId, runId, analysisId };
  } finally {
    closeClient(data);
    closeClient(trainer);
    if (analysis) closeClient(analysis);
  }
}

async function countPages(
  fetch: (pageToken: string) => Promise<{ n: number; next: string }>,
): Promise<number> {
  let total = 0;
  let token = '';
  do {
    const { n, next } = await fetch(token);
    total += n;
    token = next;
  } while (token);
  return total;
}

/** Jobs stored by each running service (datasets, runs, analyses, experiments). */
export async function jobCounts(stack: ProcessStack): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  const page = (pageToken: string) => ({ pageSize: 1000, pageToken });
  if (stack.services.data) {
    const c = createClient(DataServiceClient, address(stack, 'data'));
    counts.data = await countPages(async (t) => {
      const r = await callUnary(c, c.listDatasets, ListDatasetsRequest.fromPartial({ page: page(t) }));
      return { n: r.datasets.length, next: r.nextPageToken };
    });
    closeClient(c);
  }
  if (stack.services.trainer) {
    const c = createClient(TrainerServiceClient, address(stack, 'trainer'));
    counts.trainer = await countPages(async (t) => {
      const r = await callUnary(c, c.listRuns, ListRunsRequest.fromPartial({ page: page(t) }));
      return { n: r.runs.length, next: r.nextPageToken };
    });
    closeClient(c);
  }
  if (stack.services.analysis) {
    const c = createClient(AnalysisServiceClient, address(stack, 'analysis'));
    counts.analysis = await countPages(async (t) => {
      const r = await callUnary(c, c.listAnalyses, ListAnalysesRequest.fromPartial({ page: page(t) }));
      return { n: r.analyses.length, next: r.nextPageToken };
    });
    closeClient(c);
  }
  if (stack.services.coordinator) {
    const c = createClient(CoordinatorServiceClient, address(stack, 'coordinator'));
    counts.coordinator = await countPages(async (t) => {
      const r = await callUnary(c, c.listExperiments, ListExperimentsRequest.fromPartial({ page: page(t) }));
      return { n: r.experiments.length, next: r.nextPageToken };
    });
    closeClient(c);
  }
  return counts;
}

/** Cancels every dataset, run, analysis and experiment that is still queued or running. */
export async function cancelLiveJobs(stack: ProcessStack): Promise<number> {
  let cancelled = 0;
  const live = (state: number | undefined) => !TERMINAL.has(state ?? 0);
  const all = { page: { pageSize: 1000, pageToken: '' } };
  const ignore = () => {};
  if (stack.services.coordinator) {
    const c = createClient(CoordinatorServiceClient, address(stack, 'coordinator'));
    const r = await callUnary(c, c.listExperiments, ListExperimentsRequest.fromPartial(all));
    for (const e of r.experiments.filter((x) => live(x.status?.state))) {
      await callUnary(c, c.cancelExperiment, { experimentId: e.experimentId }).then(
        () => cancelled++,
        ignore,
      );
    }
    closeClient(c);
  }
  if (stack.services.analysis) {
    const c = createClient(AnalysisServiceClient, address(stack, 'analysis'));
    const r = await callUnary(c, c.listAnalyses, ListAnalysesRequest.fromPartial(all));
    for (const a of r.analyses.filter((x) => live(x.status?.state))) {
      await callUnary(c, c.cancelAnalysis, { analysisId: a.analysisId }).then(() => cancelled++, ignore);
    }
    closeClient(c);
  }
  if (stack.services.trainer) {
    const c = createClient(TrainerServiceClient, address(stack, 'trainer'), { deadlineMs: 60_000 });
    const r = await callUnary(c, c.listRuns, ListRunsRequest.fromPartial(all));
    for (const run of r.runs.filter((x) => live(x.status?.state))) {
      await callUnary(c, c.cancelRun, { runId: run.runId }).then(() => cancelled++, ignore);
    }
    closeClient(c);
  }
  if (stack.services.data) {
    const c = createClient(DataServiceClient, address(stack, 'data'));
    const r = await callUnary(c, c.listDatasets, ListDatasetsRequest.fromPartial(all));
    for (const d of r.datasets.filter((x) => live(x.status?.state))) {
      await callUnary(c, c.cancelDataset, { datasetId: d.datasetId }).then(() => cancelled++, ignore);
    }
    closeClient(c);
  }
  return cancelled;
}
