// IAM administration over a real socket, on SQLite and PostgreSQL: members, roles, the tenant,
// the audit log, platform administration, privilege escalation, plan limits and demo data.
#include <doctest/doctest.h>

#include <boost/json.hpp>

#include "support/harness.hpp"
#include "support/iam_helpers.hpp"

using namespace crm::testing;
using namespace crm::testing::iam;

namespace {

std::vector<std::string> names_of(const bj::value& roles) {
  std::vector<std::string> out;
  for (const auto& r : roles.as_array()) out.push_back(str(r.is_object() ? r.at("name") : r));
  std::sort(out.begin(), out.end());
  return out;
}

bool contains(const bj::array& a, const std::string& s) {
  return std::any_of(a.begin(), a.end(),
                     [&](const bj::value& v) { return v.is_string() && v.get_string() == s; });
}

}  // namespace

TEST_SUITE("integration/iam_users_roles") {
  TEST_CASE(
      "members are listed, read, renamed with If-Match, given and relieved of roles, and removed") {
    for (const auto& backend : backends()) {
      CAPTURE(backend);
      TestDatabase db(backend);
      ServerProcess server(db);
      HttpClient client(server.port());
      auto owner = register_tenant(client, "members-co", "owner@members.example");
      auto sales = add_member(client, db, owner, "sales@members.example", "sales");

      auto list = call(client, "GET", "/api/v1/users?include_total=true", owner.access);
      REQUIRE(list.status == 200);
      auto page = obj(list);
      CHECK(page.at("data").as_array().size() == 2);
      CHECK(page.at("page").at("total").to_number<int>() == 2);
      CHECK(page.at("page").at("next_cursor").is_null());
      auto invited_only = obj(call(client, "GET", "/api/v1/users?status=invited", owner.access));
      CHECK(invited_only.at("data").as_array().empty());
      CHECK(call(client, "GET", "/api/v1/users?status=bogus", owner.access).status == 400);

      auto one = call(client, "GET", "/api/v1/users/" + sales.user_id, owner.access);
      REQUIRE(one.status == 200);
      auto m = obj(one);
      CHECK(str(m.at("id")) == sales.user_id);
      CHECK(str(m.at("tenant_id")) == owner.tenant_id);
      CHECK(str(m.at("status")) == "active");
      CHECK(names_of(m.at("roles")) == std::vector<std::string>{"sales"});
      for (const char* f : {"version", "created_at", "updated_at", "email"}) CHECK(m.contains(f));
      CHECK(one.header("ETag") == "\"" + std::to_string(m.at("version").to_number<int>()) + "\"");
      CHECK(call(client, "GET", std::string("/api/v1/users/") + kUnknownId, owner.access).status ==
            404);

      auto stale = call(client, "PUT", "/api/v1/users/" + sales.user_id, owner.access,
                        js(bj::object{{"name", "Stale Write"}}), {{"If-Match", "\"999\""}});
      CHECK(stale.status == 412);
      auto renamed =
          call(client, "PUT", "/api/v1/users/" + sales.user_id, owner.access,
               js(bj::object{{"name", "Renamed Rep"}}), {{"If-Match", one.header("ETag")}});
      REQUIRE_MESSAGE(renamed.status == 200, renamed.body);
      CHECK(str(obj(renamed).at("name")) == "Renamed Rep");
      // Members may edit their own profile without users:manage.
      auto self = call(client, "PUT", "/api/v1/users/" + sales.user_id, sales.access,
                       js(bj::object{{"name", "Self Named"}}));
      CHECK(self.status == 200);
      CHECK(call(client, "PUT", "/api/v1/users/" + owner.user_id, sales.access,
                 js(bj::object{{"name", "Hijack"}}))
                .status == 403);
      auto blank = call(client, "PUT", "/api/v1/users/" + sales.user_id, owner.access,
                        js(bj::object{{"name", ""}}));
      CHECK(blank.status == 422);
      CHECK(error_fields(blank).count("name") == 1);

      auto marketing = role_id(client, owner.access, "marketing");
      auto add = call(client, "POST", "/api/v1/users/" + sales.user_id + "/roles", owner.access,
                      js(bj::object{{"role_ids", bj::array{bj::value(marketing)}}}));
      REQUIRE_MESSAGE(add.status == 200, add.body);
      CHECK(names_of(obj(add).at("roles")) == std::vector<std::string>{"marketing", "sales"});
      auto bad_role = call(client, "POST", "/api/v1/users/" + sales.user_id + "/roles",
                           owner.access, js(bj::object{{"role_ids", bj::array{kUnknownId}}}));
      CHECK(bad_role.status == 422);
      CHECK(error_fields(bad_role).count("role_ids") == 1);

      auto perms =
          call(client, "GET", "/api/v1/users/" + sales.user_id + "/permissions", owner.access);
      REQUIRE(perms.status == 200);
      auto p = obj(perms);
      CHECK(contains(p.at("permissions").as_array(), "*:read"));
      CHECK(contains(p.at("permissions").as_array(), "segments:*"));
      CHECK(contains(p.at("permissions").as_array(), "customers:update:own"));
      // Anyone may read their own permissions.
      CHECK(call(client, "GET", "/api/v1/users/" + sales.user_id + "/permissions", sales.access)
                .status == 200);

      auto removed_role = call(
          client, "DELETE", "/api/v1/users/" + sales.user_id + "/roles/" + marketing, owner.access);
      CHECK(removed_role.status == 204);
      CHECK(names_of(obj(call(client, "GET", "/api/v1/users/" + sales.user_id, owner.access))
                         .at("roles")) == std::vector<std::string>{"sales"});
      CHECK(call(client, "DELETE", "/api/v1/users/" + sales.user_id + "/roles/" + marketing,
                 owner.access)
                .status == 404);
      // The role change applies to the member's existing token at once.
      auto sales_me = obj(call(client, "GET", "/api/v1/auth/me", sales.access));
      CHECK(sales_me.at("roles").as_array() == bj::array{"sales"});

      CHECK(call(client, "DELETE", "/api/v1/users/" + owner.user_id, owner.access).status ==
            409);  // not yourself
      auto del = call(client, "DELETE", "/api/v1/users/" + sales.user_id, owner.access);
      CHECK(del.status == 204);
      CHECK(call(client, "GET", "/api/v1/users/" + sales.user_id, owner.access).status == 404);
      CHECK(call(client, "GET", "/api/v1/auth/me", sales.access).status == 401);
      CHECK(login_raw(client, "sales@members.example", kPassword).status == 403);
      CHECK(call(client, "DELETE", "/api/v1/users/" + sales.user_id, owner.access).status == 404);
    }
  }

  TEST_CASE("inviting needs users:manage and a viewer or sales member gets 403") {
    for (const auto& backend : backends()) {
      CAPTURE(backend);
      TestDatabase db(backend);
      ServerProcess server(db);
      HttpClient client(server.port());
      auto owner = register_tenant(client, "invite-rights", "owner@rights.example");
      auto viewer = add_member(client, db, owner, "viewer@rights.example", "viewer");
      auto sales = add_member(client, db, owner, "sales@rights.example", "sales");
      auto viewer_role = role_id(client, owner.access, "viewer");
      auto body = js(bj::object{{"email", "someone@rights.example"},
                                {"role_ids", bj::array{bj::value(viewer_role)}}});

      for (const auto* who : {&viewer, &sales}) {
        auto r = call(client, "POST", "/api/v1/users", who->access, body);
        CHECK(r.status == 403);
        CHECK(r.header("Content-Type") == "application/problem+json");
      }
      CHECK(call(client, "GET", "/api/v1/users", viewer.access).status == 200);
      CHECK(
          db.scalar(
              "SELECT COUNT(*) FROM iam_users WHERE email_normalized = 'someone@rights.example'") ==
          0);

      auto invalid =
          call(client, "POST", "/api/v1/users", owner.access, js(bj::object{{"email", "nope"}}));
      CHECK(invalid.status == 422);
      CHECK(error_fields(invalid) == std::set<std::string>{"email", "role_ids"});

      auto created = call(client, "POST", "/api/v1/users", owner.access, body);
      REQUIRE_MESSAGE(created.status == 201, created.body);
      CHECK(created.header("Location") == "/api/v1/users/" + str(obj(created).at("id")));
      CHECK(str(obj(created).at("status")) == "invited");
      auto again = call(client, "POST", "/api/v1/users", owner.access, body);
      CHECK(again.status == 409);
    }
  }

  TEST_CASE("a suspended member cannot sign in and loses their token until activated") {
    for (const auto& backend : backends()) {
      CAPTURE(backend);
      TestDatabase db(backend);
      ServerProcess server(db);
      HttpClient client(server.port());
      auto owner = register_tenant(client, "suspend-co", "owner@suspend.example");
      auto rep = add_member(client, db, owner, "rep@suspend.example", "sales");
      CHECK(call(client, "GET", "/api/v1/auth/me", rep.access).status == 200);

      CHECK(call(client, "POST", "/api/v1/users/" + owner.user_id + "/suspend", owner.access)
                .status == 409);
      CHECK(
          call(client, "POST", "/api/v1/users/" + owner.user_id + "/suspend", rep.access).status ==
          403);
      auto s = call(client, "POST", "/api/v1/users/" + rep.user_id + "/suspend", owner.access);
      REQUIRE_MESSAGE(s.status == 200, s.body);
      CHECK(str(obj(s).at("status")) == "suspended");
      CHECK(eventually(
          [&] { return call(client, "GET", "/api/v1/auth/me", rep.access).status == 401; },
          std::chrono::seconds(6)));
      CHECK(login_raw(client, "rep@suspend.example", kPassword).status == 403);
      CHECK(client.post_json("/api/v1/auth/refresh", js(bj::object{{"refresh_token", rep.refresh}}))
                .status == 401);
      CHECK(
          call(client, "POST", "/api/v1/users/" + rep.user_id + "/suspend", owner.access).status ==
          409);

      auto a = call(client, "POST", "/api/v1/users/" + rep.user_id + "/activate", owner.access);
      REQUIRE(a.status == 200);
      CHECK(str(obj(a).at("status")) == "active");
      CHECK(login_raw(client, "rep@suspend.example", kPassword).status == 200);
      CHECK(
          call(client, "POST", "/api/v1/users/" + rep.user_id + "/activate", owner.access).status ==
          409);
    }
  }

  TEST_CASE(
      "an admin can activate an invited member who then signs in with their existing password") {
    for (const auto& backend : backends()) {
      CAPTURE(backend);
      TestDatabase db(backend);
      ServerProcess server(db);
      HttpClient client(server.port());
      auto home = register_tenant(client, "home-co", "wanderer@example.com");
      auto owner = register_tenant(client, "host-co", "host@example.com");
      auto id = invite(client, owner, "wanderer@example.com", "viewer");
      CHECK(id == home.user_id);
      CHECK(login_raw(client, "wanderer@example.com", kPassword, "host-co").status == 403);
      auto a = call(client, "POST", "/api/v1/users/" + id + "/activate", owner.access);
      REQUIRE_MESSAGE(a.status == 200, a.body);
      auto in = login_raw(client, "wanderer@example.com", kPassword, "host-co");
      REQUIRE(in.status == 200);
      CHECK(str(obj(in).at("tenant").at("id")) == owner.tenant_id);
    }
  }

  TEST_CASE(
      "custom roles are created, read, replaced with If-Match, changed in permissions, listed with "
      "members and deleted") {
    for (const auto& backend : backends()) {
      CAPTURE(backend);
      TestDatabase db(backend);
      ServerProcess server(db);
      HttpClient client(server.port());
      auto owner = register_tenant(client, "roles-co", "owner@roles.example");
      auto member = add_member(client, db, owner, "member@roles.example", "viewer");

      auto roles = obj(call(client, "GET", "/api/v1/roles", owner.access)).at("data").as_array();
      CHECK(roles.size() == 6);
      auto system = call(client, "GET", "/api/v1/roles/system", owner.access);
      REQUIRE(system.status == 200);
      CHECK(names_of(obj(system).at("data")) ==
            std::vector<std::string>{"admin", "manager", "marketing", "owner", "sales", "viewer"});
      CHECK(client.get("/api/v1/roles/system").status == 401);

      auto create =
          call(client, "POST", "/api/v1/roles", owner.access,
               js(bj::object{{"name", "collections"},
                             {"description", "Chases invoices"},
                             {"permissions", bj::array{"invoices:read", "payments:create"}}}));
      REQUIRE_MESSAGE(create.status == 201, create.body);
      auto role = obj(create);
      std::string id = str(role.at("id"));
      CHECK(create.header("Location") == "/api/v1/roles/" + id);
      CHECK(role.at("system").as_bool() == false);
      CHECK(str(role.at("tenant_id")) == owner.tenant_id);
      CHECK(role.at("version").to_number<int>() == 1);

      auto dup = call(
          client, "POST", "/api/v1/roles", owner.access,
          js(bj::object{{"name", "collections"}, {"permissions", bj::array{"invoices:read"}}}));
      CHECK(dup.status == 409);
      auto invalid =
          call(client, "POST", "/api/v1/roles", owner.access,
               js(bj::object{{"name", ""}, {"permissions", bj::array{"NOT A PERMISSION"}}}));
      CHECK(invalid.status == 422);
      CHECK(error_fields(invalid) == std::set<std::string>{"name", "permissions"});

      auto got = call(client, "GET", "/api/v1/roles/" + id, owner.access);
      REQUIRE(got.status == 200);
      CHECK(got.header("ETag") == "\"1\"");
      auto put =
          call(client, "PUT", "/api/v1/roles/" + id, owner.access,
               js(bj::object{{"name", "collections"},
                             {"permissions", bj::array{"invoices:read", "invoices:update"}}}),
               {{"If-Match", "\"1\""}});
      REQUIRE_MESSAGE(put.status == 200, put.body);
      CHECK(obj(put).at("version").to_number<int>() == 2);
      auto stale =
          call(client, "PUT", "/api/v1/roles/" + id, owner.access,
               js(bj::object{{"name", "stale"}, {"permissions", bj::array{"invoices:read"}}}),
               {{"If-Match", "\"1\""}});
      CHECK(stale.status == 412);
      CHECK(str(obj(call(client, "GET", "/api/v1/roles/" + id, owner.access)).at("name")) ==
            "collections");

      auto addp = call(client, "POST", "/api/v1/roles/" + id + "/permissions", owner.access,
                       js(bj::object{{"permissions", bj::array{"notes:read"}}}));
      REQUIRE_MESSAGE(addp.status == 200, addp.body);
      CHECK(contains(obj(addp).at("permissions").as_array(), "notes:read"));
      auto delp = call(client, "DELETE", "/api/v1/roles/" + id + "/permissions", owner.access,
                       js(bj::object{{"permissions", bj::array{"notes:read"}}}));
      REQUIRE_MESSAGE(delp.status == 200, delp.body);
      CHECK_FALSE(contains(obj(delp).at("permissions").as_array(), "notes:read"));
      CHECK(contains(obj(delp).at("permissions").as_array(), "invoices:update"));

      CHECK(obj(call(client, "GET", "/api/v1/roles/" + id + "/users", owner.access))
                .at("data")
                .as_array()
                .empty());
      REQUIRE(call(client, "POST", "/api/v1/users/" + member.user_id + "/roles", owner.access,
                   js(bj::object{{"role_ids", bj::array{bj::value(id)}}}))
                  .status == 200);
      auto holders = obj(call(client, "GET", "/api/v1/roles/" + id + "/users", owner.access))
                         .at("data")
                         .as_array();
      REQUIRE(holders.size() == 1);
      CHECK(str(holders[0].at("id")) == member.user_id);
      // The new grant is effective on the member's existing token.
      CHECK(contains(
          obj(call(client, "GET", "/api/v1/auth/me", member.access)).at("permissions").as_array(),
          "invoices:update"));

      // Viewers read roles but change none.
      CHECK(call(client, "GET", "/api/v1/roles/" + id, member.access).status == 200);
      CHECK(call(client, "DELETE", "/api/v1/roles/" + id, member.access).status == 403);

      auto del = call(client, "DELETE", "/api/v1/roles/" + id, owner.access);
      CHECK(del.status == 204);
      CHECK(call(client, "GET", "/api/v1/roles/" + id, owner.access).status == 404);
      CHECK(call(client, "DELETE", "/api/v1/roles/" + id, owner.access).status == 404);
      CHECK(names_of(obj(call(client, "GET", "/api/v1/users/" + member.user_id, owner.access))
                         .at("roles")) == std::vector<std::string>{"viewer"});
    }
  }

  TEST_CASE("system roles cannot be changed or deleted") {
    for (const auto& backend : backends()) {
      CAPTURE(backend);
      TestDatabase db(backend);
      ServerProcess server(db);
      HttpClient client(server.port());
      auto owner = register_tenant(client, "system-co", "owner@system.example");
      for (const char* name : {"owner", "viewer"}) {
        CAPTURE(name);
        auto id = role_id(client, owner.access, name);
        auto before = obj(call(client, "GET", "/api/v1/roles/" + id, owner.access));
        auto put =
            call(client, "PUT", "/api/v1/roles/" + id, owner.access,
                 js(bj::object{{"name", name}, {"permissions", bj::array{"customers:read"}}}));
        CHECK(put.status == 409);
        CHECK(code_of(put) == "system_role");
        auto del = call(client, "DELETE", "/api/v1/roles/" + id, owner.access);
        CHECK(del.status == 409);
        auto addp = call(client, "POST", "/api/v1/roles/" + id + "/permissions", owner.access,
                         js(bj::object{{"permissions", bj::array{"customers:read"}}}));
        CHECK(addp.status == 409);
        auto delp = call(client, "DELETE", "/api/v1/roles/" + id + "/permissions", owner.access,
                         js(bj::object{{"permissions", bj::array{"*:read"}}}));
        CHECK(delp.status == 409);
        CHECK(obj(call(client, "GET", "/api/v1/roles/" + id, owner.access)) == before);
      }
    }
  }

  TEST_CASE("the tenant is read with an ETag and updated with If-Match and known settings only") {
    for (const auto& backend : backends()) {
      CAPTURE(backend);
      TestDatabase db(backend);
      ServerProcess server(db);
      HttpClient client(server.port());
      auto owner = register_tenant(client, "tenant-co", "owner@tenant.example");
      auto viewer = add_member(client, db, owner, "viewer@tenant.example", "viewer");

      auto got = call(client, "GET", "/api/v1/tenant", owner.access);
      REQUIRE(got.status == 200);
      auto t = obj(got);
      CHECK(str(t.at("id")) == owner.tenant_id);
      CHECK(str(t.at("slug")) == "tenant-co");
      CHECK(t.at("settings").at("require_verified_email").as_bool() == false);
      CHECK(got.header("ETag") == "\"" + std::to_string(t.at("version").to_number<int>()) + "\"");
      CHECK(call(client, "GET", "/api/v1/tenant", viewer.access).status == 200);

      auto stale = call(client, "PUT", "/api/v1/tenant", owner.access,
                        js(bj::object{{"name", "Stale"}}), {{"If-Match", "\"12345\""}});
      CHECK(stale.status == 412);
      auto unknown =
          call(client, "PUT", "/api/v1/tenant", owner.access,
               js(bj::object{{"name", "X"}, {"settings", bj::object{{"colour", "red"}}}}));
      CHECK(unknown.status == 422);
      CHECK(error_fields(unknown).count("settings.colour") == 1);
      auto bad_currency =
          call(client, "PUT", "/api/v1/tenant", owner.access,
               js(bj::object{{"name", "X"}, {"settings", bj::object{{"currency", "ringgit"}}}}));
      CHECK(bad_currency.status == 422);
      CHECK(error_fields(bad_currency).count("settings.currency") == 1);
      auto readonly = call(client, "PUT", "/api/v1/tenant", owner.access,
                           js(bj::object{{"name", "X"}, {"plan", "pro"}}));
      CHECK(readonly.status == 422);
      CHECK(error_fields(readonly).count("plan") == 1);
      auto viewer_put = call(client, "PUT", "/api/v1/tenant", viewer.access,
                             js(bj::object{{"name", "Viewer Was Here"}}));
      CHECK(viewer_put.status == 403);
      CHECK(obj(call(client, "GET", "/api/v1/tenant", owner.access)) ==
            t);  // nothing above changed it

      auto ok = call(client, "PUT", "/api/v1/tenant", owner.access,
                     js(bj::object{{"name", "Tenant Renamed"},
                                   {"settings", bj::object{{"currency", "MYR"},
                                                           {"timezone", "Asia/Kuala_Lumpur"}}}}),
                     {{"If-Match", got.header("ETag")}});
      REQUIRE_MESSAGE(ok.status == 200, ok.body);
      auto u = obj(ok);
      CHECK(str(u.at("name")) == "Tenant Renamed");
      CHECK(str(u.at("settings").at("currency")) == "MYR");
      CHECK(str(u.at("settings").at("locale")) == "en");  // untouched settings stay
      CHECK(u.at("version").to_number<int>() == t.at("version").to_number<int>() + 1);
    }
  }

  TEST_CASE(
      "mutations are in the audit log with actor, action, entity, changes, ip, user agent and "
      "request id") {
    for (const auto& backend : backends()) {
      CAPTURE(backend);
      TestDatabase db(backend);
      ServerProcess server(db);
      HttpClient client(server.port());
      auto owner = register_tenant(client, "audit-co", "owner@audit.example");
      auto sales = add_member(client, db, owner, "sales@audit.example", "sales");

      auto put = call(client, "PUT", "/api/v1/tenant", owner.access,
                      js(bj::object{{"name", "Audited Name"}}),
                      {{"User-Agent", "audit-test-agent/1.0"}, {"X-Request-ID", "audit-req-0001"}});
      REQUIRE(put.status == 200);
      auto role =
          call(client, "POST", "/api/v1/roles", owner.access,
               js(bj::object{{"name", "auditors"}, {"permissions", bj::array{"audit:read"}}}));
      REQUIRE(role.status == 201);

      auto r = call(client, "GET", "/api/v1/audit-logs?action=tenant.updated", owner.access);
      REQUIRE_MESSAGE(r.status == 200, r.body);
      auto data = obj(r).at("data").as_array();
      REQUIRE(data.size() == 1);
      auto e = data[0].as_object();
      CHECK(str(e.at("actor_id")) == owner.user_id);
      CHECK(str(e.at("action")) == "tenant.updated");
      CHECK(str(e.at("entity_type")) == "tenant");
      CHECK(str(e.at("entity_id")) == owner.tenant_id);
      CHECK(str(e.at("outcome")) == "success");
      CHECK(str(e.at("changes").at("name").at("old")) == "Tenant audit-co");
      CHECK(str(e.at("changes").at("name").at("new")) == "Audited Name");
      CHECK(str(e.at("ip")) == "127.0.0.1");
      CHECK(str(e.at("user_agent")) == "audit-test-agent/1.0");
      CHECK(str(e.at("request_id")) == "audit-req-0001");
      CHECK(str(e.at("tenant_id")) == owner.tenant_id);

      // Filters.
      auto roles_only =
          obj(call(client, "GET", "/api/v1/audit-logs?entity_type=role", owner.access))
              .at("data")
              .as_array();
      REQUIRE_FALSE(roles_only.empty());
      for (const auto& x : roles_only) CHECK(str(x.at("entity_type")) == "role");
      CHECK(std::any_of(roles_only.begin(), roles_only.end(),
                        [](const bj::value& x) { return str(x.at("action")) == "role.created"; }));
      auto by_actor =
          obj(call(client, "GET", "/api/v1/audit-logs?actor_id=" + sales.user_id, owner.access))
              .at("data")
              .as_array();
      for (const auto& x : by_actor) CHECK(str(x.at("actor_id")) == sales.user_id);
      auto future = obj(
          call(client, "GET", "/api/v1/audit-logs?from=2999-01-01T00:00:00.000Z", owner.access));
      CHECK(future.at("data").as_array().empty());
      auto past =
          obj(call(client, "GET", "/api/v1/audit-logs?to=2001-01-01T00:00:00.000Z", owner.access));
      CHECK(past.at("data").as_array().empty());
      auto window =
          obj(call(client, "GET",
                   "/api/v1/audit-logs?from=2001-01-01T00:00:00.000Z&to=2999-01-01T00:00:00.000Z",
                   owner.access));
      CHECK(window.at("data").as_array().size() >= 5);
      auto bad_from = call(client, "GET", "/api/v1/audit-logs?from=yesterday", owner.access);
      CHECK(bad_from.status == 400);
      CHECK(error_fields(bad_from).count("from") == 1);

      // Cursor pagination: limit=1 walks the same entries as one big page, newest first.
      auto all = obj(call(client, "GET", "/api/v1/audit-logs?limit=200", owner.access))
                     .at("data")
                     .as_array();
      REQUIRE(all.size() >= 5);
      std::vector<std::string> walked;
      std::string cursor;
      std::string first_cursor;
      for (int i = 0; i < 200; ++i) {
        auto page = call(client, "GET",
                         "/api/v1/audit-logs?limit=1" + (cursor.empty() ? "" : "&cursor=" + cursor),
                         owner.access);
        REQUIRE_MESSAGE(page.status == 200, page.body);
        auto o = obj(page);
        CHECK(o.at("page").at("limit").to_number<int>() == 1);
        REQUIRE(o.at("data").as_array().size() == 1);
        walked.push_back(str(o.at("data").as_array()[0].at("id")));
        if (o.at("page").at("next_cursor").is_null()) break;
        cursor = str(o.at("page").at("next_cursor"));
        if (first_cursor.empty()) first_cursor = cursor;
      }
      std::vector<std::string> expected;
      for (const auto& x : all) expected.push_back(str(x.at("id")));
      CHECK(walked == expected);

      REQUIRE_FALSE(first_cursor.empty());
      std::string tampered = first_cursor;
      tampered[tampered.size() / 2] = tampered[tampered.size() / 2] == 'A' ? 'B' : 'A';
      auto forged =
          call(client, "GET", "/api/v1/audit-logs?limit=1&cursor=" + tampered, owner.access);
      CHECK(forged.status == 400);
      CHECK(error_fields(forged).count("cursor") == 1);
      auto too_many = call(client, "GET", "/api/v1/audit-logs?limit=500", owner.access);
      CHECK(too_many.status == 400);
      CHECK(error_fields(too_many).count("limit") == 1);
      // A cursor of another collection is refused too.
      auto users_page = obj(call(client, "GET", "/api/v1/users?limit=1", owner.access));
      REQUIRE(users_page.at("page").at("next_cursor").is_string());
      auto foreign =
          call(client, "GET",
               "/api/v1/audit-logs?cursor=" + str(users_page.at("page").at("next_cursor")),
               owner.access);
      CHECK(foreign.status == 400);
    }
  }

  TEST_CASE("a denied mutating request changes nothing and is in the audit log as denied") {
    for (const auto& backend : backends()) {
      CAPTURE(backend);
      TestDatabase db(backend);
      ServerProcess server(db);
      HttpClient client(server.port());
      auto owner = register_tenant(client, "denied-co", "owner@denied.example");
      auto viewer = add_member(client, db, owner, "viewer@denied.example", "viewer");
      auto roles_before = db.scalar("SELECT COUNT(*) FROM iam_roles");
      auto outbox_before = db.scalar("SELECT COUNT(*) FROM platform_outbox");

      auto r = call(client, "POST", "/api/v1/roles", viewer.access,
                    js(bj::object{{"name", "sneaky"}, {"permissions", bj::array{"*"}}}),
                    {{"X-Request-ID", "denied-req-0001"}, {"User-Agent", "sneaky-agent/2"}});
      CHECK(r.status == 403);
      CHECK(db.scalar("SELECT COUNT(*) FROM iam_roles") == roles_before);
      CHECK(db.scalar("SELECT COUNT(*) FROM platform_outbox") == outbox_before);

      auto log = call(client, "GET", "/api/v1/audit-logs?action=access.denied", owner.access);
      REQUIRE(log.status == 200);
      auto data = obj(log).at("data").as_array();
      REQUIRE(data.size() == 1);
      auto e = data[0].as_object();
      CHECK(str(e.at("outcome")) == "denied");
      CHECK(str(e.at("actor_id")) == viewer.user_id);
      CHECK(str(e.at("request_id")) == "denied-req-0001");
      CHECK(str(e.at("user_agent")) == "sneaky-agent/2");
      CHECK(e.at("changes").at("status").to_number<int>() == 403);
      CHECK(str(e.at("changes").at("method")) == "POST");
    }
  }

  TEST_CASE("nobody grants what they do not hold and nobody changes their own roles") {
    for (const auto& backend : backends()) {
      CAPTURE(backend);
      TestDatabase db(backend);
      ServerProcess server(db);
      HttpClient client(server.port());
      auto owner = register_tenant(client, "escalate-co", "owner@escalate.example");
      auto manager = add_member(client, db, owner, "manager@escalate.example", "manager");
      auto owner_role = role_id(client, owner.access, "owner");
      auto viewer_role = role_id(client, owner.access, "viewer");

      // A manager has neither roles:manage nor users:manage.
      CHECK(call(client, "POST", "/api/v1/roles", manager.access,
                 js(bj::object{{"name", "god"}, {"permissions", bj::array{"*"}}}))
                .status == 403);
      CHECK(call(client, "POST", "/api/v1/users/" + manager.user_id + "/roles", manager.access,
                 js(bj::object{{"role_ids", bj::array{bj::value(owner_role)}}}))
                .status == 403);

      // A delegated user administrator may manage users and roles, but only within their own
      // grants.
      auto make =
          call(client, "POST", "/api/v1/roles", owner.access,
               js(bj::object{{"name", "user-admin"},
                             {"permissions", bj::array{"users:*", "roles:*", "customers:read"}}}));
      REQUIRE(make.status == 201);
      std::string user_admin_role = str(obj(make).at("id"));
      auto delegate = add_member(client, db, owner, "delegate@escalate.example", "viewer");
      REQUIRE(call(client, "POST", "/api/v1/users/" + delegate.user_id + "/roles", owner.access,
                   js(bj::object{{"role_ids", bj::array{bj::value(user_admin_role)}}}))
                  .status == 200);
      auto roles_before = db.scalar("SELECT COUNT(*) FROM iam_roles");

      auto star = call(client, "POST", "/api/v1/roles", delegate.access,
                       js(bj::object{{"name", "god"}, {"permissions", bj::array{"*"}}}));
      CHECK(star.status == 403);
      CHECK(code_of(star) == "cannot_grant");
      auto wider =
          call(client, "POST", "/api/v1/roles", delegate.access,
               js(bj::object{{"name", "wider"}, {"permissions", bj::array{"customers:delete"}}}));
      CHECK(wider.status == 403);
      CHECK(db.scalar("SELECT COUNT(*) FROM iam_roles") == roles_before);
      auto give_owner =
          call(client, "POST", "/api/v1/users/" + manager.user_id + "/roles", delegate.access,
               js(bj::object{{"role_ids", bj::array{bj::value(owner_role)}}}));
      CHECK(give_owner.status == 403);
      auto invite_owner = call(client, "POST", "/api/v1/users", delegate.access,
                               js(bj::object{{"email", "crony@escalate.example"},
                                             {"role_ids", bj::array{bj::value(owner_role)}}}));
      CHECK(invite_owner.status == 403);
      auto self =
          call(client, "POST", "/api/v1/users/" + delegate.user_id + "/roles", delegate.access,
               js(bj::object{{"role_ids", bj::array{bj::value(viewer_role)}}}));
      CHECK(self.status == 403);
      auto self_remove =
          call(client, "DELETE", "/api/v1/users/" + delegate.user_id + "/roles/" + viewer_role,
               delegate.access);
      CHECK(self_remove.status == 403);
      auto owner_self =
          call(client, "POST", "/api/v1/users/" + owner.user_id + "/roles", owner.access,
               js(bj::object{{"role_ids", bj::array{bj::value(viewer_role)}}}));
      CHECK(owner_self.status == 403);
      CHECK(names_of(obj(call(client, "GET", "/api/v1/users/" + manager.user_id, owner.access))
                         .at("roles")) == std::vector<std::string>{"manager"});
      CHECK(names_of(obj(call(client, "GET", "/api/v1/users/" + delegate.user_id, owner.access))
                         .at("roles")) == std::vector<std::string>{"user-admin", "viewer"});

      // Control: what the delegate holds, the delegate may grant.
      auto ok = call(client, "POST", "/api/v1/roles", delegate.access,
                     js(bj::object{{"name", "readers"},
                                   {"permissions", bj::array{"customers:read", "users:read"}}}));
      CHECK(ok.status == 201);
    }
  }

  TEST_CASE("read-only and unknown fields in a user or role body are 422 and change nothing") {
    for (const auto& backend : backends()) {
      CAPTURE(backend);
      TestDatabase db(backend);
      ServerProcess server(db);
      HttpClient client(server.port());
      auto owner = register_tenant(client, "mass-co", "owner@mass.example");
      auto other = register_tenant(client, "other-co", "owner@other.example");
      auto member = add_member(client, db, owner, "member@mass.example", "viewer");
      auto before = obj(call(client, "GET", "/api/v1/users/" + member.user_id, owner.access));

      for (const auto& [field, value] : std::vector<std::pair<std::string, bj::value>>{
               {"tenant_id", bj::value(other.tenant_id)},
               {"id", bj::value(kUnknownId)},
               {"version", bj::value(42)},
               {"email", bj::value("changed@mass.example")},
               {"status", bj::value("active")}}) {
        CAPTURE(field);
        bj::object body{{"name", "Mass Assigned"}};
        body[field] = value;
        auto r = call(client, "PUT", "/api/v1/users/" + member.user_id, owner.access, js(body));
        CHECK(r.status == 422);
        CHECK(error_fields(r).count(field) == 1);
        auto role = call(client, "POST", "/api/v1/roles", owner.access,
                         js(bj::object{{"name", "mass-" + field},
                                       {"permissions", bj::array{"notes:read"}},
                                       {field, value}}));
        CHECK(role.status == 422);
        CHECK(error_fields(role).count(field) == 1);
      }
      CHECK(obj(call(client, "GET", "/api/v1/users/" + member.user_id, owner.access)) == before);
      CHECK(db.scalar("SELECT COUNT(*) FROM iam_roles WHERE name LIKE 'mass-%'") == 0);
      CHECK(db.scalar("SELECT COUNT(*) FROM iam_roles WHERE tenant_id = '" + other.tenant_id +
                      "'") == 6);
    }
  }

  TEST_CASE("a free tenant with 5 users cannot invite a 6th member") {
    for (const auto& backend : backends()) {
      CAPTURE(backend);
      TestDatabase db(backend);
      ServerProcess server(db);
      HttpClient client(server.port());
      auto owner = register_tenant(client, "small-co", "owner@small.example");
      for (int i = 1; i <= 4; ++i)
        invite(client, owner, "member" + std::to_string(i) + "@small.example", "viewer");
      auto viewer = role_id(client, owner.access, "viewer");
      auto sixth = call(client, "POST", "/api/v1/users", owner.access,
                        js(bj::object{{"email", "member5@small.example"},
                                      {"role_ids", bj::array{bj::value(viewer)}}}));
      CHECK(sixth.status == 409);
      CHECK(code_of(sixth) == "plan_limit_reached");
      CHECK(db.scalar("SELECT COUNT(*) FROM iam_memberships WHERE tenant_id = '" + owner.tenant_id +
                      "'") == 5);
      CHECK(
          db.scalar(
              "SELECT COUNT(*) FROM iam_users WHERE email_normalized = 'member5@small.example'") ==
          0);
    }
  }

  TEST_CASE(
      "a platform admin lists tenants, suspends one so its members are locked out, and changes its "
      "plan") {
    for (const auto& backend : backends()) {
      CAPTURE(backend);
      TestDatabase db(backend);
      ServerProcess server(db);
      HttpClient client(server.port());
      auto a = register_tenant(client, "platform-alpha", "owner@alpha.example");
      auto b = register_tenant(client, "platform-beta", "owner@beta.example");
      auto admin = platform_admin(client, db, "root@platform.example");

      auto me = obj(call(client, "GET", "/api/v1/auth/me", admin.access));
      CHECK(me.at("user").at("platform_admin").as_bool());
      CHECK(me.at("tenant").is_null());

      auto list = call(client, "GET", "/api/v1/tenants", admin.access);
      REQUIRE_MESSAGE(list.status == 200, list.body);
      std::vector<std::string> slugs;
      for (const auto& t : data_of(list)) slugs.push_back(str(t.at("slug")));
      std::sort(slugs.begin(), slugs.end());
      CHECK(slugs == std::vector<std::string>{"platform-alpha", "platform-beta"});
      CHECK(call(client, "GET", "/api/v1/tenants/" + a.tenant_id, admin.access).status == 200);
      CHECK(
          call(client, "GET", std::string("/api/v1/tenants/") + kUnknownId, admin.access).status ==
          404);

      // Tenant members are not platform admins.
      CHECK(call(client, "GET", "/api/v1/tenants", a.access).status == 403);
      CHECK(call(client, "PUT", "/api/v1/tenants/" + b.tenant_id + "/status", a.access,
                 js(bj::object{{"status", "suspended"}}))
                .status == 403);

      auto bad = call(client, "PUT", "/api/v1/tenants/" + a.tenant_id + "/status", admin.access,
                      js(bj::object{{"status", "asleep"}}));
      CHECK(bad.status == 422);
      CHECK(error_fields(bad).count("status") == 1);

      auto suspend = call(client, "PUT", "/api/v1/tenants/" + a.tenant_id + "/status", admin.access,
                          js(bj::object{{"status", "suspended"}}));
      REQUIRE_MESSAGE(suspend.status == 200, suspend.body);
      CHECK(str(obj(suspend).at("status")) == "suspended");
      CHECK(
          eventually([&] { return call(client, "GET", "/api/v1/auth/me", a.access).status == 401; },
                     std::chrono::seconds(6)));
      CHECK(login_raw(client, a.email, kPassword).status == 403);
      CHECK(client.post_json("/api/v1/auth/refresh", js(bj::object{{"refresh_token", a.refresh}}))
                .status == 401);
      CHECK(call(client, "GET", "/api/v1/auth/me", b.access).status ==
            200);  // other tenants unaffected

      auto plan = call(client, "PUT", "/api/v1/tenants/" + b.tenant_id + "/plan", admin.access,
                       js(bj::object{{"plan", "starter"}}));
      REQUIRE_MESSAGE(plan.status == 200, plan.body);
      CHECK(str(obj(plan).at("plan")) == "starter");
      CHECK(str(obj(call(client, "GET", "/api/v1/tenant", b.access)).at("plan")) == "starter");
      CHECK(call(client, "PUT", "/api/v1/tenants/" + b.tenant_id + "/plan", admin.access,
                 js(bj::object{{"plan", "platinum"}}))
                .status == 422);

      auto reactivate = call(client, "PUT", "/api/v1/tenants/" + a.tenant_id + "/status",
                             admin.access, js(bj::object{{"status", "active"}}));
      CHECK(reactivate.status == 200);
      CHECK(login_raw(client, a.email, kPassword).status == 200);
    }
  }

  TEST_CASE("the demo seeds a member for every system role and the viewer reads but cannot write") {
    for (const auto& backend : backends()) {
      CAPTURE(backend);
      TestDatabase db(backend);
      ServerProcess server(db, {}, {"--demo"}, crm_binary_path());
      HttpClient client(server.port());
      Account viewer;
      for (const char* role : {"owner", "admin", "manager", "sales", "marketing", "viewer"}) {
        CAPTURE(role);
        std::string email = std::string(role) + "@demo.test";
        auto r = login_raw(client, email, "demo-password-2026");
        REQUIRE_MESSAGE(r.status == 200, r.body);
        auto a = account_from(r, email, "demo-password-2026");
        CHECK(a.tenant_slug == "kilang-desa-murni-batik");
        auto me = obj(call(client, "GET", "/api/v1/auth/me", a.access));
        CHECK(me.at("roles").as_array() == bj::array{bj::value(role)});
        if (std::string(role) == "viewer") viewer = a;
      }
      auto tenant = obj(call(client, "GET", "/api/v1/tenant", viewer.access));
      CHECK(str(tenant.at("settings").at("currency")) == "MYR");
      CHECK(str(tenant.at("settings").at("timezone")) == "Asia/Kuala_Lumpur");

      auto users = call(client, "GET", "/api/v1/users", viewer.access);
      REQUIRE(users.status == 200);
      CHECK(obj(users).at("data").as_array().size() == 6);
      auto viewer_role = role_id(client, viewer.access, "viewer");
      CHECK(call(client, "POST", "/api/v1/users", viewer.access,
                 js(bj::object{{"email", "x@demo.test"},
                               {"role_ids", bj::array{bj::value(viewer_role)}}}))
                .status == 403);
      CHECK(call(client, "PUT", "/api/v1/tenant", viewer.access,
                 js(bj::object{{"name", "Viewer Batik"}}))
                .status == 403);
      CHECK(str(obj(call(client, "GET", "/api/v1/tenant", viewer.access)).at("name")) ==
            "Kilang Desa Murni Batik");
    }
  }

}  // TEST_SUITE
