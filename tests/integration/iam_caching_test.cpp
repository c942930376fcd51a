// Authentication keeps short-lived records (live tokens for a second, the signed-in profile
// for five): a change made in this process shows at once, one made by another process on the
// same database within those bounds.
#include <doctest/doctest.h>

#include <chrono>
#include <thread>

#include "support/harness.hpp"
#include "support/iam_helpers.hpp"

using namespace crm::testing;
using namespace crm::testing::iam;

namespace {

std::string me_name(HttpClient& client, const std::string& token) {
  auto r = call(client, "GET", "/api/v1/auth/me", token);
  REQUIRE_MESSAGE(r.status == 200, r.body);
  return str(obj(r).at("user").at("name"));
}

}  // namespace

TEST_SUITE("integration/iam_caching") {
  TEST_CASE("a profile change shows on the next /auth/me of the same process") {
    for (const auto& backend : backends()) {
      CAPTURE(backend);
      TestDatabase db(backend);
      ServerProcess server(db);
      HttpClient client(server.port());
      auto owner = register_tenant(client, "cache-co", "cache@example.com");
      CHECK(me_name(client, owner.access) == "Owner Person");
      auto renamed = call(client, "PUT", "/api/v1/users/" + owner.user_id, owner.access,
                          js(bj::object{{"name", "Puan Renamed"}}));
      REQUIRE_MESSAGE(renamed.status == 200, renamed.body);
      CHECK(me_name(client, owner.access) == "Puan Renamed");

      // A tenant rename shows too (the tenant list is part of the profile).
      auto tenant = call(client, "GET", "/api/v1/tenant", owner.access);
      REQUIRE(tenant.status == 200);
      auto put = call(client, "PUT", "/api/v1/tenant", owner.access,
                      js(bj::object{{"name", "Cache Company Renamed"}}), {{"If-Match", tenant.header("ETag")}});
      REQUIRE_MESSAGE(put.status == 200, put.body);
      auto me = obj(call(client, "GET", "/api/v1/auth/me", owner.access));
      CHECK(str(me.at("tenant").at("name")) == "Cache Company Renamed");
      CHECK(str(me.at("tenants").at(0).at("name")) == "Cache Company Renamed");
    }
  }

  TEST_CASE("a logout in one process is refused by another within about a second") {
    for (const auto& backend : backends()) {
      CAPTURE(backend);
      TestDatabase db(backend);
      ServerProcess first(db);
      ServerProcess second(db);
      HttpClient a(first.port());
      HttpClient b(second.port());
      auto owner = register_tenant(a, "revoke-co", "revoke@example.com");
      // The second process has seen the token live (and may trust that for a second).
      CHECK(call(b, "GET", "/api/v1/auth/me", owner.access).status == 200);
      REQUIRE(call(a, "POST", "/api/v1/auth/logout", owner.access).status == 204);
      CHECK(call(a, "GET", "/api/v1/auth/me", owner.access).status == 401);
      auto t0 = std::chrono::steady_clock::now();
      bool refused = eventually([&] { return call(b, "GET", "/api/v1/auth/me", owner.access).status == 401; },
                                std::chrono::seconds(5));
      auto waited = std::chrono::steady_clock::now() - t0;
      CHECK(refused);
      CHECK(waited < std::chrono::milliseconds(2000));
    }
  }

  TEST_CASE("a rename made by another process shows within five seconds") {
    for (const auto& backend : backends()) {
      CAPTURE(backend);
      TestDatabase db(backend);
      ServerProcess first(db);
      ServerProcess second(db);
      HttpClient a(first.port());
      HttpClient b(second.port());
      auto owner = register_tenant(a, "stale-co", "stale@example.com");
      CHECK(me_name(b, owner.access) == "Owner Person");
      auto renamed = call(a, "PUT", "/api/v1/users/" + owner.user_id, owner.access,
                          js(bj::object{{"name", "Encik Elsewhere"}}));
      REQUIRE_MESSAGE(renamed.status == 200, renamed.body);
      auto t0 = std::chrono::steady_clock::now();
      bool shown = eventually([&] { return me_name(b, owner.access) == "Encik Elsewhere"; }, std::chrono::seconds(10));
      CHECK(shown);
      CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::milliseconds(6000));
    }
  }
}  // TEST_SUITE
