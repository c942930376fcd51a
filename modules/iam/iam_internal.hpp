#pragma once
// Private to the IAM module: rows, the store (all SQL), and the services the routes use.

#include "crm/iam/events.hpp"
#include "crm/iam/iam_module.hpp"
#include "crm/platform/config.hpp"
#include "crm/platform/db.hpp"
#include "crm/platform/error.hpp"
#include "crm/platform/http.hpp"
#include "crm/platform/metrics.hpp"
#include "crm/platform/time.hpp"
#include "crm/platform/unit_of_work.hpp"

#include <boost/json.hpp>

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "jwt.hpp"

namespace crm::iam {

namespace bj = boost::json;
using platform::TimestampMs;
using platform::UnitOfWork;

inline constexpr std::int64_t kAccessTokenSeconds = 900;
inline constexpr std::int64_t kRefreshTokenMs = 30LL * 86400 * 1000;
inline constexpr std::int64_t kRefreshGraceMs = 10 * 1000;
inline constexpr std::int64_t kPermissionCacheMs = 5000;

struct TenantRow {
  std::string id, slug, name, status, plan;
  bj::object settings;
  int version = 1;
  TimestampMs created_at = 0, updated_at = 0;
  bj::object to_json() const;
};

struct UserRow {
  std::string id, email, name;
  std::optional<std::string> password_hash;
  bool email_verified = false;
  bool platform_admin = false;
  std::string last_tenant_id;
  int version = 1;
  TimestampMs created_at = 0, updated_at = 0;
};

struct RoleRow {
  std::string tenant_id, id, name, description;
  bool system = false;
  std::vector<std::string> permissions;
  int version = 1;
  TimestampMs created_at = 0, updated_at = 0;
  bj::object to_json() const;
};

struct MemberRow {
  UserRow user;
  std::string tenant_id, status;
  int version = 1;
  TimestampMs created_at = 0, updated_at = 0, last_used_at = 0;
  std::vector<RoleRow> roles;
  bj::object to_json() const;
};

/// Lower-cased, trimmed email; empty when not a plausible address.
std::string normalize_email(std::string_view email);
/// "Kilang Desa Murni Batik" -> "kilang-desa-murni-batik".
std::string slugify(std::string_view text);
bool valid_slug(std::string_view slug);
/// A valid slug for a tenant named `name` when none is given: slugify, padded with random
/// characters when too short ("AB" -> "ab-3f9c", "!!!" -> "tenant-3f9c").
std::string default_slug(std::string_view name);
std::vector<std::string> json_strings(const bj::value& v);
bj::array to_json_array(const std::vector<std::string>& v);

/// The system roles every tenant gets: (name, description, permissions).
struct SystemRole {
  const char* name;
  const char* description;
  std::vector<std::string> permissions;
};
const std::vector<SystemRole>& system_roles();
/// Plan limits: users per tenant (0 = unlimited).
int plan_user_limit(const std::string& plan);
bool valid_plan(std::string_view plan);
bool valid_tenant_status(std::string_view status);

/// All IAM SQL. Tenant-owned queries always take the tenant id.
namespace store {
std::optional<TenantRow> tenant_by_id(soci::session& sql, const std::string& id);
std::optional<TenantRow> tenant_by_slug(soci::session& sql, const std::string& slug);
void insert_tenant(soci::session& sql, const TenantRow& t);
void update_tenant(soci::session& sql, const TenantRow& t);  // bumps version
std::vector<TenantRow> list_tenants(soci::session& sql, int limit, const std::string& after_id);
std::int64_t count_tenants(soci::session& sql);
/// Cancelled tenants (not yet removed) with their settings: the candidates for removal.
std::vector<TenantRow> cancelled_tenants(soci::session& sql);
/// Members of the tenant who belong to no other tenant and are not platform administrators:
/// their identities go with the tenant. Needs a session that sees every tenant's memberships.
std::vector<std::string> users_only_in(soci::session& sql, const std::string& tenant_id);
/// Deletes every IAM row of the tenant (member roles, memberships, roles, sessions with their
/// refresh tokens, one-time tokens, the tenant itself). The audit log is kept.
void delete_tenant_rows(soci::session& sql, const std::string& tenant_id);
/// Deletes an identity with its sessions, tokens and login-failure records.
void delete_user(soci::session& sql, const UserRow& user);

std::optional<UserRow> user_by_id(soci::session& sql, const std::string& id);
std::optional<UserRow> user_by_email(soci::session& sql, const std::string& email_normalized);
void insert_user(soci::session& sql, const UserRow& u);
void update_user(soci::session& sql, const UserRow& u);  // bumps version
void set_password(soci::session& sql, const std::string& user_id, const std::string& hash, TimestampMs now);

std::optional<MemberRow> member(soci::session& sql, const std::string& tenant_id, const std::string& user_id);
std::vector<MemberRow> members(soci::session& sql, const std::string& tenant_id, int limit, const std::string& after_id,
                               const std::optional<std::string>& status);
std::int64_t count_members(soci::session& sql, const std::string& tenant_id);
void insert_membership(soci::session& sql, const std::string& tenant_id, const std::string& user_id,
                       const std::string& status, const std::string& invited_by, TimestampMs now);
void set_membership_status(soci::session& sql, const std::string& tenant_id, const std::string& user_id,
                           const std::string& status, TimestampMs now);
void delete_membership(soci::session& sql, const std::string& tenant_id, const std::string& user_id);
void touch_membership(soci::session& sql, const std::string& tenant_id, const std::string& user_id, TimestampMs now);
/// (tenant, roles) of the user's memberships, active ones first.
struct UserTenant {
  TenantRow tenant;
  std::string status;
  std::vector<std::string> role_names;
};
std::vector<UserTenant> user_tenants(soci::session& sql, const std::string& user_id);

std::vector<RoleRow> roles(soci::session& sql, const std::string& tenant_id);
std::optional<RoleRow> role(soci::session& sql, const std::string& tenant_id, const std::string& role_id);
std::optional<RoleRow> role_by_name(soci::session& sql, const std::string& tenant_id, const std::string& name);
void insert_role(soci::session& sql, const RoleRow& r);
void update_role(soci::session& sql, const RoleRow& r);  // bumps version
void delete_role(soci::session& sql, const std::string& tenant_id, const std::string& role_id);
std::vector<RoleRow> member_roles(soci::session& sql, const std::string& tenant_id, const std::string& user_id);
void add_member_role(soci::session& sql, const std::string& tenant_id, const std::string& user_id,
                     const std::string& role_id);
void remove_member_role(soci::session& sql, const std::string& tenant_id, const std::string& user_id,
                        const std::string& role_id);
std::vector<std::string> role_member_ids(soci::session& sql, const std::string& tenant_id, const std::string& role_id);
std::int64_t count_role_members(soci::session& sql, const std::string& tenant_id, const std::string& role_name);

void insert_one_time_token(soci::session& sql, const std::string& hash, const std::string& purpose,
                           const std::string& user_id, const std::string& tenant_id, TimestampMs now,
                           TimestampMs expires_at);
struct OneTimeToken {
  std::string user_id, tenant_id;
};
/// Marks the token used and returns it; nullopt when unknown, expired, used or of another purpose.
std::optional<OneTimeToken> consume_one_time_token(soci::session& sql, const std::string& hash,
                                                   const std::string& purpose, TimestampMs now);
}  // namespace store

/// The resolved permissions of a member, cached per process for at most 5 s.
struct Access {
  bool active = false;  // active membership (or platform admin without tenant)
  bool platform_admin = false;
  std::vector<std::string> roles;
  std::vector<std::string> permissions;
};

class AccessCache final {
 public:
  std::optional<Access> get(const std::string& tenant_id, const std::string& user_id, TimestampMs now);
  void put(const std::string& tenant_id, const std::string& user_id, Access access, TimestampMs now);
  /// Drops a member's entry (role or status change in this process takes effect at once).
  void invalidate(const std::string& tenant_id, const std::string& user_id);
  void invalidate_tenant(const std::string& tenant_id);

 private:
  std::mutex mutex_;
  std::map<std::pair<std::string, std::string>, std::pair<Access, TimestampMs>> entries_;
};

/// Which access tokens were recently found not revoked (session live, `jti` not denylisted),
/// so that authentication need not read the database on every request. An entry is trusted
/// for at most a second (revocations by another process take effect within it) and not at all
/// once a revocation has committed in this process (`bump`, on every session.revoked).
class RevocationCache final {
 public:
  static constexpr TimestampMs kTrustMs = 1000;
  /// The revocation generation; read it before checking the database.
  std::uint64_t generation() const noexcept { return generation_.load(std::memory_order_acquire); }
  bool known_live(const std::string& jti, TimestampMs now);
  void remember_live(const std::string& jti, std::uint64_t generation, TimestampMs now);
  void bump() noexcept { generation_.fetch_add(1, std::memory_order_acq_rel); }

 private:
  std::atomic<std::uint64_t> generation_{0};
  std::mutex mutex_;
  std::unordered_map<std::string, std::pair<std::uint64_t, TimestampMs>> entries_;
};

/// The signed-in user's identity and tenants as GET /auth/me shows them, kept for at most
/// kPermissionCacheMs (changes made by another process show within it, like permissions) and
/// dropped as soon as any tenant, user or role change commits in this process.
class ProfileCache final {
 public:
  struct Profile {
    UserRow user;
    std::vector<store::UserTenant> tenants;
  };
  std::uint64_t generation() const noexcept { return generation_.load(std::memory_order_acquire); }
  std::shared_ptr<const Profile> get(const std::string& user_id, TimestampMs now);
  void put(const std::string& user_id, std::shared_ptr<const Profile> profile, std::uint64_t generation,
           TimestampMs now);
  void bump() noexcept { generation_.fetch_add(1, std::memory_order_acq_rel); }

 private:
  struct Entry {
    std::shared_ptr<const Profile> profile;
    std::uint64_t generation;
    TimestampMs loaded_at;
  };
  std::atomic<std::uint64_t> generation_{0};
  std::mutex mutex_;
  std::unordered_map<std::string, Entry> entries_;
};

/// Shared state of the module.
struct IamContext {
  const platform::Config& config;
  platform::Database& db;
  platform::UnitOfWorkFactory& uow;
  std::unique_ptr<JwtSigner> jwt;
  AccessCache access_cache;
  RevocationCache revocations;
  ProfileCache profiles;
  platform::Counter* login_failures = nullptr;  // crm_auth_login_failures_total
  platform::Counter* login_throttled = nullptr;  // crm_auth_login_throttled_total
  std::string mail_sink_path;  // demo mode: one-time links are written here

  Access resolve_access(const std::string& tenant_id, const std::string& user_id);
};

/// Publishes an IAM event on the unit of work.
void publish(UnitOfWork& uow, const char* type, const std::string& aggregate_type, const std::string& aggregate_id,
             bj::object payload);
/// {field: {old, new}} for the fields that differ.
bj::object changes(const bj::object& before, const bj::object& after);

/// Argon2id work admitted at most (cores - 1) at a time, so sign-ins under load never take
/// every core from the I/O threads (health checks and other requests stay fast).
std::string gated_hash_password(std::string_view password);
bool gated_verify_password(std::string_view phc, std::string_view password);

/// Route registration, by area.
void register_auth_routes(platform::Router& router, IamContext& iam);
void register_admin_routes(platform::Router& router, IamContext& iam);
void register_tenancy_routes(platform::Router& router, IamContext& iam);
/// Removes every cancelled tenant whose settings.deletion_due_at is at or before `now`: per
/// tenant, one unit of work publishes tenant.deleted and deletes its IAM rows and the
/// identities that belonged to it alone. The audit log is kept.
struct PurgeResult {
  std::vector<std::string> removed;  // slugs
  int failed = 0;
};
PurgeResult purge_due_tenants(IamContext& iam, TimestampMs now);
/// `crm tenants purge`.
int purge_tenants_command(IamContext& iam, const std::vector<std::string>& args);
/// Writes the audit entries older than `cutoff` to a gzip JSON-lines file under
/// data_dir/audit-archive, then removes exactly those; throws and removes nothing on failure.
struct AuditArchive {
  long long count = 0;
  std::string file;  // empty when there was nothing to archive
};
AuditArchive archive_audit_entries(IamContext& iam, TimestampMs cutoff);
/// `crm audit archive --before DATE`: compressed JSON lines, then the entries are removed.
int archive_audit_log(IamContext& iam, const std::vector<std::string>& args);
/// Request and response descriptions for the OpenAPI document.
void describe_iam_api(platform::Router& router);

/// The token pair answer of register, login, refresh and switch-tenant.
bj::object token_response(soci::session& sql, IamContext& iam, const UserRow& user, const std::optional<TenantRow>& tenant,
                          const std::string& access_token, const std::string& refresh_token);
/// Creates a session (refresh family) and a token pair for the user in the tenant.
struct IssuedTokens {
  std::string access_token, refresh_token, session_id;
};
IssuedTokens issue_tokens(UnitOfWork& uow, IamContext& iam, const UserRow& user, const std::string& tenant_id,
                          const std::string& session_id = {});
/// Creates the six system roles of a tenant; returns the owner role.
RoleRow create_system_roles(UnitOfWork& uow, const std::string& tenant_id);
/// Writes a one-time token and returns the plain token.
std::string create_one_time_token(UnitOfWork& uow, const std::string& purpose, const std::string& user_id,
                                  const std::string& tenant_id, std::int64_t valid_ms);
/// Revokes every session of a user (password change/reset).
void revoke_user_sessions(UnitOfWork& uow, const std::string& user_id, const std::string& reason,
                          const std::string& except_session = {});

}  // namespace crm::iam
