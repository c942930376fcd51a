-- Import jobs: an uploaded file (kept under the data directory until the job ends) imported in
-- the background in batches, with its counts updated by each batch's own transaction, and
-- the problems of its rows.
CREATE TABLE customer_imports (
  tenant_id      TEXT NOT NULL,
  id             TEXT NOT NULL,
  status         TEXT NOT NULL CHECK (status IN ('queued', 'running', 'completed', 'failed', 'cancelled')),
  format         TEXT NOT NULL CHECK (format IN ('csv', 'json')),
  on_duplicate   TEXT NOT NULL CHECK (on_duplicate IN ('skip', 'update', 'create')),
  dry_run        INTEGER NOT NULL DEFAULT 0,
  file_path      TEXT NOT NULL,
  file_bytes     BIGINT NOT NULL,
  column_map     TEXT NOT NULL,  -- JSON {"mapped", "ignored", "unknown"}
  total          BIGINT NOT NULL DEFAULT 0,
  processed      BIGINT NOT NULL DEFAULT 0,
  created        BIGINT NOT NULL DEFAULT 0,
  updated        BIGINT NOT NULL DEFAULT 0,
  skipped        BIGINT NOT NULL DEFAULT 0,
  failed         BIGINT NOT NULL DEFAULT 0,
  failure_reason TEXT,
  created_by     TEXT,
  created_at     BIGINT NOT NULL,
  started_at     BIGINT,
  finished_at    BIGINT,
  updated_at     BIGINT NOT NULL,
  PRIMARY KEY (tenant_id, id)
);
CREATE INDEX customer_imports_created_idx ON customer_imports (tenant_id, created_at, id);
-- Jobs waiting or running: the worker's queue and the restart check.
CREATE INDEX customer_imports_status_idx ON customer_imports (status, created_at);

CREATE TABLE customer_import_errors (
  tenant_id  TEXT NOT NULL,
  import_id  TEXT NOT NULL,
  seq        BIGINT NOT NULL,  -- order of the problems within the job
  row_num    BIGINT NOT NULL,  -- data rows from 1 (the header is not a row); 0: the file as a whole
  line       BIGINT,           -- CSV: the physical line the row starts on
  field      TEXT,
  code       TEXT NOT NULL,
  message    TEXT NOT NULL,
  PRIMARY KEY (tenant_id, import_id, seq),
  FOREIGN KEY (tenant_id, import_id) REFERENCES customer_imports (tenant_id, id) ON DELETE CASCADE
);
