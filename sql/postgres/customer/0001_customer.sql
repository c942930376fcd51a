-- Customer module: customers with their contacts, notes, activities and timeline.
-- Every table is tenant-owned: tenant_id leads each primary key and index.

-- Per-tenant counters (customer codes). A row is only ever incremented, so a number is never
-- handed out twice; incrementing it also serializes a tenant's customer creation.
CREATE TABLE customer_sequences (
  tenant_id  TEXT NOT NULL,
  name       TEXT NOT NULL,
  last_value BIGINT NOT NULL,
  PRIMARY KEY (tenant_id, name)
);

CREATE TABLE customer_customers (
  tenant_id        TEXT NOT NULL,
  id               TEXT NOT NULL,
  code             TEXT NOT NULL,
  slug             TEXT NOT NULL,
  type             TEXT NOT NULL CHECK (type IN ('individual', 'business')),
  name             TEXT NOT NULL,
  legal_name       TEXT,
  email            TEXT,
  email_key        TEXT,
  email_disposable INTEGER NOT NULL DEFAULT 0,
  phone            TEXT,
  website          TEXT,
  industry         TEXT,
  status           TEXT NOT NULL CHECK (status IN ('lead', 'prospect', 'active', 'inactive', 'churned', 'blocked')),
  tier             TEXT CHECK (tier IN ('bronze', 'silver', 'gold', 'platinum')),
  owner_id         TEXT NOT NULL,
  tags             TEXT NOT NULL DEFAULT '[]',
  addresses        TEXT NOT NULL DEFAULT '[]',
  social_profiles  TEXT NOT NULL DEFAULT '[]',
  custom_fields    TEXT NOT NULL DEFAULT '{}',
  preferences      TEXT NOT NULL DEFAULT '{}',
  credit_limit_minor       BIGINT,
  credit_limit_currency    TEXT,
  lifetime_value_minor     BIGINT,
  lifetime_value_currency  TEXT,
  external_id      TEXT,
  created_by       TEXT,
  version          INTEGER NOT NULL DEFAULT 1,
  created_at       BIGINT NOT NULL,
  updated_at       BIGINT NOT NULL,
  deleted_at       BIGINT,
  PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX customer_customers_code_idx ON customer_customers (tenant_id, code);
CREATE UNIQUE INDEX customer_customers_slug_idx ON customer_customers (tenant_id, slug);
CREATE UNIQUE INDEX customer_customers_external_idx ON customer_customers (tenant_id, external_id)
  WHERE external_id IS NOT NULL;
CREATE INDEX customer_customers_email_idx ON customer_customers (tenant_id, email_key);
CREATE INDEX customer_customers_phone_idx ON customer_customers (tenant_id, phone);
CREATE INDEX customer_customers_created_idx ON customer_customers (tenant_id, created_at, id);
CREATE INDEX customer_customers_updated_idx ON customer_customers (tenant_id, updated_at, id);
CREATE INDEX customer_customers_name_idx ON customer_customers (tenant_id, name, id);
CREATE INDEX customer_customers_status_idx ON customer_customers (tenant_id, status);
CREATE INDEX customer_customers_owner_idx ON customer_customers (tenant_id, owner_id);

-- Multi-valued filter keys of a customer (kind 'tag' and 'country'), kept in step with the
-- customer row in the same transaction.
CREATE TABLE customer_customer_facets (
  tenant_id   TEXT NOT NULL,
  kind        TEXT NOT NULL,
  value       TEXT NOT NULL,
  customer_id TEXT NOT NULL,
  PRIMARY KEY (tenant_id, kind, value, customer_id)
);
CREATE INDEX customer_customer_facets_customer_idx ON customer_customer_facets (tenant_id, customer_id);

CREATE TABLE customer_contacts (
  tenant_id        TEXT NOT NULL,
  id               TEXT NOT NULL,
  customer_id      TEXT NOT NULL,
  first_name       TEXT NOT NULL,
  last_name        TEXT,
  email            TEXT,
  phones           TEXT NOT NULL DEFAULT '[]',
  job_title        TEXT,
  department       TEXT,
  roles            TEXT NOT NULL DEFAULT '[]',
  is_primary       INTEGER NOT NULL DEFAULT 0,
  communication_preferences TEXT NOT NULL DEFAULT '{}',
  last_contacted_at BIGINT,
  version          INTEGER NOT NULL DEFAULT 1,
  created_at       BIGINT NOT NULL,
  updated_at       BIGINT NOT NULL,
  PRIMARY KEY (tenant_id, id),
  FOREIGN KEY (tenant_id, customer_id) REFERENCES customer_customers (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX customer_contacts_customer_idx ON customer_contacts (tenant_id, customer_id, created_at, id);
-- At most one primary contact per customer.
CREATE UNIQUE INDEX customer_contacts_primary_idx ON customer_contacts (tenant_id, customer_id) WHERE is_primary = 1;

CREATE TABLE customer_notes (
  tenant_id   TEXT NOT NULL,
  id          TEXT NOT NULL,
  customer_id TEXT NOT NULL,
  body        TEXT NOT NULL,
  pinned      INTEGER NOT NULL DEFAULT 0,
  pinned_at   BIGINT,
  author_id   TEXT,
  version     INTEGER NOT NULL DEFAULT 1,
  created_at  BIGINT NOT NULL,
  updated_at  BIGINT NOT NULL,
  PRIMARY KEY (tenant_id, id),
  FOREIGN KEY (tenant_id, customer_id) REFERENCES customer_customers (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX customer_notes_customer_idx ON customer_notes (tenant_id, customer_id, pinned, created_at, id);

CREATE TABLE customer_activities (
  tenant_id        TEXT NOT NULL,
  id               TEXT NOT NULL,
  customer_id      TEXT NOT NULL,
  type             TEXT NOT NULL CHECK (type IN ('call', 'email', 'meeting', 'note', 'task', 'system')),
  subject          TEXT,
  body             TEXT,
  occurred_at      BIGINT,
  duration_minutes INTEGER,
  outcome          TEXT,
  contact_id       TEXT,
  status           TEXT NOT NULL CHECK (status IN ('completed', 'needs_review')),
  created_by       TEXT,
  version          INTEGER NOT NULL DEFAULT 1,
  created_at       BIGINT NOT NULL,
  updated_at       BIGINT NOT NULL,
  PRIMARY KEY (tenant_id, id),
  FOREIGN KEY (tenant_id, customer_id) REFERENCES customer_customers (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX customer_activities_customer_idx ON customer_activities (tenant_id, customer_id, created_at, id);
CREATE INDEX customer_activities_review_idx ON customer_activities (tenant_id, status, created_at, id);

-- What happened to a customer, newest first: system entries written by the module's event
-- handlers and entries other modules add through the facade.
CREATE TABLE customer_timeline (
  tenant_id   TEXT NOT NULL,
  id          TEXT NOT NULL,
  customer_id TEXT NOT NULL,
  kind        TEXT NOT NULL,
  summary     TEXT NOT NULL,
  data        TEXT NOT NULL DEFAULT '{}',
  actor_id    TEXT,
  source_type TEXT,
  source_id   TEXT,
  occurred_at BIGINT NOT NULL,
  PRIMARY KEY (tenant_id, id),
  FOREIGN KEY (tenant_id, customer_id) REFERENCES customer_customers (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX customer_timeline_customer_idx ON customer_timeline (tenant_id, customer_id, occurred_at, id);

-- Row-level security: inside a transaction that set app.tenant_id (every unit of work with a
-- tenant does, with SET LOCAL semantics) other tenants' rows are invisible and unwritable.
-- Written out here rather than calling IAM's helper function: modules share no schema objects.

ALTER TABLE customer_sequences ENABLE ROW LEVEL SECURITY;
ALTER TABLE customer_sequences FORCE ROW LEVEL SECURITY;
CREATE POLICY customer_sequences_tenant ON customer_sequences
  USING (NULLIF(current_setting('app.tenant_id', true), '') IS NULL
         OR tenant_id = NULLIF(current_setting('app.tenant_id', true), ''))
  WITH CHECK (NULLIF(current_setting('app.tenant_id', true), '') IS NULL
              OR tenant_id = NULLIF(current_setting('app.tenant_id', true), ''));

ALTER TABLE customer_customers ENABLE ROW LEVEL SECURITY;
ALTER TABLE customer_customers FORCE ROW LEVEL SECURITY;
CREATE POLICY customer_customers_tenant ON customer_customers
  USING (NULLIF(current_setting('app.tenant_id', true), '') IS NULL
         OR tenant_id = NULLIF(current_setting('app.tenant_id', true), ''))
  WITH CHECK (NULLIF(current_setting('app.tenant_id', true), '') IS NULL
              OR tenant_id = NULLIF(current_setting('app.tenant_id', true), ''));

ALTER TABLE customer_customer_facets ENABLE ROW LEVEL SECURITY;
ALTER TABLE customer_customer_facets FORCE ROW LEVEL SECURITY;
CREATE POLICY customer_customer_facets_tenant ON customer_customer_facets
  USING (NULLIF(current_setting('app.tenant_id', true), '') IS NULL
         OR tenant_id = NULLIF(current_setting('app.tenant_id', true), ''))
  WITH CHECK (NULLIF(current_setting('app.tenant_id', true), '') IS NULL
              OR tenant_id = NULLIF(current_setting('app.tenant_id', true), ''));

ALTER TABLE customer_contacts ENABLE ROW LEVEL SECURITY;
ALTER TABLE customer_contacts FORCE ROW LEVEL SECURITY;
CREATE POLICY customer_contacts_tenant ON customer_contacts
  USING (NULLIF(current_setting('app.tenant_id', true), '') IS NULL
         OR tenant_id = NULLIF(current_setting('app.tenant_id', true), ''))
  WITH CHECK (NULLIF(current_setting('app.tenant_id', true), '') IS NULL
              OR tenant_id = NULLIF(current_setting('app.tenant_id', true), ''));

ALTER TABLE customer_notes ENABLE ROW LEVEL SECURITY;
ALTER TABLE customer_notes FORCE ROW LEVEL SECURITY;
CREATE POLICY customer_notes_tenant ON customer_notes
  USING (NULLIF(current_setting('app.tenant_id', true), '') IS NULL
         OR tenant_id = NULLIF(current_setting('app.tenant_id', true), ''))
  WITH CHECK (NULLIF(current_setting('app.tenant_id', true), '') IS NULL
              OR tenant_id = NULLIF(current_setting('app.tenant_id', true), ''));

ALTER TABLE customer_activities ENABLE ROW LEVEL SECURITY;
ALTER TABLE customer_activities FORCE ROW LEVEL SECURITY;
CREATE POLICY customer_activities_tenant ON customer_activities
  USING (NULLIF(current_setting('app.tenant_id', true), '') IS NULL
         OR tenant_id = NULLIF(current_setting('app.tenant_id', true), ''))
  WITH CHECK (NULLIF(current_setting('app.tenant_id', true), '') IS NULL
              OR tenant_id = NULLIF(current_setting('app.tenant_id', true), ''));

ALTER TABLE customer_timeline ENABLE ROW LEVEL SECURITY;
ALTER TABLE customer_timeline FORCE ROW LEVEL SECURITY;
CREATE POLICY customer_timeline_tenant ON customer_timeline
  USING (NULLIF(current_setting('app.tenant_id', true), '') IS NULL
         OR tenant_id = NULLIF(current_setting('app.tenant_id', true), ''))
  WITH CHECK (NULLIF(current_setting('app.tenant_id', true), '') IS NULL
              OR tenant_id = NULLIF(current_setting('app.tenant_id', true), ''));
