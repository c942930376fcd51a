-- Each tenant's search documents get keys in a range of their own: tenant number n owns
-- n * 2^40 to (n + 1) * 2^40 - 1. A search then asks FTS5 for a rowid range, which it answers
-- by skipping to the range in each posting list. The tenant token of 0007 made FTS5 intersect
-- the terms with the tenant's own posting list (one entry per document of the tenant), which
-- cost more than the terms for a tenant with 100,000 customers, and its column filter
-- (-{tenant}) more again. The documents lose the tenant and customer_id columns: keys map
-- documents to customers, and the search terms now match every column there is.
CREATE TABLE customer_search_tenants (
  number    INTEGER PRIMARY KEY,
  tenant_id TEXT NOT NULL UNIQUE
);
INSERT INTO customer_search_tenants (tenant_id)
  SELECT DISTINCT tenant_id FROM customer_search_keys ORDER BY tenant_id;

CREATE TABLE customer_search_keys_next (
  doc         INTEGER PRIMARY KEY,
  tenant_id   TEXT NOT NULL,
  customer_id TEXT NOT NULL,
  UNIQUE (tenant_id, customer_id)
);
INSERT INTO customer_search_keys_next (doc, tenant_id, customer_id)
  SELECT t.number * 1099511627776 + ROW_NUMBER() OVER (PARTITION BY k.tenant_id ORDER BY k.doc),
         k.tenant_id, k.customer_id
  FROM customer_search_keys k JOIN customer_search_tenants t ON t.tenant_id = k.tenant_id;

CREATE VIRTUAL TABLE customer_search_next USING fts5(
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
INSERT INTO customer_search_next (rowid, name, legal_name, email, phone, tags, contacts, notes)
  SELECT n.doc, s.name, s.legal_name, s.email, s.phone, s.tags, s.contacts, s.notes
  FROM customer_search_keys o
  JOIN customer_search s ON s.rowid = o.doc
  JOIN customer_search_keys_next n ON n.tenant_id = o.tenant_id AND n.customer_id = o.customer_id;
INSERT INTO customer_search_next (customer_search_next) VALUES ('optimize');

DROP TABLE customer_search;
DROP TABLE customer_search_keys;
ALTER TABLE customer_search_next RENAME TO customer_search;
ALTER TABLE customer_search_keys_next RENAME TO customer_search_keys;
