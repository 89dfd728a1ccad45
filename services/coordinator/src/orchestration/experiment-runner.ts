// One experiment from start (or resume) to its end: every cell through the cell runner under the
// concurrency limits, the analyses attached to each run as it succeeds, then the experiment-level
// analyses, the report, and the final state. Safe to run again after a crash: each step reads what
// the store already holds and skips or resumes it.

import type { JobFailure } from '@gengap/job-store';
import { ExperimentSpec } from '@gengap/proto/coordinator/v1/experiment';
import { jobStatusOf, type Logger } from '@gengap/service-kit';
import type { AnalysisApi, DataApi, TrainerApi } from '../clients/service-clients.ts';
import type { Executor } from '../executors/executor.ts';
import { type ResolvedExperiment, resolveSpecMessage } from '../spec/resolve.ts';
import type { CellRecord, CoordinatorStore, NewCell } from '../store/coordinator-store.ts';
import { type AnalysisCapabilities, AnalysisRunner } from './analysis-runner.ts';
import { runAttachedAnalyses } from './attached-analyses.ts';
import { CellRunner, ExperimentCancelled, TERMINAL } from './cell-runner.ts';
import { DatasetProvider } from './datasets.ts';
import { ExperimentEvents } from './events.ts';
import { runExperimentAnalyses } from './experiment-analyses.ts';
import { type BackoffPolicy, RpcCode } from './failures.ts';
import { RunSlots } from './run-slots.ts';

export interface ExperimentRunnerDeps {
  store: CoordinatorStore;
  executor: Executor;
  trainer(address: string): TrainerApi;
  data: DataApi;
  analysis: AnalysisApi | undefined;
  capabilities: AnalysisCapabilities;
  /** The coordinator-wide run limit. */
  slots: RunSlots;
  defaultMaxConcurrentRuns: number;
  backoff: BackoffPolicy;
  unreachableBudgetMs: number;
  log: Logger;
  /**
   * Builds the report once the runs and analyses are done (or throws). The experiment becomes
   * terminal only after its report exists, so the report is told the outcome it is about to have.
   */
  buildReport(experimentId: string, signal: AbortSignal, outcome: ExperimentOutcome): Promise<void>;
}

/** The final state an experiment is about to be given (shown in its report). */
export interface ExperimentOutcome {
  state: 'SUCCEEDED' | 'FAILED';
  phase: string;
  error?: JobFailure;
}

/** The store's cells of a resolved experiment. */
export function newCellsOf(resolved: ResolvedExperiment): NewCell[] {
  return resolved.cells.map((c) => ({
    cellId: c.cellId,
    index: c.index,
    label: c.label,
    parameters: c.parameters,
    seed: c.seed,
    datasetSpec: c.dataset,
    runSpec: c.run,
    analyses: c.analyses,
  }));
}

export class ExperimentRunner {
  private readonly deps: ExperimentRunnerDeps;
  private readonly experimentId: string;
  private readonly events: ExperimentEvents;
  private readonly log: Logger;

  constructor(experimentId: string, deps: ExperimentRunnerDeps) {
    this.experimentId = experimentId;
    this.deps = deps;
    this.events = new ExperimentEvents(deps.store, experimentId);
    this.log = deps.log.child({ experimentId });
  }

  private setStatus(key: string, patch: Parameters<CoordinatorStore['jobs']['update']>[1]): void {
    const job = this.deps.store.jobs.update(this.experimentId, patch);
    this.events.status(key, jobStatusOf(job));
  }

  async run(signal: AbortSignal): Promise<void> {
    const { store } = this.deps;
    const job = store.experiment(this.experimentId);
    if (!job || TERMINAL.has(job.state)) return;
    const spec = ExperimentSpec.decode(job.spec);
    // A coordinator that stopped between storing the experiment and its cells left it without
    // cells: they are a function of the stored (resolved) spec, so resolve it again.
    if (store.cells(this.experimentId).length === 0)
      store.addCells(this.experimentId, newCellsOf(resolveSpecMessage(spec)));
    const attempt = store.jobs.beginAttempt(this.experimentId);
    if (job.state === 'QUEUED')
      this.setStatus('running', { state: 'RUNNING', startedAt: Date.now(), phase: 'starting' });
    else this.log.info({ attempt }, 'resuming experiment');

    const perExperiment = new RunSlots(
      spec.execution?.maxConcurrentRuns || this.deps.defaultMaxConcurrentRuns,
    );
    const datasets = new DatasetProvider(this.deps.data, this.log, this.deps.backoff);
    const cellRunner = new CellRunner(this.experimentId, {
      store,
      executor: this.deps.executor,
      trainer: this.deps.trainer,
      datasets,
      events: this.events,
      log: this.log,
      backoff: this.deps.backoff,
      unreachableBudgetMs: this.deps.unreachableBudgetMs,
      maxAttempts: spec.execution?.maxAttempts || 3,
      acquireSlot: async (s) => {
        const mine = await perExperiment.acquire(s);
        try {
          const global = await this.deps.slots.acquire(s);
          return () => {
            global();
            mine();
          };
        } catch (err) {
          mine();
          throw err;
        }
      },
    });
    const analyses = new AnalysisRunner(this.experimentId, {
      store,
      analysis: this.deps.analysis,
      events: this.events,
      log: this.log,
      backoff: this.deps.backoff,
      capabilities: this.deps.capabilities,
      unreachableBudgetMs: this.deps.unreachableBudgetMs,
    });

    // fail_fast: the first failed cell cancels the others (their runs are cancelled too).
    const failFast = new AbortController();
    const cellSignal = spec.execution?.failFast ? AbortSignal.any([signal, failFast.signal]) : signal;
    const progressOf = () => {
      const all = store.cells(this.experimentId);
      return { finished: all.filter((c) => TERMINAL.has(c.state)).length, total: all.length };
    };

    const runOne = async (cellId: string): Promise<CellRecord> => {
      let cell: CellRecord;
      try {
        cell = await cellRunner.run(cellId, cellSignal);
      } catch (err) {
        if (signal.aborted || !failFast.signal.aborted) throw err;
        cell = store.updateCell(this.experimentId, cellId, {
          state: 'CANCELLED',
          error: {
            code: RpcCode.ABORTED,
            message: 'cancelled: another cell failed and execution.failFast is set',
          },
        });
        this.events.run(cell);
        return cell;
      }
      const { finished, total } = progressOf();
      this.setStatus(`progress:${finished}/${total}`, {
        progress: Math.min(0.95, finished / Math.max(1, total)),
        phase: `${finished}/${total} runs finished`,
      });
      if (cell.state === 'FAILED' && spec.execution?.failFast) failFast.abort(new ExperimentCancelled());
      if (cell.state === 'SUCCEEDED' && cell.analyses.length > 0) {
        const run = (await this.deps.trainer(this.trainerAddressOf(cell)).getRun(cell.runId, signal)).run;
        if (run) await runAttachedAnalyses(analyses, spec, cell, run, signal);
      }
      return cell;
    };

    try {
      const cells = store.cells(this.experimentId).filter((c) => c.role === 'cell');
      const settled = await Promise.allSettled(cells.map((c) => runOne(c.cellId)));
      const crashed = settled.find((s) => s.status === 'rejected');
      if (crashed) throw (crashed as PromiseRejectedResult).reason;

      this.setStatus('analyses', { phase: 'experiment analyses' });
      await runExperimentAnalyses(
        {
          experimentId: this.experimentId,
          spec,
          store,
          runner: analyses,
          analysis: this.deps.analysis,
          datasets,
          log: this.log,
          runCells: async (newCells: NewCell[]) => {
            store.addCells(this.experimentId, newCells);
            return Promise.all(newCells.map((c) => runOne(c.cellId)));
          },
        },
        signal,
      );
      this.finish();
      this.setStatus('report', { phase: 'building the report' });
      try {
        await this.deps.buildReport(this.experimentId, signal, this.outcomeToBe());
      } catch (err) {
        if (signal.aborted) throw err;
        this.log.error({ err }, 'report failed');
        store.addNote(this.experimentId, `The report could not be built: ${(err as Error).message}`);
      }
      this.complete();
    } catch (err) {
      if (signal.aborted && signal.reason instanceof ExperimentCancelled) {
        this.cancelled();
        return;
      }
      if (signal.aborted) return; // coordinator shutting down: resumed at the next start
      this.log.error({ err }, 'experiment failed');
      this.setStatus('failed:internal', {
        state: 'FAILED',
        finishedAt: Date.now(),
        error: { code: RpcCode.INTERNAL, message: `the coordinator failed: ${(err as Error).message}` },
      });
    }
  }

  private trainerAddressOf(cell: CellRecord): string {
    const attempt = this.deps.store.attempt(this.experimentId, cell.cellId, cell.attempt);
    return attempt?.placement?.trainerAddress ?? '';
  }

  private outcome: { failure?: JobFailure } = {};

  /** Decides the final state from the cells (written after the report). */
  private finish(): void {
    const cells = this.deps.store.cells(this.experimentId);
    const failed = cells.filter((c) => c.state === 'FAILED' || c.state === 'CANCELLED');
    if (failed.length > 0) {
      const list = failed
        .slice(0, 5)
        .map((c) => `${c.label || c.cellId}: ${c.error?.message ?? c.state.toLowerCase()}`)
        .join('; ');
      this.outcome.failure = {
        code: RpcCode.ABORTED,
        message: `${failed.length} of ${cells.length} runs did not succeed (${list}${failed.length > 5 ? '; ...' : ''})`,
      };
    }
  }

  private outcomeToBe(): ExperimentOutcome {
    const failure = this.outcome.failure;
    return {
      state: failure ? 'FAILED' : 'SUCCEEDED',
      phase: failure ? 'finished with failed runs' : 'finished',
      ...(failure ? { error: failure } : {}),
    };
  }

  private complete(): void {
    const outcome = this.outcomeToBe();
    this.setStatus(outcome.state === 'FAILED' ? 'failed' : 'succeeded', {
      ...outcome,
      progress: 1,
      finishedAt: Date.now(),
    });
  }

  private cancelled(): void {
    const { store } = this.deps;
    for (const cell of store.cells(this.experimentId)) {
      if (TERMINAL.has(cell.state)) continue;
      this.events.run(store.updateCell(this.experimentId, cell.cellId, { state: 'CANCELLED' }));
    }
    const job = store.experiment(this.experimentId);
    if (job && !TERMINAL.has(job.state))
      this.setStatus('cancelled', { state: 'CANCELLED', finishedAt: Date.now(), phase: 'cancelled' });
  }
}
