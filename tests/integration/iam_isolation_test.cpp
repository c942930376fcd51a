// Tenant isolation of every tenant-scoped IAM endpoint with an id, on SQLite and PostgreSQL:
// another tenant's id behaves exactly like an id that does not exist, on every verb, and the
// other tenant's data does not change.
#include <doctest/doctest.h>

#include <boost/json.hpp>

#include "support/harness.hpp"
#include "support/iam_helpers.hpp"

using namespace crm::testing;
using namespace crm::testing::iam;

namespace {

struct Probe {
  std::string method, path_template, body;
};

std::string fill(std::string path, const std::string& user_id, const std::string& role_id) {
  for (auto [key, value] :
       {std::pair<std::string, std::string>{"{user}", user_id}, {"{role}", role_id}}) {
    for (auto pos = path.find(key); pos != std::string::npos; pos = path.find(key))
      path.replace(pos, key.size(), value);
  }
  return path;
}

bj::object without_request_id(bj::object o) {
  o.erase("request_id");
  return o;
}

}  // namespace

TEST_SUITE("integration/iam_isolation") {
  TEST_CASE(
      "another tenant's user and role ids are 404 like unknown ids on every verb and nothing "
      "changes") {
    for (const auto& backend : backends()) {
      CAPTURE(backend);
      TestDatabase db(backend);
      ServerProcess server(db);
      HttpClient client(server.port());
      auto a = register_tenant(client, "isolation-a", "owner@a.example");
      auto b = register_tenant(client, "isolation-b", "owner@b.example");
      auto a_member = add_member(client, db, a, "member@a.example", "sales");
      auto a_role_resp =
          call(client, "POST", "/api/v1/roles", a.access,
               js(bj::object{{"name", "a-custom"}, {"permissions", bj::array{"notes:read"}}}));
      REQUIRE(a_role_resp.status == 201);
      std::string a_role = str(obj(a_role_resp).at("id"));
      std::string a_sales_role = role_id(client, a.access, "sales");
      std::string b_viewer_role = role_id(client, b.access, "viewer");

      auto snapshot = [&] {
        bj::object s;
        s["member"] = obj(call(client, "GET", "/api/v1/users/" + a_member.user_id, a.access));
        s["owner"] = obj(call(client, "GET", "/api/v1/users/" + a.user_id, a.access));
        s["role"] = obj(call(client, "GET", "/api/v1/roles/" + a_role, a.access));
        s["sales_role"] = obj(call(client, "GET", "/api/v1/roles/" + a_sales_role, a.access));
        s["holders"] =
            obj(call(client, "GET", "/api/v1/roles/" + a_sales_role + "/users", a.access));
        s["tenant"] = obj(call(client, "GET", "/api/v1/tenant", a.access));
        s["counts"] = bj::array{db.scalar("SELECT COUNT(*) FROM iam_memberships"),
                                db.scalar("SELECT COUNT(*) FROM iam_roles"),
                                db.scalar("SELECT COUNT(*) FROM iam_member_roles")};
        return s;
      };
      auto before = snapshot();

      const std::string role_body =
          js(bj::object{{"role_ids", bj::array{bj::value(b_viewer_role)}}});
      const std::vector<Probe> probes = {
          {"GET", "/api/v1/users/{user}", ""},
          {"PUT", "/api/v1/users/{user}", js(bj::object{{"name", "Renamed by B"}})},
          {"DELETE", "/api/v1/users/{user}", ""},
          {"POST", "/api/v1/users/{user}/suspend", ""},
          {"POST", "/api/v1/users/{user}/activate", ""},
          {"POST", "/api/v1/users/{user}/roles", role_body},
          {"DELETE", "/api/v1/users/{user}/roles/{role}", ""},
          {"GET", "/api/v1/users/{user}/permissions", ""},
          {"GET", "/api/v1/roles/{role}", ""},
          {"PUT", "/api/v1/roles/{role}",
           js(bj::object{{"name", "renamed-by-b"}, {"permissions", bj::array{"notes:read"}}})},
          {"DELETE", "/api/v1/roles/{role}", ""},
          {"POST", "/api/v1/roles/{role}/permissions",
           js(bj::object{{"permissions", bj::array{"notes:read"}}})},
          {"DELETE", "/api/v1/roles/{role}/permissions",
           js(bj::object{{"permissions", bj::array{"notes:read"}}})},
          {"GET", "/api/v1/roles/{role}/users", ""},
      };
      for (const auto& [user_id, role] :
           std::vector<std::pair<std::string, std::string>>{{a_member.user_id, a_role},
                                                            {a_member.user_id, a_sales_role},
                                                            {a.user_id, a_sales_role}}) {
        for (const auto& p : probes) {
          auto foreign_path = fill(p.path_template, user_id, role);
          CAPTURE(p.method);
          CAPTURE(foreign_path);
          auto foreign = call(client, p.method, foreign_path, b.access, p.body);
          auto unknown = call(client, p.method, fill(p.path_template, kUnknownId, kUnknownId),
                              b.access, p.body);
          CHECK(foreign.status == 404);
          CHECK(unknown.status == 404);
          CHECK(foreign.header("Content-Type") == "application/problem+json");
          CHECK(without_request_id(obj(foreign)) == without_request_id(obj(unknown)));
        }
      }
      // B's own member with A's role id: the role does not exist for B either.
      auto b_self_role = call(client, "POST", "/api/v1/users/" + b.user_id + "/roles", b.access,
                              js(bj::object{{"role_ids", bj::array{bj::value(a_role)}}}));
      auto b_unknown_role = call(client, "POST", "/api/v1/users/" + b.user_id + "/roles", b.access,
                                 js(bj::object{{"role_ids", bj::array{bj::value(kUnknownId)}}}));
      CHECK(b_self_role.status == b_unknown_role.status);
      // B inviting with A's role id is the same as an unknown role.
      auto b_invite = call(
          client, "POST", "/api/v1/users", b.access,
          js(bj::object{{"email", "x@b.example"}, {"role_ids", bj::array{bj::value(a_role)}}}));
      CHECK(b_invite.status == 422);
      CHECK(error_fields(b_invite).count("role_ids") == 1);

      // Lists of B never show A's rows.
      for (const auto& u : data_of(call(client, "GET", "/api/v1/users", b.access))) {
        CHECK(str(u.at("tenant_id")) == b.tenant_id);
        CHECK(str(u.at("id")) != a_member.user_id);
      }
      for (const auto& r : data_of(call(client, "GET", "/api/v1/roles", b.access))) {
        CHECK(str(r.at("tenant_id")) == b.tenant_id);
      }
      for (const auto& e : data_of(call(client, "GET", "/api/v1/audit-logs?limit=200", b.access))) {
        CHECK(str(e.at("tenant_id")) == b.tenant_id);
        CHECK(str(e.at("entity_id")) != a_member.user_id);
      }
      CHECK(call(client, "GET", "/api/v1/audit-logs?entity_id=" + a_member.user_id, b.access)
                .status == 200);
      CHECK(obj(call(client, "GET", "/api/v1/audit-logs?entity_id=" + a_member.user_id, b.access))
                .at("data")
                .as_array()
                .empty());

      // A's data did not change, and A's member still works.
      CHECK(snapshot() == before);
      CHECK(call(client, "GET", "/api/v1/auth/me", a_member.access).status == 200);
      CHECK(login_raw(client, "member@a.example", kPassword).status == 200);
    }
  }

  TEST_CASE("a cursor from one tenant is refused in another") {
    for (const auto& backend : backends()) {
      CAPTURE(backend);
      TestDatabase db(backend);
      ServerProcess server(db);
      HttpClient client(server.port());
      auto a = register_tenant(client, "cursor-a", "owner@cursor-a.example");
      auto b = register_tenant(client, "cursor-b", "owner@cursor-b.example");
      add_member(client, db, a, "m@cursor-a.example", "viewer");
      auto page = obj(call(client, "GET", "/api/v1/users?limit=1", a.access));
      REQUIRE(page.at("page").at("next_cursor").is_string());
      std::string cursor = str(page.at("page").at("next_cursor"));
      CHECK(call(client, "GET", "/api/v1/users?limit=1&cursor=" + cursor, a.access).status == 200);
      auto foreign = call(client, "GET", "/api/v1/users?limit=1&cursor=" + cursor, b.access);
      CHECK(foreign.status == 400);
      CHECK(error_fields(foreign).count("cursor") == 1);
    }
  }

  TEST_CASE("a token of one tenant cannot be pointed at another tenant or another user's session") {
    for (const auto& backend : backends()) {
      CAPTURE(backend);
      TestDatabase db(backend);
      ServerProcess server(db);
      HttpClient client(server.port());
      auto a = register_tenant(client, "session-a", "owner@session-a.example");
      auto b = register_tenant(client, "session-b", "owner@session-b.example");
      auto a_sessions =
          obj(call(client, "GET", "/api/v1/auth/sessions", a.access)).at("data").as_array();
      REQUIRE(a_sessions.size() == 1);
      auto sid = str(a_sessions[0].at("id"));
      CHECK(call(client, "DELETE", "/api/v1/auth/sessions/" + sid, b.access).status == 404);
      CHECK(call(client, "GET", "/api/v1/auth/me", a.access).status == 200);
      CHECK(call(client, "POST", "/api/v1/auth/switch-tenant", b.access,
                 js(bj::object{{"tenant_id", a.tenant_id}}))
                .status == 404);
      CHECK(str(obj(call(client, "GET", "/api/v1/tenant", b.access)).at("id")) == b.tenant_id);
      // A platform-admin route is not reachable from a tenant token, even with the other tenant's
      // id.
      CHECK(call(client, "GET", "/api/v1/tenants/" + a.tenant_id, b.access).status == 403);
    }
  }

}  // TEST_SUITE
