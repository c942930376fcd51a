// The HTTP edge through a real socket: problem+json errors, limits, headers.
#include "support/harness.hpp"

#include <boost/json.hpp>
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

using namespace crm::testing;

namespace {

void check_problem(const HttpResult& r, int status, const std::string& code) {
  CHECK(r.status == status);
  CHECK(r.header("Content-Type") == "application/problem+json");
  auto doc = r.json().as_object();
  CHECK(doc.at("status").as_int64() == status);
  CHECK(doc.at("code").as_string() == code);
  CHECK(doc.contains("type"));
  CHECK(doc.contains("title"));
  CHECK(doc.contains("detail"));
  CHECK(doc.at("errors").is_array());
  CHECK(doc.at("request_id").as_string() == r.header("X-Request-ID"));
  CHECK_FALSE(r.header("X-Request-ID").empty());
}

}  // namespace

TEST_SUITE("integration/http") {

TEST_CASE("bad requests get problem+json: 400, 413, 415, 404, 405") {
  for (const auto& backend : backends()) {
    CAPTURE(backend);
    TestDatabase db(backend);
    ServerProcess server(db);
    HttpClient client(server.port());

    auto malformed = client.post_json("/api/v1/probe/items", "{\"name\": ");
    check_problem(malformed, 400, "malformed_json");

    std::string huge(2 * 1024 * 1024, 'x');
    auto too_large = client.post_json("/api/v1/probe/items", "{\"name\":\"" + huge + "\"}");
    check_problem(too_large, 413, "payload_too_large");

    auto wrong_type = client.request("POST", "/api/v1/probe/items", "name=x",
                                     {{"Content-Type", "application/x-www-form-urlencoded"}});
    check_problem(wrong_type, 415, "unsupported_media_type");

    auto unknown = client.get("/api/v1/no-such-thing");
    check_problem(unknown, 404, "not_found");

    auto wrong_method = client.request("DELETE", "/api/v1/probe/items");
    check_problem(wrong_method, 405, "method_not_allowed");
    CHECK(wrong_method.header("Allow") == "POST");

    auto invalid = client.post_json("/api/v1/probe/items", R"({"name":"", "colour":"red"})");
    check_problem(invalid, 422, "validation_failed");
    auto fields = invalid.json().at("errors").as_array();
    CHECK(fields.size() == 2);

    // Nothing of the failed requests was written.
    CHECK(db.scalar("SELECT COUNT(*) FROM probe_items") == 0);
  }
}

TEST_CASE("a failing handler is a 500 that reveals nothing") {
  TestDatabase db("sqlite");
  ServerProcess server(db);
  HttpClient client(server.port());
  auto r = client.post_json("/api/v1/probe/items", R"({"name":"boom","fail_after_write":true})");
  check_problem(r, 500, "internal_error");
  CHECK(r.body.find("forced failure") == std::string::npos);
  CHECK(r.body.find("INSERT") == std::string::npos);
  CHECK(server.output().find("forced failure") != std::string::npos);  // the cause is in the log
}

TEST_CASE("every response carries request id, trace context and security headers") {
  TestDatabase db("sqlite");
  ServerProcess server(db);
  HttpClient client(server.port());
  auto r = client.get("/healthz", {{"X-Request-ID", "client-req-42"},
                                   {"traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}});
  CHECK(r.status == 200);
  CHECK(r.header("X-Request-ID") == "client-req-42");
  CHECK(r.header("traceparent").rfind("00-4bf92f3577b34da6a3ce929d0e0e4736-", 0) == 0);
  CHECK(r.header("X-Content-Type-Options") == "nosniff");
  CHECK(r.header("X-Frame-Options") == "DENY");
  CHECK(r.header("Referrer-Policy") == "no-referrer");
  CHECK(r.header("Content-Security-Policy").find("default-src 'none'") != std::string::npos);

  auto bad_id = client.get("/healthz", {{"X-Request-ID", "has spaces and \"quotes\""}});
  CHECK(bad_id.header("X-Request-ID") != "has spaces and \"quotes\"");
  CHECK(bad_id.header("X-Request-ID").size() == 36);

  // The access log line has the request and trace ids.
  CHECK(eventually([&] {
    auto out = server.output();
    return out.find("\"request_id\":\"client-req-42\"") != std::string::npos &&
           out.find("\"trace_id\":\"4bf92f3577b34da6a3ce929d0e0e4736\"") != std::string::npos;
  }));
}

TEST_CASE("CORS answers preflight only for allowed origins") {
  TestDatabase db("sqlite");
  ServerProcess server(db, {{"CRM_CORS_ALLOWED_ORIGINS", "https://app.example.com"}});
  HttpClient client(server.port());
  auto ok = client.request("OPTIONS", "/api/v1/probe/items", {},
                           {{"Origin", "https://app.example.com"}, {"Access-Control-Request-Method", "POST"}});
  CHECK(ok.status == 204);
  CHECK(ok.header("Access-Control-Allow-Origin") == "https://app.example.com");
  auto denied = client.request("OPTIONS", "/api/v1/probe/items", {},
                               {{"Origin", "https://evil.example"}, {"Access-Control-Request-Method", "POST"}});
  CHECK(denied.header("Access-Control-Allow-Origin").empty());
  CHECK(denied.status == 405);
}

TEST_CASE("keep-alive serves many requests on one connection, and HEAD has no body") {
  TestDatabase db("sqlite");
  ServerProcess server(db);
  HttpClient client(server.port());
  for (int i = 0; i < 50; ++i) REQUIRE(client.get("/healthz").status == 200);
  auto head = client.request("HEAD", "/healthz");
  CHECK(head.status == 200);
  CHECK(head.body.empty());
}

TEST_CASE("a request that outlives the request timeout is a 503") {
  TestDatabase db("sqlite");
  ServerProcess server(db, {{"CRM_HTTP_REQUEST_TIMEOUT_MS", "300"}});
  HttpClient client(server.port());
  auto r = client.get("/api/v1/probe/slow?ms=1500");
  check_problem(r, 503, "request_timeout");
}

TEST_CASE("a full worker queue answers 503 with Retry-After while inline routes keep answering") {
  TestDatabase db("sqlite");
  ServerProcess server(db, {{"CRM_HTTP_WORKER_THREADS", "1"}, {"CRM_HTTP_MAX_QUEUE", "1"}});
  HttpResult slow;
  std::thread t([&] {
    try {
      HttpClient client(server.port());
      slow = client.get("/api/v1/probe/slow?ms=1000");
    } catch (const std::exception& e) {
      slow.body = e.what();
    }
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  HttpClient client(server.port());
  auto busy = client.get("/api/v1/probe/items/01234567-89ab-7def-8123-456789abcdef");
  check_problem(busy, 503, "server_busy");
  CHECK(busy.header("Retry-After") == "1");
  CHECK(client.get("/healthz").status == 200);
  t.join();
  CHECK_MESSAGE(slow.status == 200, slow.body);
  // Once the queue drains, work is accepted again.
  CHECK(client.get("/api/v1/probe/items/01234567-89ab-7def-8123-456789abcdef").status == 404);
}

TEST_CASE("writes that wait get more worker threads: forty slow writes run at once, not in waves") {
  TestDatabase db("sqlite");
  // Up to 40 write workers; the pool starts with 8 per core (16 on two cores) and grows.
  ServerProcess server(db, {{"CRM_HTTP_WRITE_WORKER_THREADS", "40"}});
  std::vector<std::thread> writers;
  std::atomic<int> created{0};
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 40; ++i) {
    writers.emplace_back([&, i] {
      HttpClient client(server.port());
      auto r = client.post_json("/api/v1/probe/items", R"({"name":"slow-)" + std::to_string(i) + R"(","sleep_ms":1000})");
      if (r.status == 201) ++created;
    });
  }
  for (auto& t : writers) t.join();
  auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
  CHECK(created == 40);
  // Sixteen threads alone would take three rounds of a second each.
  CHECK_MESSAGE(elapsed.count() < 2500, elapsed.count(), " ms");
  CHECK(db.scalar("SELECT COUNT(*) FROM probe_items WHERE name LIKE 'slow-%'") == 40);
}

}  // TEST_SUITE

TEST_SUITE("integration/http_streaming") {

TEST_CASE("a streamed body arrives chunked and whole, and the connection stays usable") {
  TestDatabase db("sqlite");
  ServerProcess server(db);
  HttpClient client(server.port());
  // 200 pieces of 64 KiB: 12.5 MiB produced one piece at a time.
  auto r = client.get("/api/v1/probe/stream?pieces=200&size=65536");
  REQUIRE(r.status == 200);
  CHECK(r.header("Transfer-Encoding") == "chunked");
  CHECK(r.header("Content-Length").empty());
  CHECK(r.header("X-Content-Type-Options") == "nosniff");
  REQUIRE(r.body.size() == 200u * 65536u);
  for (int i : {0, 1, 99, 199}) {
    std::string prefix = std::to_string(i) + ":";
    CHECK(r.body.compare(static_cast<std::size_t>(i) * 65536, prefix.size(), prefix) == 0);
  }
  // Keep-alive: the next request on the same connection is answered.
  CHECK(client.get("/healthz").status == 200);
  // HEAD: the header only.
  auto head = client.request("HEAD", "/api/v1/probe/stream?pieces=2");
  CHECK(head.status == 200);
  CHECK(head.body.empty());
  CHECK(client.get("/healthz").status == 200);
}

TEST_CASE("a producer that fails after the header ends the transfer incomplete, never as a short whole body") {
  TestDatabase db("sqlite");
  ServerProcess server(db);
  HttpClient client(server.port());
  CHECK_THROWS(client.get("/api/v1/probe/stream?pieces=5&size=1024&fail_after=2"));
  // A producer that fails before any piece: still an incomplete transfer (the header is out).
  HttpClient other(server.port());
  CHECK_THROWS(other.get("/api/v1/probe/stream?pieces=5&fail_after=0"));
  // The server is fine afterwards.
  HttpClient third(server.port());
  CHECK(third.get("/healthz").status == 200);
}

TEST_CASE("a stalled producer is cut off after the request timeout") {
  TestDatabase db("sqlite");
  ServerProcess server(db, {{"CRM_HTTP_REQUEST_TIMEOUT_MS", "300"}});
  HttpClient client(server.port());
  CHECK_THROWS(client.get("/api/v1/probe/stream?pieces=3&pause_ms=1000"));
  HttpClient other(server.port());
  auto quick = other.get("/api/v1/probe/stream?pieces=3&pause_ms=10");
  CHECK(quick.status == 200);
  CHECK(quick.body.size() == 3u * 16u);
}

}  // TEST_SUITE
