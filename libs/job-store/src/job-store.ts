// Durable jobs for every service (datasets, runs, analyses, experiments) in one embedded SQLite file.
// Why one shared design: each service needs the same guarantees, and they are easy to get subtly wrong:
//  - Start is idempotent: the idempotency key maps to one job; the same key with another spec is refused.
//  - Event logs have gap-free sequence numbers from 0, assigned inside a transaction.
//  - Events carry a dedupe key (e.g. "step:120"): a job that resumes after a crash and replays work
//    re-emits the same keys, which are ignored, so watchers never see a duplicated metric.
//  - Attempts are fenced: writes from an attempt older than the job's current one are rejected.
import { EventEmitter } from 'node:events';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { DatabaseSync } from 'node:sqlite';

export type JobState = 'QUEUED' | 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'CANCELLED';
export const TERMINAL_STATES: ReadonlySet<JobState> = new Set(['SUCCEEDED', 'FAILED', 'CANCELLED']);

export interface JobFailure {
  code: number;
  message: string;
  field?: string;
  step?: number;
}

export interface JobRecord {
  id: string;
  kind: string;
  idempotencyKey: string;
  specHash: string;
  spec: Uint8Array;
  state: JobState;
  progress: number;
  phase: string;
  error: JobFailure | undefined;
  attempt: number;
  labels: Record<string, string>;
  createdAt: number;
  startedAt: number | undefined;
  finishedAt: number | undefined;
  result: Uint8Array | undefined;
  /** Who holds the job now (a worker id) and until when (ms since epoch); used by reapers. */
  leaseOwner: string | undefined;
  leaseExpiresAt: number | undefined;
}

export interface StoredEvent {
  sequence: number;
  key: string;
  payload: Uint8Array;
  createdAt: number;
}

export class IdempotencyConflictError extends Error {
  constructor(key: string) {
    super(`idempotency key ${JSON.stringify(key)} was already used with a different spec`);
    this.name = 'IdempotencyConflictError';
  }
}

export class StaleAttemptError extends Error {
  constructor(jobId: string, attempt: number, current: number) {
    super(`job ${jobId}: attempt ${attempt} is stale (current attempt ${current})`);
    this.name = 'StaleAttemptError';
  }
}

export class UnknownJobError extends Error {
  constructor(jobId: string) {
    super(`job ${jobId} not found`);
    this.name = 'UnknownJobError';
  }
}

interface JobRow {
  id: string;
  kind: string;
  idempotency_key: string;
  spec_hash: string;
  spec: Uint8Array;
  state: JobState;
  progress: number;
  phase: string;
  error: string | null;
  attempt: number;
  labels: string;
  created_at: number;
  started_at: number | null;
  finished_at: number | null;
  result: Uint8Array | null;
  lease_owner: string | null;
  lease_expires_at: number | null;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS jobs (
  id TEXT PRIMARY KEY,
  kind TEXT NOT NULL,
  idempotency_key TEXT NOT NULL,
  spec_hash TEXT NOT NULL,
  spec BLOB NOT NULL,
  state TEXT NOT NULL,
  progress REAL NOT NULL DEFAULT 0,
  phase TEXT NOT NULL DEFAULT '',
  error TEXT,
  attempt INTEGER NOT NULL DEFAULT 0,
  labels TEXT NOT NULL DEFAULT '{}',
  created_at INTEGER NOT NULL,
  started_at INTEGER,
  finished_at INTEGER,
  result BLOB,
  lease_owner TEXT,
  lease_expires_at INTEGER,
  UNIQUE (kind, idempotency_key)
);
CREATE INDEX IF NOT EXISTS jobs_by_state ON jobs (kind, state, created_at);
CREATE TABLE IF NOT EXISTS events (
  job_id TEXT NOT NULL,
  sequence INTEGER NOT NULL,
  key TEXT NOT NULL,
  payload BLOB NOT NULL,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (job_id, sequence),
  UNIQUE (job_id, key)
);
`;

function toRecord(row: JobRow): JobRecord {
  return {
    id: row.id,
    kind: row.kind,
    idempotencyKey: row.idempotency_key,
    specHash: row.spec_hash,
    spec: new Uint8Array(row.spec),
    state: row.state,
    progress: row.progress,
    phase: row.phase,
    error: row.error ? (JSON.parse(row.error) as JobFailure) : undefined,
    attempt: row.attempt,
    labels: JSON.parse(row.labels) as Record<string, string>,
    createdAt: row.created_at,
    startedAt: row.started_at ?? undefined,
    finishedAt: row.finished_at ?? undefined,
    result: row.result ? new Uint8Array(row.result) : undefined,
    leaseOwner: row.lease_owner ?? undefined,
    leaseExpiresAt: row.lease_expires_at ?? undefined,
  };
}

export interface NewJob {
  id: string;
  kind: string;
  idempotencyKey: string;
  specHash: string;
  spec: Uint8Array;
  labels?: Record<string, string>;
  state?: JobState;
}

export interface JobPatch {
  state?: JobState;
  progress?: number;
  phase?: string;
  error?: JobFailure | null;
  result?: Uint8Array | null;
  startedAt?: number | null;
  finishedAt?: number | null;
  leaseOwner?: string | null;
  leaseExpiresAt?: number | null;
}

export interface ListQuery {
  kind: string;
  state?: JobState;
  labels?: Record<string, string>;
  pageSize?: number;
  /** Opaque token from a previous page. */
  pageToken?: string;
}

export class JobStore {
  readonly db: DatabaseSync;
  /** Emits `event:<jobId>` on every appended event and `job:<jobId>` on every job change. */
  private readonly notifier = new EventEmitter();

  constructor(path: string) {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    this.db = new DatabaseSync(path);
    // WAL keeps readers off writers' backs; a process crash loses nothing committed.
    this.db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 5000;');
    this.db.exec(SCHEMA);
    this.notifier.setMaxListeners(0);
  }

  close(): void {
    this.db.close();
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

  /**
   * Creates the job, or returns the existing one with the same (kind, idempotency key) or id.
   * Throws IdempotencyConflictError when the key is known with a different spec hash.
   */
  createOrGet(job: NewJob): { job: JobRecord; created: boolean } {
    return this.transaction(() => {
      const existing = this.db
        .prepare('SELECT * FROM jobs WHERE (kind = ? AND idempotency_key = ?) OR id = ?')
        .get(job.kind, job.idempotencyKey, job.id) as JobRow | undefined;
      if (existing) {
        if (existing.spec_hash !== job.specHash) throw new IdempotencyConflictError(job.idempotencyKey);
        return { job: toRecord(existing), created: false };
      }
      this.db
        .prepare(
          `INSERT INTO jobs (id, kind, idempotency_key, spec_hash, spec, state, labels, created_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(
          job.id,
          job.kind,
          job.idempotencyKey,
          job.specHash,
          job.spec,
          job.state ?? 'QUEUED',
          JSON.stringify(job.labels ?? {}),
          Date.now(),
        );
      const created = this.require(job.id);
      return { job: created, created: true };
    });
  }

  get(id: string): JobRecord | undefined {
    const row = this.db.prepare('SELECT * FROM jobs WHERE id = ?').get(id) as JobRow | undefined;
    return row ? toRecord(row) : undefined;
  }

  require(id: string): JobRecord {
    const job = this.get(id);
    if (!job) throw new UnknownJobError(id);
    return job;
  }

  list(query: ListQuery): { jobs: JobRecord[]; nextPageToken: string } {
    const pageSize = Math.min(Math.max(query.pageSize || 100, 1), 1000);
    const offset = query.pageToken
      ? Number.parseInt(Buffer.from(query.pageToken, 'base64url').toString(), 10)
      : 0;
    if (!Number.isSafeInteger(offset) || offset < 0) throw new RangeError('invalid page token');
    const where = ['kind = ?'];
    const params: (string | number)[] = [query.kind];
    if (query.state) {
      where.push('state = ?');
      params.push(query.state);
    }
    for (const [k, v] of Object.entries(query.labels ?? {})) {
      where.push('json_extract(labels, ?) = ?');
      params.push(`$."${k.replaceAll('"', '')}"`, v);
    }
    const rows = this.db
      .prepare(`SELECT * FROM jobs WHERE ${where.join(' AND ')} ORDER BY created_at, id LIMIT ? OFFSET ?`)
      .all(...params, pageSize + 1, offset) as unknown as JobRow[];
    const more = rows.length > pageSize;
    return {
      jobs: rows.slice(0, pageSize).map(toRecord),
      nextPageToken: more ? Buffer.from(String(offset + pageSize)).toString('base64url') : '',
    };
  }

  /** Jobs of a kind in any of the given states (for resuming work at start-up). */
  inStates(kind: string, states: JobState[]): JobRecord[] {
    const marks = states.map(() => '?').join(',');
    const rows = this.db
      .prepare(`SELECT * FROM jobs WHERE kind = ? AND state IN (${marks}) ORDER BY created_at, id`)
      .all(kind, ...states) as unknown as JobRow[];
    return rows.map(toRecord);
  }

  /**
   * Updates a job. With `attempt`, the write is fenced: it fails with StaleAttemptError unless the
   * job's current attempt equals it. A terminal job is never moved back to a live state.
   */
  update(id: string, patch: JobPatch, attempt?: number): JobRecord {
    const updated = this.transaction(() => {
      const job = this.require(id);
      if (attempt !== undefined && job.attempt !== attempt)
        throw new StaleAttemptError(id, attempt, job.attempt);
      if (patch.state && TERMINAL_STATES.has(job.state) && !TERMINAL_STATES.has(patch.state)) {
        throw new Error(`job ${id} is ${job.state}; it cannot become ${patch.state}`);
      }
      const sets: string[] = [];
      const params: (string | number | null | Uint8Array)[] = [];
      const set = (column: string, value: string | number | null | Uint8Array) => {
        sets.push(`${column} = ?`);
        params.push(value);
      };
      if (patch.state !== undefined) set('state', patch.state);
      if (patch.progress !== undefined) set('progress', patch.progress);
      if (patch.phase !== undefined) set('phase', patch.phase);
      if (patch.error !== undefined) set('error', patch.error ? JSON.stringify(patch.error) : null);
      if (patch.result !== undefined) set('result', patch.result);
      if (patch.startedAt !== undefined) set('started_at', patch.startedAt);
      if (patch.finishedAt !== undefined) set('finished_at', patch.finishedAt);
      if (patch.leaseOwner !== undefined) set('lease_owner', patch.leaseOwner);
      if (patch.leaseExpiresAt !== undefined) set('lease_expires_at', patch.leaseExpiresAt);
      if (sets.length > 0)
        this.db.prepare(`UPDATE jobs SET ${sets.join(', ')} WHERE id = ?`).run(...params, id);
      return this.require(id);
    });
    this.notifier.emit(`job:${id}`, updated);
    return updated;
  }

  /** Starts a new attempt (after a crash or a retry) and returns its number. */
  beginAttempt(id: string, leaseOwner?: string, leaseMs?: number): number {
    const job = this.transaction(() => {
      this.db
        .prepare('UPDATE jobs SET attempt = attempt + 1, lease_owner = ?, lease_expires_at = ? WHERE id = ?')
        .run(leaseOwner ?? null, leaseMs ? Date.now() + leaseMs : null, id);
      return this.require(id);
    });
    this.notifier.emit(`job:${id}`, job);
    return job.attempt;
  }

  /** Extends the lease of the current attempt; false when the attempt is stale. */
  heartbeat(id: string, attempt: number, leaseMs: number): boolean {
    const res = this.db
      .prepare('UPDATE jobs SET lease_expires_at = ? WHERE id = ? AND attempt = ?')
      .run(Date.now() + leaseMs, id, attempt);
    return Number(res.changes) === 1;
  }

  /**
   * Appends an event unless one with the same key exists. Returns its sequence number, or undefined
   * for a duplicate. With `attempt`, stale attempts are rejected.
   */
  appendEvent(jobId: string, key: string, payload: Uint8Array, attempt?: number): number | undefined {
    const sequence = this.transaction(() => {
      if (attempt !== undefined) {
        const job = this.require(jobId);
        if (job.attempt !== attempt) throw new StaleAttemptError(jobId, attempt, job.attempt);
      }
      const dup = this.db.prepare('SELECT sequence FROM events WHERE job_id = ? AND key = ?').get(jobId, key);
      if (dup) return undefined;
      const row = this.db.prepare('SELECT MAX(sequence) AS last FROM events WHERE job_id = ?').get(jobId) as {
        last: number | null;
      };
      const next = row.last === null ? 0 : row.last + 1;
      this.db
        .prepare('INSERT INTO events (job_id, sequence, key, payload, created_at) VALUES (?, ?, ?, ?, ?)')
        .run(jobId, next, key, payload, Date.now());
      return next;
    });
    if (sequence !== undefined) this.notifier.emit(`event:${jobId}`, sequence);
    return sequence;
  }

  /** Stored events with sequence >= fromSequence, at most `limit`. */
  events(jobId: string, fromSequence: number, limit = 1000): StoredEvent[] {
    const rows = this.db
      .prepare(
        'SELECT sequence, key, payload, created_at FROM events WHERE job_id = ? AND sequence >= ? ORDER BY sequence LIMIT ?',
      )
      .all(jobId, fromSequence, limit) as unknown as {
      sequence: number;
      key: string;
      payload: Uint8Array;
      created_at: number;
    }[];
    return rows.map((r) => ({
      sequence: r.sequence,
      key: r.key,
      payload: new Uint8Array(r.payload),
      createdAt: r.created_at,
    }));
  }

  hasEvent(jobId: string, key: string): boolean {
    return this.db.prepare('SELECT 1 FROM events WHERE job_id = ? AND key = ?').get(jobId, key) !== undefined;
  }

  deleteJob(id: string): void {
    this.transaction(() => {
      this.db.prepare('DELETE FROM events WHERE job_id = ?').run(id);
      this.db.prepare('DELETE FROM jobs WHERE id = ?').run(id);
    });
    this.notifier.emit(`job:${id}`, undefined);
  }

  /**
   * Every event from `fromSequence` on, then live events, ending once the job is terminal and all of
   * its events have been delivered, or when `signal` aborts. Reads in pages, so a long log never
   * sits in memory at once; a consumer that awaits between items gets natural backpressure.
   */
  async *watch(jobId: string, fromSequence: number, signal: AbortSignal): AsyncGenerator<StoredEvent> {
    let next = fromSequence;
    while (!signal.aborted) {
      // Subscribe before reading so an event appended in between is not missed.
      const changed = this.waitForChange(jobId, signal);
      const page = this.events(jobId, next, 500);
      for (const event of page) {
        yield event;
        next = event.sequence + 1;
      }
      if (page.length === 500) {
        changed.cancel();
        continue;
      }
      const job = this.get(jobId);
      if (!job || TERMINAL_STATES.has(job.state)) {
        const rest = this.events(jobId, next, 500);
        changed.cancel();
        if (rest.length === 0) return;
        continue;
      }
      await changed.promise;
    }
  }

  private waitForChange(jobId: string, signal: AbortSignal): { promise: Promise<void>; cancel: () => void } {
    let cancel = () => {};
    const promise = new Promise<void>((resolve) => {
      const done = () => {
        cancel();
        resolve();
      };
      cancel = () => {
        this.notifier.removeListener(`event:${jobId}`, done);
        this.notifier.removeListener(`job:${jobId}`, done);
        signal.removeEventListener('abort', done);
      };
      this.notifier.once(`event:${jobId}`, done);
      this.notifier.once(`job:${jobId}`, done);
      signal.addEventListener('abort', done, { once: true });
    });
    return { promise, cancel };
  }
}
