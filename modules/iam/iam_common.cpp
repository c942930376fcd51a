// Shared IAM logic: normalization, system roles, plans, token issuance, access resolution.
#include "iam_internal.hpp"

#include "crm/platform/event_bus.hpp"
#include "crm/platform/json.hpp"
#include "password.hpp"
#include "secrets.hpp"

#include <soci/soci.h>

#include <algorithm>
#include <cctype>
#include <semaphore>
#include <thread>

namespace crm::iam {

namespace {

std::counting_semaphore<64>& hash_gate() {
  static std::counting_semaphore<64> gate(
      static_cast<std::ptrdiff_t>(std::clamp(static_cast<int>(std::thread::hardware_concurrency()) - 1, 1, 64)));
  return gate;
}

struct GateHold {
  GateHold() { hash_gate().acquire(); }
  ~GateHold() { hash_gate().release(); }
  GateHold(const GateHold&) = delete;
  GateHold& operator=(const GateHold&) = delete;
};

}  // namespace

std::string gated_hash_password(std::string_view password) {
  GateHold hold;
  return hash_password(password);
}

bool gated_verify_password(std::string_view phc, std::string_view password) {
  GateHold hold;
  return verify_password(phc, password);
}

std::string normalize_email(std::string_view email) {
  auto b = email.find_first_not_of(" \t\r\n");
  auto e = email.find_last_not_of(" \t\r\n");
  if (b == std::string_view::npos) return {};
  std::string out(email.substr(b, e - b + 1));
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  auto at = out.find('@');
  if (at == std::string::npos || at == 0 || at != out.rfind('@') || at + 1 >= out.size() || out.size() > 254) return {};
  auto domain = out.substr(at + 1);
  if (domain.find('.') == std::string::npos || domain.front() == '.' || domain.back() == '.') return {};
  for (char c : out) {
    if (std::isspace(static_cast<unsigned char>(c)) || c == '<' || c == '>' || c == ',' || c == ';') return {};
  }
  return out;
}

std::string slugify(std::string_view text) {
  std::string out;
  for (char ch : text) {
    auto c = static_cast<unsigned char>(ch);
    if (std::isalnum(c)) {
      out.push_back(static_cast<char>(std::tolower(c)));
    } else if (!out.empty() && out.back() != '-') {
      out.push_back('-');
    }
  }
  while (!out.empty() && out.back() == '-') out.pop_back();
  if (out.size() > 63) out.resize(63);
  while (!out.empty() && out.back() == '-') out.pop_back();
  return out;
}

bool valid_slug(std::string_view slug) {
  if (slug.size() < 3 || slug.size() > 63 || slug.front() == '-' || slug.back() == '-') return false;
  for (char c : slug) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
  }
  return slug.find("--") == std::string_view::npos;
}

std::string default_slug(std::string_view name) {
  std::string slug = slugify(name);
  if (slug.empty()) return "tenant-" + platform::random_hex(2);
  if (slug.size() < 3) slug += "-" + platform::random_hex(2);
  return slug;
}

std::vector<std::string> json_strings(const bj::value& v) {
  std::vector<std::string> out;
  if (const auto* a = v.if_array()) {
    for (const auto& e : *a)
      if (e.is_string()) out.emplace_back(e.get_string());
  }
  return out;
}

bj::array to_json_array(const std::vector<std::string>& v) {
  bj::array a;
  for (const auto& s : v) a.emplace_back(s);
  return a;
}

const std::vector<SystemRole>& system_roles() {
  // Resources of every module; a role's grants are written against these.
  static const std::vector<SystemRole> roles = {
      {"owner", "Everything, including deleting the tenant", {"*"}},
      {"admin", "Everything except deleting the tenant",
       {"users:*", "roles:*", "tenant:read", "tenant:update", "tenant:export", "audit:*", "api_keys:*", "events:*",
        "customers:*", "contacts:*", "notes:*", "activities:*", "segments:*", "imports:*", "exports:*",
        "custom_fields:*", "products:*", "pipelines:*", "leads:*", "opportunities:*", "deals:*", "invoices:*",
        "payments:*", "tasks:*", "analytics:*", "notifications:*", "templates:*", "webhooks:*"}},
      {"manager", "All customer, sales and notification work, including backward stage moves and purges",
       {"users:read", "roles:read", "tenant:read", "audit:read", "events:read", "customers:*", "contacts:*",
        "notes:*", "activities:*", "segments:*", "imports:*", "exports:*", "custom_fields:*", "products:*",
        "pipelines:*", "leads:*", "opportunities:*", "deals:*", "invoices:*", "payments:*", "tasks:*",
        "analytics:*", "notifications:*", "templates:*", "webhooks:*", "api_keys:*"}},
      {"sales", "Reads everything; creates customers, leads, opportunities and tasks; changes only their own",
       {"*:read", "customers:create", "customers:update:own", "customers:delete:own", "contacts:*:own",
        "notes:create", "notes:update:own", "notes:delete:own", "activities:create", "activities:update:own",
        "leads:create", "leads:update:own", "leads:delete:own", "leads:convert:own", "opportunities:create",
        "opportunities:update:own", "opportunities:delete:own", "opportunities:move_forward:own",
        "opportunities:win:own", "opportunities:lose:own", "tasks:create", "tasks:update:own", "tasks:delete:own",
        "deals:update:own", "invoices:create:own", "payments:create:own", "api_keys:create", "api_keys:delete:own"}},
      {"marketing", "Reads everything; manages segments, templates, imports and exports",
       {"*:read", "segments:*", "templates:*", "imports:*", "exports:*", "api_keys:create", "api_keys:delete:own"}},
      {"viewer", "Reads everything, changes nothing", {"*:read"}},
  };
  return roles;
}

int plan_user_limit(const std::string& plan) {
  if (plan == "free") return 5;
  if (plan == "starter") return 25;
  if (plan == "pro") return 100;
  return 0;
}

bool valid_plan(std::string_view plan) {
  return plan == "free" || plan == "starter" || plan == "pro" || plan == "enterprise";
}

bool valid_tenant_status(std::string_view status) {
  return status == "trial" || status == "active" || status == "suspended" || status == "cancelled";
}

bj::object TenantRow::to_json() const {
  return bj::object{{"id", id},
                    {"slug", slug},
                    {"name", name},
                    {"status", status},
                    {"plan", plan},
                    {"settings", settings},
                    {"version", version},
                    {"created_at", platform::format_rfc3339(created_at)},
                    {"updated_at", platform::format_rfc3339(updated_at)}};
}

bj::object RoleRow::to_json() const {
  return bj::object{{"id", id},
                    {"tenant_id", tenant_id},
                    {"name", name},
                    {"description", description},
                    {"system", system},
                    {"permissions", to_json_array(permissions)},
                    {"version", version},
                    {"created_at", platform::format_rfc3339(created_at)},
                    {"updated_at", platform::format_rfc3339(updated_at)}};
}

bj::object MemberRow::to_json() const {
  bj::array role_list;
  for (const auto& r : roles) role_list.push_back(bj::object{{"id", r.id}, {"name", r.name}});
  return bj::object{{"id", user.id},
                    {"tenant_id", tenant_id},
                    {"email", user.email},
                    {"name", user.name},
                    {"email_verified", user.email_verified},
                    {"status", status},
                    {"roles", role_list},
                    {"last_used_at", last_used_at ? bj::value(platform::format_rfc3339(last_used_at)) : bj::value(nullptr)},
                    {"version", version},
                    {"created_at", platform::format_rfc3339(created_at)},
                    {"updated_at", platform::format_rfc3339(updated_at)}};
}

void publish(UnitOfWork& uow, const char* type, const std::string& aggregate_type, const std::string& aggregate_id,
             bj::object payload) {
  uow.publish(uow.make_event(type, events::kVersion, aggregate_type, aggregate_id, std::move(payload)));
}

bj::object changes(const bj::object& before, const bj::object& after) {
  bj::object out;
  for (const auto& kv : after) {
    const bj::value* old = before.if_contains(kv.key());
    if (!old || *old != kv.value()) {
      out[kv.key()] = bj::object{{"old", old ? *old : bj::value(nullptr)}, {"new", kv.value()}};
    }
  }
  return out;
}

RoleRow create_system_roles(UnitOfWork& uow, const std::string& tenant_id) {
  RoleRow owner;
  auto now = platform::now_ms();
  for (const auto& sr : system_roles()) {
    RoleRow r;
    r.tenant_id = tenant_id;
    r.id = platform::new_uuid_v7();
    r.name = sr.name;
    r.description = sr.description;
    r.system = true;
    r.permissions = sr.permissions;
    r.created_at = r.updated_at = now;
    store::insert_role(uow.sql(), r);
    if (r.name == "owner") owner = r;
  }
  return owner;
}

std::string create_one_time_token(UnitOfWork& uow, const std::string& purpose, const std::string& user_id,
                                  const std::string& tenant_id, std::int64_t valid_ms) {
  std::string token = random_token(32);
  auto now = platform::now_ms();
  store::insert_one_time_token(uow.sql(), sha256_hex(token), purpose, user_id, tenant_id, now, now + valid_ms);
  return token;
}

IssuedTokens issue_tokens(UnitOfWork& uow, IamContext& iam, const UserRow& user, const std::string& tenant_id,
                          const std::string& session_id) {
  auto& sql = uow.sql();
  auto now = platform::now_ms();
  IssuedTokens out;
  out.session_id = session_id;
  if (out.session_id.empty()) {
    out.session_id = platform::new_uuid_v7();
    long long n = now, e = now + kRefreshTokenMs;
    const auto& ctx = uow.context();
    std::string ua = ctx.user_agent.substr(0, 255);
    sql << "INSERT INTO iam_sessions (id, user_id, tenant_id, created_at, last_used_at, expires_at, ip, user_agent)"
           " VALUES (:id, :u, :t, :c, :l, :e, :ip, :ua)",
        soci::use(out.session_id), soci::use(user.id), soci::use(tenant_id), soci::use(n), soci::use(n), soci::use(e),
        soci::use(ctx.remote_ip), soci::use(ua);
  }
  out.refresh_token = "crm_rt_" + random_token(32);
  std::string hash = sha256_hex(out.refresh_token);
  long long n = now, e = now + kRefreshTokenMs;
  sql << "INSERT INTO iam_refresh_tokens (token_hash, session_id, issued_at, expires_at) VALUES (:h, :s, :i, :e)",
      soci::use(hash), soci::use(out.session_id), soci::use(n), soci::use(e);
  AccessClaims claims;
  claims.issuer = iam.jwt->issuer();
  claims.audience = iam.jwt->audience();
  claims.subject = user.id;
  claims.tenant_id = tenant_id;
  claims.jti = platform::new_uuid_v7();
  claims.session_id = out.session_id;
  claims.issued_at = claims.not_before = now / 1000;
  claims.expires_at = now / 1000 + kAccessTokenSeconds;
  out.access_token = iam.jwt->sign(claims);
  return out;
}

bj::object token_response(soci::session& sql, IamContext&, const UserRow& user, const std::optional<TenantRow>& tenant,
                          const std::string& access_token, const std::string& refresh_token) {
  bj::array tenants;
  for (const auto& ut : store::user_tenants(sql, user.id)) {
    if (ut.status != "active") continue;
    tenants.push_back(bj::object{{"id", ut.tenant.id},
                                 {"slug", ut.tenant.slug},
                                 {"name", ut.tenant.name},
                                 {"roles", to_json_array(ut.role_names)}});
  }
  return bj::object{
      {"access_token", access_token},
      {"refresh_token", refresh_token},
      {"token_type", "Bearer"},
      {"expires_in", kAccessTokenSeconds},
      {"user", bj::object{{"id", user.id}, {"email", user.email}, {"name", user.name},
                          {"email_verified", user.email_verified}}},
      {"tenant", tenant ? bj::value(bj::object{{"id", tenant->id}, {"slug", tenant->slug}, {"name", tenant->name}})
                        : bj::value(nullptr)},
      {"tenants", tenants}};
}

void revoke_user_sessions(UnitOfWork& uow, const std::string& user_id, const std::string& reason,
                          const std::string& except_session) {
  long long n = platform::now_ms();
  std::vector<std::string> ids;
  {
    std::string id;
    soci::statement st = (uow.sql().prepare << "SELECT id FROM iam_sessions WHERE user_id = :u AND revoked_at IS NULL",
                          soci::use(user_id), soci::into(id));
    st.execute();
    while (st.fetch())
      if (id != except_session) ids.push_back(id);
  }
  for (const auto& id : ids) {
    uow.sql() << "UPDATE iam_sessions SET revoked_at = :n, revoked_reason = :r WHERE id = :id", soci::use(n),
        soci::use(reason), soci::use(id);
    publish(uow, events::kSessionRevoked, "session", id, bj::object{{"user_id", user_id}, {"reason", reason}});
  }
}

std::optional<Access> AccessCache::get(const std::string& tenant_id, const std::string& user_id, TimestampMs now) {
  std::lock_guard lock(mutex_);
  auto it = entries_.find({tenant_id, user_id});
  if (it == entries_.end() || it->second.second <= now) return std::nullopt;
  return it->second.first;
}

void AccessCache::put(const std::string& tenant_id, const std::string& user_id, Access access, TimestampMs now) {
  std::lock_guard lock(mutex_);
  if (entries_.size() > 100000) entries_.clear();
  entries_[{tenant_id, user_id}] = {std::move(access), now + kPermissionCacheMs};
}

void AccessCache::invalidate(const std::string& tenant_id, const std::string& user_id) {
  std::lock_guard lock(mutex_);
  entries_.erase({tenant_id, user_id});
}

void AccessCache::invalidate_tenant(const std::string& tenant_id) {
  std::lock_guard lock(mutex_);
  for (auto it = entries_.begin(); it != entries_.end();) {
    it = it->first.first == tenant_id ? entries_.erase(it) : std::next(it);
  }
}

bool RevocationCache::known_live(const std::string& jti, TimestampMs now) {
  auto current = generation();
  std::lock_guard lock(mutex_);
  auto it = entries_.find(jti);
  return it != entries_.end() && it->second.first == current && now - it->second.second < kTrustMs;
}

void RevocationCache::remember_live(const std::string& jti, std::uint64_t generation, TimestampMs now) {
  std::lock_guard lock(mutex_);
  if (entries_.size() > 100000) entries_.clear();
  entries_[jti] = {generation, now};
}

std::shared_ptr<const ProfileCache::Profile> ProfileCache::get(const std::string& user_id, TimestampMs now) {
  auto current = generation();
  std::lock_guard lock(mutex_);
  auto it = entries_.find(user_id);
  if (it == entries_.end() || it->second.generation != current || now - it->second.loaded_at >= kPermissionCacheMs) {
    return nullptr;
  }
  return it->second.profile;
}

void ProfileCache::put(const std::string& user_id, std::shared_ptr<const Profile> profile, std::uint64_t generation,
                       TimestampMs now) {
  std::lock_guard lock(mutex_);
  if (entries_.size() > 100000) entries_.clear();
  entries_[user_id] = Entry{std::move(profile), generation, now};
}

Access IamContext::resolve_access(const std::string& tenant_id, const std::string& user_id) {
  auto now = platform::now_ms();
  if (auto cached = access_cache.get(tenant_id, user_id, now)) return *cached;
  Access a;
  auto lease = db.acquire();
  auto& sql = *lease;
  int admin = 0;
  sql << "SELECT platform_admin FROM iam_users WHERE id = :u", soci::use(user_id), soci::into(admin);
  a.platform_admin = admin != 0;
  if (tenant_id.empty()) {
    a.active = a.platform_admin;
  } else {
    std::string status, tenant_status;
    soci::indicator ind = soci::i_null;
    sql << "SELECT m.status, t.status FROM iam_memberships m JOIN iam_tenants t ON t.id = m.tenant_id"
           " WHERE m.tenant_id = :t AND m.user_id = :u AND t.deleted_at IS NULL",
        soci::use(tenant_id), soci::use(user_id), soci::into(status, ind), soci::into(tenant_status);
    bool tenant_usable = tenant_status != "suspended" && tenant_status != "cancelled";
    a.active = sql.got_data() && ind == soci::i_ok && status == "active" && tenant_usable;
    if (a.active) {
      for (const auto& r : store::member_roles(sql, tenant_id, user_id)) {
        a.roles.push_back(r.name);
        a.permissions.insert(a.permissions.end(), r.permissions.begin(), r.permissions.end());
      }
      std::sort(a.permissions.begin(), a.permissions.end());
      a.permissions.erase(std::unique(a.permissions.begin(), a.permissions.end()), a.permissions.end());
    }
  }
  access_cache.put(tenant_id, user_id, a, now);
  return a;
}

}  // namespace crm::iam
