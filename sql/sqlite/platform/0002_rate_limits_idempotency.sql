-- Rate-limit counters shared by every process: hits per budget key and fixed window.
CREATE TABLE platform_rate_limits (
  bucket       TEXT NOT NULL,
  window_start BIGINT NOT NULL,
  hits         BIGINT NOT NULL,
  expires_at   BIGINT NOT NULL,
  PRIMARY KEY (bucket, window_start)
);
CREATE INDEX platform_rate_limits_expires_idx ON platform_rate_limits (expires_at);

-- Idempotency-Key records: claimed "in progress" by the first request, then its response.
-- tenant_id is empty for unauthenticated requests (scoped by client IP in principal).
CREATE TABLE platform_idempotency_keys (
  tenant_id        TEXT NOT NULL,
  principal        TEXT NOT NULL,
  idempotency_key  TEXT NOT NULL,
  request_hash     TEXT NOT NULL,
  state            TEXT NOT NULL CHECK (state IN ('in_progress', 'completed')),
  response_status  INTEGER,
  response_headers TEXT,
  response_body    TEXT,
  created_at       BIGINT NOT NULL,
  expires_at       BIGINT NOT NULL,
  PRIMARY KEY (tenant_id, principal, idempotency_key)
);
CREATE INDEX platform_idempotency_keys_expires_idx ON platform_idempotency_keys (expires_at);
