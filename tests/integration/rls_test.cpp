// PostgreSQL row-level security: a query that forgot its tenant filter still sees one tenant.
#include "support/harness.hpp"

#include "crm/platform/db.hpp"
#include "crm/platform/time.hpp"

#include <boost/json.hpp>
#include <doctest/doctest.h>
#include <soci/postgresql/soci-postgresql.h>
#include <soci/soci.h>

using namespace crm::testing;

namespace {

std::string register_tenant(HttpClient& client, const std::string& slug) {
  auto r = client.post_json("/api/v1/auth/register",
                            R"({"tenant_name":"Tenant )" + slug + R"(","tenant_slug":")" + slug +
                                R"(","name":"Owner","email":"owner@)" + slug + R"(.example","password":"a long passphrase for )" +
                                slug + R"("})");
  REQUIRE_MESSAGE(r.status == 201, r.body);
  return std::string(r.json().at("tenant").at("id").as_string());
}

// The URL with another user (and no password: the test server trusts loopback).
std::string as_user(const std::string& url, const std::string& user) {
  auto scheme = url.find("://") + 3;
  auto at = url.find('@', scheme);
  return url.substr(0, scheme) + user + url.substr(at);
}

}  // namespace

TEST_SUITE("integration/rls") {

TEST_CASE("row-level security hides other tenants from a query that forgot the tenant filter") {
  auto all = backends();
  if (std::find(all.begin(), all.end(), "postgres") == all.end()) return;
  TestDatabase db("postgres");
  std::string tenant_a, tenant_b;
  {
    ServerProcess server(db);
    HttpClient client(server.port());
    tenant_a = register_tenant(client, "rls-alpha");
    tenant_b = register_tenant(client, "rls-beta");
  }
  // An application role that is not a superuser (superusers bypass every policy).
  std::string role = "crm_rls_" + crm::platform::random_hex(4);
  db.exec("CREATE ROLE " + role + " LOGIN");
  db.exec("GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO " + role);
  {
    soci::session app(soci::postgresql, crm::platform::parse_database_url(as_user(db.url(), role)).connect_string);
    long long unscoped = 0;
    app << "SELECT COUNT(*) FROM iam_roles", soci::into(unscoped);
    CHECK(unscoped == 12);  // no tenant set: platform-level work sees both tenants

    app << "BEGIN";
    app << "SELECT set_config('app.tenant_id', :t, true)", soci::use(tenant_a);
    long long scoped = 0, foreign = 0;
    app << "SELECT COUNT(*) FROM iam_roles", soci::into(scoped);  // deliberately no tenant filter
    app << "SELECT COUNT(*) FROM iam_roles WHERE tenant_id = :b", soci::use(tenant_b), soci::into(foreign);
    CHECK(scoped == 6);
    CHECK(foreign == 0);
    long long members = 0;
    app << "SELECT COUNT(*) FROM iam_memberships", soci::into(members);
    CHECK(members == 1);
    // Writing another tenant's row from tenant A's transaction is refused.
    std::string id = crm::platform::new_uuid_v7();
    CHECK_THROWS(app << "INSERT INTO iam_roles (tenant_id, id, name, description, system, permissions, version,"
                        " created_at, updated_at) VALUES (:t, :id, 'sneaky', '', 0, '[]', 1, 0, 0)",
                 soci::use(tenant_b), soci::use(id));
    app << "ROLLBACK";
    // Updates that forgot the filter touch only the scoped tenant.
    app << "BEGIN";
    app << "SELECT set_config('app.tenant_id', :t, true)", soci::use(tenant_a);
    app << "UPDATE iam_roles SET description = 'changed'";
    app << "COMMIT";
  }
  CHECK(db.scalar("SELECT COUNT(*) FROM iam_roles WHERE description = 'changed'") == 6);
  CHECK(db.scalar("SELECT COUNT(*) FROM iam_roles WHERE description = 'changed' AND tenant_id = '" + tenant_b + "'") == 0);
  db.exec("DROP OWNED BY " + role);
  db.exec("DROP ROLE " + role);
}

}  // TEST_SUITE
