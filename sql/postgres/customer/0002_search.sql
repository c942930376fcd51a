-- Full-text search over a customer's name, legal name, email, phone, tags, contact names and
-- notes. One row per customer, rewritten inside every write transaction that changes any of
-- them (the module's search-index event handler). The document is weighted: name A; legal
-- name, email and phone B; tags and contact names C; notes D. Prefix queries, ts_rank.
CREATE TABLE customer_search (
  tenant_id   TEXT NOT NULL,
  customer_id TEXT NOT NULL,
  document    TSVECTOR NOT NULL,
  PRIMARY KEY (tenant_id, customer_id)
);
-- A GIN index cannot lead with tenant_id without the btree_gin extension; the tenant filter
-- is applied to the (few) matching rows.
CREATE INDEX customer_search_document_idx ON customer_search USING GIN (document);

ALTER TABLE customer_search ENABLE ROW LEVEL SECURITY;
ALTER TABLE customer_search FORCE ROW LEVEL SECURITY;
CREATE POLICY customer_search_tenant ON customer_search
  USING (NULLIF(current_setting('app.tenant_id', true), '') IS NULL
         OR tenant_id = NULLIF(current_setting('app.tenant_id', true), ''))
  WITH CHECK (NULLIF(current_setting('app.tenant_id', true), '') IS NULL
              OR tenant_id = NULLIF(current_setting('app.tenant_id', true), ''));
