-- Live customers of a tenant, for the plan limit count (an index-only scan). (SQLite also
-- gets integer keys for its search documents in this migration; PostgreSQL's search table
-- is keyed by (tenant_id, customer_id) already.)
CREATE INDEX customer_customers_live_idx ON customer_customers (tenant_id) WHERE deleted_at IS NULL;

-- Sorting by money: the expressions are those of the ORDER BY, so a sorted page reads the
-- index instead of sorting every matching row.
CREATE INDEX customer_customers_credit_idx
  ON customer_customers (tenant_id, (COALESCE(credit_limit_minor, -9223372036854775807)), id);
CREATE INDEX customer_customers_lifetime_idx
  ON customer_customers (tenant_id, (COALESCE(lifetime_value_minor, -9223372036854775807)), id);
