-- Tenant isolation enforced again by PostgreSQL: inside a transaction that set
-- app.tenant_id (UnitOfWork does, with SET LOCAL semantics), tenant-owned rows of other
-- tenants are invisible and cannot be written, even by a query that forgot its tenant filter.
-- Work that is not tenant-scoped (sign-in across a user's tenants, platform administration)
-- runs without app.tenant_id. FORCE applies the policies to the tables' owner too; only a
-- superuser bypasses them.
CREATE FUNCTION crm_current_tenant() RETURNS TEXT LANGUAGE sql STABLE AS
  $$ SELECT NULLIF(current_setting('app.tenant_id', true), '') $$;

ALTER TABLE iam_memberships ENABLE ROW LEVEL SECURITY;
ALTER TABLE iam_memberships FORCE ROW LEVEL SECURITY;
CREATE POLICY iam_memberships_tenant ON iam_memberships
  USING (crm_current_tenant() IS NULL OR tenant_id = crm_current_tenant())
  WITH CHECK (crm_current_tenant() IS NULL OR tenant_id = crm_current_tenant());

ALTER TABLE iam_roles ENABLE ROW LEVEL SECURITY;
ALTER TABLE iam_roles FORCE ROW LEVEL SECURITY;
CREATE POLICY iam_roles_tenant ON iam_roles
  USING (crm_current_tenant() IS NULL OR tenant_id = crm_current_tenant())
  WITH CHECK (crm_current_tenant() IS NULL OR tenant_id = crm_current_tenant());

ALTER TABLE iam_member_roles ENABLE ROW LEVEL SECURITY;
ALTER TABLE iam_member_roles FORCE ROW LEVEL SECURITY;
CREATE POLICY iam_member_roles_tenant ON iam_member_roles
  USING (crm_current_tenant() IS NULL OR tenant_id = crm_current_tenant())
  WITH CHECK (crm_current_tenant() IS NULL OR tenant_id = crm_current_tenant());

ALTER TABLE iam_audit_log ENABLE ROW LEVEL SECURITY;
ALTER TABLE iam_audit_log FORCE ROW LEVEL SECURITY;
CREATE POLICY iam_audit_log_tenant ON iam_audit_log
  USING (crm_current_tenant() IS NULL OR tenant_id = crm_current_tenant())
  WITH CHECK (crm_current_tenant() IS NULL OR tenant_id IS NULL OR tenant_id = crm_current_tenant());
