#include "platform/middleware.hpp"
#include "platform/pipeline.hpp"
#include "platform/request_identity.hpp"

#include "crm/platform/log.hpp"
#include "crm/platform/router.hpp"
#include "crm/platform/time.hpp"

#include <doctest/doctest.h>

#include <boost/beast/http/field.hpp>
#include <boost/json/parse.hpp>

#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace {

namespace bj = boost::json;
namespace http = boost::beast::http;
using namespace crm::platform;

/// Collects log lines instead of writing them to stdout, for the lifetime of the guard.
class LogCapture final {
 public:
  LogCapture() {
    set_log_sink([this](std::string_view line) {
      std::lock_guard lock(mutex_);
      text_ += line;
      text_ += '\n';
    });
  }
  ~LogCapture() { set_log_sink(nullptr); }
  LogCapture(const LogCapture&) = delete;
  LogCapture& operator=(const LogCapture&) = delete;

  std::string text() const {
    std::lock_guard lock(mutex_);
    return text_;
  }

 private:
  mutable std::mutex mutex_;
  std::string text_;
};

/// A router, a pipeline in the composition root's order, and the server's request set-up.
struct Harness {
  Router router;
  Pipeline pipeline;
  MetricsRegistry metrics;
  int handler_calls = 0;

  explicit Harness(std::vector<std::string> cors = {"https://app.example"}, bool tls = false,
                   bool access_log = false) {
    if (access_log) pipeline.use(std::make_shared<AccessLogMiddleware>(metrics));
    pipeline.use(std::make_shared<ResponseHeadersMiddleware>(tls));
    pipeline.use(std::make_shared<CorsMiddleware>(std::move(cors)));
    pipeline.use(std::make_shared<ErrorMiddleware>());
    pipeline.use(std::make_shared<ContentTypeMiddleware>());
  }

  /// Does what the HTTP server does for one request, then runs the pipeline.
  HttpResponse run(HttpVerb method, const std::string& target,
                   const std::vector<std::pair<std::string, std::string>>& headers = {},
                   const std::string& body = {}) {
    HttpRequest raw{method, target, 11};
    for (const auto& [name, value] : headers) raw.set(name, value);
    raw.body() = body;
    raw.prepare_payload();
    Request req(std::move(raw));
    assign_request_identity(req);
    last_request_id = req.context().request_id;
    auto match = router.match(method, req.path());
    req.set_route(match.route);
    if (match.status == Router::Match::Status::found) {
      req.set_path_params(std::move(match.params));
    } else if (match.status == Router::Match::Status::method_not_allowed) {
      req.set_pending_error(Error(ErrorKind::method_not_allowed, "method_not_allowed", "Not allowed.")
                                .with_header("Allow", match.allow));
    } else {
      req.set_pending_error(Error::not_found("No such endpoint."));
    }
    return pipeline.run(req);
  }

  Handler counting(Handler inner) {
    return [this, inner = std::move(inner)](Request& r) {
      ++handler_calls;
      return inner(r);
    };
  }

  std::string last_request_id;
};

HttpResponse echo_json(Request& r) { return json_response(200, bj::object{{"id", r.path_param("id")}}); }

bj::object body_of(const HttpResponse& res) { return bj::parse(res.body()).as_object(); }

bool has_header(const HttpResponse& res, std::string_view name) {
  return res.find(boost::beast::string_view(name.data(), name.size())) != res.end();
}

}  // namespace

TEST_SUITE("platform/middleware") {
  TEST_CASE("a matched route's handler answers with its path parameters") {
    LogCapture logs;
    Harness h;
    h.router.get("/api/v1/things/{id}", h.counting(echo_json));
    auto res = h.run(HttpVerb::get, "/api/v1/things/abc?x=1");
    CHECK(res.result_int() == 200);
    CHECK(h.handler_calls == 1);
    CHECK(body_of(res).at("id").as_string() == "abc");
  }

  TEST_CASE("an unexpected exception is a 500 that reveals nothing, and its cause is logged") {
    LogCapture logs;
    Harness h;
    h.router.get("/api/v1/boom", [](Request&) -> HttpResponse {
      throw std::runtime_error("SELECT secret FROM x WHERE path='/etc/crm/key.pem'");
    });
    auto res = h.run(HttpVerb::get, "/api/v1/boom");
    CHECK(res.result_int() == 500);
    CHECK(res[http::field::content_type] == "application/problem+json");
    CHECK(res.body().find("SELECT") == std::string::npos);
    CHECK(res.body().find("secret") == std::string::npos);
    CHECK(res.body().find("/etc/crm") == std::string::npos);
    auto body = body_of(res);
    CHECK(body.at("code").as_string() == "internal_error");
    CHECK(body.at("request_id").as_string() == h.last_request_id);
    CHECK(logs.text().find("SELECT secret FROM x") != std::string::npos);
  }

  TEST_CASE("a typed error from a handler becomes its problem document") {
    LogCapture logs;
    Harness h;
    h.router.post("/api/v1/leads/{id}/convert", [](Request&) -> HttpResponse {
      throw Error::conflict("lead_converted", "The lead is already converted.");
    });
    auto res = h.run(HttpVerb::post, "/api/v1/leads/1/convert");
    CHECK(res.result_int() == 409);
    auto body = body_of(res);
    CHECK(body.at("code").as_string() == "lead_converted");
    CHECK(body.at("detail").as_string() == "The lead is already converted.");
  }

  TEST_CASE("malformed JSON read by a handler is a 400 malformed_json") {
    LogCapture logs;
    Harness h;
    h.router.post("/api/v1/things", [](Request& r) { return json_response(200, r.json()); });
    auto res = h.run(HttpVerb::post, "/api/v1/things", {{"Content-Type", "application/json"}}, "{\"a\":");
    CHECK(res.result_int() == 400);
    CHECK(body_of(res).at("code").as_string() == "malformed_json");
  }

  TEST_CASE("an unknown path is a 404 problem and a wrong method a 405 with Allow") {
    LogCapture logs;
    Harness h;
    h.router.get("/api/v1/things", h.counting([](Request&) { return no_content_response(); }));

    auto missing = h.run(HttpVerb::get, "/api/v1/nothing");
    CHECK(missing.result_int() == 404);
    CHECK(missing[http::field::content_type] == "application/problem+json");

    auto wrong = h.run(HttpVerb::delete_, "/api/v1/things");
    CHECK(wrong.result_int() == 405);
    CHECK(wrong["Allow"] == "GET, HEAD");
    CHECK(h.handler_calls == 0);
  }

  TEST_CASE("a JSON route refuses a text/plain body with 415 before the handler runs") {
    LogCapture logs;
    Harness h;
    h.router.post("/api/v1/things", h.counting([](Request&) { return no_content_response(); }));
    auto res = h.run(HttpVerb::post, "/api/v1/things", {{"Content-Type", "text/plain"}}, "{\"a\":1}");
    CHECK(res.result_int() == 415);
    CHECK(h.handler_calls == 0);
    auto body = body_of(res);
    CHECK(body.at("code").as_string() == "unsupported_media_type");
    REQUIRE(body.at("errors").as_array().size() == 1);
    CHECK(body.at("errors").as_array()[0].at("field").as_string() == "Content-Type");

    auto missing = h.run(HttpVerb::post, "/api/v1/things", {}, "{\"a\":1}");
    CHECK(missing.result_int() == 415);
    CHECK(h.handler_calls == 0);
  }

  TEST_CASE("a JSON content type with parameters or other case is accepted") {
    LogCapture logs;
    Harness h;
    h.router.post("/api/v1/things", h.counting([](Request&) { return no_content_response(); }));
    CHECK(h.run(HttpVerb::post, "/api/v1/things", {{"Content-Type", "application/json; charset=utf-8"}}, "{}")
              .result_int() == 204);
    CHECK(h.run(HttpVerb::post, "/api/v1/things", {{"Content-Type", "Application/JSON"}}, "{}").result_int() ==
          204);
    CHECK(h.handler_calls == 2);
  }

  TEST_CASE("a request without a body needs no content type") {
    LogCapture logs;
    Harness h;
    h.router.post("/api/v1/things/{id}/archive", h.counting([](Request&) { return no_content_response(); }));
    CHECK(h.run(HttpVerb::post, "/api/v1/things/1/archive").result_int() == 204);
    CHECK(h.handler_calls == 1);
  }

  TEST_CASE("a route's own content types replace JSON") {
    LogCapture logs;
    Harness h;
    RouteOptions csv;
    csv.content_types = {"text/csv"};
    h.router.post("/api/v1/imports", h.counting([](Request&) { return no_content_response(); }), csv);
    CHECK(h.run(HttpVerb::post, "/api/v1/imports", {{"Content-Type", "text/csv"}}, "a,b\n").result_int() == 204);
    CHECK(h.run(HttpVerb::post, "/api/v1/imports", {{"Content-Type", "application/json"}}, "{}").result_int() ==
          415);
    CHECK(h.handler_calls == 1);
  }

  TEST_CASE("a CORS preflight from an allowed origin is a 204 with the CORS headers") {
    LogCapture logs;
    Harness h;
    h.router.post("/api/v1/things", h.counting([](Request&) { return no_content_response(); }));
    auto res = h.run(HttpVerb::options, "/api/v1/things",
                     {{"Origin", "https://app.example"}, {"Access-Control-Request-Method", "POST"}});
    CHECK(res.result_int() == 204);
    CHECK(h.handler_calls == 0);
    CHECK(res["Access-Control-Allow-Origin"] == "https://app.example");
    CHECK(res["Access-Control-Allow-Methods"].find("POST") != std::string_view::npos);
    CHECK(res["Access-Control-Allow-Headers"].find("Authorization") != std::string_view::npos);
    CHECK(res["Access-Control-Allow-Headers"].find("Idempotency-Key") != std::string_view::npos);
    CHECK(res["Vary"] == "Origin");
    // The outer middleware still applies.
    CHECK(res["X-Request-ID"] == h.last_request_id);
  }

  TEST_CASE("a CORS preflight from an origin not on the list gets no CORS headers") {
    LogCapture logs;
    Harness h;
    h.router.post("/api/v1/things", h.counting([](Request&) { return no_content_response(); }));
    auto res = h.run(HttpVerb::options, "/api/v1/things",
                     {{"Origin", "https://evil.example"}, {"Access-Control-Request-Method", "POST"}});
    CHECK(res.result_int() != 204);
    CHECK_FALSE(has_header(res, "Access-Control-Allow-Origin"));
    CHECK_FALSE(has_header(res, "Access-Control-Allow-Methods"));
    CHECK(h.handler_calls == 0);
  }

  TEST_CASE("an origin is matched exactly, not by prefix") {
    LogCapture logs;
    Harness h;
    h.router.get("/api/v1/things", [](Request&) { return no_content_response(); });
    auto res = h.run(HttpVerb::get, "/api/v1/things", {{"Origin", "https://app.example.evil.test"}});
    CHECK_FALSE(has_header(res, "Access-Control-Allow-Origin"));
  }

  TEST_CASE("a simple request from an allowed origin gets Allow-Origin and exposed headers, errors too") {
    LogCapture logs;
    Harness h;
    h.router.get("/api/v1/things", [](Request&) { return no_content_response(); });
    auto res = h.run(HttpVerb::get, "/api/v1/things", {{"Origin", "https://app.example"}});
    CHECK(res.result_int() == 204);
    CHECK(res["Access-Control-Allow-Origin"] == "https://app.example");
    CHECK(res["Access-Control-Expose-Headers"].find("X-Request-ID") != std::string_view::npos);
    CHECK(res["Access-Control-Expose-Headers"].find("ETag") != std::string_view::npos);
    CHECK(res["Vary"] == "Origin");

    auto missing = h.run(HttpVerb::get, "/api/v1/none", {{"Origin", "https://app.example"}});
    CHECK(missing.result_int() == 404);
    CHECK(missing["Access-Control-Allow-Origin"] == "https://app.example");
  }

  TEST_CASE("a request without Origin gets no CORS headers") {
    LogCapture logs;
    Harness h;
    h.router.get("/api/v1/things", [](Request&) { return no_content_response(); });
    auto res = h.run(HttpVerb::get, "/api/v1/things");
    CHECK_FALSE(has_header(res, "Access-Control-Allow-Origin"));
  }

  TEST_CASE("a star on the allow-list allows any origin") {
    LogCapture logs;
    Harness h({"*"});
    h.router.get("/api/v1/things", [](Request&) { return no_content_response(); });
    auto res = h.run(HttpVerb::get, "/api/v1/things", {{"Origin", "https://any.example"}});
    CHECK(res["Access-Control-Allow-Origin"] == "https://any.example");
  }

  TEST_CASE("an empty allow-list allows no origin") {
    LogCapture logs;
    Harness h(std::vector<std::string>{});
    h.router.get("/api/v1/things", [](Request&) { return no_content_response(); });
    auto res = h.run(HttpVerb::options, "/api/v1/things",
                     {{"Origin", "https://app.example"}, {"Access-Control-Request-Method", "GET"}});
    CHECK_FALSE(has_header(res, "Access-Control-Allow-Origin"));
  }

  TEST_CASE("every response carries X-Request-ID, traceparent and the security headers") {
    LogCapture logs;
    Harness h;
    h.router.get("/api/v1/things", [](Request&) { return json_response(200, bj::object{}); });
    h.router.get("/api/v1/boom", [](Request&) -> HttpResponse { throw std::runtime_error("x"); });
    for (const char* path : {"/api/v1/things", "/api/v1/boom", "/api/v1/missing"}) {
      CAPTURE(path);
      auto res = h.run(HttpVerb::get, path, {{"X-Request-ID", "client-req-42"}});
      CHECK(res["X-Request-ID"] == "client-req-42");
      CHECK(res["X-Content-Type-Options"] == "nosniff");
      CHECK(res["X-Frame-Options"] == "DENY");
      CHECK(res["Referrer-Policy"] == "no-referrer");
      CHECK(res["Content-Security-Policy"].find("default-src 'none'") != std::string_view::npos);
      CHECK(res["Cache-Control"] == "no-store");
      CHECK_FALSE(has_header(res, "Strict-Transport-Security"));
      std::string traceparent(res["traceparent"]);
      REQUIRE(traceparent.size() == 55);
      CHECK(!crm::platform::trace_id_from_traceparent(traceparent).empty());
    }
  }

  TEST_CASE("a malformed X-Request-ID is replaced in the response, the same id as in the problem") {
    LogCapture logs;
    Harness h;
    auto res = h.run(HttpVerb::get, "/api/v1/missing", {{"X-Request-ID", "bad id with spaces"}});
    std::string id(res["X-Request-ID"]);
    CHECK(id != "bad id with spaces");
    CHECK(crm::platform::is_uuid(id));
    CHECK(body_of(res).at("request_id").as_string() == id);
  }

  TEST_CASE("the response traceparent continues the incoming trace") {
    LogCapture logs;
    Harness h;
    h.router.get("/api/v1/things", [](Request&) { return no_content_response(); });
    auto res = h.run(HttpVerb::get, "/api/v1/things",
                     {{"traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}});
    CHECK(crm::platform::trace_id_from_traceparent(std::string(res["traceparent"])) ==
          "4bf92f3577b34da6a3ce929d0e0e4736");
  }

  TEST_CASE("Strict-Transport-Security is sent only when serving TLS") {
    LogCapture logs;
    Harness h(std::vector<std::string>{}, true);
    h.router.get("/api/v1/things", [](Request&) { return no_content_response(); });
    auto res = h.run(HttpVerb::get, "/api/v1/things");
    CHECK(res["Strict-Transport-Security"].find("max-age=") != std::string_view::npos);
  }

  TEST_CASE("a handler's own Cache-Control is kept") {
    LogCapture logs;
    Harness h;
    h.router.get("/api/v1/openapi.json", [](Request&) {
      auto res = json_response(200, bj::object{});
      res.set(http::field::cache_control, "public, max-age=60");
      return res;
    });
    CHECK(h.run(HttpVerb::get, "/api/v1/openapi.json")["Cache-Control"] == "public, max-age=60");
  }

  TEST_CASE("a pending timeout is a 503 request_timeout without running the handler") {
    LogCapture logs;
    Harness h;
    h.router.get("/api/v1/slow", h.counting([](Request&) { return no_content_response(); }));
    HttpRequest raw{HttpVerb::get, "/api/v1/slow", 11};
    Request req(std::move(raw));
    assign_request_identity(req);
    req.set_route(h.router.match(HttpVerb::get, "/api/v1/slow").route);
    req.set_pending_error(Error(ErrorKind::timeout, "request_timeout", "The request took too long."));
    auto res = h.pipeline.run(req);
    CHECK(res.result_int() == 503);
    CHECK(body_of(res).at("code").as_string() == "request_timeout");
    CHECK(h.handler_calls == 0);
  }

  TEST_CASE("the access log counts requests by method, route pattern and status") {
    LogCapture logs;
    Harness h(std::vector<std::string>{}, false, true);
    h.router.get("/api/v1/access-log-probe/{id}", [](Request&) { return no_content_response(); });
    h.run(HttpVerb::get, "/api/v1/access-log-probe/1");
    h.run(HttpVerb::get, "/api/v1/access-log-probe/2");
    auto text = h.metrics.render();
    CAPTURE(text);
    CHECK(text.find("crm_http_requests_total{method=\"GET\",route=\"/api/v1/access-log-probe/{id}\","
                    "status=\"204\"} 2") != std::string::npos);
    CHECK(text.find("crm_http_request_duration_seconds_count{method=\"GET\","
                    "route=\"/api/v1/access-log-probe/{id}\"} 2") != std::string::npos);
    // One JSON line per request, with the route pattern rather than the raw path.
    auto log = logs.text();
    CHECK(log.find("\"route\":\"/api/v1/access-log-probe/{id}\"") != std::string::npos);
    CHECK(log.find("\"path\":\"/api/v1/access-log-probe/2\"") != std::string::npos);
  }

  TEST_CASE("two access logs with their own registries each count their own requests") {
    LogCapture logs;
    for (int round = 0; round < 2; ++round) {
      CAPTURE(round);
      Harness h(std::vector<std::string>{}, false, true);
      h.router.get("/api/v1/access-log-two-registries", [](Request&) { return no_content_response(); });
      h.run(HttpVerb::get, "/api/v1/access-log-two-registries");
      CHECK(h.metrics.render().find("crm_http_requests_total{method=\"GET\",route=\"/api/v1/access-log-two-registries\","
                                    "status=\"204\"} 1") != std::string::npos);
    }
  }

  TEST_CASE("the access log labels unmatched requests as unmatched, not by path") {
    LogCapture logs;
    Harness h(std::vector<std::string>{}, false, true);
    h.run(HttpVerb::get, "/api/v1/access-log-unmatched/8f0e");
    auto text = h.metrics.render();
    CAPTURE(text);
    CHECK(text.find("route=\"unmatched\",status=\"404\"} 1") != std::string::npos);
    CHECK(text.find("8f0e") == std::string::npos);
  }
}
