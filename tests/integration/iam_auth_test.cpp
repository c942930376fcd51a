// IAM authentication over a real socket, on SQLite and PostgreSQL: register, login, tokens,
// refresh rotation, sessions, passwords, email verification, invitations, throttling.
#include <doctest/doctest.h>

#include <boost/json.hpp>
#include <chrono>
#include <ctime>
#include <fstream>
#include <optional>

#include "support/harness.hpp"
#include "support/iam_helpers.hpp"

using namespace crm::testing;
using namespace crm::testing::iam;

namespace {

bj::object without_request_id(bj::object o) {
  o.erase("request_id");
  return o;
}

}  // namespace

TEST_SUITE("integration/iam_auth") {
  TEST_CASE("register creates a trial tenant on the free plan whose owner gets a token pair") {
    for (const auto& backend : backends()) {
      CAPTURE(backend);
      TestDatabase db(backend);
      ServerProcess server(db);
      HttpClient client(server.port());

      auto r = register_raw(client, "kain-songket", "Owner@Songket.example");
      REQUIRE_MESSAGE(r.status == 201, r.body);
      CHECK(r.header("Location") == "/api/v1/auth/me");
      auto o = obj(r);
      CHECK(str(o.at("token_type")) == "Bearer");
      CHECK(o.at("expires_in").to_number<int>() == 900);
      CHECK_FALSE(str(o.at("access_token")).empty());
      CHECK(str(o.at("refresh_token")).size() >= 43);
      CHECK(str(o.at("user").at("email")) == "Owner@Songket.example");
      CHECK(o.at("user").at("email_verified").as_bool() == false);
      CHECK(str(o.at("tenant").at("slug")) == "kain-songket");
      auto tenants = o.at("tenants").as_array();
      REQUIRE(tenants.size() == 1);
      CHECK(tenants[0].at("roles").as_array() == bj::array{"owner"});

      auto access = str(o.at("access_token"));
      auto tenant = call(client, "GET", "/api/v1/tenant", access);
      REQUIRE(tenant.status == 200);
      CHECK(str(obj(tenant).at("status")) == "trial");
      CHECK(str(obj(tenant).at("plan")) == "free");
      // The password is stored as an Argon2id PHC string, never in clear.
      auto hashes = db.column("SELECT password_hash FROM iam_users");
      REQUIRE(hashes.size() == 1);
      CHECK(hashes[0].rfind("$argon2id$", 0) == 0);
      // A verification email is on its way.
      CHECK(outbox_token(db, "user.registered", "verification_token", "Owner@Songket.example")
                .size() > 20);
    }
  }

  TEST_CASE("register with bad input is 422 listing every bad field and creates nothing") {
    for (const auto& backend : backends()) {
      CAPTURE(backend);
      TestDatabase db(backend);
      ServerProcess server(db);
      HttpClient client(server.port());

      auto r =
          client.post_json("/api/v1/auth/register", js(bj::object{{"tenant_name", ""},
                                                                  {"tenant_slug", "Not A Slug!"},
                                                                  {"name", ""},
                                                                  {"email", "not-an-email"},
                                                                  {"password", "short"},
                                                                  {"tenant_id", "x"}}));
      CHECK(r.status == 422);
      CHECK(code_of(r) == "validation_failed");
      auto fields = error_fields(r);
      for (const char* f :
           {"tenant_name", "tenant_slug", "name", "email", "password", "tenant_id"}) {
        CAPTURE(f);
        CHECK(fields.count(f) == 1);
      }
      CHECK(error_code_for(r, "password") == "too_short");
      CHECK(error_code_for(r, "tenant_id") == "unknown_field");

      auto common = register_raw(client, "common-pw", "common@example.com", "password1234");
      CHECK(common.status == 422);
      CHECK(error_code_for(common, "password") == "too_common");

      auto same =
          register_raw(client, "same-pw", "same-as-email@example.com", "same-as-email@example.com");
      CHECK(same.status == 422);
      CHECK(error_code_for(same, "password") == "same_as_email");

      CHECK(db.scalar("SELECT COUNT(*) FROM iam_tenants") == 0);
      CHECK(db.scalar("SELECT COUNT(*) FROM iam_users") == 0);
    }
  }

  TEST_CASE("register with a taken slug or a taken email is a 409 conflict") {
    for (const auto& backend : backends()) {
      CAPTURE(backend);
      TestDatabase db(backend);
      ServerProcess server(db);
      HttpClient client(server.port());
      register_tenant(client, "batik-one", "one@example.com");

      auto slug = register_raw(client, "batik-one", "two@example.com");
      CHECK(slug.status == 409);
      CHECK(code_of(slug) == "slug_taken");

      auto email =
          register_raw(client, "batik-two", "ONE@example.com");  // emails are case-insensitive
      CHECK(email.status == 409);
      CHECK(code_of(email) == "email_taken");

      CHECK(db.scalar("SELECT COUNT(*) FROM iam_tenants") == 1);
      CHECK(db.scalar("SELECT COUNT(*) FROM iam_users") == 1);
    }
  }

  TEST_CASE(
      "login answers the token pair and an unknown email looks exactly like a wrong password") {
    for (const auto& backend : backends()) {
      CAPTURE(backend);
      TestDatabase db(backend);
      ServerProcess server(db);
      HttpClient client(server.port());
      auto owner = register_tenant(client, "login-co", "login@example.com");

      auto ok = login_raw(client, "LOGIN@example.com", kPassword);
      REQUIRE_MESSAGE(ok.status == 200, ok.body);
      auto o = obj(ok);
      CHECK(str(o.at("user").at("id")) == owner.user_id);
      CHECK(str(o.at("tenant").at("id")) == owner.tenant_id);
      CHECK(str(o.at("token_type")) == "Bearer");
      CHECK(o.at("tenants").as_array().size() == 1);
      CHECK(call(client, "GET", "/api/v1/auth/me", str(o.at("access_token"))).status == 200);

      auto wrong = login_raw(client, "login@example.com", "not-the-right-password");
      auto unknown = login_raw(client, "nobody@example.com", "not-the-right-password");
      CHECK(wrong.status == 401);
      CHECK(unknown.status == 401);
      CHECK(code_of(wrong) == "invalid_credentials");
      CHECK(code_of(unknown) == "invalid_credentials");
      CHECK(without_request_id(obj(wrong)) == without_request_id(obj(unknown)));
      CHECK(wrong.header("Content-Type") == unknown.header("Content-Type"));

      auto missing = client.post_json("/api/v1/auth/login", R"({"email":"login@example.com"})");
      CHECK(missing.status == 422);
      CHECK(error_fields(missing).count("password") == 1);
    }
  }

  TEST_CASE(
      "a refresh token rotates, a retry within the grace gets the same pair, reuse after it "
      "revokes the family") {
    for (const auto& backend : backends()) {
      CAPTURE(backend);
      TestDatabase db(backend);
      ServerProcess server(db);
      HttpClient client(server.port());
      auto owner = register_tenant(client, "refresh-co", "refresh@example.com");

      auto first = client.post_json("/api/v1/auth/refresh",
                                    js(bj::object{{"refresh_token", owner.refresh}}));
      REQUIRE_MESSAGE(first.status == 200, first.body);
      auto pair1 = obj(first);
      CHECK(str(pair1.at("refresh_token")) != owner.refresh);
      CHECK(str(pair1.at("access_token")) != owner.access);
      CHECK(str(pair1.at("tenant").at("id")) == owner.tenant_id);

      // A client retry of the same old token inside the grace period: the very same new pair.
      auto retry = client.post_json("/api/v1/auth/refresh",
                                    js(bj::object{{"refresh_token", owner.refresh}}));
      REQUIRE_MESSAGE(retry.status == 200, retry.body);
      CHECK(str(obj(retry).at("refresh_token")) == str(pair1.at("refresh_token")));
      CHECK(str(obj(retry).at("access_token")) == str(pair1.at("access_token")));

      // The new refresh token works and rotates again.
      auto second = client.post_json("/api/v1/auth/refresh",
                                     js(bj::object{{"refresh_token", pair1.at("refresh_token")}}));
      REQUIRE_MESSAGE(second.status == 200, second.body);
      std::string newest_refresh = str(obj(second).at("refresh_token"));
      std::string newest_access = str(obj(second).at("access_token"));
      CHECK(call(client, "GET", "/api/v1/auth/me", newest_access).status == 200);

      // The grace period passes (moved back in the database rather than slept through).
      db.exec(
          "UPDATE iam_refresh_tokens SET rotated_at = rotated_at - 11000 WHERE rotated_at IS NOT "
          "NULL");
      auto reuse = client.post_json("/api/v1/auth/refresh",
                                    js(bj::object{{"refresh_token", owner.refresh}}));
      CHECK(reuse.status == 401);
      CHECK(code_of(reuse) == "invalid_refresh_token");
      // Theft detected: the whole family is dead, including its newest tokens.
      auto newest = client.post_json("/api/v1/auth/refresh",
                                     js(bj::object{{"refresh_token", newest_refresh}}));
      CHECK(newest.status == 401);
      CHECK(call(client, "GET", "/api/v1/auth/me", newest_access).status == 401);

      auto bogus = client.post_json("/api/v1/auth/refresh",
                                    R"({"refresh_token":"crm_rt_not-a-real-token"})");
      CHECK(bogus.status == 401);
      auto missing = client.post_json("/api/v1/auth/refresh", "{}");
      CHECK(missing.status == 422);
      CHECK(error_fields(missing).count("refresh_token") == 1);
    }
  }

  TEST_CASE("after logout the access token and the refresh token are rejected") {
    for (const auto& backend : backends()) {
      CAPTURE(backend);
      TestDatabase db(backend);
      ServerProcess server(db);
      HttpClient client(server.port());
      auto owner = register_tenant(client, "logout-co", "logout@example.com");
      auto other = login(client, "logout@example.com");  // a second session stays alive

      CHECK(call(client, "GET", "/api/v1/auth/me", owner.access).status == 200);
      auto out = call(client, "POST", "/api/v1/auth/logout", owner.access);
      CHECK(out.status == 204);
      auto me = call(client, "GET", "/api/v1/auth/me", owner.access);
      CHECK(me.status == 401);
      CHECK(me.header("Content-Type") == "application/problem+json");
      CHECK(
          client.post_json("/api/v1/auth/refresh", js(bj::object{{"refresh_token", owner.refresh}}))
              .status == 401);
      CHECK(call(client, "GET", "/api/v1/auth/me", other.access).status == 200);
      CHECK(call(client, "POST", "/api/v1/auth/logout", "").status == 401);
    }
  }

  TEST_CASE("me shows the user, the tenant, roles and effective permissions and needs a token") {
    for (const auto& backend : backends()) {
      CAPTURE(backend);
      TestDatabase db(backend);
      ServerProcess server(db);
      HttpClient client(server.port());
      auto owner = register_tenant(client, "me-co", "me@example.com");
      auto me = call(client, "GET", "/api/v1/auth/me", owner.access);
      REQUIRE(me.status == 200);
      auto o = obj(me);
      CHECK(str(o.at("user").at("id")) == owner.user_id);
      CHECK(str(o.at("user").at("email")) == "me@example.com");
      CHECK(str(o.at("tenant").at("id")) == owner.tenant_id);
      CHECK(o.at("roles").as_array() == bj::array{"owner"});
      CHECK(o.at("permissions").as_array() == bj::array{"*"});
      CHECK(o.at("tenants").as_array().size() == 1);

      auto anonymous = client.get("/api/v1/auth/me");
      CHECK(anonymous.status == 401);
      CHECK(code_of(anonymous) == "unauthorized");
      CHECK(call(client, "GET", "/api/v1/auth/me", "garbage.token.here").status == 401);
      CHECK(client.get("/api/v1/auth/me", {{"Authorization", "Basic dXNlcjpwYXNz"}}).status == 401);
    }
  }

  TEST_CASE("changing the password needs the current one and revokes every older session") {
    for (const auto& backend : backends()) {
      CAPTURE(backend);
      TestDatabase db(backend);
      ServerProcess server(db);
      HttpClient client(server.port());
      auto owner = register_tenant(client, "pw-co", "pw@example.com");
      auto second = login(client, "pw@example.com");
      const std::string next = "a-brand-new-passphrase-77";

      auto wrong = call(
          client, "PUT", "/api/v1/auth/password", owner.access,
          js(bj::object{{"current_password", "definitely-not-it-123"}, {"new_password", next}}));
      CHECK(wrong.status == 422);
      CHECK(error_fields(wrong).count("current_password") == 1);
      auto weak =
          call(client, "PUT", "/api/v1/auth/password", owner.access,
               js(bj::object{{"current_password", kPassword}, {"new_password", "password1234"}}));
      CHECK(weak.status == 422);
      CHECK(error_fields(weak).count("new_password") == 1);
      // Nothing changed yet.
      CHECK(login_raw(client, "pw@example.com", kPassword).status == 200);

      auto ok = call(client, "PUT", "/api/v1/auth/password", owner.access,
                     js(bj::object{{"current_password", kPassword}, {"new_password", next}}));
      REQUIRE_MESSAGE(ok.status == 200, ok.body);
      auto fresh = account_from(ok, "pw@example.com", next);
      CHECK(call(client, "GET", "/api/v1/auth/me", fresh.access).status == 200);

      for (const auto* refresh : {&owner.refresh, &second.refresh}) {
        CHECK(client.post_json("/api/v1/auth/refresh", js(bj::object{{"refresh_token", *refresh}}))
                  .status == 401);
      }
      CHECK(call(client, "GET", "/api/v1/auth/me", owner.access).status == 401);
      CHECK(call(client, "GET", "/api/v1/auth/me", second.access).status == 401);
      CHECK(login_raw(client, "pw@example.com", kPassword).status == 401);
      CHECK(login_raw(client, "pw@example.com", next).status == 200);
    }
  }

  TEST_CASE("email verification consumes its token once and resend is refused once verified") {
    for (const auto& backend : backends()) {
      CAPTURE(backend);
      TestDatabase db(backend);
      ServerProcess server(db);
      HttpClient client(server.port());
      auto owner = register_tenant(client, "verify-co", "verify@example.com");

      auto resend = call(client, "POST", "/api/v1/auth/resend-verification", owner.access);
      CHECK(resend.status == 202);
      CHECK(outbox_payloads(db, "user.registered").size() == 2);
      CHECK(call(client, "POST", "/api/v1/auth/resend-verification", "").status == 401);

      auto token = outbox_token(db, "user.registered", "verification_token", "verify@example.com");
      auto bad = client.post_json("/api/v1/auth/verify-email", R"({"token":"not-a-token"})");
      CHECK(bad.status == 422);
      CHECK(code_of(bad) == "invalid_token");
      CHECK(error_fields(bad).count("token") == 1);

      auto ok = client.post_json("/api/v1/auth/verify-email", js(bj::object{{"token", token}}));
      CHECK(ok.status == 200);
      auto me = obj(call(client, "GET", "/api/v1/auth/me", owner.access));
      CHECK(me.at("user").at("email_verified").as_bool());

      auto again = client.post_json("/api/v1/auth/verify-email", js(bj::object{{"token", token}}));
      CHECK(again.status == 422);
      CHECK(code_of(again) == "invalid_token");

      auto verified = call(client, "POST", "/api/v1/auth/resend-verification", owner.access);
      CHECK(verified.status == 409);
      CHECK(code_of(verified) == "already_verified");
    }
  }

  TEST_CASE(
      "forgot-password is always 202 and a reset token sets a new password once and ends every "
      "session") {
    for (const auto& backend : backends()) {
      CAPTURE(backend);
      TestDatabase db(backend);
      ServerProcess server(db);
      HttpClient client(server.port());
      auto owner = register_tenant(client, "reset-co", "reset@example.com");
      const std::string next = "reset-to-this-passphrase-9";
      // Locked out by failed sign-ins: a reset is the way back in.
      for (int i = 0; i < 5; ++i)
        CHECK(login_raw(client, "reset@example.com", "bad-guess-number-" + std::to_string(i))
                  .status == 401);
      CHECK(login_raw(client, "reset@example.com", kPassword).status == 429);

      auto unknown =
          client.post_json("/api/v1/auth/forgot-password", R"({"email":"ghost@example.com"})");
      CHECK(unknown.status == 202);
      CHECK(outbox_payloads(db, "user.password_reset_requested").empty());
      auto malformed =
          client.post_json("/api/v1/auth/forgot-password", R"({"email":"not an email"})");
      CHECK(malformed.status == 202);
      auto known =
          client.post_json("/api/v1/auth/forgot-password", R"({"email":"RESET@example.com"})");
      CHECK(known.status == 202);
      CHECK(without_request_id(obj(known)) == without_request_id(obj(unknown)));
      auto payloads = outbox_payloads(db, "user.password_reset_requested");
      REQUIRE(payloads.size() == 1);
      std::string token = str(payloads[0].at("reset_token"));

      auto invalid =
          client.post_json("/api/v1/auth/reset-password",
                           js(bj::object{{"token", "forged-token"}, {"new_password", next}}));
      CHECK(invalid.status == 422);
      CHECK(code_of(invalid) == "invalid_token");

      // A weak password is refused and does not use the token up.
      auto weak =
          client.post_json("/api/v1/auth/reset-password",
                           js(bj::object{{"token", token}, {"new_password", "password1234"}}));
      CHECK(weak.status == 422);
      CHECK(error_fields(weak).count("new_password") == 1);

      auto ok = client.post_json("/api/v1/auth/reset-password",
                                 js(bj::object{{"token", token}, {"new_password", next}}));
      CHECK_MESSAGE(ok.status == 204, ok.body
                                          << "\n"
                                          << (ok.status == 500 ? server.output() : std::string()));
      CHECK(
          client.post_json("/api/v1/auth/refresh", js(bj::object{{"refresh_token", owner.refresh}}))
              .status == 401);
      CHECK(call(client, "GET", "/api/v1/auth/me", owner.access).status == 401);
      CHECK(login_raw(client, "reset@example.com", kPassword).status == 401);
      CHECK(login_raw(client, "reset@example.com", next).status == 200);

      auto used = client.post_json(
          "/api/v1/auth/reset-password",
          js(bj::object{{"token", token}, {"new_password", "yet-another-passphrase-1"}}));
      CHECK(used.status == 422);
      CHECK(code_of(used) == "invalid_token");
      CHECK(login_raw(client, "reset@example.com", next).status == 200);
    }
  }

  TEST_CASE("a user in two tenants switches tenant after accepting an invitation") {
    for (const auto& backend : backends()) {
      CAPTURE(backend);
      TestDatabase db(backend);
      ServerProcess server(db);
      HttpClient client(server.port());
      auto a = register_tenant(client, "tenant-alpha", "alpha@example.com");
      auto b = register_tenant(client, "tenant-beta", "beta@example.com");
      auto c = register_tenant(client, "tenant-gamma", "gamma@example.com");

      // B invites A's owner (an existing identity with a password) as a viewer.
      invite(client, b, "alpha@example.com", "viewer");
      // Invited, not yet accepted: cannot sign in to B, and switching there is a 404.
      auto early = login_raw(client, "alpha@example.com", kPassword, "tenant-beta");
      CHECK(early.status == 403);
      CHECK(call(client, "POST", "/api/v1/auth/switch-tenant", a.access,
                 js(bj::object{{"tenant_id", b.tenant_id}}))
                .status == 404);
      CHECK(obj(call(client, "GET", "/api/v1/auth/me", a.access)).at("tenants").as_array().size() ==
            1);

      auto token = outbox_token(db, "user.invited", "invitation_token", "alpha@example.com");
      auto accepted =
          client.post_json("/api/v1/auth/accept-invitation", js(bj::object{{"token", token}}));
      REQUIRE_MESSAGE(accepted.status == 200, accepted.body);
      CHECK(str(obj(accepted).at("tenant").at("id")) == b.tenant_id);

      auto sw = call(client, "POST", "/api/v1/auth/switch-tenant", a.access,
                     js(bj::object{{"tenant_id", b.tenant_id}}));
      REQUIRE_MESSAGE(sw.status == 200, sw.body);
      auto switched = account_from(sw, a.email, kPassword);
      CHECK(switched.tenant_id == b.tenant_id);
      CHECK(obj(sw).at("tenants").as_array().size() == 2);
      auto me = obj(call(client, "GET", "/api/v1/auth/me", switched.access));
      CHECK(str(me.at("tenant").at("id")) == b.tenant_id);
      CHECK(me.at("roles").as_array() == bj::array{"viewer"});
      // In B the user is only a viewer.
      CHECK(call(client, "PUT", "/api/v1/tenant", switched.access,
                 js(bj::object{{"name", "Taken over"}}))
                .status == 403);

      auto foreign = call(client, "POST", "/api/v1/auth/switch-tenant", a.access,
                          js(bj::object{{"tenant_id", c.tenant_id}}));
      CHECK(foreign.status == 404);
      auto random = call(client, "POST", "/api/v1/auth/switch-tenant", a.access,
                         js(bj::object{{"tenant_id", kUnknownId}}));
      CHECK(random.status == 404);
      CHECK(code_of(foreign) == code_of(random));

      // Login names the tenant by slug; without it the most recently used tenant is chosen.
      auto by_slug = login_raw(client, "alpha@example.com", kPassword, "tenant-alpha");
      REQUIRE(by_slug.status == 200);
      CHECK(str(obj(by_slug).at("tenant").at("id")) == a.tenant_id);
      auto recent = login_raw(client, "alpha@example.com", kPassword);
      REQUIRE(recent.status == 200);
      CHECK(str(obj(recent).at("tenant").at("id")) == a.tenant_id);
      CHECK(login_raw(client, "alpha@example.com", kPassword, "tenant-gamma").status == 403);
    }
  }

  TEST_CASE("sessions are listed and one can be revoked, but not another user's") {
    for (const auto& backend : backends()) {
      CAPTURE(backend);
      TestDatabase db(backend);
      ServerProcess server(db);
      HttpClient client(server.port());
      auto owner = register_tenant(client, "sessions-co", "sessions@example.com");
      auto laptop = login(client, "sessions@example.com");
      auto stranger = register_tenant(client, "stranger-co", "stranger@example.com");

      auto list = call(client, "GET", "/api/v1/auth/sessions", owner.access, {},
                       {{"User-Agent", "sessions-test/1"}});
      REQUIRE(list.status == 200);
      auto data = obj(list).at("data").as_array();
      REQUIRE(data.size() == 2);
      std::string current_id, other_id;
      for (const auto& s : data) {
        CHECK(str(s.at("tenant_id")) == owner.tenant_id);
        if (s.at("current").as_bool()) {
          current_id = str(s.at("id"));
        } else {
          other_id = str(s.at("id"));
        }
      }
      CHECK_FALSE(current_id.empty());
      REQUIRE_FALSE(other_id.empty());
      CHECK(str(jwt_claims(laptop.access).at("sid")) == other_id);

      // Another user's session: 404, and it stays alive.
      auto stranger_sessions =
          obj(call(client, "GET", "/api/v1/auth/sessions", stranger.access)).at("data").as_array();
      REQUIRE(stranger_sessions.size() == 1);
      std::string stranger_sid = str(stranger_sessions[0].at("id"));
      auto foreign = call(client, "DELETE", "/api/v1/auth/sessions/" + stranger_sid, owner.access);
      CHECK(foreign.status == 404);
      CHECK(call(client, "DELETE", std::string("/api/v1/auth/sessions/") + kUnknownId, owner.access)
                .status == 404);
      CHECK(call(client, "GET", "/api/v1/auth/me", stranger.access).status == 200);

      auto revoked = call(client, "DELETE", "/api/v1/auth/sessions/" + other_id, owner.access);
      CHECK(revoked.status == 204);
      CHECK(call(client, "GET", "/api/v1/auth/me", laptop.access).status == 401);
      CHECK(
          client
              .post_json("/api/v1/auth/refresh", js(bj::object{{"refresh_token", laptop.refresh}}))
              .status == 401);
      CHECK(call(client, "GET", "/api/v1/auth/me", owner.access).status == 200);
      CHECK(obj(call(client, "GET", "/api/v1/auth/sessions", owner.access))
                .at("data")
                .as_array()
                .size() == 1);
      CHECK(call(client, "DELETE", "/api/v1/auth/sessions/" + other_id, owner.access).status ==
            404);
    }
  }

  TEST_CASE(
      "an invitation needs a password for a new identity and an invited member cannot sign in "
      "before accepting") {
    for (const auto& backend : backends()) {
      CAPTURE(backend);
      TestDatabase db(backend);
      ServerProcess server(db);
      HttpClient client(server.port());
      auto owner = register_tenant(client, "invite-co", "boss@example.com");
      auto id = invite(client, owner, "newbie@example.com", "sales");

      auto member = obj(call(client, "GET", "/api/v1/users/" + id, owner.access));
      CHECK(str(member.at("status")) == "invited");
      CHECK(login_raw(client, "newbie@example.com", kPassword).status == 401);

      auto token = outbox_token(db, "user.invited", "invitation_token", "newbie@example.com");
      auto no_password =
          client.post_json("/api/v1/auth/accept-invitation", js(bj::object{{"token", token}}));
      CHECK(no_password.status == 422);
      CHECK(error_fields(no_password).count("password") == 1);
      auto weak = client.post_json("/api/v1/auth/accept-invitation",
                                   js(bj::object{{"token", token}, {"password", "password1234"}}));
      CHECK(weak.status == 422);
      CHECK(str(obj(call(client, "GET", "/api/v1/users/" + id, owner.access)).at("status")) ==
            "invited");

      auto ok = client.post_json(
          "/api/v1/auth/accept-invitation",
          js(bj::object{{"token", token}, {"password", kPassword}, {"name", "New Bie"}}));
      REQUIRE_MESSAGE(ok.status == 200, ok.body);
      auto me = obj(call(client, "GET", "/api/v1/auth/me", str(obj(ok).at("access_token"))));
      CHECK(me.at("roles").as_array() == bj::array{"sales"});
      CHECK(str(me.at("user").at("name")) == "New Bie");
      CHECK(str(obj(call(client, "GET", "/api/v1/users/" + id, owner.access)).at("status")) ==
            "active");
      CHECK(login_raw(client, "newbie@example.com", kPassword).status == 200);

      auto reused = client.post_json("/api/v1/auth/accept-invitation",
                                     js(bj::object{{"token", token}, {"password", kPassword}}));
      CHECK(reused.status == 422);
      CHECK(code_of(reused) == "invalid_token");
    }
  }

  TEST_CASE(
      "after 5 wrong passwords the account is throttled with 429 even for the right password") {
    for (const auto& backend : backends()) {
      CAPTURE(backend);
      TestDatabase db(backend);
      ServerProcess server(db);
      HttpClient client(server.port());
      auto victim = register_tenant(client, "throttle-co", "victim@example.com");
      register_tenant(client, "bystander-co", "bystander@example.com");

      for (int i = 0; i < 5; ++i) {
        auto r =
            login_raw(client, "victim@example.com", "wrong-password-guess-" + std::to_string(i));
        CHECK(r.status == 401);
      }
      auto locked = login_raw(client, "victim@example.com", kPassword);
      CHECK(locked.status == 429);
      CHECK(locked.header("Content-Type") == "application/problem+json");
      REQUIRE_FALSE(locked.header("Retry-After").empty());
      int retry = std::stoi(locked.header("Retry-After"));
      CHECK(retry > 0);
      CHECK(retry <= 15 * 60);
      CHECK(login_raw(client, "victim@example.com", "wrong-password-again").status == 429);

      // Another account from the same address is not affected.
      CHECK(login_raw(client, "bystander@example.com", kPassword).status == 200);

      // The lock is an event, and every failure and the lock are in the audit log as failures.
      auto locked_out = db.column("SELECT aggregate_id FROM platform_outbox WHERE type = 'auth.locked_out'");
      CHECK(locked_out == std::vector<std::string>{victim.user_id});
      CHECK(str(outbox_payloads(db, "auth.locked_out").at(0).at("reason")) == "too_many_failures");
      CHECK(db.scalar("SELECT COUNT(*) FROM iam_audit_log WHERE action = 'auth.login_failed' AND outcome = 'failure'"
                      " AND entity_id = '" + victim.user_id + "' AND ip = '127.0.0.1'") == 5);
      CHECK(db.scalar("SELECT COUNT(*) FROM iam_audit_log WHERE action = 'auth.login_failed'") == 5);
      CHECK(db.scalar("SELECT COUNT(*) FROM iam_audit_log WHERE action = 'auth.locked_out' AND outcome = 'failure'"
                      " AND entity_type = 'user' AND entity_id = '" + victim.user_id + "'") == 1);

      // The victim's tenant sees the attempts in its own audit log; another tenant does not.
      auto seen = call(client, "GET", "/api/v1/audit-logs?action=auth.login_failed", victim.access);
      REQUIRE_MESSAGE(seen.status == 200, seen.body);
      CHECK(data_of(seen).size() == 5);
      auto bystander = login(client, "bystander@example.com");
      auto unseen = call(client, "GET", "/api/v1/audit-logs?action=auth.login_failed", bystander.access);
      REQUIRE(unseen.status == 200);
      CHECK(data_of(unseen).empty());

      // And /metrics counts them.
      auto metrics = client.get("/metrics").body;
      CHECK(metrics.find("crm_auth_login_failures_total 5") != std::string::npos);
      CHECK(metrics.find("crm_auth_login_throttled_total 2") != std::string::npos);
    }
  }

  TEST_CASE(
      "after 50 failed sign-ins from one address across accounts that address gets 429 for every "
      "account while other addresses sign in") {
    for (const auto& backend : backends()) {
      CAPTURE(backend);
      TestDatabase db(backend);
      ServerProcess server(db);
      HttpClient client(server.port());
      auto owner = register_tenant(client, "ip-throttle-co", "owner@ip-throttle.example");
      HttpClient attacker(server.port(), "127.0.0.3");
      HttpClient neighbour(server.port(), "127.0.0.4");

      // Four guesses each at twelve accounts (none of them locked) and two more: 50 failures.
      for (int i = 0; i < 50; ++i) {
        std::string email = "guess" + std::to_string(i % 12) + "@ip-throttle.example";
        if (i >= 48) email = owner.email;
        auto r = login_raw(attacker, email, "not-the-password-" + std::to_string(i));
        REQUIRE_MESSAGE(r.status == 401, i << ": " << r.status << " " << r.body);
      }
      for (const auto& email : {owner.email, std::string("guess0@ip-throttle.example"),
                                std::string("fresh@ip-throttle.example")}) {
        CAPTURE(email);
        auto r = login_raw(attacker, email, kPassword);
        CHECK(r.status == 429);
        CHECK(code_of(r) == "login_throttled");
        REQUIRE_FALSE(r.header("Retry-After").empty());
        CHECK(std::stoi(r.header("Retry-After")) > 0);
        CHECK(std::stoi(r.header("Retry-After")) <= 15 * 60);
      }
      // Only that address: the owner signs in from elsewhere.
      CHECK(login_raw(neighbour, owner.email, kPassword).status == 200);
      CHECK(login_raw(client, owner.email, kPassword).status == 200);

      CHECK(db.scalar("SELECT COUNT(*) FROM iam_audit_log WHERE action = 'auth.login_failed' AND outcome = 'failure'"
                      " AND ip = '127.0.0.3'") == 50);
      auto locks = db.column("SELECT aggregate_type || ':' || aggregate_id FROM platform_outbox"
                             " WHERE type = 'auth.locked_out'");
      CHECK(locks == std::vector<std::string>{"ip:127.0.0.3"});
      CHECK(db.scalar("SELECT COUNT(*) FROM iam_audit_log WHERE action = 'auth.locked_out' AND outcome = 'failure'"
                      " AND entity_type = 'ip' AND entity_id = '127.0.0.3'") == 1);
    }
  }

  TEST_CASE("in demo mode register, invite and forgot-password write their links to the mail sink") {
    for (const auto& backend : backends()) {
      CAPTURE(backend);
      TestDatabase db(backend);
      ServerProcess server(db, {}, {"--demo"}, crm_binary_path());
      HttpClient client(server.port());
      std::string sink = db.data_dir() + "/mail-sink.log";
      auto owner = register_tenant(client, "sink-co", "owner@sink.example");
      invite(client, owner, "invitee@sink.example", "sales");
      REQUIRE(client.post_json("/api/v1/auth/forgot-password", js(bj::object{{"email", owner.email}})).status == 202);

      // Written after commit by an asynchronous subscriber: wait for all three.
      auto mail_for = [&](const std::string& type, const std::string& to) -> std::optional<bj::object> {
        std::ifstream in(sink);
        std::string line;
        std::optional<bj::object> found;
        while (std::getline(in, line)) {
          auto v = bj::parse(line).as_object();
          if (str(v.at("type")) == type && str(v.at("to")) == to) found = v;
        }
        return found;
      };
      REQUIRE(eventually([&] {
        return mail_for("user.registered", owner.email) && mail_for("user.invited", "invitee@sink.example") &&
               mail_for("user.password_reset_requested", owner.email);
      }));
      auto verification = *mail_for("user.registered", owner.email);
      auto invitation = *mail_for("user.invited", "invitee@sink.example");
      auto reset = *mail_for("user.password_reset_requested", owner.email);
      CHECK(str(verification.at("link")) == "/verify-email?token=" + str(verification.at("verification_token")));
      CHECK(str(invitation.at("link")) == "/accept-invitation?token=" + str(invitation.at("invitation_token")));
      CHECK(str(reset.at("link")) == "/reset-password?token=" + str(reset.at("reset_token")));

      // The links in the sink are the real ones.
      CHECK(client.post_json("/api/v1/auth/verify-email", js(bj::object{{"token", verification.at("verification_token")}}))
                .status == 200);
      CHECK(client.post_json("/api/v1/auth/accept-invitation",
                             js(bj::object{{"token", invitation.at("invitation_token")}, {"password", kPassword}}))
                .status == 200);
      CHECK(client.post_json("/api/v1/auth/reset-password",
                             js(bj::object{{"token", reset.at("reset_token")}, {"new_password", "a-brand-new-secret-2026"}}))
                .status == 204);
      CHECK(login_raw(client, owner.email, "a-brand-new-secret-2026").status == 200);
    }
  }

  TEST_CASE("forged, unsigned, foreign-key, expired and wrong-audience tokens are all 401") {
    for (const auto& backend : backends()) {
      CAPTURE(backend);
      TestDatabase db(backend);
      ServerProcess server(db);
      HttpClient client(server.port());
      auto a = register_tenant(client, "jwt-alpha", "jwt-a@example.com");
      auto b = register_tenant(client, "jwt-beta", "jwt-b@example.com");

      auto claims = jwt_claims(a.access);
      bj::object header{{"alg", "HS256"}, {"typ", "JWT"}};
      auto now = static_cast<std::int64_t>(std::time(nullptr));
      auto payload = [&](std::int64_t exp) {
        bj::object p = claims;
        p["jti"] = "hand-made-" + std::to_string(exp);
        p["iat"] = now - 60;
        p["nbf"] = now - 60;
        p["exp"] = exp;
        return p;
      };

      // Control: a token made by hand the right way is accepted, so the refusals below are real.
      auto good = make_jwt(header, payload(now + 300), kJwtSecret);
      auto ok = call(client, "GET", "/api/v1/auth/me", good);
      REQUIRE_MESSAGE(ok.status == 200, ok.body);
      CHECK(str(obj(ok).at("user").at("id")) == a.user_id);

      // Tampered payload: A's signature over B's tenant id.
      bj::object tampered_claims = claims;
      tampered_claims["tid"] = b.tenant_id;
      auto dot1 = a.access.find('.');
      auto dot2 = a.access.rfind('.');
      std::string tampered =
          a.access.substr(0, dot1) + "." + b64url(js(tampered_claims)) + a.access.substr(dot2);

      bj::object wrong_aud = payload(now + 300);
      wrong_aud["aud"] = "some-other-api";
      bj::object wrong_iss = payload(now + 300);
      wrong_iss["iss"] = "someone-else";

      const std::vector<std::pair<std::string, std::string>> refused = {
          {"tampered payload", tampered},
          {"alg none",
           make_jwt(bj::object{{"alg", "none"}, {"typ", "JWT"}}, payload(now + 300), "")},
          {"alg none with a signature",
           make_jwt(bj::object{{"alg", "none"}}, payload(now + 300), kJwtSecret)},
          {"other key",
           make_jwt(header, payload(now + 300), "another-secret-of-at-least-32-bytes-xyz")},
          {"expired", make_jwt(header, payload(now - 120), kJwtSecret)},
          {"wrong audience", make_jwt(header, wrong_aud, kJwtSecret)},
          {"wrong issuer", make_jwt(header, wrong_iss, kJwtSecret)},
          {"HS512 header",
           make_jwt(bj::object{{"alg", "HS512"}, {"typ", "JWT"}}, payload(now + 300), kJwtSecret)},
      };
      for (const auto& [what, token] : refused) {
        CAPTURE(what);
        auto r = call(client, "GET", "/api/v1/auth/me", token);
        CHECK(r.status == 401);
        CHECK(code_of(r) == "invalid_token");
        CHECK(call(client, "GET", "/api/v1/users", token).status == 401);
      }
      // The real token is still fine.
      CHECK(call(client, "GET", "/api/v1/auth/me", a.access).status == 200);
    }
  }

}  // TEST_SUITE
