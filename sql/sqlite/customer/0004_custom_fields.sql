-- Tenant-defined custom fields: the typed keys records of an entity (customer now; leads,
-- opportunities and deals through the customer module's facade) may carry in custom_fields.
CREATE TABLE customer_field_definitions (
  tenant_id   TEXT NOT NULL,
  id          TEXT NOT NULL,
  entity      TEXT NOT NULL CHECK (entity IN ('customer', 'lead', 'opportunity', 'deal')),
  key         TEXT NOT NULL,
  label       TEXT NOT NULL,
  type        TEXT NOT NULL CHECK (type IN ('text', 'number', 'integer', 'boolean', 'date', 'datetime',
                                            'select', 'multi_select', 'url', 'email')),
  options     TEXT NOT NULL DEFAULT '[]',
  required    INTEGER NOT NULL DEFAULT 0,
  description TEXT,
  position    INTEGER NOT NULL DEFAULT 0,
  version     INTEGER NOT NULL DEFAULT 1,
  created_at  BIGINT NOT NULL,
  updated_at  BIGINT NOT NULL,
  PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX customer_field_definitions_key_idx ON customer_field_definitions (tenant_id, entity, key);
