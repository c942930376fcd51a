-- The search document of a customer is found by an integer key: FTS5 finds rows fast only
-- by rowid, and deleting by the UNINDEXED tenant_id/customer_id columns scanned every
-- document on each write. The key is an INTEGER PRIMARY KEY, so VACUUM keeps it. The
-- documents are rebuilt from the customers when the module starts with this table empty.
CREATE TABLE customer_search_keys (
  doc         INTEGER PRIMARY KEY,
  tenant_id   TEXT NOT NULL,
  customer_id TEXT NOT NULL,
  UNIQUE (tenant_id, customer_id)
);
DELETE FROM customer_search;

-- Live customers of a tenant, for the plan limit count (an index-only scan).
CREATE INDEX customer_customers_live_idx ON customer_customers (tenant_id) WHERE deleted_at IS NULL;
