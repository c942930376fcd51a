// All IAM SQL, with bound parameters only. Tenant-owned queries always filter by tenant.
#include "iam_internal.hpp"

#include "crm/platform/json.hpp"

#include <soci/soci.h>

namespace crm::iam::store {

namespace {

constexpr const char* kTenantColumns = "id, slug, name, status, plan, settings, version, created_at, updated_at";
constexpr const char* kUserColumns =
    "id, email, name, password_hash, email_verified, platform_admin, last_tenant_id, version, created_at, updated_at";

struct TenantFetch {
  TenantRow row;
  std::string settings;
  long long created = 0, updated = 0;
  void bind(soci::statement& st) {
    st.exchange(soci::into(row.id));
    st.exchange(soci::into(row.slug));
    st.exchange(soci::into(row.name));
    st.exchange(soci::into(row.status));
    st.exchange(soci::into(row.plan));
    st.exchange(soci::into(settings));
    st.exchange(soci::into(row.version));
    st.exchange(soci::into(created));
    st.exchange(soci::into(updated));
  }
  TenantRow take() {
    TenantRow t = row;
    auto v = platform::json::parse_relaxed(settings);
    if (v.is_object()) t.settings = v.get_object();
    t.created_at = created;
    t.updated_at = updated;
    return t;
  }
};

struct UserFetch {
  UserRow row;
  std::string hash, last_tenant;
  soci::indicator hash_ind = soci::i_null, last_ind = soci::i_null;
  int verified = 0, admin = 0;
  long long created = 0, updated = 0;
  void bind(soci::statement& st) {
    st.exchange(soci::into(row.id));
    st.exchange(soci::into(row.email));
    st.exchange(soci::into(row.name));
    st.exchange(soci::into(hash, hash_ind));
    st.exchange(soci::into(verified));
    st.exchange(soci::into(admin));
    st.exchange(soci::into(last_tenant, last_ind));
    st.exchange(soci::into(row.version));
    st.exchange(soci::into(created));
    st.exchange(soci::into(updated));
  }
  UserRow take() {
    UserRow u = row;
    if (hash_ind == soci::i_ok) u.password_hash = hash;
    u.last_tenant_id = last_ind == soci::i_ok ? last_tenant : "";
    u.email_verified = verified != 0;
    u.platform_admin = admin != 0;
    u.created_at = created;
    u.updated_at = updated;
    return u;
  }
};

struct RoleFetch {
  RoleRow row;
  std::string permissions;
  int system = 0;
  long long created = 0, updated = 0;
  void bind(soci::statement& st) {
    st.exchange(soci::into(row.tenant_id));
    st.exchange(soci::into(row.id));
    st.exchange(soci::into(row.name));
    st.exchange(soci::into(row.description));
    st.exchange(soci::into(system));
    st.exchange(soci::into(permissions));
    st.exchange(soci::into(row.version));
    st.exchange(soci::into(created));
    st.exchange(soci::into(updated));
  }
  RoleRow take() {
    RoleRow r = row;
    r.system = system != 0;
    r.permissions = json_strings(platform::json::parse_relaxed(permissions));
    r.created_at = created;
    r.updated_at = updated;
    return r;
  }
};

// A tenant of a user with the membership's status.
struct UserTenantFetch {
  TenantFetch tenant;
  std::string status;
  void bind(soci::statement& st) {
    tenant.bind(st);
    st.exchange(soci::into(status));
  }
  UserTenant take() { return UserTenant{tenant.take(), status, {}}; }
};

constexpr const char* kRoleColumns = "tenant_id, id, name, description, system, permissions, version, created_at, updated_at";

template <class Fetch, class... Uses>
std::vector<decltype(std::declval<Fetch>().take())> fetch_all(soci::session& sql, const std::string& query,
                                                              Uses&&... uses) {
  Fetch f;
  soci::statement st(sql);
  (st.exchange(soci::use(uses)), ...);
  f.bind(st);
  st.alloc();
  st.prepare(query);
  st.define_and_bind();
  st.execute();
  std::vector<decltype(f.take())> out;
  while (st.fetch()) out.push_back(f.take());
  return out;
}

template <class T>
std::optional<T> first(std::vector<T> v) {
  if (v.empty()) return std::nullopt;
  return std::move(v.front());
}

}  // namespace

std::optional<TenantRow> tenant_by_id(soci::session& sql, const std::string& id) {
  return first(fetch_all<TenantFetch>(sql, std::string("SELECT ") + kTenantColumns +
                                                " FROM iam_tenants WHERE id = :id AND deleted_at IS NULL",
                                      id));
}

std::optional<TenantRow> tenant_by_slug(soci::session& sql, const std::string& slug) {
  return first(fetch_all<TenantFetch>(sql, std::string("SELECT ") + kTenantColumns +
                                                " FROM iam_tenants WHERE slug = :slug AND deleted_at IS NULL",
                                      slug));
}

void insert_tenant(soci::session& sql, const TenantRow& t) {
  std::string settings = platform::json::dump(t.settings);
  long long c = t.created_at, u = t.updated_at;
  sql << "INSERT INTO iam_tenants (id, slug, name, status, plan, settings, version, created_at, updated_at)"
         " VALUES (:id, :slug, :name, :status, :plan, :settings, 1, :c, :u)",
      soci::use(t.id), soci::use(t.slug), soci::use(t.name), soci::use(t.status), soci::use(t.plan),
      soci::use(settings), soci::use(c), soci::use(u);
}

void update_tenant(soci::session& sql, const TenantRow& t) {
  std::string settings = platform::json::dump(t.settings);
  long long u = t.updated_at;
  sql << "UPDATE iam_tenants SET name = :name, status = :status, plan = :plan, settings = :settings,"
         " version = version + 1, updated_at = :u WHERE id = :id",
      soci::use(t.name), soci::use(t.status), soci::use(t.plan), soci::use(settings), soci::use(u), soci::use(t.id);
}

std::vector<TenantRow> list_tenants(soci::session& sql, int limit, const std::string& after_id) {
  return fetch_all<TenantFetch>(sql, std::string("SELECT ") + kTenantColumns +
                                         " FROM iam_tenants WHERE deleted_at IS NULL AND id > :after ORDER BY id LIMIT :l",
                                after_id, limit);
}

std::int64_t count_tenants(soci::session& sql) {
  long long n = 0;
  sql << "SELECT COUNT(*) FROM iam_tenants WHERE deleted_at IS NULL", soci::into(n);
  return n;
}

std::vector<TenantRow> cancelled_tenants(soci::session& sql) {
  return fetch_all<TenantFetch>(sql, std::string("SELECT ") + kTenantColumns +
                                         " FROM iam_tenants WHERE status = 'cancelled' AND deleted_at IS NULL"
                                         " ORDER BY id");
}

std::vector<std::string> users_only_in(soci::session& sql, const std::string& tenant_id) {
  std::vector<std::string> out;
  std::string id;
  soci::statement st = (sql.prepare << "SELECT m.user_id FROM iam_memberships m JOIN iam_users u ON u.id = m.user_id"
                                       " WHERE m.tenant_id = :t AND u.platform_admin = 0 AND NOT EXISTS"
                                       " (SELECT 1 FROM iam_memberships o WHERE o.user_id = m.user_id"
                                       " AND o.tenant_id <> :t2) ORDER BY m.user_id",
                        soci::use(tenant_id), soci::use(tenant_id), soci::into(id));
  st.execute();
  while (st.fetch()) out.push_back(id);
  return out;
}

void delete_tenant_rows(soci::session& sql, const std::string& tenant_id) {
  const std::string& t = tenant_id;
  sql << "DELETE FROM iam_member_roles WHERE tenant_id = :t", soci::use(t);
  sql << "DELETE FROM iam_memberships WHERE tenant_id = :t", soci::use(t);
  sql << "DELETE FROM iam_roles WHERE tenant_id = :t", soci::use(t);
  sql << "DELETE FROM iam_refresh_tokens WHERE session_id IN (SELECT id FROM iam_sessions WHERE tenant_id = :t)",
      soci::use(t);
  sql << "DELETE FROM iam_sessions WHERE tenant_id = :t", soci::use(t);
  sql << "DELETE FROM iam_one_time_tokens WHERE tenant_id = :t", soci::use(t);
  sql << "UPDATE iam_users SET last_tenant_id = NULL WHERE last_tenant_id = :t", soci::use(t);
  sql << "DELETE FROM iam_tenants WHERE id = :t", soci::use(t);
}

void delete_user(soci::session& sql, const UserRow& user) {
  std::string account_key = "acct:" + normalize_email(user.email);
  sql << "DELETE FROM iam_refresh_tokens WHERE session_id IN (SELECT id FROM iam_sessions WHERE user_id = :u)",
      soci::use(user.id);
  sql << "DELETE FROM iam_sessions WHERE user_id = :u", soci::use(user.id);
  sql << "DELETE FROM iam_one_time_tokens WHERE user_id = :u", soci::use(user.id);
  sql << "DELETE FROM iam_login_failures WHERE key = :k", soci::use(account_key);
  sql << "DELETE FROM iam_users WHERE id = :u AND platform_admin = 0", soci::use(user.id);
}

std::optional<UserRow> user_by_id(soci::session& sql, const std::string& id) {
  return first(fetch_all<UserFetch>(sql, std::string("SELECT ") + kUserColumns + " FROM iam_users WHERE id = :id", id));
}

std::optional<UserRow> user_by_email(soci::session& sql, const std::string& email_normalized) {
  return first(fetch_all<UserFetch>(
      sql, std::string("SELECT ") + kUserColumns + " FROM iam_users WHERE email_normalized = :e", email_normalized));
}

void insert_user(soci::session& sql, const UserRow& u) {
  std::string normalized = normalize_email(u.email);
  std::string hash = u.password_hash.value_or("");
  soci::indicator hash_ind = u.password_hash ? soci::i_ok : soci::i_null;
  int verified = u.email_verified ? 1 : 0, admin = u.platform_admin ? 1 : 0;
  long long c = u.created_at, up = u.updated_at;
  sql << "INSERT INTO iam_users (id, email, email_normalized, name, password_hash, email_verified, platform_admin,"
         " version, created_at, updated_at) VALUES (:id, :email, :en, :name, :hash, :v, :a, 1, :c, :u)",
      soci::use(u.id), soci::use(u.email), soci::use(normalized), soci::use(u.name), soci::use(hash, hash_ind),
      soci::use(verified), soci::use(admin), soci::use(c), soci::use(up);
}

void update_user(soci::session& sql, const UserRow& u) {
  int verified = u.email_verified ? 1 : 0, admin = u.platform_admin ? 1 : 0;
  std::string last = u.last_tenant_id;
  soci::indicator last_ind = last.empty() ? soci::i_null : soci::i_ok;
  long long up = u.updated_at;
  sql << "UPDATE iam_users SET name = :name, email_verified = :v, platform_admin = :a, last_tenant_id = :lt,"
         " version = version + 1, updated_at = :u WHERE id = :id",
      soci::use(u.name), soci::use(verified), soci::use(admin), soci::use(last, last_ind), soci::use(up),
      soci::use(u.id);
}

void set_password(soci::session& sql, const std::string& user_id, const std::string& hash, TimestampMs now) {
  long long n = now;
  sql << "UPDATE iam_users SET password_hash = :h, password_changed_at = :n, version = version + 1, updated_at = :u"
         " WHERE id = :id",
      soci::use(hash), soci::use(n), soci::use(n), soci::use(user_id);
}

namespace {

struct MemberFetch {
  UserFetch user;
  std::string tenant_id, status;
  int version = 1;
  long long created = 0, updated = 0, used = 0;
  soci::indicator used_ind = soci::i_null;
  void bind(soci::statement& st) {
    user.bind(st);
    st.exchange(soci::into(tenant_id));
    st.exchange(soci::into(status));
    st.exchange(soci::into(version));
    st.exchange(soci::into(created));
    st.exchange(soci::into(updated));
    st.exchange(soci::into(used, used_ind));
  }
  MemberRow take() {
    MemberRow m;
    m.user = user.take();
    m.tenant_id = tenant_id;
    m.status = status;
    m.version = version;
    m.created_at = created;
    m.updated_at = updated;
    m.last_used_at = used_ind == soci::i_ok ? used : 0;
    return m;
  }
};

constexpr const char* kMemberSelect =
    "SELECT u.id, u.email, u.name, u.password_hash, u.email_verified, u.platform_admin, u.last_tenant_id,"
    " u.version, u.created_at, u.updated_at, m.tenant_id, m.status, m.version, m.created_at, m.updated_at,"
    " m.last_used_at FROM iam_memberships m JOIN iam_users u ON u.id = m.user_id";

}  // namespace

std::optional<MemberRow> member(soci::session& sql, const std::string& tenant_id, const std::string& user_id) {
  auto m = first(fetch_all<MemberFetch>(sql, std::string(kMemberSelect) + " WHERE m.tenant_id = :t AND m.user_id = :u",
                                        tenant_id, user_id));
  if (m) m->roles = member_roles(sql, tenant_id, user_id);
  return m;
}

std::vector<MemberRow> members(soci::session& sql, const std::string& tenant_id, int limit, const std::string& after_id,
                               const std::optional<std::string>& status) {
  std::string status_filter = status.value_or("");
  auto rows = fetch_all<MemberFetch>(
      sql, std::string(kMemberSelect) + " WHERE m.tenant_id = :t AND m.user_id > :after AND (:s1 = '' OR m.status = :s2)"
                                        " ORDER BY m.user_id LIMIT :l",
      tenant_id, after_id, status_filter, status_filter, limit);
  for (auto& m : rows) m.roles = member_roles(sql, tenant_id, m.user.id);
  return rows;
}

std::int64_t count_members(soci::session& sql, const std::string& tenant_id) {
  long long n = 0;
  sql << "SELECT COUNT(*) FROM iam_memberships WHERE tenant_id = :t", soci::use(tenant_id), soci::into(n);
  return n;
}

void insert_membership(soci::session& sql, const std::string& tenant_id, const std::string& user_id,
                       const std::string& status, const std::string& invited_by, TimestampMs now) {
  long long n = now;
  soci::indicator inv_ind = invited_by.empty() ? soci::i_null : soci::i_ok;
  sql << "INSERT INTO iam_memberships (tenant_id, user_id, status, invited_by, version, created_at, updated_at)"
         " VALUES (:t, :u, :s, :i, 1, :c, :up)",
      soci::use(tenant_id), soci::use(user_id), soci::use(status), soci::use(invited_by, inv_ind), soci::use(n),
      soci::use(n);
}

void set_membership_status(soci::session& sql, const std::string& tenant_id, const std::string& user_id,
                           const std::string& status, TimestampMs now) {
  long long n = now;
  sql << "UPDATE iam_memberships SET status = :s, version = version + 1, updated_at = :n WHERE tenant_id = :t"
         " AND user_id = :u",
      soci::use(status), soci::use(n), soci::use(tenant_id), soci::use(user_id);
}

void delete_membership(soci::session& sql, const std::string& tenant_id, const std::string& user_id) {
  sql << "DELETE FROM iam_member_roles WHERE tenant_id = :t AND user_id = :u", soci::use(tenant_id), soci::use(user_id);
  sql << "DELETE FROM iam_memberships WHERE tenant_id = :t AND user_id = :u", soci::use(tenant_id), soci::use(user_id);
}

void touch_membership(soci::session& sql, const std::string& tenant_id, const std::string& user_id, TimestampMs now) {
  long long n = now;
  sql << "UPDATE iam_memberships SET last_used_at = :n WHERE tenant_id = :t AND user_id = :u", soci::use(n),
      soci::use(tenant_id), soci::use(user_id);
}

std::vector<UserTenant> user_tenants(soci::session& sql, const std::string& user_id) {
  // Two queries whatever the number of tenants: the memberships with their tenants, then
  // every role name of the user across them.
  std::vector<UserTenant> out =
      fetch_all<UserTenantFetch>(sql,
                                 "SELECT t.id, t.slug, t.name, t.status, t.plan, t.settings, t.version, t.created_at,"
                                 " t.updated_at, m.status FROM iam_memberships m JOIN iam_tenants t ON t.id = m.tenant_id"
                                 " WHERE m.user_id = :u AND t.deleted_at IS NULL ORDER BY t.slug",
                                 user_id);
  if (out.empty()) return out;
  std::map<std::string, std::vector<std::string>> names;
  {
    std::string tenant_id, name;
    soci::statement st = (sql.prepare << "SELECT mr.tenant_id, r.name FROM iam_member_roles mr JOIN iam_roles r"
                                         " ON r.tenant_id = mr.tenant_id AND r.id = mr.role_id WHERE mr.user_id = :u"
                                         " ORDER BY r.name",
                          soci::use(user_id), soci::into(tenant_id), soci::into(name));
    st.execute();
    while (st.fetch()) names[tenant_id].push_back(name);
  }
  for (auto& ut : out) ut.role_names = std::move(names[ut.tenant.id]);
  return out;
}

std::vector<RoleRow> roles(soci::session& sql, const std::string& tenant_id) {
  return fetch_all<RoleFetch>(sql, std::string("SELECT ") + kRoleColumns +
                                       " FROM iam_roles WHERE tenant_id = :t ORDER BY system DESC, name",
                              tenant_id);
}

std::optional<RoleRow> role(soci::session& sql, const std::string& tenant_id, const std::string& role_id) {
  return first(fetch_all<RoleFetch>(
      sql, std::string("SELECT ") + kRoleColumns + " FROM iam_roles WHERE tenant_id = :t AND id = :id", tenant_id,
      role_id));
}

std::optional<RoleRow> role_by_name(soci::session& sql, const std::string& tenant_id, const std::string& name) {
  return first(fetch_all<RoleFetch>(
      sql, std::string("SELECT ") + kRoleColumns + " FROM iam_roles WHERE tenant_id = :t AND name = :n", tenant_id,
      name));
}

void insert_role(soci::session& sql, const RoleRow& r) {
  std::string permissions = platform::json::dump(to_json_array(r.permissions));
  int system = r.system ? 1 : 0;
  long long c = r.created_at, u = r.updated_at;
  sql << "INSERT INTO iam_roles (tenant_id, id, name, description, system, permissions, version, created_at,"
         " updated_at) VALUES (:t, :id, :n, :d, :s, :p, 1, :c, :u)",
      soci::use(r.tenant_id), soci::use(r.id), soci::use(r.name), soci::use(r.description), soci::use(system),
      soci::use(permissions), soci::use(c), soci::use(u);
}

void update_role(soci::session& sql, const RoleRow& r) {
  std::string permissions = platform::json::dump(to_json_array(r.permissions));
  long long u = r.updated_at;
  sql << "UPDATE iam_roles SET name = :n, description = :d, permissions = :p, version = version + 1,"
         " updated_at = :u WHERE tenant_id = :t AND id = :id",
      soci::use(r.name), soci::use(r.description), soci::use(permissions), soci::use(u), soci::use(r.tenant_id),
      soci::use(r.id);
}

void delete_role(soci::session& sql, const std::string& tenant_id, const std::string& role_id) {
  sql << "DELETE FROM iam_member_roles WHERE tenant_id = :t AND role_id = :r", soci::use(tenant_id), soci::use(role_id);
  sql << "DELETE FROM iam_roles WHERE tenant_id = :t AND id = :r", soci::use(tenant_id), soci::use(role_id);
}

std::vector<RoleRow> member_roles(soci::session& sql, const std::string& tenant_id, const std::string& user_id) {
  return fetch_all<RoleFetch>(
      sql, "SELECT r.tenant_id, r.id, r.name, r.description, r.system, r.permissions, r.version, r.created_at,"
           " r.updated_at FROM iam_member_roles mr JOIN iam_roles r ON r.tenant_id = mr.tenant_id AND r.id = mr.role_id"
           " WHERE mr.tenant_id = :t AND mr.user_id = :u ORDER BY r.name",
      tenant_id, user_id);
}

void add_member_role(soci::session& sql, const std::string& tenant_id, const std::string& user_id,
                     const std::string& role_id) {
  sql << "INSERT INTO iam_member_roles (tenant_id, user_id, role_id) VALUES (:t, :u, :r) ON CONFLICT DO NOTHING",
      soci::use(tenant_id), soci::use(user_id), soci::use(role_id);
}

void remove_member_role(soci::session& sql, const std::string& tenant_id, const std::string& user_id,
                        const std::string& role_id) {
  sql << "DELETE FROM iam_member_roles WHERE tenant_id = :t AND user_id = :u AND role_id = :r", soci::use(tenant_id),
      soci::use(user_id), soci::use(role_id);
}

std::vector<std::string> role_member_ids(soci::session& sql, const std::string& tenant_id, const std::string& role_id) {
  std::vector<std::string> out;
  std::string id;
  soci::statement st = (sql.prepare << "SELECT user_id FROM iam_member_roles WHERE tenant_id = :t AND role_id = :r"
                                       " ORDER BY user_id",
                        soci::use(tenant_id), soci::use(role_id), soci::into(id));
  st.execute();
  while (st.fetch()) out.push_back(id);
  return out;
}

std::int64_t count_role_members(soci::session& sql, const std::string& tenant_id, const std::string& role_name) {
  long long n = 0;
  sql << "SELECT COUNT(*) FROM iam_member_roles mr JOIN iam_roles r ON r.tenant_id = mr.tenant_id AND r.id = mr.role_id"
         " JOIN iam_memberships m ON m.tenant_id = mr.tenant_id AND m.user_id = mr.user_id"
         " WHERE mr.tenant_id = :t AND r.name = :n AND m.status = 'active'",
      soci::use(tenant_id), soci::use(role_name), soci::into(n);
  return n;
}

void insert_one_time_token(soci::session& sql, const std::string& hash, const std::string& purpose,
                           const std::string& user_id, const std::string& tenant_id, TimestampMs now,
                           TimestampMs expires_at) {
  long long n = now, e = expires_at;
  soci::indicator t_ind = tenant_id.empty() ? soci::i_null : soci::i_ok;
  sql << "INSERT INTO iam_one_time_tokens (token_hash, purpose, user_id, tenant_id, created_at, expires_at)"
         " VALUES (:h, :p, :u, :t, :c, :e)",
      soci::use(hash), soci::use(purpose), soci::use(user_id), soci::use(tenant_id, t_ind), soci::use(n), soci::use(e);
}

std::optional<OneTimeToken> consume_one_time_token(soci::session& sql, const std::string& hash,
                                                   const std::string& purpose, TimestampMs now) {
  long long n = now;
  soci::statement up = (sql.prepare << "UPDATE iam_one_time_tokens SET used_at = :n WHERE token_hash = :h"
                                       " AND purpose = :p AND used_at IS NULL AND expires_at > :n2",
                        soci::use(n), soci::use(hash), soci::use(purpose), soci::use(n));
  up.execute(true);
  if (up.get_affected_rows() != 1) return std::nullopt;
  OneTimeToken t;
  soci::indicator t_ind = soci::i_null;
  sql << "SELECT user_id, tenant_id FROM iam_one_time_tokens WHERE token_hash = :h", soci::use(hash),
      soci::into(t.user_id), soci::into(t.tenant_id, t_ind);
  if (t_ind != soci::i_ok) t.tenant_id.clear();
  return t;
}

}  // namespace crm::iam::store
