-- Segments: named groups of customers. A static segment lists its members; a dynamic one
-- stores a filter (the language of POST /customers/search) and, in the same member table, a
-- snapshot of the customers it matched at its last refresh.
CREATE TABLE customer_segments (
  tenant_id    TEXT NOT NULL,
  id           TEXT NOT NULL,
  name         TEXT NOT NULL,
  name_key     TEXT NOT NULL,  -- the name case-folded, unique in the tenant
  description  TEXT,
  type         TEXT NOT NULL CHECK (type IN ('static', 'dynamic')),
  filter       TEXT,
  member_count BIGINT NOT NULL DEFAULT 0,
  refreshed_at BIGINT,
  created_by   TEXT,
  version      INTEGER NOT NULL DEFAULT 1,
  created_at   BIGINT NOT NULL,
  updated_at   BIGINT NOT NULL,
  PRIMARY KEY (tenant_id, id),
  CHECK ((type = 'dynamic' AND filter IS NOT NULL) OR (type = 'static' AND filter IS NULL))
);
CREATE UNIQUE INDEX customer_segments_name_idx ON customer_segments (tenant_id, name_key);
CREATE INDEX customer_segments_created_idx ON customer_segments (tenant_id, created_at, id);
CREATE INDEX customer_segments_updated_idx ON customer_segments (tenant_id, updated_at, id);
CREATE INDEX customer_segments_sort_name_idx ON customer_segments (tenant_id, name, id);

CREATE TABLE customer_segment_members (
  tenant_id   TEXT NOT NULL,
  segment_id  TEXT NOT NULL,
  customer_id TEXT NOT NULL,
  added_at    BIGINT NOT NULL,
  PRIMARY KEY (tenant_id, segment_id, customer_id),
  FOREIGN KEY (tenant_id, segment_id) REFERENCES customer_segments (tenant_id, id) ON DELETE CASCADE,
  FOREIGN KEY (tenant_id, customer_id) REFERENCES customer_customers (tenant_id, id) ON DELETE CASCADE
);
-- A customer's memberships: purges and merges.
CREATE INDEX customer_segment_members_customer_idx ON customer_segment_members (tenant_id, customer_id);
