// /api/v1/auth/*: register, login, tokens, sessions, passwords, verification, invitations.
#include "iam_internal.hpp"

#include "crm/platform/authorization.hpp"
#include "crm/platform/json.hpp"
#include "crm/platform/router.hpp"
#include "password.hpp"
#include "secrets.hpp"

#include <soci/soci.h>

#include <cmath>

namespace crm::iam {

using namespace crm::platform;

namespace {

constexpr std::int64_t kWindowMs = 15 * 60 * 1000;
constexpr int kAccountFailures = 5;
constexpr int kIpFailures = 50;
constexpr std::int64_t kVerifyValidMs = 7LL * 86400 * 1000;
constexpr std::int64_t kResetValidMs = 3600LL * 1000;

RouteOptions route(const char* summary, bool public_route, const char* rate_limit = "default") {
  RouteOptions o;
  o.tag = "auth";
  o.public_route = public_route;
  o.rate_limit = rate_limit;
  o.openapi = {{"summary", summary}};
  return o;
}

std::string email_field(json::ObjectReader& r, const char* field = "email") {
  std::string email = r.required_string(field, 254);
  if (email.empty()) return {};
  std::string normalized = normalize_email(email);
  if (normalized.empty()) r.add_error(field, "invalid", "Is not a valid email address.");
  return email;
}

void add_policy_errors(json::ObjectReader& r, const std::string& password, const std::string& email,
                       const char* field) {
  if (password.empty()) return;
  for (auto& e : check_password_policy(password, normalize_email(email), field)) r.add_error(e.field, e.code, e.message);
}

[[noreturn]] void invalid_token() {
  // The problem's own code is `invalid_token` (section 11), not the generic validation_failed.
  throw Error(ErrorKind::validation, "invalid_token", "The token is invalid, expired or already used.",
              {FieldError{"token", "invalid_token", "The token is invalid, expired or already used."}});
}

struct Failures {
  long long count = 0;
  long long last_at = 0;
};

Failures failures(soci::session& sql, const std::string& key, TimestampMs since) {
  Failures f;
  soci::indicator ind = soci::i_null;
  long long s = since;
  sql << "SELECT COUNT(*), MAX(at) FROM iam_login_failures WHERE key = :k AND at > :s", soci::use(key), soci::use(s),
      soci::into(f.count), soci::into(f.last_at, ind);
  if (ind != soci::i_ok) f.last_at = 0;
  return f;
}

// Throws 429 while a key is locked: after `threshold` failures in the window, an increasing
// delay (30 s, doubling, at most 15 min) from the last failure.
void check_lock(soci::session& sql, const std::string& key, int threshold, TimestampMs now) {
  Failures f = failures(sql, key, now - kWindowMs);
  if (f.count < threshold) return;
  double factor = std::pow(2.0, static_cast<double>(std::min<long long>(f.count - threshold, 5)));
  auto delay = static_cast<std::int64_t>(std::min(30000.0 * factor, static_cast<double>(kWindowMs)));
  std::int64_t retry_at = f.last_at + delay;
  if (now >= retry_at) return;
  auto seconds = (retry_at - now + 999) / 1000;
  throw Error(ErrorKind::rate_limited, "login_throttled",
              "Too many failed sign-in attempts. Try again in " + std::to_string(seconds) + " seconds.")
      .with_header("Retry-After", std::to_string(seconds));
}

void record_failure(soci::session& sql, const std::string& key, TimestampMs now) {
  long long n = now, old = now - kWindowMs;
  sql << "INSERT INTO iam_login_failures (key, at) VALUES (:k, :a)", soci::use(key), soci::use(n);
  sql << "DELETE FROM iam_login_failures WHERE key = :k AND at < :o", soci::use(key), soci::use(old);
}

std::optional<TenantRow> pick_tenant(soci::session& sql, const UserRow& user, const std::optional<std::string>& wanted) {
  auto tenants = store::user_tenants(sql, user.id);
  auto usable = [](const store::UserTenant& ut) {
    return ut.status == "active" && ut.tenant.status != "suspended" && ut.tenant.status != "cancelled";
  };
  if (wanted) {
    for (const auto& ut : tenants) {
      if ((ut.tenant.id == *wanted || ut.tenant.slug == *wanted) && usable(ut)) return ut.tenant;
    }
    throw Error::forbidden("You are not an active member of that tenant.");
  }
  for (const auto& ut : tenants)
    if (ut.tenant.id == user.last_tenant_id && usable(ut)) return ut.tenant;
  for (const auto& ut : tenants)
    if (usable(ut)) return ut.tenant;
  if (user.platform_admin) return std::nullopt;
  throw Error(ErrorKind::forbidden, "no_active_membership", "You are not an active member of any tenant.");
}

// Starts a session for the user in the tenant and answers with the token pair.
bj::object sign_in(UnitOfWork& uow, IamContext& iam, UserRow user, const std::optional<TenantRow>& tenant) {
  auto now = now_ms();
  std::string tenant_id = tenant ? tenant->id : "";
  auto tokens = issue_tokens(uow, iam, user, tenant_id);
  if (tenant) {
    store::touch_membership(uow.sql(), tenant_id, user.id, now);
    if (user.last_tenant_id != tenant_id) {
      user.last_tenant_id = tenant_id;
      user.updated_at = now;
      store::update_user(uow.sql(), user);
    }
  }
  return token_response(uow.sql(), iam, user, tenant, tokens.access_token, tokens.refresh_token);
}

RequestContext as_user(const Request& req, const std::string& user_id, const std::string& tenant_id) {
  RequestContext ctx = req.context();
  ctx.actor_id = user_id;
  ctx.tenant_id = tenant_id;
  return ctx;
}

}  // namespace

void register_auth_routes(Router& router, IamContext& iam) {
  router.post("/api/v1/auth/register", [&iam](Request& req) {
    auto body = req.json();
    json::ObjectReader r(body);
    std::string tenant_name = r.required_string("tenant_name", 200);
    auto slug = r.optional_string("tenant_slug", 63);
    std::string name = r.required_string("name", 200);
    std::string email = email_field(r);
    std::string password = r.required_string("password", 1024);
    add_policy_errors(r, password, email, "password");
    std::string tenant_slug = slug ? *slug : default_slug(tenant_name);
    if (slug && !valid_slug(*slug)) {
      r.add_error("tenant_slug", "invalid", "Use 3-63 lower-case letters, digits and single hyphens.");
    }
    r.finish();
    std::string hash = gated_hash_password(password);
    auto normalized = normalize_email(email);
    TenantRow t;
    t.id = new_uuid_v7();
    UserRow u;
    u.id = new_uuid_v7();
    auto answer = iam.uow.run(as_user(req, u.id, t.id), [&](UnitOfWork& uow) {
      auto& sql = uow.sql();
      if (store::tenant_by_slug(sql, tenant_slug)) throw Error::conflict("slug_taken", "That tenant slug is taken.");
      if (store::user_by_email(sql, normalized)) {
        throw Error::conflict("email_taken", "An account with that email exists; sign in to create a tenant.");
      }
      auto now = now_ms();
      t.slug = tenant_slug;
      t.name = tenant_name;
      t.status = "trial";
      t.plan = "free";
      t.settings = bj::object{{"currency", "USD"}, {"timezone", "UTC"}, {"locale", "en"},
                              {"require_verified_email", false}};
      t.created_at = t.updated_at = now;
      store::insert_tenant(sql, t);
      auto owner = create_system_roles(uow, t.id);
      u.email = email;
      u.name = name;
      u.password_hash = hash;
      u.created_at = u.updated_at = now;
      store::insert_user(sql, u);
      store::insert_membership(sql, t.id, u.id, "active", "", now);
      store::add_member_role(sql, t.id, u.id, owner.id);
      std::string token = create_one_time_token(uow, "verify_email", u.id, t.id, kVerifyValidMs);
      publish(uow, events::kTenantCreated, "tenant", t.id, bj::object{{"slug", t.slug}, {"name", t.name},
                                                                      {"plan", t.plan}, {"status", t.status}});
      publish(uow, events::kUserRegistered, "user", u.id,
              bj::object{{"email", u.email}, {"name", u.name}, {"tenant_id", t.id},
                         {"verification_token", token}, {"link", "/verify-email?token=" + token}});
      return sign_in(uow, iam, u, t);
    });
    return created_response(answer, "/api/v1/auth/me");
  }, route("Create a tenant with its owner; answers with a token pair", true, "register"));

  router.post("/api/v1/auth/login", [&iam](Request& req) {
    auto body = req.json();
    json::ObjectReader r(body);
    std::string email = r.required_string("email", 254);
    std::string password = r.required_string("password", 1024);
    auto wanted = r.optional_string("tenant", 100);
    r.finish();
    std::string normalized = normalize_email(email);
    std::string account_key = "acct:" + (normalized.empty() ? email : normalized);
    std::string ip_key = "ip:" + req.context().remote_ip;
    auto now = now_ms();
    try {
      auto lease = iam.db.acquire();
      check_lock(*lease, ip_key, kIpFailures, now);
      check_lock(*lease, account_key, kAccountFailures, now);
    } catch (const Error& e) {
      if (e.kind() == ErrorKind::rate_limited && iam.login_throttled) iam.login_throttled->inc();
      throw;
    }
    std::optional<UserRow> user;
    if (!normalized.empty()) {
      auto lease = iam.db.acquire();
      user = store::user_by_email(*lease, normalized);
    }
    // Unknown email and wrong password take the same path and the same time.
    bool ok = gated_verify_password(user && user->password_hash ? *user->password_hash : dummy_password_hash(), password) &&
              user && user->password_hash;
    if (!ok) {
      iam.uow.run(as_user(req, "", ""), [&](UnitOfWork& uow) {
        record_failure(uow.sql(), account_key, now);
        record_failure(uow.sql(), ip_key, now);
        // A known account's failures belong to its tenant's audit log (the one it used last),
        // where that tenant's administrators see them.
        auto account_event = [&](const char* type, const char* reason) {
          auto ev = uow.make_event(type, events::kVersion, "user", user ? user->id : "",
                                   bj::object{{"reason", reason}});
          if (user) ev.tenant_id = user->last_tenant_id;
          uow.publish(std::move(ev));
        };
        account_event(events::kLoginFailed, "invalid_credentials");
        if (failures(uow.sql(), account_key, now - kWindowMs).count == kAccountFailures) {
          account_event(events::kLockedOut, "too_many_failures");
        }
        if (failures(uow.sql(), ip_key, now - kWindowMs).count == kIpFailures) {
          publish(uow, events::kLockedOut, "ip", req.context().remote_ip,
                  bj::object{{"reason", "too_many_failures_from_ip"}});
        }
      });
      if (iam.login_failures) iam.login_failures->inc();
      throw Error(ErrorKind::unauthorized, "invalid_credentials", "The email or password is incorrect.");
    }
    auto answer = iam.uow.run(as_user(req, user->id, ""), [&](UnitOfWork& uow) {
      auto tenant = pick_tenant(uow.sql(), *user, wanted);
      uow.sql() << "DELETE FROM iam_login_failures WHERE key = :k", soci::use(account_key);
      auto response = sign_in(uow, iam, *user, tenant);
      auto ev = uow.make_event(events::kLoginSucceeded, events::kVersion, "user", user->id, bj::object{});
      ev.tenant_id = tenant ? tenant->id : "";
      uow.publish(std::move(ev));
      return response;
    });
    return json_response(200, answer);
  }, route("Sign in with email and password", true, "auth"));

  router.post("/api/v1/auth/refresh", [&iam](Request& req) {
    auto body = req.json();
    json::ObjectReader r(body);
    std::string presented = r.required_string("refresh_token", 200);
    r.finish();
    auto unauthorized = [] {
      return Error(ErrorKind::unauthorized, "invalid_refresh_token", "The refresh token is invalid, expired or revoked.");
    };
    std::string hash = sha256_hex(presented);
    struct Outcome {
      bool revoked_family = false;
      std::optional<bj::object> answer;
    };
    auto outcome = iam.uow.run(req.context(), [&](UnitOfWork& uow) -> Outcome {
      auto& sql = uow.sql();
      std::string session_id, user_id, tenant_id, successor;
      long long expires = 0, rotated = 0, session_expires = 0, revoked = 0;
      soci::indicator rot_ind = soci::i_null, succ_ind = soci::i_null, rev_ind = soci::i_null;
      sql << "SELECT t.session_id, s.user_id, s.tenant_id, t.expires_at, t.rotated_at, t.successor, s.expires_at,"
             " s.revoked_at FROM iam_refresh_tokens t JOIN iam_sessions s ON s.id = t.session_id"
             " WHERE t.token_hash = :h",
          soci::use(hash), soci::into(session_id), soci::into(user_id), soci::into(tenant_id), soci::into(expires),
          soci::into(rotated, rot_ind), soci::into(successor, succ_ind), soci::into(session_expires),
          soci::into(revoked, rev_ind);
      auto now = now_ms();
      if (!sql.got_data() || rev_ind == soci::i_ok || expires <= now || session_expires <= now) throw unauthorized();
      if (rot_ind == soci::i_ok) {
        // Presented again: a client retry within the grace period gets the same pair back;
        // anything else is theft, and the whole family is revoked.
        if (now - rotated <= kRefreshGraceMs && succ_ind == soci::i_ok) {
          if (auto pair = unseal(presented, successor)) {
            auto parsed = json::parse_relaxed(*pair);
            if (parsed.is_object()) return Outcome{false, parsed.get_object()};
          }
        }
        long long n = now;
        std::string reason = "refresh_token_reuse";
        sql << "UPDATE iam_sessions SET revoked_at = :n, revoked_reason = :r WHERE id = :id", soci::use(n),
            soci::use(reason), soci::use(session_id);
        auto ev = uow.make_event(events::kSessionRevoked, events::kVersion, "session", session_id,
                                 bj::object{{"user_id", user_id}, {"reason", reason}});
        ev.tenant_id = tenant_id;
        ev.actor_id = user_id;
        uow.publish(std::move(ev));
        return Outcome{true, std::nullopt};
      }
      auto user = store::user_by_id(sql, user_id);
      if (!user) throw unauthorized();
      auto access = iam.resolve_access(tenant_id, user_id);
      if (!access.active) throw unauthorized();
      long long n = now;
      soci::statement claim = (sql.prepare << "UPDATE iam_refresh_tokens SET rotated_at = :n WHERE token_hash = :h"
                                              " AND rotated_at IS NULL",
                               soci::use(n), soci::use(hash));
      claim.execute(true);
      if (claim.get_affected_rows() != 1) throw unauthorized();
      auto tokens = issue_tokens(uow, iam, *user, tenant_id, session_id);
      std::optional<TenantRow> tenant;
      if (!tenant_id.empty()) tenant = store::tenant_by_id(sql, tenant_id);
      auto answer = token_response(sql, iam, *user, tenant, tokens.access_token, tokens.refresh_token);
      std::string sealed = seal(presented, json::dump(answer));
      sql << "UPDATE iam_refresh_tokens SET successor = :s WHERE token_hash = :h", soci::use(sealed), soci::use(hash);
      sql << "UPDATE iam_sessions SET last_used_at = :n WHERE id = :id", soci::use(n), soci::use(session_id);
      return Outcome{false, answer};
    });
    if (!outcome.answer) throw unauthorized();
    return json_response(200, *outcome.answer);
  }, route("Exchange a refresh token for a new pair (rotation; reuse revokes the family)", true, "auth"));

  router.post("/api/v1/auth/logout", [&iam](Request& req) {
    require_authenticated(req.context());
    const auto& p = req.context().principal;
    iam.uow.run(req.context(), [&](UnitOfWork& uow) {
      long long n = now_ms(), exp = p.token_expires_at;
      std::string reason = "logout";
      uow.sql() << "UPDATE iam_sessions SET revoked_at = :n, revoked_reason = :r WHERE id = :id AND revoked_at IS NULL",
          soci::use(n), soci::use(reason), soci::use(p.session_id);
      uow.sql() << "INSERT INTO iam_revoked_tokens (jti, expires_at) VALUES (:j, :e) ON CONFLICT DO NOTHING",
          soci::use(p.token_id), soci::use(exp);
      uow.sql() << "DELETE FROM iam_revoked_tokens WHERE expires_at < :n", soci::use(n);
      publish(uow, events::kSessionRevoked, "session", p.session_id, bj::object{{"user_id", p.user_id}, {"reason", reason}});
    });
    return no_content_response();
  }, route("Sign out: revokes the session and the access token", false));

  router.get("/api/v1/auth/jwks", [&iam](Request&) {
    bj::array keys;
    if (auto jwk = iam.jwt->public_jwk()) keys.push_back(json::parse_relaxed(*jwk));
    auto res = json_response(200, bj::object{{"keys", keys}});
    res.set("Cache-Control", "public, max-age=300");
    return res;
  }, route("The public keys that verify access tokens (JWK set; empty under HS256)", true));

  router.get("/api/v1/auth/me", [&iam](Request& req) {
    require_authenticated(req.context());
    const auto& p = req.context().principal;
    auto now = now_ms();
    auto profile = iam.profiles.get(p.user_id, now);
    if (!profile) {
      auto generation = iam.profiles.generation();
      auto lease = iam.db.acquire();
      auto user = store::user_by_id(*lease, p.user_id);
      if (!user) throw Error::unauthorized();
      profile = std::make_shared<const ProfileCache::Profile>(
          ProfileCache::Profile{std::move(*user), store::user_tenants(*lease, p.user_id)});
      iam.profiles.put(p.user_id, profile, generation, now);
    }
    const UserRow* user = &profile->user;
    const TenantRow* tenant = nullptr;
    bj::array tenants;
    for (const auto& ut : profile->tenants) {
      if (ut.tenant.id == p.tenant_id) tenant = &ut.tenant;
      if (ut.status != "active") continue;
      tenants.push_back(bj::object{{"id", ut.tenant.id}, {"slug", ut.tenant.slug}, {"name", ut.tenant.name},
                                   {"roles", to_json_array(ut.role_names)}});
    }
    return json_response(200, bj::object{
        {"user", bj::object{{"id", user->id}, {"email", user->email}, {"name", user->name},
                            {"email_verified", user->email_verified}, {"platform_admin", user->platform_admin}}},
        {"tenant", tenant ? bj::value(bj::object{{"id", tenant->id}, {"slug", tenant->slug}, {"name", tenant->name}})
                          : bj::value(nullptr)},
        {"roles", to_json_array(p.roles)},
        {"permissions", to_json_array(p.permissions)},
        {"tenants", tenants}});
  }, route("The signed-in user, tenant, roles and effective permissions", false));

  router.put("/api/v1/auth/password", [&iam](Request& req) {
    require_authenticated(req.context());
    const auto& p = req.context().principal;
    auto body = req.json();
    json::ObjectReader r(body);
    std::string current = r.required_string("current_password", 1024);
    std::string next = r.required_string("new_password", 1024);
    std::optional<UserRow> user;
    {
      auto lease = iam.db.acquire();
      user = store::user_by_id(*lease, p.user_id);
    }
    if (!user) throw Error::unauthorized();
    if (!current.empty() && !gated_verify_password(user->password_hash.value_or(dummy_password_hash()), current)) {
      r.add_error("current_password", "incorrect", "The current password is incorrect.");
    }
    add_policy_errors(r, next, user->email, "new_password");
    r.finish();
    std::string hash = gated_hash_password(next);
    auto answer = iam.uow.run(as_user(req, p.user_id, ""), [&](UnitOfWork& uow) {
      store::set_password(uow.sql(), user->id, hash, now_ms());
      revoke_user_sessions(uow, user->id, "password_changed");
      publish(uow, events::kUserPasswordChanged, "user", user->id, bj::object{});
      std::optional<TenantRow> tenant;
      if (!p.tenant_id.empty()) tenant = store::tenant_by_id(uow.sql(), p.tenant_id);
      return sign_in(uow, iam, *user, tenant);
    });
    return json_response(200, answer);
  }, route("Change the password; every session is revoked and a new pair issued", false, "auth"));

  router.post("/api/v1/auth/verify-email", [&iam](Request& req) {
    auto body = req.json();
    json::ObjectReader r(body);
    std::string token = r.required_string("token", 200);
    r.finish();
    iam.uow.run(req.context(), [&](UnitOfWork& uow) {
      auto t = store::consume_one_time_token(uow.sql(), sha256_hex(token), "verify_email", now_ms());
      if (!t) invalid_token();
      auto user = store::user_by_id(uow.sql(), t->user_id);
      if (!user) invalid_token();
      user->email_verified = true;
      user->updated_at = now_ms();
      store::update_user(uow.sql(), *user);
      publish(uow, events::kUserEmailVerified, "user", user->id, bj::object{{"email", user->email}});
    });
    return json_response(200, bj::object{{"email_verified", true}});
  }, route("Confirm an email address with the emailed token", true, "auth"));

  router.post("/api/v1/auth/resend-verification", [&iam](Request& req) {
    require_authenticated(req.context());
    const auto& p = req.context().principal;
    iam.uow.run(req.context(), [&](UnitOfWork& uow) {
      auto user = store::user_by_id(uow.sql(), p.user_id);
      if (!user) throw Error::unauthorized();
      if (user->email_verified) throw Error::conflict("already_verified", "The email address is already verified.");
      std::string token = create_one_time_token(uow, "verify_email", user->id, p.tenant_id, kVerifyValidMs);
      publish(uow, events::kUserRegistered, "user", user->id,
              bj::object{{"email", user->email}, {"name", user->name}, {"resend", true},
                         {"verification_token", token}, {"link", "/verify-email?token=" + token}});
    });
    return json_response(202, bj::object{{"status", "sent"}});
  }, route("Send the verification email again", false, "auth"));

  router.post("/api/v1/auth/forgot-password", [&iam](Request& req) {
    auto body = req.json();
    json::ObjectReader r(body);
    std::string email = r.required_string("email", 254);
    r.finish();
    // Always 202: whether the address has an account is not revealed.
    std::string normalized = normalize_email(email);
    if (!normalized.empty()) {
      iam.uow.run(req.context(), [&](UnitOfWork& uow) {
        auto user = store::user_by_email(uow.sql(), normalized);
        if (!user) return;
        std::string token = create_one_time_token(uow, "reset_password", user->id, "", kResetValidMs);
        publish(uow, events::kUserPasswordResetRequested, "user", user->id,
                bj::object{{"email", user->email}, {"reset_token", token}, {"link", "/reset-password?token=" + token}});
      });
    }
    return json_response(202, bj::object{{"status", "accepted"}});
  }, route("Email a password-reset link (always 202)", true, "auth"));

  router.post("/api/v1/auth/reset-password", [&iam](Request& req) {
    auto body = req.json();
    json::ObjectReader r(body);
    std::string token = r.required_string("token", 200);
    std::string next = r.required_string("new_password", 1024);
    r.finish();
    // Hash outside the transaction: Argon2id must not hold the database.
    std::string hash = gated_hash_password(next);
    iam.uow.run(req.context(), [&](UnitOfWork& uow) {
      auto t = store::consume_one_time_token(uow.sql(), sha256_hex(token), "reset_password", now_ms());
      if (!t) invalid_token();
      auto user = store::user_by_id(uow.sql(), t->user_id);
      if (!user) invalid_token();
      if (auto problems = check_password_policy(next, normalize_email(user->email), "new_password"); !problems.empty()) {
        throw Error::validation(problems);
      }
      store::set_password(uow.sql(), user->id, hash, now_ms());
      revoke_user_sessions(uow, user->id, "password_reset");
      // A named string: soci::use keeps a reference, and a temporary is gone before the statement runs.
      std::string account_key = "acct:" + normalize_email(user->email);
      uow.sql() << "DELETE FROM iam_login_failures WHERE key = :k", soci::use(account_key);
      publish(uow, events::kUserPasswordChanged, "user", user->id, bj::object{{"reason", "reset"}});
    });
    return no_content_response();
  }, route("Set a new password with the emailed token; every session is revoked", true, "auth"));

  router.post("/api/v1/auth/switch-tenant", [&iam](Request& req) {
    require_authenticated(req.context());
    const auto& p = req.context().principal;
    auto body = req.json();
    json::ObjectReader r(body);
    std::string tenant_id = r.required_string("tenant_id", 100);
    r.finish();
    // User-level work across the user's tenants: not scoped to the token's tenant.
    auto answer = iam.uow.run(as_user(req, p.user_id, ""), [&](UnitOfWork& uow) {
      auto user = store::user_by_id(uow.sql(), p.user_id);
      if (!user) throw Error::unauthorized();
      auto tenants = store::user_tenants(uow.sql(), user->id);
      for (const auto& ut : tenants) {
        if (ut.tenant.id == tenant_id && ut.status == "active" && ut.tenant.status != "suspended" &&
            ut.tenant.status != "cancelled") {
          return sign_in(uow, iam, *user, ut.tenant);
        }
      }
      throw Error::not_found("No such tenant.");
    });
    return json_response(200, answer);
  }, route("A token pair for another tenant the user belongs to", false));

  router.get("/api/v1/auth/sessions", [&iam](Request& req) {
    require_authenticated(req.context());
    const auto& p = req.context().principal;
    auto lease = iam.db.acquire();
    bj::array out;
    std::string id, tenant_id, ip, ua;
    long long created = 0, used = 0, expires = 0, n = now_ms();
    soci::indicator ip_ind, ua_ind;
    soci::statement st = (lease->prepare << "SELECT id, tenant_id, created_at, last_used_at, expires_at, ip, user_agent"
                                            " FROM iam_sessions WHERE user_id = :u AND revoked_at IS NULL"
                                            " AND expires_at > :n ORDER BY created_at DESC",
                          soci::use(p.user_id), soci::use(n), soci::into(id), soci::into(tenant_id), soci::into(created),
                          soci::into(used), soci::into(expires), soci::into(ip, ip_ind), soci::into(ua, ua_ind));
    st.execute();
    while (st.fetch()) {
      out.push_back(bj::object{{"id", id}, {"tenant_id", tenant_id}, {"created_at", format_rfc3339(created)},
                               {"last_used_at", format_rfc3339(used)}, {"expires_at", format_rfc3339(expires)},
                               {"ip", ip_ind == soci::i_ok ? bj::value(ip) : bj::value(nullptr)},
                               {"user_agent", ua_ind == soci::i_ok ? bj::value(ua) : bj::value(nullptr)},
                               {"current", id == p.session_id}});
    }
    return json_response(200, bj::object{{"data", out}});
  }, route("The signed-in user's active sessions", false));

  router.del("/api/v1/auth/sessions/{id}", [&iam](Request& req) {
    require_authenticated(req.context());
    const auto& p = req.context().principal;
    const std::string& id = req.path_param("id");
    iam.uow.run(req.context(), [&](UnitOfWork& uow) {
      long long n = now_ms();
      std::string reason = "revoked_by_user";
      soci::statement st = (uow.sql().prepare << "UPDATE iam_sessions SET revoked_at = :n, revoked_reason = :r"
                                                 " WHERE id = :id AND user_id = :u AND revoked_at IS NULL",
                            soci::use(n), soci::use(reason), soci::use(id), soci::use(p.user_id));
      st.execute(true);
      if (st.get_affected_rows() != 1) throw Error::not_found("No such session.");
      publish(uow, events::kSessionRevoked, "session", id, bj::object{{"user_id", p.user_id}, {"reason", reason}});
    });
    return no_content_response();
  }, route("Revoke one of the user's sessions", false));

  router.post("/api/v1/auth/accept-invitation", [&iam](Request& req) {
    auto body = req.json();
    json::ObjectReader r(body);
    std::string token = r.required_string("token", 200);
    auto name = r.optional_string("name", 200);
    auto password = r.optional_string("password", 1024);
    r.finish();
    std::optional<std::string> hash;
    if (password) hash = gated_hash_password(*password);
    auto answer = iam.uow.run(req.context(), [&](UnitOfWork& uow) {
      auto t = store::consume_one_time_token(uow.sql(), sha256_hex(token), "invitation", now_ms());
      if (!t) invalid_token();
      auto user = store::user_by_id(uow.sql(), t->user_id);
      auto m = store::member(uow.sql(), t->tenant_id, t->user_id);
      if (!user || !m || m->status != "invited") invalid_token();
      if (!user->password_hash && !password) {
        throw Error::validation("password", "required", "Choose a password to finish creating your account.");
      }
      if (password) {
        if (auto problems = check_password_policy(*password, normalize_email(user->email)); !problems.empty()) {
          throw Error::validation(problems);
        }
        if (!user->password_hash) store::set_password(uow.sql(), user->id, *hash, now_ms());
      }
      auto now = now_ms();
      if (name && !name->empty()) user->name = *name;
      user->email_verified = true;
      user->updated_at = now;
      store::update_user(uow.sql(), *user);
      store::set_membership_status(uow.sql(), t->tenant_id, user->id, "active", now);
      iam.access_cache.invalidate(t->tenant_id, user->id);
      auto ev = uow.make_event(events::kUserJoined, events::kVersion, "user", user->id, bj::object{{"email", user->email}});
      ev.tenant_id = t->tenant_id;
      ev.actor_id = user->id;
      uow.publish(std::move(ev));
      auto fresh = store::user_by_id(uow.sql(), user->id);
      return sign_in(uow, iam, *fresh, store::tenant_by_id(uow.sql(), t->tenant_id));
    });
    return json_response(200, answer);
  }, route("Accept an invitation (sets a password when the account has none)", true, "auth"));
}

}  // namespace crm::iam
