// The coordinator's own tables, next to the job store's `jobs` and `events` (which hold experiments
// and their event logs) in <GENGAP_STATE_DIR>/coordinator.sqlite.
export const COORDINATOR_SCHEMA = `
CREATE TABLE IF NOT EXISTS experiment_meta (
  experiment_id TEXT PRIMARY KEY,
  preset TEXT NOT NULL DEFAULT '',
  report_path TEXT NOT NULL DEFAULT '',
  report_url TEXT NOT NULL DEFAULT '',
  notes TEXT NOT NULL DEFAULT '[]'
);
-- One row per cell (and per student cell of a teacher-student analysis).
CREATE TABLE IF NOT EXISTS cells (
  experiment_id TEXT NOT NULL,
  cell_id TEXT NOT NULL,
  idx INTEGER NOT NULL,
  role TEXT NOT NULL DEFAULT 'cell',
  parent_cell_id TEXT NOT NULL DEFAULT '',
  label TEXT NOT NULL,
  parameters TEXT NOT NULL,
  seed INTEGER NOT NULL,
  dataset_spec BLOB,
  run_spec BLOB NOT NULL,
  analyses TEXT NOT NULL DEFAULT '[]',
  state TEXT NOT NULL DEFAULT 'QUEUED',
  dataset_id TEXT NOT NULL DEFAULT '',
  run_id TEXT NOT NULL DEFAULT '',
  attempt INTEGER NOT NULL DEFAULT 0,
  run_status BLOB,
  summary BLOB,
  time_to_fit BLOB,
  error TEXT,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (experiment_id, cell_id)
);
-- One row per attempt of a cell: the idempotency key of its trainer run, where it ran, how far
-- its event log has been read, and how it ended.
CREATE TABLE IF NOT EXISTS attempts (
  experiment_id TEXT NOT NULL,
  cell_id TEXT NOT NULL,
  attempt INTEGER NOT NULL,
  idempotency_key TEXT NOT NULL,
  placement TEXT,
  run_id TEXT NOT NULL DEFAULT '',
  next_sequence INTEGER NOT NULL DEFAULT 0,
  state TEXT NOT NULL DEFAULT 'RUNNING',
  error TEXT,
  started_at INTEGER NOT NULL,
  finished_at INTEGER,
  PRIMARY KEY (experiment_id, cell_id, attempt)
);
CREATE TABLE IF NOT EXISTS epoch_metrics (
  experiment_id TEXT NOT NULL,
  cell_id TEXT NOT NULL,
  run_id TEXT NOT NULL,
  step INTEGER NOT NULL,
  metrics BLOB NOT NULL,
  PRIMARY KEY (experiment_id, cell_id, run_id, step)
);
CREATE TABLE IF NOT EXISTS step_metrics (
  experiment_id TEXT NOT NULL,
  cell_id TEXT NOT NULL,
  run_id TEXT NOT NULL,
  step INTEGER NOT NULL,
  metrics BLOB NOT NULL,
  PRIMARY KEY (experiment_id, cell_id, run_id, step)
);
-- Analyses attached to runs (cell_id set) or to the experiment (cell_id ''), by a name unique in the
-- experiment; result_json holds what the coordinator computes itself (e.g. shift-detection power).
CREATE TABLE IF NOT EXISTS analyses (
  experiment_id TEXT NOT NULL,
  name TEXT NOT NULL,
  cell_id TEXT NOT NULL DEFAULT '',
  analysis_id TEXT NOT NULL DEFAULT '',
  spec BLOB,
  status BLOB,
  state TEXT NOT NULL DEFAULT 'QUEUED',
  note TEXT NOT NULL DEFAULT '',
  result_json TEXT NOT NULL DEFAULT '',
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (experiment_id, name)
);
`;
