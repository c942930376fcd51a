#include "crm/platform/http.hpp"
#include "crm/platform/router.hpp"

#include <doctest/doctest.h>

#include <boost/beast/http/field.hpp>
#include <boost/json/parse.hpp>

#include <stdexcept>
#include <string>

namespace {

namespace bj = boost::json;
namespace http = boost::beast::http;
using crm::platform::HttpRequest;
using crm::platform::HttpVerb;
using crm::platform::Request;

Request make(HttpVerb verb, const std::string& target, std::string body = {}) {
  HttpRequest raw{verb, target, 11};
  raw.body() = std::move(body);
  raw.prepare_payload();
  return Request(std::move(raw));
}

}  // namespace

TEST_SUITE("platform/http") {
  TEST_CASE("the path excludes the query string") {
    auto req = make(HttpVerb::get, "/api/v1/customers?limit=5&sort=-created_at");
    CHECK(req.path() == "/api/v1/customers");
    CHECK(req.query_string() == "limit=5&sort=-created_at");
    auto bare = make(HttpVerb::get, "/healthz");
    CHECK(bare.path() == "/healthz");
    CHECK(bare.query_string().empty());
  }

  TEST_CASE("query parameters are percent-decoded and kept in order") {
    auto req = make(HttpVerb::get, "/c?q=batik%20sarong&tag=vip&tag=gold&flag&email=a%2Bb%40x.my");
    CHECK(req.query("q") == "batik sarong");
    CHECK(req.query("email") == "a+b@x.my");
    CHECK(req.query("flag") == "");
    CHECK(req.query("tag") == "vip");
    CHECK_FALSE(req.query("missing").has_value());
    const auto& all = req.query_params();
    REQUIRE(all.size() == 5);
    CHECK(all[1] == std::pair<std::string, std::string>{"tag", "vip"});
    CHECK(all[2] == std::pair<std::string, std::string>{"tag", "gold"});
  }

  TEST_CASE("the last query parameter ends where the query string ends") {
    CHECK(make(HttpVerb::get, "/c?limit=5").query("limit") == "5");
    CHECK(make(HttpVerb::get, "/c?a=1&cursor=abc%3D").query("cursor") == "abc=");
    auto flag = make(HttpVerb::get, "/c?a=1&include_total");
    REQUIRE(flag.query_params().size() == 2);
    CHECK(flag.query_params()[1].first == "include_total");
  }

  TEST_CASE("a plus in the query is a space, an encoded plus a plus") {
    auto req = make(HttpVerb::get, "/c?q=batik+sarong&email=a%2Bb%40x.my");
    CHECK(req.query("q") == "batik sarong");
    CHECK(req.query("email") == "a+b@x.my");
  }

  TEST_CASE("a query with a broken percent escape is a 400") {
    auto req = make(HttpVerb::get, "/c?q=%zz");
    try {
      req.query("q");
      FAIL("expected a 400");
    } catch (const crm::platform::Error& e) {
      CHECK(crm::platform::http_status(e.kind()) == 400);
    }
  }

  TEST_CASE("headers are looked up case-insensitively and an absent one is empty") {
    HttpRequest raw{HttpVerb::get, "/", 11};
    raw.set("If-Match", "\"3\"");
    Request req(std::move(raw));
    CHECK(req.header("if-match") == "\"3\"");
    CHECK(req.header("IF-MATCH") == "\"3\"");
    CHECK(req.header("Authorization").empty());
  }

  TEST_CASE("path parameters are read by name and an unknown name is a programming error") {
    auto req = make(HttpVerb::get, "/customers/c-1/notes/n-2");
    req.set_path_params({{"customer_id", "c-1"}, {"note_id", "n-2"}});
    CHECK(req.path_param("customer_id") == "c-1");
    CHECK(req.path_param("note_id") == "n-2");
    CHECK_THROWS_AS(req.path_param("id"), std::logic_error);
  }

  TEST_CASE("the route pattern names the matched route or says unmatched") {
    crm::platform::Router router;
    router.get("/customers/{id}", [](Request&) { return crm::platform::no_content_response(); });
    auto req = make(HttpVerb::get, "/customers/1");
    CHECK(req.route_pattern() == "unmatched");
    req.set_route(router.match(HttpVerb::get, "/customers/1").route);
    CHECK(req.route_pattern() == "/customers/{id}");
  }

  TEST_CASE("json() parses the body and malformed JSON is a 400") {
    CHECK(make(HttpVerb::post, "/x", R"({"a": 1})").json().at("a").as_int64() == 1);
    try {
      make(HttpVerb::post, "/x", "{nope").json();
      FAIL("expected a 400");
    } catch (const crm::platform::Error& e) {
      CHECK(crm::platform::http_status(e.kind()) == 400);
      CHECK(e.code() == "malformed_json");
    }
  }

  TEST_CASE("json_response sets status, content type, length and compact body") {
    auto res = crm::platform::json_response(200, bj::object{{"id", "c-1"}});
    CHECK(res.result_int() == 200);
    CHECK(res[http::field::content_type] == "application/json");
    CHECK(res.body() == R"({"id":"c-1"})");
    CHECK(res[http::field::content_length] == std::to_string(res.body().size()));
  }

  TEST_CASE("created_response is a 201 with Location and the resource") {
    auto res = crm::platform::created_response(bj::object{{"id", "c-1"}}, "/api/v1/customers/c-1");
    CHECK(res.result_int() == 201);
    CHECK(res[http::field::location] == "/api/v1/customers/c-1");
    CHECK(bj::parse(res.body()).at("id").as_string() == "c-1");
  }

  TEST_CASE("no_content_response is an empty 204") {
    auto res = crm::platform::no_content_response();
    CHECK(res.result_int() == 204);
    CHECK(res.body().empty());
  }

  TEST_CASE("text_response carries the given content type") {
    auto res = crm::platform::text_response(200, "ok\n", "text/plain; version=0.0.4");
    CHECK(res[http::field::content_type] == "text/plain; version=0.0.4");
    CHECK(res.body() == "ok\n");
  }
}
