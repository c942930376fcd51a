-- The tenant of a search document becomes an indexed token ("t" and the tenant id's 32 hex
-- digits) instead of an UNINDEXED column. A search then intersects the tenant's posting list
-- with the terms' inside FTS5, where before every document matching the terms in any tenant
-- was read back to compare its tenant_id: for a word found in 14,000 documents that was
-- two thirds of the query. Search terms are matched in every column but the tenant's
-- (the query says -{tenant}). The documents are carried over, not rebuilt.
CREATE VIRTUAL TABLE customer_search_next USING fts5(
  tenant,
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
INSERT INTO customer_search_next (rowid, tenant, customer_id, name, legal_name, email, phone, tags, contacts, notes)
  SELECT rowid, 't' || replace(tenant_id, '-', ''), customer_id, name, legal_name, email, phone, tags, contacts, notes
  FROM customer_search;
-- One b-tree segment: a table filled by many small writes answers queries more slowly.
INSERT INTO customer_search_next (customer_search_next) VALUES ('optimize');
DROP TABLE customer_search;
ALTER TABLE customer_search_next RENAME TO customer_search;
