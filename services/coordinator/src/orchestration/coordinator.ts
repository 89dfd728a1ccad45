// The coordinator's domain facade, what the gRPC handlers call: start (from a spec, its text or a
// preset), validate, get, list, cancel, watch, presets, reports; plus resuming every unfinished
// experiment at start-up and stopping them (without cancelling their runs) at shutdown.
import { AnalysisSpec } from '@gengap/proto/analysis/v1/analysis';
import type {
  ListExperimentsRequest,
  StartExperimentRequest,
  ValidateExperimentRequest,
} from '@gengap/proto/coordinator/v1/coordinator_service';
import {
  type Experiment,
  type ExperimentEvent,
  type ExperimentRun,
  ExperimentSpec,
  type Preset,
} from '@gengap/proto/coordinator/v1/experiment';
import {
  FailedPreconditionError,
  fromProtoState,
  InvalidArgumentError,
  type Logger,
  NotFoundError,
  ResourceExhaustedError,
  UnavailableError,
} from '@gengap/service-kit';
import type { AnalysisApi, DataApi, TrainerApi } from '../clients/service-clients.ts';
import type { Executor } from '../executors/executor.ts';
import { presetAnalysisKinds, presetSpec, presets } from '../presets/registry.ts';
import { gatherReportInput } from '../reports/gather.ts';
import type { ReportInput, ReportOutput } from '../reports/report-input.ts';
import { hashText } from '../spec/canonical.ts';
import { parseSpecText, sourceFromJson } from '../spec/parse.ts';
import { type ResolvedExperiment, resolveExperiment, resolveSpecMessage } from '../spec/resolve.ts';
import type { CoordinatorStore } from '../store/coordinator-store.ts';
import { AnalysisCapabilities, NOT_IMPLEMENTED_NOTE } from './analysis-runner.ts';
import { ExperimentCancelled, TERMINAL } from './cell-runner.ts';
import { ExperimentEvents } from './events.ts';
import { type ExperimentOutcome, ExperimentRunner, newCellsOf } from './experiment-runner.ts';
import { type BackoffPolicy, RpcCode, rpcCodeOf } from './failures.ts';
import { RunSlots } from './run-slots.ts';
import { experimentOf } from './views.ts';

/** Writes a report folder for an experiment (the reports module's buildReport). */
export type ReportBuilder = (input: ReportInput, outDir: string) => Promise<ReportOutput>;

export interface CoordinatorDeps {
  store: CoordinatorStore;
  executor: Executor;
  trainer(address: string): TrainerApi;
  data: DataApi;
  analysis: AnalysisApi | undefined;
  log: Logger;
  maxConcurrentRuns: number;
  /** Experiments running at once; a StartExperiment beyond is RESOURCE_EXHAUSTED (default: no limit). */
  maxActiveExperiments?: number;
  backoff: BackoffPolicy;
  unreachableBudgetMs: number;
  reportsDir: string;
  buildReport: ReportBuilder | undefined;
  /** The report's URL when an HTTP server serves reports (empty when none). */
  reportUrl(experimentId: string): string;
}

class ShuttingDown extends Error {
  constructor() {
    super('the coordinator is shutting down');
    this.name = 'ShuttingDown';
  }
}

interface Running {
  controller: AbortController;
  done: Promise<void>;
}

interface Source {
  resolved: ResolvedExperiment;
  preset: string;
}

export class Coordinator {
  private readonly deps: CoordinatorDeps;
  private readonly running = new Map<string, Running>();
  private readonly slots: RunSlots;
  readonly capabilities = new AnalysisCapabilities();
  private probed: { at: number; missing: Map<string, string> } | undefined;
  private stopping = false;

  constructor(deps: CoordinatorDeps) {
    this.deps = deps;
    this.slots = new RunSlots(deps.maxConcurrentRuns);
  }

  private resolve(request: StartExperimentRequest | ValidateExperimentRequest): Source {
    const source = request.source;
    switch (source?.$case) {
      case 'spec':
        return { resolved: resolveSpecMessage(source.value), preset: '' };
      case 'specText':
        return { resolved: resolveExperiment(parseSpecText(source.value)), preset: '' };
      case 'preset': {
        const { preset, size, spec } = presetSpec(source.value.name, source.value.size);
        return { resolved: resolveExperiment(sourceFromJson(spec)), preset: `${preset.name}/${size}` };
      }
      default:
        throw new InvalidArgumentError('source', 'set one of spec, specText or preset');
    }
  }

  validate(request: ValidateExperimentRequest) {
    const { resolved } = this.resolve(request);
    const cells: ExperimentRun[] = resolved.cells.map((c) => ({
      cellId: c.cellId,
      label: c.label,
      parameters: c.parameters,
      seed: c.seed,
      datasetId: c.run.dataset?.datasetId ?? '',
      runId: '',
      analyses: [],
      attempts: 0,
    }));
    return { experimentId: resolved.experimentId, resolvedSpec: resolved.spec, cells };
  }

  start(request: StartExperimentRequest): { experiment: Experiment; created: boolean } {
    if (this.stopping) throw new UnavailableError('the coordinator is shutting down');
    const key = request.idempotencyKey.trim();
    if (!key)
      throw new InvalidArgumentError(
        'idempotencyKey',
        'required (a repeated key returns the same experiment)',
      );
    const { resolved, preset } = this.resolve(request);
    const { store } = this.deps;
    const known = store.experimentByKey(key);
    const limit = this.deps.maxActiveExperiments ?? Number.POSITIVE_INFINITY;
    if (!known && this.running.size >= limit)
      throw new ResourceExhaustedError(
        `${this.running.size} experiments are running (GENGAP_MAX_ACTIVE_EXPERIMENTS); retry later`,
      );
    // The same resolved spec under another key is another experiment: its id gets the key's hash.
    const taken = store.experiment(resolved.experimentId);
    const id =
      known?.id ??
      (taken && taken.idempotencyKey !== key
        ? `${resolved.experimentId}-${hashText(key, 8)}`
        : resolved.experimentId);
    const { job, created } = store.createExperiment(
      {
        id,
        idempotencyKey: key,
        specHash: resolved.experimentId,
        spec: ExperimentSpec.encode(resolved.spec).finish(),
        labels: { ...request.labels },
      },
      preset,
    );
    if (created) {
      store.addCells(id, newCellsOf(resolved));
      this.deps.log.info({ experimentId: id, cells: resolved.cells.length, preset }, 'experiment created');
      new ExperimentEvents(store, id).status('queued', {
        state: 1,
        progress: 0,
        phase: 'queued',
        attempt: 0,
      });
      this.launch(id);
    }
    return { experiment: experimentOf(store, job), created };
  }

  private launch(experimentId: string): void {
    if (this.running.has(experimentId) || this.stopping) return;
    const controller = new AbortController();
    const runner = new ExperimentRunner(experimentId, {
      store: this.deps.store,
      executor: this.deps.executor,
      trainer: this.deps.trainer,
      data: this.deps.data,
      analysis: this.deps.analysis,
      capabilities: this.capabilities,
      slots: this.slots,
      defaultMaxConcurrentRuns: this.deps.maxConcurrentRuns,
      backoff: this.deps.backoff,
      unreachableBudgetMs: this.deps.unreachableBudgetMs,
      log: this.deps.log,
      buildReport: async (id, signal, outcome) => {
        await this.buildReport(id, signal, outcome);
      },
    });
    const done = runner
      .run(controller.signal)
      .catch((err) => this.deps.log.error({ err, experimentId }, 'experiment runner crashed'))
      .finally(() => this.running.delete(experimentId));
    this.running.set(experimentId, { controller, done });
  }

  /**
   * Resumes every experiment that is not finished (called once the server listens), after letting
   * the executor reconcile what it created before the restart.
   */
  async resumeAll(): Promise<number> {
    const { store, executor } = this.deps;
    const unfinished = store.unfinishedExperiments();
    const live = new Set(unfinished.map((j) => j.id));
    await executor
      .reconcile?.((experimentId, cellId, attempt) => {
        if (!live.has(experimentId)) return false;
        const cell = store.cell(experimentId, cellId);
        return !!cell && !TERMINAL.has(cell.state) && cell.attempt === attempt;
      })
      .catch((err) => this.deps.log.error({ err }, 'executor reconciliation failed'));
    for (const job of unfinished) this.launch(job.id);
    if (unfinished.length > 0) this.deps.log.info({ count: unfinished.length }, 'resumed experiments');
    return unfinished.length;
  }

  get(experimentId: string): Experiment {
    const job = this.deps.store.experiment(experimentId);
    if (!job) throw new NotFoundError('experiment', experimentId);
    return experimentOf(this.deps.store, job);
  }

  list(request: ListExperimentsRequest): { experiments: Experiment[]; nextPageToken: string } {
    let page: ReturnType<CoordinatorStore['listExperiments']>;
    try {
      const state = fromProtoState(request.state);
      page = this.deps.store.listExperiments({
        pageSize: request.page?.pageSize ?? 0,
        ...(request.page?.pageToken ? { pageToken: request.page.pageToken } : {}),
        ...(state ? { state } : {}),
      });
    } catch (err) {
      if (err instanceof RangeError)
        throw new InvalidArgumentError('page.pageToken', 'not a token from a previous page');
      throw err;
    }
    if ((request.page?.pageSize ?? 0) > 1000) throw new InvalidArgumentError('page.pageSize', 'at most 1000');
    return {
      experiments: page.jobs.map((j) => experimentOf(this.deps.store, j)),
      nextPageToken: page.nextPageToken,
    };
  }

  async cancel(experimentId: string): Promise<Experiment> {
    const job = this.deps.store.experiment(experimentId);
    if (!job) throw new NotFoundError('experiment', experimentId);
    if (!TERMINAL.has(job.state)) {
      const running = this.running.get(experimentId);
      if (running) {
        running.controller.abort(new ExperimentCancelled());
        await running.done;
      }
      const now = this.deps.store.experiment(experimentId);
      if (now && !TERMINAL.has(now.state)) {
        this.deps.store.jobs.update(experimentId, {
          state: 'CANCELLED',
          finishedAt: Date.now(),
          phase: 'cancelled',
        });
      }
    }
    return this.get(experimentId);
  }

  watch(experimentId: string, fromSequence: number, signal: AbortSignal): AsyncIterable<ExperimentEvent> {
    if (!this.deps.store.experiment(experimentId)) throw new NotFoundError('experiment', experimentId);
    return this.deps.store.watch(experimentId, fromSequence, signal);
  }

  /** Every preset, with the analyses it cannot run here (not implemented by the service, or unsupported). */
  async listPresets(signal: AbortSignal): Promise<Preset[]> {
    const missing = await this.missingAnalysisKinds(signal);
    return presets.map((p) => ({
      name: p.name,
      title: p.title,
      description: p.description,
      sizes: ['quick', 'full'],
      papers: p.papers,
      missingAnalyses: [
        ...presetAnalysisKinds(p)
          .filter((k) => missing.has(k))
          .map((k) => `${k}: ${missing.get(k)}`),
        ...p.unsupported,
      ],
    }));
  }

  /**
   * Analysis kinds that cannot run here: all of them without an analysis service; otherwise those the
   * service does not list in GetAnalysisInfo. An analysis service older than GetAnalysisInfo (it
   * answers UNIMPLEMENTED) is probed kind by kind instead (probeKinds). Answers are kept a minute.
   */
  private async missingAnalysisKinds(signal: AbortSignal): Promise<Map<string, string>> {
    const kinds = [...new Set(presets.flatMap((p) => presetAnalysisKinds(p)))];
    const api = this.deps.analysis;
    if (!api) return new Map(kinds.map((k) => [k, 'no analysis service configured']));
    if (this.probed && Date.now() - this.probed.at < 60_000) return this.probed.missing;
    let missing: Map<string, string>;
    try {
      const info = await api.getAnalysisInfo(AbortSignal.any([signal, AbortSignal.timeout(5000)]));
      // The service names kinds by their proto field names (hessian_eigen); presets by JSON names.
      const served = new Set(info.kinds);
      const snake = (kind: string) => kind.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
      missing = new Map();
      for (const kind of kinds) {
        if (served.has(kind) || served.has(snake(kind))) continue;
        this.capabilities.unimplemented.add(kind);
        missing.set(kind, NOT_IMPLEMENTED_NOTE);
      }
    } catch (err) {
      const code = rpcCodeOf(err);
      if (code !== RpcCode.UNIMPLEMENTED) {
        // Unreachable (or failing): say so, and ask again next time rather than remember it.
        return new Map(
          kinds.map((k) => [k, `the analysis service did not answer (${(err as Error).message})`]),
        );
      }
      missing = await this.probeKinds(kinds, signal);
    }
    this.probed = { at: Date.now(), missing };
    return missing;
  }

  /**
   * For an analysis service without GetAnalysisInfo: each kind is asked for with a spec that has no
   * checkpoint, refused as INVALID_ARGUMENT by a kind that exists (so nothing is started) and as
   * UNIMPLEMENTED by one that does not.
   */
  private async probeKinds(kinds: readonly string[], signal: AbortSignal): Promise<Map<string, string>> {
    const api = this.deps.analysis as AnalysisApi;
    const missing = new Map<string, string>();
    for (const kind of kinds) {
      if (this.capabilities.unimplemented.has(kind)) {
        missing.set(kind, NOT_IMPLEMENTED_NOTE);
        continue;
      }
      try {
        await api.startAnalysis(
          {
            spec: AnalysisSpec.fromJSON({ [kind]: {} }),
            idempotencyKey: `gengap-capability-probe/${kind}`,
            labels: { 'gengap/probe': 'true' },
          },
          AbortSignal.any([signal, AbortSignal.timeout(5000)]),
        );
      } catch (err) {
        const code = rpcCodeOf(err);
        if (code === RpcCode.UNIMPLEMENTED) {
          this.capabilities.unimplemented.add(kind);
          missing.set(kind, NOT_IMPLEMENTED_NOTE);
        } else if (code === RpcCode.UNAVAILABLE || code === RpcCode.DEADLINE_EXCEEDED) {
          missing.set(kind, 'the analysis service is unreachable');
        }
      }
    }
    return missing;
  }

  /** Gathers the experiment's results and writes its report; returns where it is. */
  async buildReport(
    experimentId: string,
    signal: AbortSignal,
    outcome?: ExperimentOutcome,
  ): Promise<{ reportPath: string; reportUrl: string }> {
    const builder = this.deps.buildReport;
    if (!this.deps.store.experiment(experimentId)) throw new NotFoundError('experiment', experimentId);
    if (!builder) throw new FailedPreconditionError('reports are not available in this build');
    const input = await gatherReportInput(
      {
        store: this.deps.store,
        data: this.deps.data,
        analysis: this.deps.analysis,
        presetNotes: (preset) => {
          const name = preset.split('/')[0] ?? '';
          const p = presets.find((x) => x.name === name);
          return p ? p.unsupported.map((u) => `Not run (the preset's paper has it): ${u}.`) : [];
        },
      },
      experimentId,
      signal,
      outcome,
    );
    const out = await builder(input, `${this.deps.reportsDir}/${experimentId}`);
    const reportUrl = this.deps.reportUrl(experimentId);
    this.deps.store.setReport(experimentId, out.htmlPath, reportUrl);
    return { reportPath: out.htmlPath, reportUrl };
  }

  /** Stops every experiment runner; runs on trainers go on and are picked up at the next start. */
  async shutdown(): Promise<void> {
    this.stopping = true;
    const all = [...this.running.values()];
    for (const r of all) r.controller.abort(new ShuttingDown());
    await Promise.all(all.map((r) => r.done));
  }
}
