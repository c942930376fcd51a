// Idempotency-Key through a real socket: replay, reuse, scoping, retries and races.
#include "support/harness.hpp"

#include "crm/platform/time.hpp"

#include <boost/json.hpp>
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <set>
#include <thread>

using namespace crm::testing;

namespace {

std::map<std::string, std::string> with_key(const std::string& key, std::map<std::string, std::string> h = {}) {
  h["Idempotency-Key"] = key;
  return h;
}

void check_problem(const HttpResult& r, int status, const std::string& code) {
  CHECK(r.status == status);
  CHECK(r.header("Content-Type") == "application/problem+json");
  CHECK(r.json().at("code").as_string() == code);
}

}  // namespace

TEST_SUITE("integration/idempotency") {

TEST_CASE("a repeated POST with the same key replays the first response without running it again") {
  for (const auto& backend : backends()) {
    CAPTURE(backend);
    TestDatabase db(backend);
    ServerProcess server(db);
    HttpClient client(server.port());
    std::string key = "create-" + crm::platform::random_hex(8);

    auto first = client.post_json("/api/v1/probe/items", R"({"name":"sarong"})", with_key(key));
    REQUIRE(first.status == 201);
    CHECK(first.header("Idempotent-Replayed").empty());
    auto again = client.post_json("/api/v1/probe/items", R"({"name":"sarong"})", with_key(key));
    CHECK(again.status == 201);
    CHECK(again.header("Idempotent-Replayed") == "true");
    CHECK(again.body == first.body);
    CHECK(again.json().at("id") == first.json().at("id"));
    CHECK(again.header("Location") == first.header("Location"));
    CHECK(again.header("Content-Type") == "application/json");
    CHECK(again.header("X-Request-ID") != first.header("X-Request-ID"));
    CHECK(db.scalar("SELECT COUNT(*) FROM probe_items") == 1);

    // The same key on a different body is refused; nothing is written.
    auto reused = client.post_json("/api/v1/probe/items", R"({"name":"scarf"})", with_key(key));
    check_problem(reused, 422, "idempotency_key_reused");
    CHECK(reused.json().at("errors").as_array().at(0).at("field").as_string() == "Idempotency-Key");
    // ... and so is the same body on another path.
    auto id = std::string(first.json().at("id").as_string());
    check_problem(client.post_json("/api/v1/probe/items/" + id + "/touch", R"({"name":"sarong"})", with_key(key)),
                  422, "idempotency_key_reused");
    CHECK(db.scalar("SELECT COUNT(*) FROM probe_items") == 1);

    // Without a key, or with another key, the work is done again.
    CHECK(client.post_json("/api/v1/probe/items", R"({"name":"sarong"})").status == 201);
    CHECK(client.post_json("/api/v1/probe/items", R"({"name":"sarong"})", with_key(key + "-2")).status == 201);
    CHECK(db.scalar("SELECT COUNT(*) FROM probe_items") == 3);
  }
}

TEST_CASE("a malformed Idempotency-Key is a 400 naming the header") {
  TestDatabase db("sqlite");
  ServerProcess server(db);
  HttpClient client(server.port());
  for (const std::string& bad : {std::string(256, 'k'), std::string(), std::string("caf\xc3\xa9")}) {
    auto r = client.post_json("/api/v1/probe/items", R"({"name":"x"})", with_key(bad));
    check_problem(r, 400, "bad_request");
    CHECK(r.json().at("errors").as_array().at(0).at("field").as_string() == "Idempotency-Key");
  }
  CHECK(db.scalar("SELECT COUNT(*) FROM probe_items") == 0);
  CHECK(client.post_json("/api/v1/probe/items", R"({"name":"x"})", with_key(std::string(255, 'k'))).status == 201);
}

TEST_CASE("keys are scoped per user and tenant, and per address when unauthenticated") {
  for (const auto& backend : backends()) {
    CAPTURE(backend);
    TestDatabase db(backend);
    ServerProcess server(db);
    HttpClient client(server.port());
    HttpClient elsewhere(server.port(), "127.0.0.2");
    std::string tenant = crm::platform::new_uuid_v7(), other_tenant = crm::platform::new_uuid_v7();
    const std::string key = "same-key";
    auto post = [&](HttpClient& c, std::map<std::string, std::string> who) {
      auto r = c.post_json("/api/v1/probe/items", R"({"name":"batik"})", with_key(key, std::move(who)));
      CHECK(r.status == 201);
      CHECK(r.header("Idempotent-Replayed").empty());
      return std::string(r.json().at("id").as_string());
    };
    std::set<std::string> ids;
    ids.insert(post(client, {{"X-Probe-User", "alice"}, {"X-Probe-Tenant", tenant}}));
    ids.insert(post(client, {{"X-Probe-User", "bob"}, {"X-Probe-Tenant", tenant}}));
    ids.insert(post(client, {{"X-Probe-User", "alice"}, {"X-Probe-Tenant", other_tenant}}));
    ids.insert(post(client, {}));
    ids.insert(post(elsewhere, {}));
    CHECK(ids.size() == 5);
    CHECK(db.scalar("SELECT COUNT(*) FROM probe_items") == 5);
    auto replay = client.post_json("/api/v1/probe/items", R"({"name":"batik"})",
                                   with_key(key, {{"X-Probe-User", "bob"}, {"X-Probe-Tenant", tenant}}));
    CHECK(replay.header("Idempotent-Replayed") == "true");
    CHECK(db.scalar("SELECT COUNT(*) FROM platform_idempotency_keys") == 5);
  }
}

TEST_CASE("a request that failed with a 500 can be retried with the same key") {
  for (const auto& backend : backends()) {
    CAPTURE(backend);
    TestDatabase db(backend);
    ServerProcess server(db);
    HttpClient client(server.port());
    const std::string body = R"({"name":"retry","fail_once":"t1"})";
    auto failed = client.post_json("/api/v1/probe/items", body, with_key("retry-key"));
    check_problem(failed, 500, "internal_error");
    CHECK(db.scalar("SELECT COUNT(*) FROM platform_idempotency_keys") == 0);
    auto retried = client.post_json("/api/v1/probe/items", body, with_key("retry-key"));
    CHECK(retried.status == 201);
    CHECK(retried.header("Idempotent-Replayed").empty());
    auto replayed = client.post_json("/api/v1/probe/items", body, with_key("retry-key"));
    CHECK(replayed.header("Idempotent-Replayed") == "true");
    CHECK(replayed.json().at("id") == retried.json().at("id"));
    CHECK(db.scalar("SELECT COUNT(*) FROM probe_items") == 1);

    // A refused request (422) is not recorded either: the client may fix it and retry.
    check_problem(client.post_json("/api/v1/probe/items", R"({"name":""})", with_key("fix-key")), 422,
                  "validation_failed");
    CHECK(client.post_json("/api/v1/probe/items", R"({"name":"fixed"})", with_key("fix-key")).status == 201);
  }
}

TEST_CASE("two concurrent requests with one key run once: the other is told the key is in use") {
  for (const auto& backend : backends()) {
    CAPTURE(backend);
    TestDatabase db(backend);
    ServerProcess server(db);
    const std::string body = R"({"name":"race","sleep_ms":700})";
    std::vector<int> statuses(2);
    std::vector<std::string> codes(2);
    std::vector<std::thread> threads;
    for (int i = 0; i < 2; ++i) {
      threads.emplace_back([&, i] {
        if (i == 1) std::this_thread::sleep_for(std::chrono::milliseconds(150));
        HttpClient client(server.port());
        auto r = client.post_json("/api/v1/probe/items", body, with_key("race-key"));
        statuses[i] = r.status;
        if (r.status != 201) codes[i] = std::string(r.json().at("code").as_string());
      });
    }
    for (auto& t : threads) t.join();
    CHECK(statuses[0] == 201);
    CHECK(statuses[1] == 409);
    CHECK(codes[1] == "idempotency_key_in_use");
    CHECK(db.scalar("SELECT COUNT(*) FROM probe_items") == 1);

    // Many at once: exactly one runs.
    std::vector<std::thread> many;
    std::atomic<int> created{0};
    for (int i = 0; i < 6; ++i) {
      many.emplace_back([&] {
        HttpClient client(server.port());
        auto r = client.post_json("/api/v1/probe/items", R"({"name":"stampede","sleep_ms":300})",
                                  with_key("stampede-key"));
        if (r.status == 201 && r.header("Idempotent-Replayed").empty()) ++created;
      });
    }
    for (auto& t : many) t.join();
    CHECK(created == 1);
    CHECK(db.scalar("SELECT COUNT(*) FROM probe_items WHERE name = 'stampede'") == 1);
  }
}

TEST_CASE("expired keys are purged and may be used again") {
  TestDatabase db("sqlite");
  {
    ServerProcess server(db);
    HttpClient client(server.port());
    REQUIRE(client.post_json("/api/v1/probe/items", R"({"name":"old"})", with_key("old-key")).status == 201);
    server.terminate();
  }
  db.exec("UPDATE platform_idempotency_keys SET expires_at = 1");
  ServerProcess server(db);  // purges on start
  CHECK(eventually([&] { return db.scalar("SELECT COUNT(*) FROM platform_idempotency_keys") == 0; }));
  HttpClient client(server.port());
  auto fresh = client.post_json("/api/v1/probe/items", R"({"name":"new"})", with_key("old-key"));
  CHECK(fresh.status == 201);
  CHECK(fresh.header("Idempotent-Replayed").empty());
}

}  // TEST_SUITE
