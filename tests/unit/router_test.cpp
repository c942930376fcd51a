#include "crm/platform/router.hpp"

#include <doctest/doctest.h>

#include <set>
#include <stdexcept>
#include <string>

namespace {

using crm::platform::HttpResponse;
using crm::platform::HttpVerb;
using crm::platform::Request;
using crm::platform::Router;
using Status = Router::Match::Status;

HttpResponse ok(Request&) { return HttpResponse{}; }

std::set<std::string> allow_set(const std::string& allow) {
  std::set<std::string> out;
  std::size_t start = 0;
  while (start <= allow.size()) {
    auto comma = allow.find(", ", start);
    out.insert(allow.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
    if (comma == std::string::npos) break;
    start = comma + 2;
  }
  return out;
}

std::string param(const Router::Match& m, const std::string& name) {
  for (const auto& [k, v] : m.params)
    if (k == name) return v;
  return "<absent>";
}

}  // namespace

TEST_SUITE("platform/router") {
  TEST_CASE("a literal segment wins over a parameter") {
    Router r;
    r.get("/customers/{id}", ok);
    r.get("/customers/search", ok);

    auto literal = r.match(HttpVerb::get, "/customers/search");
    REQUIRE(literal.status == Status::found);
    CHECK(literal.route->pattern == "/customers/search");
    CHECK(literal.params.empty());

    auto by_id = r.match(HttpVerb::get, "/customers/0191");
    REQUIRE(by_id.status == Status::found);
    CHECK(by_id.route->pattern == "/customers/{id}");
    CHECK(param(by_id, "id") == "0191");
  }

  TEST_CASE("literal wins regardless of registration order") {
    Router r;
    r.get("/customers/search", ok);
    r.get("/customers/{id}", ok);
    CHECK(r.match(HttpVerb::get, "/customers/search").route->pattern == "/customers/search");
    CHECK(r.match(HttpVerb::get, "/customers/x").route->pattern == "/customers/{id}");
  }

  TEST_CASE("every parameter of a path is extracted by name in path order") {
    Router r;
    r.get("/tenants/{tenant_id}/users/{user_id}/roles", ok);
    auto m = r.match(HttpVerb::get, "/tenants/t-1/users/u-2/roles");
    REQUIRE(m.status == Status::found);
    REQUIRE(m.params.size() == 2);
    CHECK(m.params[0] == std::pair<std::string, std::string>{"tenant_id", "t-1"});
    CHECK(m.params[1] == std::pair<std::string, std::string>{"user_id", "u-2"});
  }

  TEST_CASE("the method picks the route registered for it on the same path") {
    Router r;
    r.get("/leads/{id}", ok);
    r.patch("/leads/{id}", ok);
    r.del("/leads/{id}", ok);
    CHECK(r.match(HttpVerb::get, "/leads/1").route->method == HttpVerb::get);
    CHECK(r.match(HttpVerb::patch, "/leads/1").route->method == HttpVerb::patch);
    CHECK(r.match(HttpVerb::delete_, "/leads/1").route->method == HttpVerb::delete_);
  }

  TEST_CASE("an unknown path is not found, with no route, params or Allow") {
    Router r;
    r.get("/customers/{id}", ok);
    r.get("/customers/{id}/notes", ok);

    for (const char* path : {"/nope", "/customers/1/notes/2", "/customers/1/contacts", "/"}) {
      CAPTURE(path);
      auto m = r.match(HttpVerb::get, path);
      CHECK(m.status == Status::not_found);
      CHECK(m.route == nullptr);
      CHECK(m.params.empty());
      CHECK(m.allow.empty());
    }
  }

  TEST_CASE("a path that exists only as a prefix of a route is not found") {
    Router r;
    r.get("/api/v1/customers", ok);
    CHECK(r.match(HttpVerb::get, "/api/v1").status == Status::not_found);
    CHECK(r.match(HttpVerb::get, "/api").status == Status::not_found);
  }

  TEST_CASE("a known path with another method is 405 listing the allowed methods and HEAD") {
    Router r;
    r.get("/customers", ok);
    r.post("/customers", ok);

    auto m = r.match(HttpVerb::delete_, "/customers");
    CHECK(m.status == Status::method_not_allowed);
    CHECK(m.route == nullptr);
    CHECK(m.params.empty());
    CHECK(allow_set(m.allow) == std::set<std::string>{"GET", "POST", "HEAD"});
  }

  TEST_CASE("405 clears the parameters collected while matching") {
    Router r;
    r.get("/customers/{id}", ok);
    auto m = r.match(HttpVerb::post, "/customers/42");
    CHECK(m.status == Status::method_not_allowed);
    CHECK(m.params.empty());
    CHECK(allow_set(m.allow) == std::set<std::string>{"GET", "HEAD"});
  }

  TEST_CASE("Allow has no HEAD when the path has no GET route") {
    Router r;
    r.post("/auth/login", ok);
    r.put("/auth/login", ok);
    auto m = r.match(HttpVerb::get, "/auth/login");
    CHECK(m.status == Status::method_not_allowed);
    CHECK(allow_set(m.allow) == std::set<std::string>{"POST", "PUT"});
  }

  TEST_CASE("HEAD matches the GET route of a path") {
    Router r;
    r.post("/customers", ok);
    r.get("/customers", ok);
    auto m = r.match(HttpVerb::head, "/customers");
    REQUIRE(m.status == Status::found);
    CHECK(m.route->method == HttpVerb::get);
  }

  TEST_CASE("HEAD on a path without GET is 405") {
    Router r;
    r.post("/auth/login", ok);
    auto m = r.match(HttpVerb::head, "/auth/login");
    CHECK(m.status == Status::method_not_allowed);
    CHECK(allow_set(m.allow) == std::set<std::string>{"POST"});
  }

  TEST_CASE("a trailing slash and repeated slashes reach the same route") {
    Router r;
    r.get("/api/v1/customers/{id}", ok);
    for (const char* path : {"/api/v1/customers/7/", "/api/v1//customers/7", "//api/v1/customers//7//"}) {
      CAPTURE(path);
      auto m = r.match(HttpVerb::get, path);
      REQUIRE(m.status == Status::found);
      CHECK(param(m, "id") == "7");
    }
  }

  TEST_CASE("an empty segment never fills a parameter") {
    Router r;
    r.get("/customers/{id}", ok);
    r.get("/customers/{id}/notes", ok);
    CHECK(r.match(HttpVerb::get, "/customers/").status == Status::not_found);
    // "/customers//notes" must not reach /customers/{id}/notes with an empty id.
    auto m = r.match(HttpVerb::get, "/customers//notes");
    CHECK((m.route == nullptr || m.route->pattern != "/customers/{id}/notes"));
    for (const auto& [name, value] : m.params) CHECK_FALSE(value.empty());
  }

  TEST_CASE("the root route matches only the root") {
    Router r;
    r.get("/", ok);
    r.get("/healthz", ok);
    CHECK(r.match(HttpVerb::get, "/").route->pattern == "/");
    CHECK(r.match(HttpVerb::get, "/healthz").route->pattern == "/healthz");
    CHECK(r.match(HttpVerb::get, "/other").status == Status::not_found);
  }

  TEST_CASE("registering the same method and pattern twice throws") {
    Router r;
    r.get("/customers/{id}", ok);
    CHECK_THROWS_AS(r.get("/customers/{id}", ok), std::invalid_argument);
    // The same path shape with a trailing slash is the same route.
    CHECK_THROWS_AS(r.get("/customers/{id}/", ok), std::invalid_argument);
    // Another method on the same pattern is fine.
    CHECK_NOTHROW(r.put("/customers/{id}", ok));
    CHECK(r.routes().size() == 2);
  }

  TEST_CASE("two parameter names at the same position throw") {
    Router r;
    r.get("/customers/{id}", ok);
    CHECK_THROWS_AS(r.get("/customers/{customer_id}/notes", ok), std::invalid_argument);
  }

  TEST_CASE("a malformed pattern throws") {
    for (const char* pattern : {"", "customers", "/customers/{id", "/customers/id}", "/customers/x{id}",
                                "/customers/{id}x", "/customers/{}", "/customers/{a}b}", "/customers/{a{b}"}) {
      CAPTURE(pattern);
      Router r;
      CHECK_THROWS_AS(r.get(pattern, ok), std::invalid_argument);
      CHECK(r.routes().empty());
    }
  }

  TEST_CASE("matching backtracks from a literal branch that dead-ends to a parameter") {
    Router r;
    r.get("/a/{x}/c", ok);
    r.get("/a/b/d", ok);

    auto via_param = r.match(HttpVerb::get, "/a/b/c");
    REQUIRE(via_param.status == Status::found);
    CHECK(via_param.route->pattern == "/a/{x}/c");
    CHECK(param(via_param, "x") == "b");

    auto literal = r.match(HttpVerb::get, "/a/b/d");
    REQUIRE(literal.status == Status::found);
    CHECK(literal.route->pattern == "/a/b/d");
    CHECK(literal.params.empty());

    CHECK(r.match(HttpVerb::get, "/a/z/d").status == Status::not_found);
  }

  TEST_CASE("backtracking drops the parameters of the abandoned branch") {
    Router r;
    r.get("/p/{x}/lit/end", ok);
    r.get("/p/{x}/{y}/other", ok);
    auto m = r.match(HttpVerb::get, "/p/1/lit/other");
    REQUIRE(m.status == Status::found);
    CHECK(m.route->pattern == "/p/{x}/{y}/other");
    REQUIRE(m.params.size() == 2);
    CHECK(param(m, "x") == "1");
    CHECK(param(m, "y") == "lit");
  }

  TEST_CASE("routes are listed in registration order with their options") {
    Router r;
    crm::platform::RouteOptions inline_opts;
    inline_opts.run_inline = true;
    inline_opts.tag = "ops";
    r.get("/healthz", ok, inline_opts);
    r.post("/api/v1/customers", ok);
    REQUIRE(r.routes().size() == 2);
    CHECK(r.routes()[0].pattern == "/healthz");
    CHECK(r.routes()[0].options.run_inline);
    CHECK(r.routes()[0].options.tag == "ops");
    CHECK(r.routes()[1].pattern == "/api/v1/customers");
    CHECK(r.routes()[1].method == HttpVerb::post);
    CHECK_FALSE(r.routes()[1].options.run_inline);
  }

  TEST_CASE("the matched route's handler is the one registered") {
    Router r;
    int called = 0;
    r.get("/x/{id}", [&](Request&) {
      ++called;
      return HttpResponse{};
    });
    auto m = r.match(HttpVerb::get, "/x/1");
    REQUIRE(m.route != nullptr);
    crm::platform::Request req(crm::platform::HttpRequest{HttpVerb::get, "/x/1", 11});
    m.route->handler(req);
    CHECK(called == 1);
  }
}
