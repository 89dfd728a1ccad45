// The coordinator's durable state in one SQLite file: experiments and their event logs in the job
// store (idempotent start, gap-free sequences, watch), cells, attempts, metrics and analysis
// references in the tables of schema.ts. Protobuf payloads are stored encoded.

import {
  type JobFailure,
  type JobRecord,
  type JobState,
  JobStore,
  type ListQuery,
  type NewJob,
} from '@gengap/job-store';
import { AnalysisSpec } from '@gengap/proto/analysis/v1/analysis';
import { JobStatus } from '@gengap/proto/common/v1/job';
import { ExperimentEvent } from '@gengap/proto/coordinator/v1/experiment';
import { DatasetSpec } from '@gengap/proto/data/v1/dataset';
import { EpochMetrics, RunSpec, RunSummary, StepMetrics, TimeToFit } from '@gengap/proto/trainer/v1/run';
import { COORDINATOR_SCHEMA } from './schema.ts';

export const EXPERIMENT_KIND = 'experiment';

/**
 * What a cell is: one of the experiment's own (`cell`), or a run an experiment analysis added: a
 * distilled `student`, an auto-encoder stage (`pretrain`) or a fine-tuned run (`finetune`) of
 * greedy layer-wise pre-training, a constrained disagreement classifier of Detectron (`cdc`).
 */
export type CellRole = 'cell' | 'student' | 'pretrain' | 'finetune' | 'cdc';

/** Roles of the runs that only serve an experiment analysis (left out of the report's run charts). */
export const AUXILIARY_ROLES: ReadonlySet<CellRole> = new Set(['pretrain', 'cdc']);

export interface NewCell {
  cellId: string;
  index: number;
  role?: CellRole;
  parentCellId?: string;
  label: string;
  parameters: Record<string, string>;
  seed: number;
  datasetSpec: DatasetSpec | undefined;
  runSpec: RunSpec;
  analyses: number[];
}

export interface CellRecord extends Required<NewCell> {
  experimentId: string;
  state: JobState;
  datasetId: string;
  runId: string;
  attempt: number;
  runStatus: JobStatus | undefined;
  summary: RunSummary | undefined;
  timeToFit: TimeToFit | undefined;
  error: JobFailure | undefined;
  updatedAt: number;
}

export interface CellPatch {
  state?: JobState;
  datasetId?: string;
  runId?: string;
  runStatus?: JobStatus;
  summary?: RunSummary;
  timeToFit?: TimeToFit;
  error?: JobFailure | null;
  runSpec?: RunSpec;
}

/** Where an attempt runs: the executor's record (a trainer address; a Kubernetes Job's name...). */
export interface Placement {
  executor: string;
  trainerAddress: string;
  jobName?: string;
}

export interface AttemptRecord {
  experimentId: string;
  cellId: string;
  attempt: number;
  idempotencyKey: string;
  placement: Placement | undefined;
  runId: string;
  /** The next sequence number of the run's event log to read. */
  nextSequence: number;
  state: JobState;
  error: JobFailure | undefined;
  startedAt: number;
  finishedAt: number | undefined;
}

export interface AttemptPatch {
  placement?: Placement;
  runId?: string;
  nextSequence?: number;
  state?: JobState;
  error?: JobFailure | null;
}

export interface AnalysisRecord {
  experimentId: string;
  name: string;
  cellId: string;
  analysisId: string;
  spec: AnalysisSpec | undefined;
  status: JobStatus | undefined;
  state: JobState;
  note: string;
  resultJson: string;
  updatedAt: number;
}

export interface AnalysisPatch {
  cellId?: string;
  analysisId?: string;
  spec?: AnalysisSpec;
  status?: JobStatus;
  state?: JobState;
  note?: string;
  resultJson?: string;
}

export interface ExperimentMeta {
  preset: string;
  reportPath: string;
  reportUrl: string;
  notes: string[];
}

type Row = Record<string, unknown>;
type SqlValue = string | number | null | Uint8Array;

const bytes = (v: unknown) => (v ? new Uint8Array(v as Uint8Array) : undefined);
const json = <T>(v: unknown, fallback: T): T =>
  typeof v === 'string' && v ? (JSON.parse(v) as T) : fallback;

function cellOf(r: Row): CellRecord {
  const datasetSpec = bytes(r.dataset_spec);
  const runStatus = bytes(r.run_status);
  const summary = bytes(r.summary);
  const timeToFit = bytes(r.time_to_fit);
  return {
    experimentId: r.experiment_id as string,
    cellId: r.cell_id as string,
    index: r.idx as number,
    role: r.role as CellRole,
    parentCellId: r.parent_cell_id as string,
    label: r.label as string,
    parameters: json(r.parameters, {}),
    seed: r.seed as number,
    datasetSpec: datasetSpec ? DatasetSpec.decode(datasetSpec) : undefined,
    runSpec: RunSpec.decode(bytes(r.run_spec) as Uint8Array),
    analyses: json(r.analyses, []),
    state: r.state as JobState,
    datasetId: r.dataset_id as string,
    runId: r.run_id as string,
    attempt: r.attempt as number,
    runStatus: runStatus ? JobStatus.decode(runStatus) : undefined,
    summary: summary ? RunSummary.decode(summary) : undefined,
    timeToFit: timeToFit ? TimeToFit.decode(timeToFit) : undefined,
    error: json<JobFailure | undefined>(r.error, undefined),
    updatedAt: r.updated_at as number,
  };
}

function attemptOf(r: Row): AttemptRecord {
  return {
    experimentId: r.experiment_id as string,
    cellId: r.cell_id as string,
    attempt: r.attempt as number,
    idempotencyKey: r.idempotency_key as string,
    placement: json<Placement | undefined>(r.placement, undefined),
    runId: r.run_id as string,
    nextSequence: r.next_sequence as number,
    state: r.state as JobState,
    error: json<JobFailure | undefined>(r.error, undefined),
    startedAt: r.started_at as number,
    finishedAt: (r.finished_at as number | null) ?? undefined,
  };
}

function analysisOf(r: Row): AnalysisRecord {
  const spec = bytes(r.spec);
  const status = bytes(r.status);
  return {
    experimentId: r.experiment_id as string,
    name: r.name as string,
    cellId: r.cell_id as string,
    analysisId: r.analysis_id as string,
    spec: spec ? AnalysisSpec.decode(spec) : undefined,
    status: status ? JobStatus.decode(status) : undefined,
    state: r.state as JobState,
    note: r.note as string,
    resultJson: r.result_json as string,
    updatedAt: r.updated_at as number,
  };
}

export class CoordinatorStore {
  readonly jobs: JobStore;

  constructor(path: string) {
    this.jobs = new JobStore(path);
    this.jobs.db.exec(COORDINATOR_SCHEMA);
  }

  close(): void {
    this.jobs.close();
  }

  private get db() {
    return this.jobs.db;
  }

  private transaction<T>(fn: () => T): T {
    this.db.exec('BEGIN IMMEDIATE');
    try {
      const out = fn();
      this.db.exec('COMMIT');
      return out;
    } catch (err) {
      this.db.exec('ROLLBACK');
      throw err;
    }
  }

  // Experiments ---------------------------------------------------------------------------------

  createExperiment(job: Omit<NewJob, 'kind'>, preset: string): { job: JobRecord; created: boolean } {
    const out = this.jobs.createOrGet({ ...job, kind: EXPERIMENT_KIND });
    if (out.created)
      this.db
        .prepare('INSERT OR IGNORE INTO experiment_meta (experiment_id, preset) VALUES (?, ?)')
        .run(job.id, preset);
    return out;
  }

  /** An experiment started earlier with this idempotency key. */
  experimentByKey(idempotencyKey: string): JobRecord | undefined {
    const row = this.db
      .prepare('SELECT id FROM jobs WHERE kind = ? AND idempotency_key = ?')
      .get(EXPERIMENT_KIND, idempotencyKey) as { id: string } | undefined;
    return row ? this.jobs.get(row.id) : undefined;
  }

  experiment(id: string): JobRecord | undefined {
    const job = this.jobs.get(id);
    return job?.kind === EXPERIMENT_KIND ? job : undefined;
  }

  listExperiments(query: Omit<ListQuery, 'kind'>) {
    return this.jobs.list({ ...query, kind: EXPERIMENT_KIND });
  }

  unfinishedExperiments(): JobRecord[] {
    return this.jobs.inStates(EXPERIMENT_KIND, ['QUEUED', 'RUNNING']);
  }

  meta(experimentId: string): ExperimentMeta {
    const r = this.db.prepare('SELECT * FROM experiment_meta WHERE experiment_id = ?').get(experimentId) as
      | Row
      | undefined;
    return {
      preset: (r?.preset as string | undefined) ?? '',
      reportPath: (r?.report_path as string | undefined) ?? '',
      reportUrl: (r?.report_url as string | undefined) ?? '',
      notes: json(r?.notes, []),
    };
  }

  setReport(experimentId: string, reportPath: string, reportUrl: string): void {
    this.db
      .prepare(
        `INSERT INTO experiment_meta (experiment_id, report_path, report_url) VALUES (?, ?, ?)
         ON CONFLICT (experiment_id) DO UPDATE SET report_path = excluded.report_path, report_url = excluded.report_url`,
      )
      .run(experimentId, reportPath, reportUrl);
  }

  addNote(experimentId: string, note: string): void {
    const notes = this.meta(experimentId).notes;
    if (notes.includes(note)) return;
    this.db
      .prepare(
        `INSERT INTO experiment_meta (experiment_id, notes) VALUES (?, ?)
         ON CONFLICT (experiment_id) DO UPDATE SET notes = excluded.notes`,
      )
      .run(experimentId, JSON.stringify([...notes, note]));
  }

  /** Appends an event unless one with the same dedupe key exists; returns its sequence. */
  appendEvent(experimentId: string, key: string, event: ExperimentEvent): number | undefined {
    return this.jobs.appendEvent(
      experimentId,
      key,
      ExperimentEvent.encode({ ...event, sequence: 0 }).finish(),
    );
  }

  async *watch(
    experimentId: string,
    fromSequence: number,
    signal: AbortSignal,
  ): AsyncGenerator<ExperimentEvent> {
    for await (const stored of this.jobs.watch(experimentId, fromSequence, signal)) {
      yield { ...ExperimentEvent.decode(stored.payload), sequence: stored.sequence };
    }
  }

  // Cells ---------------------------------------------------------------------------------------

  /** Inserts cells that are not stored yet (idempotent: a resumed experiment re-inserts nothing). */
  addCells(experimentId: string, cells: readonly NewCell[]): void {
    const insert = this.db.prepare(
      `INSERT OR IGNORE INTO cells (experiment_id, cell_id, idx, role, parent_cell_id, label, parameters, seed,
         dataset_spec, run_spec, analyses, updated_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    this.transaction(() => {
      for (const c of cells) {
        insert.run(
          experimentId,
          c.cellId,
          c.index,
          c.role ?? 'cell',
          c.parentCellId ?? '',
          c.label,
          JSON.stringify(c.parameters),
          c.seed,
          c.datasetSpec ? DatasetSpec.encode(c.datasetSpec).finish() : null,
          RunSpec.encode(c.runSpec).finish(),
          JSON.stringify(c.analyses),
          Date.now(),
        );
      }
    });
  }

  cells(experimentId: string): CellRecord[] {
    return (
      this.db
        .prepare('SELECT * FROM cells WHERE experiment_id = ? ORDER BY idx, cell_id')
        .all(experimentId) as Row[]
    ).map(cellOf);
  }

  cell(experimentId: string, cellId: string): CellRecord | undefined {
    const r = this.db
      .prepare('SELECT * FROM cells WHERE experiment_id = ? AND cell_id = ?')
      .get(experimentId, cellId) as Row | undefined;
    return r ? cellOf(r) : undefined;
  }

  updateCell(experimentId: string, cellId: string, patch: CellPatch): CellRecord {
    const sets: string[] = ['updated_at = ?'];
    const params: SqlValue[] = [Date.now()];
    const set = (column: string, value: SqlValue) => {
      sets.push(`${column} = ?`);
      params.push(value);
    };
    if (patch.state !== undefined) set('state', patch.state);
    if (patch.datasetId !== undefined) set('dataset_id', patch.datasetId);
    if (patch.runId !== undefined) set('run_id', patch.runId);
    if (patch.runStatus !== undefined) set('run_status', JobStatus.encode(patch.runStatus).finish());
    if (patch.summary !== undefined) set('summary', RunSummary.encode(patch.summary).finish());
    if (patch.timeToFit !== undefined) set('time_to_fit', TimeToFit.encode(patch.timeToFit).finish());
    if (patch.error !== undefined) set('error', patch.error ? JSON.stringify(patch.error) : null);
    if (patch.runSpec !== undefined) set('run_spec', RunSpec.encode(patch.runSpec).finish());
    this.db
      .prepare(`UPDATE cells SET ${sets.join(', ')} WHERE experiment_id = ? AND cell_id = ?`)
      .run(...params, experimentId, cellId);
    const cell = this.cell(experimentId, cellId);
    if (!cell) throw new Error(`cell ${cellId} of experiment ${experimentId} is not stored`);
    return cell;
  }

  // Attempts ------------------------------------------------------------------------------------

  /**
   * Starts the next attempt of a cell: its number and idempotency key are stored before any
   * trainer is called, so a coordinator that restarts reuses the key and never starts a second run.
   */
  beginAttempt(experimentId: string, cellId: string, keyOf: (attempt: number) => string): AttemptRecord {
    return this.transaction(() => {
      const row = this.db
        .prepare('SELECT attempt FROM cells WHERE experiment_id = ? AND cell_id = ?')
        .get(experimentId, cellId) as { attempt: number } | undefined;
      if (!row) throw new Error(`cell ${cellId} of experiment ${experimentId} is not stored`);
      const attempt = row.attempt + 1;
      this.db
        .prepare(
          `INSERT INTO attempts (experiment_id, cell_id, attempt, idempotency_key, started_at) VALUES (?, ?, ?, ?, ?)`,
        )
        .run(experimentId, cellId, attempt, keyOf(attempt), Date.now());
      this.db
        .prepare(
          `UPDATE cells SET attempt = ?, run_id = '', state = 'RUNNING', updated_at = ? WHERE experiment_id = ? AND cell_id = ?`,
        )
        .run(attempt, Date.now(), experimentId, cellId);
      return this.attempt(experimentId, cellId, attempt) as AttemptRecord;
    });
  }

  attempt(experimentId: string, cellId: string, attempt: number): AttemptRecord | undefined {
    const r = this.db
      .prepare('SELECT * FROM attempts WHERE experiment_id = ? AND cell_id = ? AND attempt = ?')
      .get(experimentId, cellId, attempt) as Row | undefined;
    return r ? attemptOf(r) : undefined;
  }

  attempts(experimentId: string, cellId?: string): AttemptRecord[] {
    const rows = (
      cellId === undefined
        ? this.db
            .prepare('SELECT * FROM attempts WHERE experiment_id = ? ORDER BY cell_id, attempt')
            .all(experimentId)
        : this.db
            .prepare('SELECT * FROM attempts WHERE experiment_id = ? AND cell_id = ? ORDER BY attempt')
            .all(experimentId, cellId)
    ) as Row[];
    return rows.map(attemptOf);
  }

  updateAttempt(experimentId: string, cellId: string, attempt: number, patch: AttemptPatch): void {
    const sets: string[] = [];
    const params: SqlValue[] = [];
    const set = (column: string, value: SqlValue) => {
      sets.push(`${column} = ?`);
      params.push(value);
    };
    if (patch.placement !== undefined) set('placement', JSON.stringify(patch.placement));
    if (patch.runId !== undefined) set('run_id', patch.runId);
    if (patch.nextSequence !== undefined) set('next_sequence', patch.nextSequence);
    if (patch.state !== undefined) {
      set('state', patch.state);
      if (patch.state !== 'RUNNING' && patch.state !== 'QUEUED') set('finished_at', Date.now());
    }
    if (patch.error !== undefined) set('error', patch.error ? JSON.stringify(patch.error) : null);
    if (sets.length === 0) return;
    this.db
      .prepare(
        `UPDATE attempts SET ${sets.join(', ')} WHERE experiment_id = ? AND cell_id = ? AND attempt = ?`,
      )
      .run(...params, experimentId, cellId, attempt);
    if (patch.runId !== undefined)
      this.db
        .prepare(
          'UPDATE cells SET run_id = ?, updated_at = ? WHERE experiment_id = ? AND cell_id = ? AND attempt = ?',
        )
        .run(patch.runId, Date.now(), experimentId, cellId, attempt);
  }

  // Metrics -------------------------------------------------------------------------------------

  /** Stores an evaluation; a replayed one (same run and step) is ignored. */
  recordEpoch(experimentId: string, cellId: string, runId: string, metrics: EpochMetrics): void {
    this.db
      .prepare(
        'INSERT OR IGNORE INTO epoch_metrics (experiment_id, cell_id, run_id, step, metrics) VALUES (?, ?, ?, ?, ?)',
      )
      .run(experimentId, cellId, runId, metrics.step, EpochMetrics.encode(metrics).finish());
  }

  recordStep(experimentId: string, cellId: string, runId: string, metrics: StepMetrics): void {
    this.db
      .prepare(
        'INSERT OR IGNORE INTO step_metrics (experiment_id, cell_id, run_id, step, metrics) VALUES (?, ?, ?, ?, ?)',
      )
      .run(experimentId, cellId, runId, metrics.step, StepMetrics.encode(metrics).finish());
  }

  epochs(experimentId: string, cellId: string, runId: string): EpochMetrics[] {
    return (
      this.db
        .prepare(
          'SELECT metrics FROM epoch_metrics WHERE experiment_id = ? AND cell_id = ? AND run_id = ? ORDER BY step',
        )
        .all(experimentId, cellId, runId) as Row[]
    ).map((r) => EpochMetrics.decode(bytes(r.metrics) as Uint8Array));
  }

  steps(experimentId: string, cellId: string, runId: string): StepMetrics[] {
    return (
      this.db
        .prepare(
          'SELECT metrics FROM step_metrics WHERE experiment_id = ? AND cell_id = ? AND run_id = ? ORDER BY step',
        )
        .all(experimentId, cellId, runId) as Row[]
    ).map((r) => StepMetrics.decode(bytes(r.metrics) as Uint8Array));
  }

  // Analyses ------------------------------------------------------------------------------------

  upsertAnalysis(experimentId: string, name: string, patch: AnalysisPatch): AnalysisRecord {
    this.db
      .prepare(
        'INSERT OR IGNORE INTO analyses (experiment_id, name, cell_id, updated_at) VALUES (?, ?, ?, ?)',
      )
      .run(experimentId, name, patch.cellId ?? '', Date.now());
    const sets: string[] = ['updated_at = ?'];
    const params: SqlValue[] = [Date.now()];
    const set = (column: string, value: SqlValue) => {
      sets.push(`${column} = ?`);
      params.push(value);
    };
    if (patch.cellId !== undefined) set('cell_id', patch.cellId);
    if (patch.analysisId !== undefined) set('analysis_id', patch.analysisId);
    if (patch.spec !== undefined) set('spec', AnalysisSpec.encode(patch.spec).finish());
    if (patch.status !== undefined) set('status', JobStatus.encode(patch.status).finish());
    if (patch.state !== undefined) set('state', patch.state);
    if (patch.note !== undefined) set('note', patch.note);
    if (patch.resultJson !== undefined) set('result_json', patch.resultJson);
    this.db
      .prepare(`UPDATE analyses SET ${sets.join(', ')} WHERE experiment_id = ? AND name = ?`)
      .run(...params, experimentId, name);
    return this.analysis(experimentId, name) as AnalysisRecord;
  }

  analysis(experimentId: string, name: string): AnalysisRecord | undefined {
    const r = this.db
      .prepare('SELECT * FROM analyses WHERE experiment_id = ? AND name = ?')
      .get(experimentId, name) as Row | undefined;
    return r ? analysisOf(r) : undefined;
  }

  analyses(experimentId: string): AnalysisRecord[] {
    return (
      this.db
        .prepare('SELECT * FROM analyses WHERE experiment_id = ? ORDER BY cell_id, name')
        .all(experimentId) as Row[]
    ).map(analysisOf);
  }
}
