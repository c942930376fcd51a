CREATE TABLE probe_items (
  tenant_id  TEXT NOT NULL,
  id         TEXT NOT NULL,
  name       TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  PRIMARY KEY (tenant_id, id)
);
CREATE TABLE probe_audit (
  seq      INTEGER PRIMARY KEY AUTOINCREMENT,
  event_id TEXT NOT NULL,
  item_id  TEXT NOT NULL
);
CREATE TABLE probe_handled (
  seq          INTEGER PRIMARY KEY AUTOINCREMENT,
  subscriber   TEXT NOT NULL,
  event_id     TEXT NOT NULL,
  event_type   TEXT NOT NULL,
  aggregate_id TEXT NOT NULL,
  event_seq    BIGINT NOT NULL,
  worker       TEXT NOT NULL
);
