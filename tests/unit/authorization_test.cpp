#include "crm/platform/authorization.hpp"
#include "crm/platform/error.hpp"

#include <doctest/doctest.h>

using namespace crm::platform;

TEST_SUITE("platform/authorization") {
  TEST_CASE("wildcards grant whole resources or everything") {
    CHECK(grant_allows("*", "customers:delete"));
    CHECK(grant_allows("customers:*", "customers:delete"));
    CHECK(grant_allows("customers:read", "customers:read"));
    CHECK_FALSE(grant_allows("customers:read", "customers:update"));
    CHECK_FALSE(grant_allows("customers:*", "leads:read"));
    CHECK_FALSE(grant_allows("customers", "customers:read"));
    CHECK(grant_allows("*:read", "leads:read"));
  }

  TEST_CASE("an :own grant allows the action only on the user's own records") {
    std::vector<std::string> grants{"customers:read", "customers:update:own"};
    CHECK(permits(grants, "customers:read", "u1"));
    CHECK(permits(grants, "customers:update", "u1", std::string_view("u1")));
    CHECK_FALSE(permits(grants, "customers:update", "u1", std::string_view("u2")));
    CHECK_FALSE(permits(grants, "customers:update", "u1"));  // no owner known: not allowed
    CHECK_FALSE(grant_allows("customers:update:own", "customers:update"));
  }

  TEST_CASE("require_permission is 401 without a principal and 403 without the grant") {
    RequestContext anonymous;
    try {
      require_permission(anonymous, "customers:read");
      FAIL("expected 401");
    } catch (const Error& e) {
      CHECK(e.kind() == ErrorKind::unauthorized);
    }
    RequestContext viewer;
    viewer.principal.authenticated = true;
    viewer.principal.user_id = "u1";
    viewer.principal.permissions = {"*:read"};
    CHECK_NOTHROW(require_permission(viewer, "customers:read"));
    try {
      require_permission(viewer, "customers:create");
      FAIL("expected 403");
    } catch (const Error& e) {
      CHECK(e.kind() == ErrorKind::forbidden);
    }
  }
}
