-- Live customers of a tenant, for the plan limit count (an index-only scan). (SQLite also
-- gets integer keys for its search documents in this migration; PostgreSQL's search table
-- is keyed by (tenant_id, customer_id) already.)
CREATE INDEX customer_customers_live_idx ON customer_customers (tenant_id) WHERE deleted_at IS NULL;
