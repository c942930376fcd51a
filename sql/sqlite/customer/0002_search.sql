-- Full-text search over a customer's name, legal name, email, phone, tags, contact names and
-- notes. One row per customer, rewritten inside every write transaction that changes any of
-- them (the module's search-index event handler). Prefix queries, ranked with bm25.
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
  tokenize = 'unicode61 remove_diacritics 2'
);
