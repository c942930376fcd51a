-- IAM: tenants, global user identities, memberships, roles, sessions, tokens, audit log.
CREATE TABLE iam_tenants (
  id          TEXT PRIMARY KEY,
  slug        TEXT NOT NULL UNIQUE,
  name        TEXT NOT NULL,
  status      TEXT NOT NULL CHECK (status IN ('trial', 'active', 'suspended', 'cancelled')),
  plan        TEXT NOT NULL CHECK (plan IN ('free', 'starter', 'pro', 'enterprise')),
  settings    TEXT NOT NULL,
  version     INTEGER NOT NULL DEFAULT 1,
  created_at  BIGINT NOT NULL,
  updated_at  BIGINT NOT NULL,
  deleted_at  BIGINT
);

CREATE TABLE iam_users (
  id               TEXT PRIMARY KEY,
  email            TEXT NOT NULL,
  email_normalized TEXT NOT NULL UNIQUE,
  name             TEXT NOT NULL,
  password_hash    TEXT,
  email_verified   INTEGER NOT NULL DEFAULT 0,
  platform_admin   INTEGER NOT NULL DEFAULT 0,
  last_tenant_id   TEXT,
  password_changed_at BIGINT,
  version          INTEGER NOT NULL DEFAULT 1,
  created_at       BIGINT NOT NULL,
  updated_at       BIGINT NOT NULL
);

CREATE TABLE iam_memberships (
  tenant_id    TEXT NOT NULL REFERENCES iam_tenants (id) ON DELETE CASCADE,
  user_id      TEXT NOT NULL REFERENCES iam_users (id) ON DELETE CASCADE,
  status       TEXT NOT NULL CHECK (status IN ('invited', 'active', 'suspended')),
  invited_by   TEXT,
  last_used_at BIGINT,
  version      INTEGER NOT NULL DEFAULT 1,
  created_at   BIGINT NOT NULL,
  updated_at   BIGINT NOT NULL,
  PRIMARY KEY (tenant_id, user_id)
);
CREATE INDEX iam_memberships_user_idx ON iam_memberships (user_id);

CREATE TABLE iam_roles (
  tenant_id   TEXT NOT NULL REFERENCES iam_tenants (id) ON DELETE CASCADE,
  id          TEXT NOT NULL,
  name        TEXT NOT NULL,
  description TEXT NOT NULL DEFAULT '',
  system      INTEGER NOT NULL DEFAULT 0,
  permissions TEXT NOT NULL,
  version     INTEGER NOT NULL DEFAULT 1,
  created_at  BIGINT NOT NULL,
  updated_at  BIGINT NOT NULL,
  PRIMARY KEY (tenant_id, id),
  UNIQUE (tenant_id, name)
);

CREATE TABLE iam_member_roles (
  tenant_id TEXT NOT NULL,
  user_id   TEXT NOT NULL,
  role_id   TEXT NOT NULL,
  PRIMARY KEY (tenant_id, user_id, role_id),
  FOREIGN KEY (tenant_id, user_id) REFERENCES iam_memberships (tenant_id, user_id) ON DELETE CASCADE,
  FOREIGN KEY (tenant_id, role_id) REFERENCES iam_roles (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX iam_member_roles_role_idx ON iam_member_roles (tenant_id, role_id);

-- A session is one refresh-token family.
CREATE TABLE iam_sessions (
  id           TEXT PRIMARY KEY,
  user_id      TEXT NOT NULL REFERENCES iam_users (id) ON DELETE CASCADE,
  tenant_id    TEXT NOT NULL,
  created_at   BIGINT NOT NULL,
  last_used_at BIGINT NOT NULL,
  expires_at   BIGINT NOT NULL,
  revoked_at   BIGINT,
  revoked_reason TEXT,
  ip           TEXT,
  user_agent   TEXT
);
CREATE INDEX iam_sessions_user_idx ON iam_sessions (user_id);

CREATE TABLE iam_refresh_tokens (
  token_hash   TEXT PRIMARY KEY,
  session_id   TEXT NOT NULL REFERENCES iam_sessions (id) ON DELETE CASCADE,
  issued_at    BIGINT NOT NULL,
  expires_at   BIGINT NOT NULL,
  rotated_at   BIGINT,
  successor    TEXT
);
CREATE INDEX iam_refresh_tokens_session_idx ON iam_refresh_tokens (session_id);

-- Verification, invitation and password-reset tokens (hashes only), single use.
CREATE TABLE iam_one_time_tokens (
  token_hash TEXT PRIMARY KEY,
  purpose    TEXT NOT NULL CHECK (purpose IN ('verify_email', 'invitation', 'reset_password')),
  user_id    TEXT NOT NULL REFERENCES iam_users (id) ON DELETE CASCADE,
  tenant_id  TEXT,
  created_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL,
  used_at    BIGINT
);

-- Access tokens revoked before their expiry (logout).
CREATE TABLE iam_revoked_tokens (
  jti        TEXT PRIMARY KEY,
  expires_at BIGINT NOT NULL
);

-- Failed logins per account and per IP, for throttling.
CREATE TABLE iam_login_failures (
  key TEXT NOT NULL,
  at  BIGINT NOT NULL
);
CREATE INDEX iam_login_failures_key_idx ON iam_login_failures (key, at);

-- Append-only audit log of every mutation and auth event, in every module.
CREATE TABLE iam_audit_log (
  seq         INTEGER PRIMARY KEY AUTOINCREMENT,
  id          TEXT NOT NULL UNIQUE,
  tenant_id   TEXT,
  occurred_at BIGINT NOT NULL,
  actor_id    TEXT,
  action      TEXT NOT NULL,
  entity_type TEXT NOT NULL,
  entity_id   TEXT,
  changes     TEXT NOT NULL,
  outcome     TEXT NOT NULL,
  ip          TEXT,
  user_agent  TEXT,
  request_id  TEXT,
  event_id    TEXT
);
CREATE INDEX iam_audit_log_tenant_idx ON iam_audit_log (tenant_id, seq);
CREATE INDEX iam_audit_log_entity_idx ON iam_audit_log (tenant_id, entity_type, entity_id, seq);
