-- The transactional outbox: every domain event, written in the transaction that produced it.
CREATE TABLE platform_outbox (
  seq            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  id             UUID NOT NULL UNIQUE,
  type           TEXT NOT NULL,
  version        INTEGER NOT NULL,
  tenant_id      UUID,
  aggregate_type TEXT NOT NULL,
  aggregate_id   TEXT NOT NULL,
  occurred_at    BIGINT NOT NULL,
  actor_id       TEXT,
  correlation_id TEXT,
  causation_id   TEXT,
  trace_id       TEXT,
  payload        JSONB NOT NULL,
  created_at     BIGINT NOT NULL
);
CREATE INDEX platform_outbox_tenant_idx ON platform_outbox (tenant_id, aggregate_id, seq);
CREATE INDEX platform_outbox_tenant_type_idx ON platform_outbox (tenant_id, type, occurred_at);
CREATE INDEX platform_outbox_created_idx ON platform_outbox (created_at);

-- One row per (event, asynchronous subscriber): its progress, retries and lease.
CREATE TABLE platform_outbox_deliveries (
  subscriber      TEXT NOT NULL,
  event_seq       BIGINT NOT NULL REFERENCES platform_outbox (seq) ON DELETE CASCADE,
  aggregate_key   TEXT NOT NULL,
  status          TEXT NOT NULL CHECK (status IN ('pending', 'done', 'dead')),
  attempts        INTEGER NOT NULL DEFAULT 0,
  next_attempt_at BIGINT NOT NULL,
  lease_owner     TEXT,
  lease_until     BIGINT,
  last_error      TEXT,
  created_at      BIGINT NOT NULL,
  updated_at      BIGINT NOT NULL,
  PRIMARY KEY (subscriber, event_seq)
);
CREATE INDEX platform_outbox_deliveries_due_idx ON platform_outbox_deliveries (status, next_attempt_at, event_seq)
  WHERE status = 'pending';
CREATE INDEX platform_outbox_deliveries_order_idx ON platform_outbox_deliveries (subscriber, aggregate_key, status, event_seq);
CREATE INDEX platform_outbox_deliveries_event_idx ON platform_outbox_deliveries (event_seq);

-- The inbox: which events each subscriber has handled (de-duplication of redeliveries).
CREATE TABLE platform_inbox (
  subscriber TEXT NOT NULL,
  event_id   UUID NOT NULL,
  handled_at BIGINT NOT NULL,
  PRIMARY KEY (subscriber, event_id)
);
