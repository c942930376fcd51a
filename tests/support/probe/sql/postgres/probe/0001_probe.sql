CREATE TABLE probe_items (
  tenant_id  UUID NOT NULL,
  id         UUID NOT NULL,
  name       TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  PRIMARY KEY (tenant_id, id)
);
CREATE TABLE probe_audit (
  seq      BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  event_id TEXT NOT NULL,
  item_id  TEXT NOT NULL
);
CREATE TABLE probe_handled (
  seq          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  subscriber   TEXT NOT NULL,
  event_id     TEXT NOT NULL,
  event_type   TEXT NOT NULL,
  aggregate_id TEXT NOT NULL,
  event_seq    BIGINT NOT NULL,
  worker       TEXT NOT NULL
);
