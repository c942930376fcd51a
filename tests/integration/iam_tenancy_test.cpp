// Tenant lifecycle over a real socket, on SQLite and PostgreSQL: platform administration of
// tenants, an owner closing and exporting their tenant, and removal after the grace period.
#include <doctest/doctest.h>

#include <boost/json.hpp>
#include <regex>
#include <sstream>
#include <thread>

#include "crm/platform/time.hpp"
#include "support/harness.hpp"
#include "support/iam_helpers.hpp"

using namespace crm::testing;
using namespace crm::testing::iam;

namespace {

bool valid_slug(const std::string& slug) {
  return std::regex_match(slug, std::regex("[a-z0-9]+(-[a-z0-9]+)*")) && slug.size() >= 3 && slug.size() <= 63;
}

std::string q(const std::string& text) { return "'" + text + "'"; }

struct Call {
  std::string method, target, body;
};

long long count_where(TestDatabase& db, const std::string& table, const std::string& where) {
  return db.scalar("SELECT COUNT(*) FROM " + table + " WHERE " + where);
}

}  // namespace

TEST_SUITE("integration/iam_tenancy") {
  TEST_CASE(
      "platform admins create, list, read, rename, measure, look up and close tenants, and a "
      "member gets 403 on every one of those endpoints") {
    for (const auto& backend : backends()) {
      CAPTURE(backend);
      TestDatabase db(backend);
      ServerProcess server(db);
      HttpClient client(server.port());
      auto member = register_tenant(client, "tenancy-alpha", "owner@tenancy-alpha.example");
      auto admin = platform_admin(client, db, "root@tenancy.example");

      // Without an owner: the tenant and its system roles, nobody in it yet.
      auto plain = call(client, "POST", "/api/v1/tenants", admin.access, js(bj::object{{"name", "Beta Batik"}}));
      REQUIRE_MESSAGE(plain.status == 201, plain.body);
      auto beta = obj(plain);
      std::string beta_id = str(beta.at("id"));
      CHECK(plain.header("Location") == "/api/v1/tenants/" + beta_id);
      CHECK(str(beta.at("slug")) == "beta-batik");
      CHECK(str(beta.at("status")) == "trial");
      CHECK(str(beta.at("plan")) == "free");
      CHECK(beta.at("version").to_number<int>() == 1);
      CHECK(count_where(db, "iam_roles", "tenant_id = " + q(beta_id)) == 6);
      CHECK(count_where(db, "iam_memberships", "tenant_id = " + q(beta_id)) == 0);

      // A name too short for a slug still gets a valid one.
      auto short_name = call(client, "POST", "/api/v1/tenants", admin.access, js(bj::object{{"name", "AB"}}));
      REQUIRE_MESSAGE(short_name.status == 201, short_name.body);
      CHECK(valid_slug(str(obj(short_name).at("slug"))));
      std::string short_id = str(obj(short_name).at("id"));

      // With an owner: invited as owner; the invitation signs them in to the new tenant.
      auto with_owner = call(client, "POST", "/api/v1/tenants", admin.access,
                             js(bj::object{{"name", "Gamma Sarongs"},
                                           {"slug", "gamma-sarongs"},
                                           {"plan", "pro"},
                                           {"status", "active"},
                                           {"owner_email", "Owner@Gamma.example"}}));
      REQUIRE_MESSAGE(with_owner.status == 201, with_owner.body);
      std::string gamma_id = str(obj(with_owner).at("id"));
      CHECK(str(obj(with_owner).at("plan")) == "pro");
      CHECK(str(obj(with_owner).at("status")) == "active");
      CHECK(count_where(db, "iam_memberships", "tenant_id = " + q(gamma_id) + " AND status = 'invited'") == 1);
      auto token = outbox_token(db, "user.invited", "invitation_token", "Owner@Gamma.example");
      auto accepted =
          client.post_json("/api/v1/auth/accept-invitation", js(bj::object{{"token", token}, {"password", kPassword}}));
      REQUIRE_MESSAGE(accepted.status == 200, accepted.body);
      auto gamma_owner = account_from(accepted, "owner@gamma.example", kPassword);
      CHECK(gamma_owner.tenant_id == gamma_id);
      CHECK(obj(call(client, "GET", "/api/v1/auth/me", gamma_owner.access)).at("roles").as_array() ==
            bj::array{"owner"});

      auto taken = call(client, "POST", "/api/v1/tenants", admin.access,
                        js(bj::object{{"name", "Another Gamma"}, {"slug", "gamma-sarongs"}}));
      CHECK(taken.status == 409);
      CHECK(code_of(taken) == "slug_taken");
      auto bad = call(client, "POST", "/api/v1/tenants", admin.access,
                      js(bj::object{{"name", "   "},
                                    {"slug", "Bad Slug"},
                                    {"plan", "gold"},
                                    {"status", "asleep"},
                                    {"owner_email", "not-an-email"},
                                    {"id", kUnknownId}}));
      CHECK(bad.status == 422);
      CHECK(error_fields(bad) == std::set<std::string>{"name", "slug", "plan", "status", "owner_email", "id"});
      auto tenants_before = db.scalar("SELECT COUNT(*) FROM iam_tenants");

      // Pagination: four tenants in pages of three, each once, with the total on request.
      auto first = call(client, "GET", "/api/v1/tenants?limit=3&include_total=true", admin.access);
      REQUIRE_MESSAGE(first.status == 200, first.body);
      CHECK(obj(first).at("page").at("total").to_number<int>() == 4);
      auto first_page = data_of(first);
      CHECK(first_page.size() == 3);
      REQUIRE(obj(first).at("page").at("next_cursor").is_string());
      auto second = call(client, "GET",
                         "/api/v1/tenants?limit=3&cursor=" + str(obj(first).at("page").at("next_cursor")),
                         admin.access);
      REQUIRE_MESSAGE(second.status == 200, second.body);
      CHECK(obj(second).at("page").at("next_cursor").is_null());
      CHECK_FALSE(obj(second).at("page").as_object().contains("total"));
      std::set<std::string> ids;
      for (const auto& page : {first_page, data_of(second)})
        for (const auto& t : page) ids.insert(str(t.at("id")));
      CHECK(ids == std::set<std::string>{member.tenant_id, beta_id, short_id, gamma_id});
      CHECK(call(client, "GET", "/api/v1/tenants?limit=0", admin.access).status == 400);
      auto forged = call(client, "GET", "/api/v1/tenants?cursor=bogus", admin.access);
      CHECK(forged.status == 400);
      CHECK(error_fields(forged).count("cursor") == 1);

      // One tenant, by id and by slug.
      auto one = call(client, "GET", "/api/v1/tenants/" + gamma_id, admin.access);
      REQUIRE(one.status == 200);
      CHECK(str(obj(one).at("slug")) == "gamma-sarongs");
      CHECK(one.header("ETag") == "\"1\"");
      auto by_slug = call(client, "GET", "/api/v1/tenants/by-slug/gamma-sarongs", admin.access);
      REQUIRE(by_slug.status == 200);
      CHECK(str(obj(by_slug).at("id")) == gamma_id);
      CHECK(call(client, "GET", "/api/v1/tenants/by-slug/no-such-tenant", admin.access).status == 404);

      // Rename.
      auto renamed = call(client, "PUT", "/api/v1/tenants/" + beta_id, admin.access,
                          js(bj::object{{"name", "Beta Batik Sdn Bhd"}}));
      REQUIRE_MESSAGE(renamed.status == 200, renamed.body);
      CHECK(str(obj(renamed).at("name")) == "Beta Batik Sdn Bhd");
      CHECK(obj(renamed).at("version").to_number<int>() == 2);
      auto bad_rename = call(client, "PUT", "/api/v1/tenants/" + beta_id, admin.access,
                             js(bj::object{{"name", 7}, {"slug", "beta-2"}}));
      CHECK(bad_rename.status == 422);
      CHECK(error_fields(bad_rename) == std::set<std::string>{"name", "slug"});
      CHECK(str(obj(call(client, "GET", "/api/v1/tenants/" + beta_id, admin.access)).at("slug")) == "beta-batik");

      // Status and plan: bad values name the field.
      auto bad_plan = call(client, "PUT", "/api/v1/tenants/" + beta_id + "/plan", admin.access,
                           js(bj::object{{"plan", "platinum"}}));
      CHECK(bad_plan.status == 422);
      CHECK(error_fields(bad_plan) == std::set<std::string>{"plan"});
      auto no_status = call(client, "PUT", "/api/v1/tenants/" + beta_id + "/status", admin.access, "{}");
      CHECK(no_status.status == 422);
      CHECK(error_fields(no_status) == std::set<std::string>{"status"});
      auto plan = call(client, "PUT", "/api/v1/tenants/" + beta_id + "/plan", admin.access,
                       js(bj::object{{"plan", "enterprise"}}));
      REQUIRE(plan.status == 200);
      CHECK(str(obj(plan).at("plan")) == "enterprise");

      // Usage.
      auto stats = call(client, "GET", "/api/v1/tenants/" + gamma_id + "/stats", admin.access);
      REQUIRE_MESSAGE(stats.status == 200, stats.body);
      CHECK(str(obj(stats).at("tenant_id")) == gamma_id);
      CHECK(obj(stats).at("users").to_number<int>() == 1);
      CHECK(obj(stats).at("user_limit").to_number<int>() == 100);
      CHECK(obj(stats).at("audit_entries").to_number<int>() ==
            count_where(db, "iam_audit_log", "tenant_id = " + q(gamma_id)));

      // Slugs.
      auto taken_slug = call(client, "GET", "/api/v1/tenants/check-slug?slug=gamma-sarongs", admin.access);
      REQUIRE(taken_slug.status == 200);
      CHECK_FALSE(obj(taken_slug).at("available").as_bool());
      auto free_slug = call(client, "GET", "/api/v1/tenants/check-slug?slug=delta-linen", admin.access);
      REQUIRE(free_slug.status == 200);
      CHECK(obj(free_slug).at("available").as_bool());
      for (const char* target : {"/api/v1/tenants/check-slug?slug=Not%20A%20Slug", "/api/v1/tenants/check-slug?slug=ab",
                                 "/api/v1/tenants/check-slug"}) {
        CAPTURE(target);
        auto invalid = call(client, "GET", target, admin.access);
        CHECK(invalid.status == 400);
        CHECK(error_fields(invalid) == std::set<std::string>{"slug"});
      }

      // Unknown ids are 404 everywhere, and change nothing.
      std::string unknown = kUnknownId;
      for (const auto& c : std::vector<Call>{
               {"GET", "/api/v1/tenants/" + unknown, ""},
               {"PUT", "/api/v1/tenants/" + unknown, js(bj::object{{"name", "Nobody"}})},
               {"PUT", "/api/v1/tenants/" + unknown + "/status", js(bj::object{{"status", "active"}})},
               {"PUT", "/api/v1/tenants/" + unknown + "/plan", js(bj::object{{"plan", "pro"}})},
               {"GET", "/api/v1/tenants/" + unknown + "/stats", ""},
               {"DELETE", "/api/v1/tenants/" + unknown, ""}}) {
        CAPTURE(c.method);
        CAPTURE(c.target);
        CHECK(call(client, c.method, c.target, admin.access, c.body).status == 404);
      }

      // A tenant member (an owner, even) is not a platform admin: 403 on each, nothing changes.
      auto outbox_before = db.scalar("SELECT COUNT(*) FROM platform_outbox");
      for (const auto& c : std::vector<Call>{
               {"POST", "/api/v1/tenants", js(bj::object{{"name", "Sneaky Tenant"}})},
               {"GET", "/api/v1/tenants", ""},
               {"GET", "/api/v1/tenants/" + beta_id, ""},
               {"PUT", "/api/v1/tenants/" + beta_id, js(bj::object{{"name", "Hijacked"}})},
               {"PUT", "/api/v1/tenants/" + beta_id + "/status", js(bj::object{{"status", "suspended"}})},
               {"PUT", "/api/v1/tenants/" + beta_id + "/plan", js(bj::object{{"plan", "free"}})},
               {"GET", "/api/v1/tenants/" + beta_id + "/stats", ""},
               {"GET", "/api/v1/tenants/check-slug?slug=delta-linen", ""},
               {"GET", "/api/v1/tenants/by-slug/beta-batik", ""},
               {"DELETE", "/api/v1/tenants/" + beta_id, ""}}) {
        CAPTURE(c.method);
        CAPTURE(c.target);
        CHECK(call(client, c.method, c.target, member.access, c.body).status == 403);
        CHECK(call(client, c.method, c.target, "", c.body).status == 401);
      }
      CHECK(db.scalar("SELECT COUNT(*) FROM iam_tenants") == tenants_before);
      CHECK(db.scalar("SELECT COUNT(*) FROM platform_outbox") == outbox_before);
      CHECK(str(obj(call(client, "GET", "/api/v1/tenants/" + beta_id, admin.access)).at("name")) ==
            "Beta Batik Sdn Bhd");

      // Closing: cancelled at once with a removal date 30 days out; its members are locked out;
      // closing again keeps the first date; reopening calls the removal off.
      auto closed = call(client, "DELETE", "/api/v1/tenants/" + gamma_id, admin.access);
      CHECK(closed.status == 204);
      auto gamma = obj(call(client, "GET", "/api/v1/tenants/" + gamma_id, admin.access));
      CHECK(str(gamma.at("status")) == "cancelled");
      std::string due = str(gamma.at("settings").at("deletion_due_at"));
      auto due_ms = crm::platform::parse_rfc3339(due);
      REQUIRE(due_ms);
      auto days = (*due_ms - crm::platform::now_ms()) / (86400 * 1000.0);
      CHECK(days > 29.9);
      CHECK(days <= 30.0);
      CHECK(login_raw(client, gamma_owner.email, kPassword).status == 403);
      CHECK(eventually([&] { return call(client, "GET", "/api/v1/auth/me", gamma_owner.access).status == 401; },
                       std::chrono::seconds(6)));
      CHECK(call(client, "DELETE", "/api/v1/tenants/" + gamma_id, admin.access).status == 204);
      CHECK(str(obj(call(client, "GET", "/api/v1/tenants/" + gamma_id, admin.access))
                    .at("settings")
                    .at("deletion_due_at")) == due);
      auto reopened = call(client, "PUT", "/api/v1/tenants/" + gamma_id + "/status", admin.access,
                           js(bj::object{{"status", "active"}}));
      REQUIRE_MESSAGE(reopened.status == 200, reopened.body);
      CHECK_FALSE(obj(reopened).at("settings").as_object().contains("deletion_due_at"));
      CHECK(login_raw(client, gamma_owner.email, kPassword).status == 200);
    }
  }

  TEST_CASE("the owner closes the tenant by confirming its slug, and then nobody can sign in to it") {
    for (const auto& backend : backends()) {
      CAPTURE(backend);
      TestDatabase db(backend);
      ServerProcess server(db);
      HttpClient client(server.port());
      auto owner = register_tenant(client, "closing-co", "owner@closing.example");
      auto admin = add_member(client, db, owner, "admin@closing.example", "admin");
      auto other = register_tenant(client, "staying-co", "owner@staying.example");

      auto by_admin = call(client, "DELETE", "/api/v1/tenant", admin.access,
                           js(bj::object{{"confirm", "closing-co"}}));
      CHECK(by_admin.status == 403);
      auto wrong = call(client, "DELETE", "/api/v1/tenant", owner.access, js(bj::object{{"confirm", "closing"}}));
      CHECK(wrong.status == 422);
      CHECK(error_fields(wrong) == std::set<std::string>{"confirm"});
      auto missing = call(client, "DELETE", "/api/v1/tenant", owner.access, "{}");
      CHECK(missing.status == 422);
      CHECK(error_fields(missing) == std::set<std::string>{"confirm"});
      auto other_slug = call(client, "DELETE", "/api/v1/tenant", owner.access,
                             js(bj::object{{"confirm", "staying-co"}}));
      CHECK(other_slug.status == 422);
      CHECK(db.column("SELECT status FROM iam_tenants WHERE id = " + q(owner.tenant_id)) ==
            std::vector<std::string>{"trial"});
      CHECK(call(client, "GET", "/api/v1/auth/me", admin.access).status == 200);

      auto closed = call(client, "DELETE", "/api/v1/tenant", owner.access, js(bj::object{{"confirm", "closing-co"}}));
      REQUIRE_MESSAGE(closed.status == 202, closed.body);
      CHECK(str(obj(closed).at("status")) == "cancelled");
      CHECK(obj(closed).at("deletion_grace_days").to_number<int>() == 30);
      CHECK(crm::platform::parse_rfc3339(str(obj(closed).at("deletion_due_at"))).has_value());
      CHECK(db.column("SELECT status FROM iam_tenants WHERE id = " + q(owner.tenant_id)) ==
            std::vector<std::string>{"cancelled"});

      for (const auto* a : {&owner, &admin}) {
        CAPTURE(a->email);
        CHECK(login_raw(client, a->email, kPassword).status == 403);
        CHECK(login_raw(client, a->email, kPassword, "closing-co").status == 403);
        CHECK(eventually([&] { return call(client, "GET", "/api/v1/auth/me", a->access).status == 401; },
                         std::chrono::seconds(6)));
        CHECK(client.post_json("/api/v1/auth/refresh", js(bj::object{{"refresh_token", a->refresh}})).status == 401);
      }
      CHECK(login_raw(client, other.email, kPassword).status == 200);
      CHECK(call(client, "GET", "/api/v1/tenant", other.access).status == 200);
    }
  }

  TEST_CASE(
      "the owner's export is JSON lines of the tenant, its roles, members and audit entries, with no "
      "password or token hash in it") {
    for (const auto& backend : backends()) {
      CAPTURE(backend);
      TestDatabase db(backend);
      ServerProcess server(db);
      HttpClient client(server.port());
      auto owner = register_tenant(client, "export-co", "owner@export.example");
      auto admin = add_member(client, db, owner, "admin@export.example", "admin");
      auto sales = add_member(client, db, owner, "sales@export.example", "sales");
      auto other = register_tenant(client, "foreign-co", "owner@foreign.example");
      REQUIRE(call(client, "PUT", "/api/v1/tenant", owner.access, js(bj::object{{"name", "Export Co Renamed"}})).status ==
              200);
      REQUIRE(client.post_json("/api/v1/auth/forgot-password", js(bj::object{{"email", owner.email}})).status == 202);
      REQUIRE(call(client, "PUT", "/api/v1/tenant", other.access, js(bj::object{{"name", "Foreign Renamed"}})).status ==
              200);

      CHECK(call(client, "GET", "/api/v1/tenant/export", admin.access).status == 403);
      CHECK(call(client, "GET", "/api/v1/tenant/export", sales.access).status == 403);
      CHECK(call(client, "GET", "/api/v1/tenant/export", "").status == 401);

      // Enough history to span several pages of the streamed export.
      db.exec("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1234)"
              " INSERT INTO iam_audit_log (id, tenant_id, occurred_at, action, entity_type, entity_id, changes, outcome)"
              " SELECT 'bulk-' || i, " + q(owner.tenant_id) + ", 1700000000000 + i, 'user.updated', 'user', " +
              q(owner.user_id) + ", '{}', 'success' FROM n");

      auto r = call(client, "GET", "/api/v1/tenant/export", owner.access);
      REQUIRE_MESSAGE(r.status == 200, r.body);
      CHECK(r.header("Transfer-Encoding") == "chunked");
      CHECK(r.header("Content-Type").find("application/x-ndjson") == 0);
      CHECK(r.header("Content-Disposition").find("export-co-export.jsonl") != std::string::npos);

      std::map<std::string, std::vector<bj::object>> by_type;
      std::istringstream lines(r.body);
      std::string line;
      while (std::getline(lines, line)) {
        auto v = bj::parse(line).as_object();
        by_type[str(v.at("type"))].push_back(v.at("data").as_object());
      }
      REQUIRE(by_type["tenant"].size() == 1);
      CHECK(str(by_type["tenant"][0].at("id")) == owner.tenant_id);
      CHECK(str(by_type["tenant"][0].at("name")) == "Export Co Renamed");
      CHECK(by_type["role"].size() == 6);
      std::set<std::string> members;
      for (const auto& m : by_type["member"]) members.insert(str(m.at("email")));
      CHECK(members == std::set<std::string>{"owner@export.example", "admin@export.example", "sales@export.example"});
      auto audit_ids = db.column("SELECT id FROM iam_audit_log WHERE tenant_id = " + q(owner.tenant_id));
      std::set<std::string> exported;
      for (const auto& e : by_type["audit_entry"]) exported.insert(str(e.at("id")));
      CHECK(exported == std::set<std::string>(audit_ids.begin(), audit_ids.end()));
      CHECK(by_type["audit_entry"].size() == audit_ids.size());  // each entry once, across pages
      CHECK(audit_ids.size() > 1234);
      CHECK(std::any_of(by_type["audit_entry"].begin(), by_type["audit_entry"].end(),
                        [](const bj::object& e) { return str(e.at("action")) == "tenant.updated"; }));
      CHECK(by_type.size() == 4);

      // Another tenant's data is not in it.
      CHECK(r.body.find(other.tenant_id) == std::string::npos);
      CHECK(r.body.find("Foreign Renamed") == std::string::npos);
      // Neither is any secret: password hashes, token hashes, tokens.
      CHECK(r.body.find("$argon2") == std::string::npos);
      CHECK(r.body.find("password_hash") == std::string::npos);
      CHECK(r.body.find("token_hash") == std::string::npos);
      std::vector<std::string> secrets;
      for (const char* sql : {"SELECT password_hash FROM iam_users WHERE password_hash IS NOT NULL",
                              "SELECT token_hash FROM iam_refresh_tokens", "SELECT token_hash FROM iam_one_time_tokens"}) {
        auto values = db.column(sql);
        secrets.insert(secrets.end(), values.begin(), values.end());
      }
      for (const char* type : {"user.registered", "user.invited", "user.password_reset_requested"}) {
        for (const auto& p : outbox_payloads(db, type)) {
          for (const char* field : {"verification_token", "invitation_token", "reset_token"})
            if (p.contains(field)) secrets.push_back(str(p.at(field)));
        }
      }
      for (const auto* a : {&owner, &admin, &sales}) {
        secrets.push_back(a->refresh);
        secrets.push_back(a->access);
      }
      CHECK(secrets.size() > 10);
      for (const auto& secret : secrets) {
        REQUIRE(secret.size() >= 20);
        CHECK_MESSAGE(r.body.find(secret) == std::string::npos, "a secret is in the export: " << secret.substr(0, 12));
      }
    }
  }

  TEST_CASE(
      "crm tenants purge removes a closed tenant after its grace period with its IAM rows and "
      "identities, keeps its audit log, and leaves other tenants alone") {
    for (const auto& backend : backends()) {
      CAPTURE(backend);
      TestDatabase db(backend);
      ServerProcess server(db);
      HttpClient client(server.port());
      auto doomed = register_tenant(client, "doomed-co", "owner@doomed.example");
      auto sales = add_member(client, db, doomed, "sales@doomed.example", "sales");
      auto keeper = register_tenant(client, "keeper-co", "owner@keeper.example");
      // Someone in both tenants keeps their identity and their other membership.
      auto shared = add_member(client, db, keeper, "shared@both.example", "viewer");
      invite(client, doomed, "shared@both.example", "manager");
      auto invitation = outbox_token(db, "user.invited", "invitation_token", "shared@both.example");
      REQUIRE(client.post_json("/api/v1/auth/accept-invitation", js(bj::object{{"token", invitation}})).status == 200);
      auto waiting = register_tenant(client, "waiting-co", "owner@waiting.example");
      // A platform admin in the doomed tenant stays an identity.
      auto admin = platform_admin(client, db, "root@doomed.example");
      invite(client, doomed, "root@doomed.example", "viewer");
      // An unused reset token of the doomed owner (a token without a tenant).
      REQUIRE(client.post_json("/api/v1/auth/forgot-password", js(bj::object{{"email", doomed.email}})).status == 202);

      for (const auto* a : {&doomed, &waiting}) {
        auto closed = call(client, "DELETE", "/api/v1/tenant", a->access, js(bj::object{{"confirm", a->tenant_slug}}));
        REQUIRE_MESSAGE(closed.status == 202, closed.body);
      }
      std::string t = q(doomed.tenant_id);
      auto audit_before = count_where(db, "iam_audit_log", "tenant_id = " + t);
      REQUIRE(audit_before > 5);
      auto keeper_roles = count_where(db, "iam_roles", "tenant_id = " + q(keeper.tenant_id));
      auto keeper_members = count_where(db, "iam_memberships", "tenant_id = " + q(keeper.tenant_id));

      // Inside the grace period nothing goes.
      auto [early_code, early_out] = run_command(probe_server_path(), {"tenants", "purge"}, command_env(db));
      CHECK_MESSAGE(early_code == 0, early_out);
      CHECK(early_out.find("removed 0 tenants") != std::string::npos);
      CHECK(count_where(db, "iam_tenants", "id = " + t) == 1);

      set_deletion_due(db, doomed.tenant_id, "2001-01-01T00:00:00.000Z");
      auto [code, out] = run_command(probe_server_path(), {"tenants", "purge"}, command_env(db));
      CHECK_MESSAGE(code == 0, out);
      CHECK_MESSAGE(out.find("removed 1 tenant: doomed-co") != std::string::npos, out);

      CHECK(count_where(db, "iam_tenants", "id = " + t) == 0);
      CHECK(count_where(db, "iam_memberships", "tenant_id = " + t) == 0);
      CHECK(count_where(db, "iam_member_roles", "tenant_id = " + t) == 0);
      CHECK(count_where(db, "iam_roles", "tenant_id = " + t) == 0);
      CHECK(count_where(db, "iam_sessions", "tenant_id = " + t) == 0);
      CHECK(count_where(db, "iam_one_time_tokens", "tenant_id = " + t) == 0);
      CHECK(count_where(db, "iam_refresh_tokens",
                        "session_id NOT IN (SELECT id FROM iam_sessions)") == 0);
      // Identities that belonged to the doomed tenant alone are gone with their tokens.
      for (const auto* a : {&doomed, &sales}) {
        CAPTURE(a->email);
        CHECK(count_where(db, "iam_users", "id = " + q(a->user_id)) == 0);
        CHECK(count_where(db, "iam_one_time_tokens", "user_id = " + q(a->user_id)) == 0);
        CHECK(count_where(db, "iam_sessions", "user_id = " + q(a->user_id)) == 0);
      }
      CHECK(count_where(db, "iam_users", "id = " + q(shared.user_id)) == 1);
      CHECK(count_where(db, "iam_users", "id = " + q(admin.user_id)) == 1);
      CHECK(count_where(db, "iam_users", "last_tenant_id = " + t) == 0);
      // The audit log is kept, with the removal in it.
      CHECK(count_where(db, "iam_audit_log", "tenant_id = " + t) == audit_before + 1);
      CHECK(count_where(db, "iam_audit_log", "tenant_id = " + t + " AND action = 'tenant.deleted'") == 1);
      auto deleted = outbox_payloads(db, "tenant.deleted");
      REQUIRE(deleted.size() == 1);
      CHECK(str(deleted[0].at("slug")) == "doomed-co");
      CHECK(db.column("SELECT tenant_id FROM platform_outbox WHERE type = 'tenant.deleted'") ==
            std::vector<std::string>{doomed.tenant_id});
      // The other tenants are untouched: one in use, one still inside its grace period.
      CHECK(count_where(db, "iam_roles", "tenant_id = " + q(keeper.tenant_id)) == keeper_roles);
      CHECK(count_where(db, "iam_memberships", "tenant_id = " + q(keeper.tenant_id)) == keeper_members);
      CHECK(db.column("SELECT status FROM iam_tenants WHERE id = " + q(waiting.tenant_id)) ==
            std::vector<std::string>{"cancelled"});
      CHECK(count_where(db, "iam_roles", "tenant_id = " + q(waiting.tenant_id)) == 6);
      CHECK(login(client, shared.email, kPassword).tenant_id == keeper.tenant_id);
      CHECK(login_raw(client, doomed.email, kPassword).status == 401);
      CHECK(call(client, "GET", "/api/v1/auth/me", sales.access).status == 401);
      // The slug is free again.
      CHECK(obj(call(client, "GET", "/api/v1/tenants/check-slug?slug=doomed-co", admin.access)).at("available").as_bool());

      auto [again_code, again_out] = run_command(probe_server_path(), {"tenants", "purge"}, command_env(db));
      CHECK(again_code == 0);
      CHECK(again_out.find("removed 0 tenants") != std::string::npos);
      CHECK(count_where(db, "iam_audit_log", "action = 'tenant.deleted'") == 1);
      auto [usage_code, usage_out] = run_command(probe_server_path(), {"tenants", "vanish"}, command_env(db));
      CHECK(usage_code == 2);
      CHECK(usage_out.find("crm tenants purge") != std::string::npos);
    }
  }

  TEST_CASE("the server removes tenants whose grace period is over at its configured interval") {
    for (const auto& backend : backends()) {
      CAPTURE(backend);
      TestDatabase db(backend);
      ServerProcess server(db, {}, {"--set", "modules.iam.tenant_purge_interval_ms=200"});
      HttpClient client(server.port());
      auto owner = register_tenant(client, "periodic-co", "owner@periodic.example");
      REQUIRE(call(client, "DELETE", "/api/v1/tenant", owner.access, js(bj::object{{"confirm", "periodic-co"}})).status ==
              202);
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
      CHECK(count_where(db, "iam_tenants", "id = " + q(owner.tenant_id)) == 1);  // inside its grace period
      set_deletion_due(db, owner.tenant_id, "2001-01-01T00:00:00.000Z");
      CHECK(eventually([&] { return count_where(db, "iam_tenants", "id = " + q(owner.tenant_id)) == 0; },
                       std::chrono::seconds(10)));
      CHECK(count_where(db, "iam_audit_log", "tenant_id = " + q(owner.tenant_id) + " AND action = 'tenant.deleted'") ==
            1);

      auto [code, out] = run_command(probe_server_path(),
                                     {"migrate", "status", "--set", "modules.iam.tenant_purge_interval_ms=5"},
                                     command_env(db));
      CHECK(code == 2);
      CHECK(out.find("modules.iam.tenant_purge_interval_ms") != std::string::npos);
    }
  }
}  // TEST_SUITE
