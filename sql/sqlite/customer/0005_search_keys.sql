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
-- The table is recreated with prefix indexes (2, 3 and 4 characters): q= matches by prefix,
-- and without them FTS5 walks every term that starts with the prefix.
DROP TABLE customer_search;
CREATE VIRTUAL TABLE customer_search USING fts5(
  tenant_id UNINDEXED,
  customer_id UNINDEXED,
  name,
  legal_name,
  email,
  phone,
  tags,
  contacts,
  notes,
  tokenize = 'unicode61 remove_diacritics 2',
  prefix = '2 3 4'
);

-- Sorting by money: the expressions are those of the ORDER BY, so a sorted page reads the
-- index instead of sorting every matching row.
CREATE INDEX customer_customers_credit_idx
  ON customer_customers (tenant_id, COALESCE(credit_limit_minor, -9223372036854775807), id);
CREATE INDEX customer_customers_lifetime_idx
  ON customer_customers (tenant_id, COALESCE(lifetime_value_minor, -9223372036854775807), id);

-- Live customers of a tenant, for the plan limit count (an index-only scan).
CREATE INDEX customer_customers_live_idx ON customer_customers (tenant_id) WHERE deleted_at IS NULL;
