// The IAM module: wiring of routes, the authentication middleware, the audit log handler,
// demo data and the platform-admin command.
#include "iam_internal.hpp"

#include "crm/platform/event_bus.hpp"
#include "crm/platform/json.hpp"
#include "crm/platform/log.hpp"
#include "crm/platform/periodic_task.hpp"
#include "crm/platform/router.hpp"
#include "password.hpp"
#include "secrets.hpp"

#include <soci/soci.h>

#include <cctype>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <unistd.h>

namespace crm::generated {
std::vector<crm::platform::MigrationSource> migrations_iam();
}

namespace crm::iam {

using namespace crm::platform;

namespace {

constexpr const char* kDemoTenantSlug = "kilang-desa-murni-batik";
constexpr const char* kDemoPassword = "demo-password-2026";
constexpr std::int64_t kDefaultPurgeIntervalMs = 3600LL * 1000;

// modules.iam.tenant_purge_interval_ms: how often the server removes tenants whose grace
// period is over (0: never; `crm tenants purge` still does).
std::chrono::milliseconds purge_interval(const bj::object& section) {
  const bj::value* v = section.if_contains("tenant_purge_interval_ms");
  if (!v) return std::chrono::milliseconds(kDefaultPurgeIntervalMs);
  if (!v->is_int64() || v->get_int64() < 0 || (v->get_int64() > 0 && v->get_int64() < 100)) {
    throw ConfigError("invalid configuration: modules.iam.tenant_purge_interval_ms: must be 0 (off) or an integer"
                      " of at least 100 (milliseconds)");
  }
  return std::chrono::milliseconds(v->get_int64());
}

// modules.iam.audit_retention_days: audit entries older than this are archived (gzip JSON
// lines under data_dir/audit-archive) and removed by the server; 0 keeps them (the default).
// modules.iam.audit_archive_interval_ms: how often it looks (default hourly).
int audit_retention_days(const bj::object& section) {
  const bj::value* v = section.if_contains("audit_retention_days");
  if (!v) return 0;
  if (!v->is_int64() || v->get_int64() < 0 || v->get_int64() > 36500) {
    throw ConfigError("invalid configuration: modules.iam.audit_retention_days: must be 0 (keep) or a number of days"
                      " up to 36500");
  }
  return static_cast<int>(v->get_int64());
}

std::chrono::milliseconds audit_archive_interval(const bj::object& section) {
  const bj::value* v = section.if_contains("audit_archive_interval_ms");
  if (!v) return std::chrono::milliseconds(kDefaultPurgeIntervalMs);
  if (!v->is_int64() || v->get_int64() < 100) {
    throw ConfigError("invalid configuration: modules.iam.audit_archive_interval_ms: must be an integer of at least"
                      " 100 (milliseconds)");
  }
  return std::chrono::milliseconds(v->get_int64());
}

bool mutating(HttpVerb v) { return v != HttpVerb::get && v != HttpVerb::head && v != HttpVerb::options; }

/// Resolves the principal from `Authorization: Bearer <jwt>`; 401 for a missing, malformed,
/// expired, revoked or foreign token on a non-public route. Denied mutating requests are
/// written to the audit log (and nowhere else).
class AuthenticationMiddleware final : public Middleware {
 public:
  explicit AuthenticationMiddleware(IamContext& iam) : iam_(iam) {}

  HttpResponse handle(Request& request, const Next& next) override {
    if (request.pending_error()) return next(request);
    bool public_route = request.route() && request.route()->options.public_route;
    try {
      authenticate(request, public_route);
      return next(request);
    } catch (const Error& e) {
      if (mutating(request.method()) &&
          (e.kind() == ErrorKind::unauthorized || e.kind() == ErrorKind::forbidden || e.kind() == ErrorKind::not_found)) {
        record_denied(request, http_status(e.kind()));
      }
      throw;
    }
  }

 private:
  void authenticate(Request& request, bool public_route) {
    std::string_view header = request.header("Authorization");
    if (header.empty()) {
      if (!public_route) throw Error::unauthorized("Authentication is required: send Authorization: Bearer <token>.");
      return;
    }
    auto invalid = [&] {
      if (public_route) return;
      throw Error(ErrorKind::unauthorized, "invalid_token", "The access token is invalid, expired or revoked.");
    };
    if (header.size() < 8 || !std::equal(header.begin(), header.begin() + 7, "bearer ", [](char a, char b) {
          return std::tolower(static_cast<unsigned char>(a)) == b;
        })) {
      return invalid();
    }
    std::string_view token = header.substr(7);
    auto claims = iam_.jwt->verify(token, now_ms() / 1000);
    if (!claims) return invalid();
    auto now = now_ms();
    if (!iam_.revocations.known_live(claims->jti, now)) {
      auto generation = iam_.revocations.generation();
      auto lease = iam_.db.acquire();
      long long revoked = 0;
      soci::indicator ind = soci::i_null;
      int denied = 0;
      *lease << "SELECT (SELECT revoked_at FROM iam_sessions WHERE id = :s),"
                " (SELECT COUNT(*) FROM iam_revoked_tokens WHERE jti = :j)",
          soci::use(claims->session_id), soci::use(claims->jti), soci::into(revoked, ind), soci::into(denied);
      if (ind == soci::i_ok || denied > 0) return invalid();
      iam_.revocations.remember_live(claims->jti, generation, now);
    }
    Access access = iam_.resolve_access(claims->tenant_id, claims->subject);
    if (!access.active) return invalid();
    auto& ctx = request.context();
    ctx.tenant_id = claims->tenant_id;
    ctx.actor_id = claims->subject;
    auto& p = ctx.principal;
    p.authenticated = true;
    p.user_id = claims->subject;
    p.tenant_id = claims->tenant_id;
    p.session_id = claims->session_id;
    p.token_id = claims->jti;
    p.token_expires_at = claims->expires_at * 1000;
    p.platform_admin = access.platform_admin;
    p.roles = access.roles;
    p.permissions = access.permissions;
  }

  void record_denied(const Request& request, int status) {
    try {
      auto lease = iam_.db.acquire();
      const auto& ctx = request.context();
      std::string id = new_uuid_v7(), action = "access.denied", entity = "http";
      std::string route(request.route_pattern());
      std::string changes = json::dump(bj::object{
          {"method", std::string(boost::beast::http::to_string(request.method()))},
          {"path", std::string(request.path())},
          {"status", status}});
      std::string outcome = "denied";
      long long at = now_ms();
      soci::indicator t_ind = ctx.tenant_id.empty() ? soci::i_null : soci::i_ok;
      soci::indicator a_ind = ctx.actor_id.empty() ? soci::i_null : soci::i_ok;
      *lease << "INSERT INTO iam_audit_log (id, tenant_id, occurred_at, actor_id, action, entity_type, entity_id,"
                " changes, outcome, ip, user_agent, request_id) VALUES (:id, :t, :at, :a, :act, :et, :eid, :c, :o,"
                " :ip, :ua, :r)",
          soci::use(id), soci::use(ctx.tenant_id, t_ind), soci::use(at), soci::use(ctx.actor_id, a_ind),
          soci::use(action), soci::use(entity), soci::use(route), soci::use(changes), soci::use(outcome),
          soci::use(ctx.remote_ip), soci::use(ctx.user_agent), soci::use(ctx.request_id);
    } catch (const std::exception& e) {
      log_warn("could not record a denied request in the audit log", {{"error", e.what()}});
    }
  }

  IamContext& iam_;
};

/// The audit log entry of any event, written inside the transaction that published it.
void write_audit(UnitOfWork& uow, const EventEnvelope& e) {
  const auto& ctx = uow.context();
  static const bj::object kNoChanges;
  const auto* given = e.payload.if_contains("changes");
  const bj::object& changes = given && given->is_object() ? given->get_object() : kNoChanges;
  // The payload's own fields that say what happened join the changes (a copy only then).
  std::optional<bj::object> joined;
  for (const char* field : {"reason", "status", "roles", "email", "name", "plan", "permissions"}) {
    if (const auto* v = e.payload.if_contains(field); v && !changes.contains(field)) {
      if (!joined) joined = changes;
      (*joined)[field] = *v;
    }
  }
  std::string id = new_uuid_v7(), body = json::dump(joined ? *joined : changes);
  const char* outcome = e.type == events::kLoginFailed || e.type == events::kLockedOut ? "failure" : "success";
  execute(uow.sql(),
          "INSERT INTO iam_audit_log (id, tenant_id, occurred_at, actor_id, action, entity_type, entity_id,"
          " changes, outcome, ip, user_agent, request_id, event_id) VALUES (:id, :t, :at, :a, :act, :et, :eid,"
          " :c, :o, :ip, :ua, :r, :e)",
          {id, text_or_null(e.tenant_id), static_cast<long long>(e.occurred_at), text_or_null(e.actor_id), e.type,
           e.aggregate_type, e.aggregate_id, body, outcome, ctx.remote_ip, ctx.user_agent, ctx.request_id, e.id});
}

class IamModuleImpl final : public Module, public IamDirectory {
 public:
  explicit IamModuleImpl(ModuleContext& ctx)
      : ctx_(ctx),
        iam_{ctx.config, ctx.db, ctx.uow, nullptr, {}, {}},
        purge_interval_(purge_interval(ctx.section)),
        audit_retention_days_(audit_retention_days(ctx.section)),
        audit_archive_interval_(audit_archive_interval(ctx.section)) {
    iam_.login_failures = &ctx.metrics.counter("crm_auth_login_failures_total",
                                               "Sign-ins refused for a wrong email or password");
    iam_.login_throttled = &ctx.metrics.counter("crm_auth_login_throttled_total",
                                                "Sign-ins refused while an account or address is locked");
    if (ctx.config.demo) iam_.mail_sink_path = (std::filesystem::path(ctx.config.data_dir) / "mail-sink.log").string();
  }

  std::string_view name() const override { return "iam"; }
  std::vector<MigrationSource> migrations() const override { return generated::migrations_iam(); }

  void register_routes(Router& router) override {
    // Serving needs the signing secret; other commands (migrate, outbox) do not.
    if (ctx_.config.jwt_secret.size() < 32) {
      throw ConfigError("invalid configuration: auth.jwt_secret (CRM_JWT_SECRET): required, at least 32 bytes");
    }
    if (!ctx_.config.jwt_ed25519_key_file.empty()) {
      try {
        iam_.jwt = std::make_unique<JwtSigner>(load_ed25519_pem(ctx_.config.jwt_ed25519_key_file), "batik-crm",
                                               "batik-crm-api");
      } catch (const std::exception& e) {
        throw ConfigError(std::string("invalid configuration: auth.jwt_ed25519_key_file (CRM_JWT_ED25519_KEY_FILE): ") +
                          e.what());
      }
    } else {
      iam_.jwt = std::make_unique<JwtSigner>(ctx_.config.jwt_secret, "batik-crm", "batik-crm-api");
    }
    register_auth_routes(router, iam_);
    register_admin_routes(router, iam_);
    register_tenancy_routes(router, iam_);
    describe_iam_api(router);
  }

  void subscribe(EventBus& bus) override {
    // The audit log of every module: one synchronous handler, in each mutation's transaction.
    bus.subscribe_sync("iam.audit_log", {"*"}, [](UnitOfWork& uow, const EventEnvelope& e) { write_audit(uow, e); });
    // Authentication trusts its record of live tokens until a revocation commits here.
    bus.subscribe_sync("iam.revocations", {events::kSessionRevoked}, [this](UnitOfWork& uow, const EventEnvelope&) {
      uow.after_commit([this] { iam_.revocations.bump(); });
    });
    // Cached profiles are dropped by any committed tenant, user or role change.
    bus.subscribe_sync("iam.profiles", {"*"}, [this](UnitOfWork& uow, const EventEnvelope& e) {
      std::string_view type = e.type;
      if (type.starts_with("tenant.") || type.starts_with("user.") || type.starts_with("role.")) {
        uow.after_commit([this] { iam_.profiles.bump(); });
      }
    });
    if (!iam_.mail_sink_path.empty()) {
      bus.subscribe_async("iam.demo_mail_sink",
                          {events::kUserRegistered, events::kUserInvited, events::kUserPasswordResetRequested},
                          [this](UnitOfWork&, const EventEnvelope& e) { write_mail_sink(e); });
    }
  }

  std::vector<StagedMiddleware> middleware() override {
    return {StagedMiddleware{MiddlewareStage::authenticate, std::make_shared<AuthenticationMiddleware>(iam_)}};
  }

  std::optional<int> run_command(const std::string& name, const std::vector<std::string>& args) override {
    if (name == "create-superuser") return create_superuser(args);
    if (name == "audit" && !args.empty() && args[0] == "archive") return archive_audit_log(iam_, args);
    if (name == "tenants") return purge_tenants_command(iam_, args);
    if (name == "seed-demo") {
      seed_demo();
      return 0;
    }
    return std::nullopt;
  }

  void start() override {
    ctx_.services.provide<IamDirectory>(std::shared_ptr<IamDirectory>(this, [](IamDirectory*) {}));
    if (ctx_.config.demo) seed_demo();
    if (purge_interval_.count() > 0) {
      purge_task_ = std::make_unique<PeriodicTask>(purge_interval_, [this] {
        try {
          purge_due_tenants(iam_, now_ms());
        } catch (const std::exception& e) {
          log_warn("tenant purge failed", {{"error", e.what()}});
        }
      });
      purge_task_->start();
    }
    if (audit_retention_days_ > 0) {
      archive_task_ = std::make_unique<PeriodicTask>(audit_archive_interval_, [this] {
        try {
          auto cutoff = now_ms() - static_cast<TimestampMs>(audit_retention_days_) * 86400 * 1000;
          auto archived = archive_audit_entries(iam_, cutoff);
          if (archived.count > 0) {
            log_info("audit entries archived", {{"entries", archived.count}, {"file", archived.file},
                                                {"retention_days", audit_retention_days_}});
          }
        } catch (const std::exception& e) {
          log_warn("audit archiving failed", {{"error", e.what()}});
        }
      });
      archive_task_->start();
    }
  }

  void stop() override {
    if (archive_task_) archive_task_->stop();
    if (purge_task_) purge_task_->stop();
  }

  std::optional<TenantInfo> tenant(const std::string& tenant_id) const override {
    auto lease = ctx_.db.acquire();
    return tenant_info(store::tenant_by_id(*lease, tenant_id));
  }

  std::optional<TenantInfo> tenant_by_slug(const std::string& slug) const override {
    auto lease = ctx_.db.acquire();
    return tenant_info(store::tenant_by_slug(*lease, slug));
  }

  std::vector<UserInfo> active_members(const std::string& tenant_id) const override {
    std::vector<UserInfo> out;
    auto lease = ctx_.db.acquire();
    std::string after;
    for (;;) {
      auto page = store::members(*lease, tenant_id, 500, after, std::string("active"));
      for (const auto& m : page) {
        UserInfo u{m.user.id, m.user.email, m.user.name, {}};
        for (const auto& r : m.roles) u.roles.push_back(r.name);
        out.push_back(std::move(u));
      }
      if (page.size() < 500) break;
      after = page.back().user.id;
    }
    return out;
  }

  static std::optional<TenantInfo> tenant_info(const std::optional<TenantRow>& t) {
    if (!t) return std::nullopt;
    auto setting = [&](const char* key, const char* fallback) {
      const auto* v = t->settings.if_contains(key);
      return v && v->is_string() ? std::string(v->get_string()) : std::string(fallback);
    };
    return TenantInfo{t->id, t->slug, t->name, t->status, t->plan, setting("currency", "USD"),
                      setting("timezone", "UTC"), setting("locale", "en"), setting("country", "")};
  }

  std::optional<UserInfo> member(const std::string& tenant_id, const std::string& user_id) const override {
    auto lease = ctx_.db.acquire();
    auto m = store::member(*lease, tenant_id, user_id);
    if (!m || m->status != "active") return std::nullopt;
    UserInfo u{m->user.id, m->user.email, m->user.name, {}};
    for (const auto& r : m->roles) u.roles.push_back(r.name);
    return u;
  }

 private:
  void write_mail_sink(const EventEnvelope& e) {
    std::lock_guard lock(mail_sink_mutex_);
    std::ofstream out(iam_.mail_sink_path, std::ios::app);
    // Throwing leaves the delivery to the outbox's retries.
    if (!out) throw std::runtime_error("cannot open the demo mail sink");
    bj::object mail{{"at", format_rfc3339(e.occurred_at)}, {"type", e.type}, {"to", e.payload.contains("email")
                                                                                       ? e.payload.at("email")
                                                                                       : bj::value(nullptr)}};
    for (const char* k : {"verification_token", "invitation_token", "reset_token", "link"}) {
      if (const auto* v = e.payload.if_contains(k)) mail[k] = *v;
    }
    out << json::dump(mail) << "\n";
    out.flush();
    if (!out) throw std::runtime_error("cannot write the demo mail sink");
  }

  int create_superuser(const std::vector<std::string>& args) {
    std::string email, name = "Platform Administrator";
    for (std::size_t i = 0; i + 1 < args.size(); ++i) {
      if (args[i] == "--email") email = args[i + 1];
      if (args[i] == "--name") name = args[i + 1];
    }
    std::string normalized = normalize_email(email);
    if (normalized.empty()) {
      std::cerr << "crm: create-superuser needs --email with a valid address\n";
      return 2;
    }
    std::string password;
    bool generated = false;
    if (!isatty(0)) std::getline(std::cin, password);
    if (password.empty()) {
      password = random_token(18);
      generated = true;
    }
    if (auto problems = check_password_policy(password, normalized); !problems.empty()) {
      std::cerr << "crm: password rejected: " << problems.front().message << "\n";
      return 2;
    }
    std::string hash = gated_hash_password(password);
    RequestContext ctx;
    ctx.request_id = new_uuid_v7();
    iam_.uow.run(ctx, [&](UnitOfWork& uow) {
      auto existing = store::user_by_email(uow.sql(), normalized);
      auto now = now_ms();
      UserRow u;
      if (existing) {
        u = *existing;
        u.platform_admin = true;
        u.updated_at = now;
        store::update_user(uow.sql(), u);
        store::set_password(uow.sql(), u.id, hash, now);
      } else {
        u.id = new_uuid_v7();
        u.email = email;
        u.name = name;
        u.password_hash = hash;
        u.email_verified = true;
        u.platform_admin = true;
        u.created_at = u.updated_at = now;
        store::insert_user(uow.sql(), u);
      }
      publish(uow, events::kUserUpdated, "user", u.id, bj::object{{"changes", bj::object{{"platform_admin",
                                                                                           bj::object{{"old", false}, {"new", true}}}}}});
    });
    std::cout << "platform administrator " << normalized << " is ready";
    if (generated) std::cout << "; password (shown once): " << password;
    std::cout << "\n";
    return 0;
  }

  void seed_demo() {
    struct DemoUser {
      const char* role;
      const char* email;
      const char* name;
    };
    static const DemoUser kUsers[] = {
        {"owner", "owner@demo.test", "Siti Aminah (owner)"},     {"admin", "admin@demo.test", "Hafiz Rahman (admin)"},
        {"manager", "manager@demo.test", "Nurul Huda (manager)"}, {"sales", "sales@demo.test", "Aiman Zulkifli (sales)"},
        {"marketing", "marketing@demo.test", "Mei Ling (marketing)"}, {"viewer", "viewer@demo.test", "Ravi Kumar (viewer)"},
    };
    bool exists = false;
    {
      auto lease = ctx_.db.acquire();
      exists = store::tenant_by_slug(*lease, kDemoTenantSlug).has_value();
    }
    if (!exists) {
      std::string hash = gated_hash_password(kDemoPassword);  // one hash: the demo users share a password
      RequestContext ctx;
      ctx.request_id = new_uuid_v7();
      ctx.correlation_id = ctx.request_id;
      TenantRow t;
      t.id = new_uuid_v7();
      ctx.tenant_id = t.id;
      iam_.uow.run(ctx, [&](UnitOfWork& uow) {
        auto now = now_ms();
        t.slug = kDemoTenantSlug;
        t.name = "Kilang Desa Murni Batik";
        t.status = "active";
        t.plan = "pro";
        t.settings = bj::object{{"currency", "MYR"}, {"timezone", "Asia/Kuala_Lumpur"}, {"locale", "en-MY"},
                                {"locales", bj::array{"en", "ms"}}, {"country", "MY"},
                                {"require_verified_email", false}};
        t.created_at = t.updated_at = now;
        store::insert_tenant(uow.sql(), t);
        create_system_roles(uow, t.id);
        publish(uow, events::kTenantCreated, "tenant", t.id, bj::object{{"slug", t.slug}, {"name", t.name}});
        for (const auto& du : kUsers) {
          UserRow u;
          u.id = new_uuid_v7();
          u.email = du.email;
          u.name = du.name;
          u.password_hash = hash;
          u.email_verified = true;
          u.last_tenant_id = t.id;
          u.created_at = u.updated_at = now;
          store::insert_user(uow.sql(), u);
          store::insert_membership(uow.sql(), t.id, u.id, "active", "", now);
          auto role = store::role_by_name(uow.sql(), t.id, du.role);
          store::add_member_role(uow.sql(), t.id, u.id, role->id);
          publish(uow, events::kUserJoined, "user", u.id, bj::object{{"email", u.email}, {"roles", bj::array{du.role}}});
        }
      });
    }
    for (const auto& du : kUsers) {
      log_info("demo login", {{"tenant", kDemoTenantSlug}, {"role", du.role}, {"email", du.email},
                              {"password", kDemoPassword}});
    }
  }

  ModuleContext ctx_;
  IamContext iam_;
  std::chrono::milliseconds purge_interval_;
  int audit_retention_days_;
  std::chrono::milliseconds audit_archive_interval_;
  std::unique_ptr<PeriodicTask> purge_task_;
  std::unique_ptr<PeriodicTask> archive_task_;
  std::mutex mail_sink_mutex_;
};

}  // namespace

ModuleFactory iam_module_factory() {
  return ModuleFactory{"iam", [](ModuleContext& ctx) { return std::make_unique<IamModuleImpl>(ctx); }};
}

}  // namespace crm::iam
