// Rate limits through a real socket: per IP, per user and tenant, stricter policies, and one
// budget shared by two server processes on one database.
#include "platform/rate_limit.hpp"
#include "support/harness.hpp"

#include "crm/platform/time.hpp"

#include <boost/json.hpp>
#include <doctest/doctest.h>

#include <thread>

using namespace crm::testing;
namespace platform = crm::platform;

namespace {

constexpr std::int64_t kMinute = 60000;

// Budgets are fixed windows: waits until every key's window has `needed_ms` left, so a test
// never straddles a reset. The server computes the same windows from the same clock.
void wait_for_room(const std::vector<std::string>& keys, std::int64_t needed_ms = 8000,
                   std::int64_t window_ms = kMinute) {
  auto now = platform::now_ms();
  for (std::int64_t t = now; t < now + 2 * window_ms; t += 100) {
    bool ok = true;
    for (const auto& key : keys) {
      auto offset = static_cast<std::int64_t>(platform::rate_key_hash(key) % static_cast<std::uint64_t>(window_ms));
      ok = ok && platform::rate_window_start(t, window_ms, offset) + window_ms - t >= needed_ms;
    }
    if (ok) {
      std::this_thread::sleep_for(std::chrono::milliseconds(t - now));
      return;
    }
  }
}

void check_429(const HttpResult& r) {
  CHECK(r.status == 429);
  CHECK(r.header("Content-Type") == "application/problem+json");
  CHECK(r.json().at("code").as_string() == "rate_limited");
  CHECK(std::stoi(r.header("Retry-After")) >= 1);
  CHECK(std::stoi(r.header("Retry-After")) <= 60);
  CHECK(r.header("RateLimit-Remaining") == "0");
}

std::map<std::string, std::string> as_user(const std::string& user, const std::string& tenant = {}) {
  std::map<std::string, std::string> h{{"X-Probe-User", user}};
  if (!tenant.empty()) h["X-Probe-Tenant"] = tenant;
  return h;
}

}  // namespace

TEST_SUITE("integration/rate_limit") {

TEST_CASE("over the IP budget is 429 with Retry-After, and other addresses and /healthz are unaffected") {
  for (const auto& backend : backends()) {
    CAPTURE(backend);
    TestDatabase db(backend);
    ServerProcess server(db, {{"CRM_RATE_LIMIT_IP_PER_MINUTE", "5"}});
    HttpClient client(server.port());
    HttpClient other(server.port(), "127.0.0.2");
    wait_for_room({"ip:127.0.0.1", "ip:127.0.0.2"});

    for (int i = 0; i < 5; ++i) {
      auto r = client.get("/api/v1/openapi.json");
      CHECK(r.status == 200);
      CHECK(r.header("RateLimit-Limit") == "5");
      CHECK(r.header("RateLimit-Remaining") == std::to_string(4 - i));
      CHECK(std::stoi(r.header("RateLimit-Reset")) >= 1);
    }
    check_429(client.get("/api/v1/openapi.json"));
    check_429(client.post_json("/api/v1/probe/items", R"({"name":"x"})"));
    CHECK(db.scalar("SELECT COUNT(*) FROM probe_items") == 0);

    auto elsewhere = other.get("/api/v1/openapi.json");
    CHECK(elsewhere.status == 200);
    CHECK(elsewhere.header("RateLimit-Remaining") == "4");

    for (int i = 0; i < 50; ++i) {
      auto health = client.get("/healthz");
      REQUIRE(health.status == 200);
      CHECK(health.header("RateLimit-Limit").empty());
    }
    CHECK(client.get("/metrics").status == 200);
  }
}

TEST_CASE("users and tenants have their own budgets, apart from the IP budget") {
  for (const auto& backend : backends()) {
    CAPTURE(backend);
    TestDatabase db(backend);
    ServerProcess server(db, {{"CRM_RATE_LIMIT_IP_PER_MINUTE", "2"},
                              {"CRM_RATE_LIMIT_USER_PER_MINUTE", "3"},
                              {"CRM_RATE_LIMIT_TENANT_PER_MINUTE", "5"}});
    HttpClient client(server.port());
    std::string tenant_a = crm::platform::new_uuid_v7(), tenant_b = crm::platform::new_uuid_v7();
    std::string alice = "alice-" + crm::platform::random_hex(4), bob = "bob-" + crm::platform::random_hex(4);
    std::string carol = "carol-" + crm::platform::random_hex(4);
    wait_for_room({"ip:127.0.0.1", "user:" + alice, "user:" + bob, "user:" + carol, "tenant:" + tenant_a,
                   "tenant:" + tenant_b});

    // The anonymous budget of the address runs out; its users are not affected.
    CHECK(client.get("/api/v1/openapi.json").status == 200);
    CHECK(client.get("/api/v1/openapi.json").status == 200);
    check_429(client.get("/api/v1/openapi.json"));

    for (int i = 0; i < 3; ++i) {
      auto r = client.get("/api/v1/openapi.json", as_user(alice, tenant_a));
      CHECK(r.status == 200);
      CHECK(r.header("RateLimit-Limit") == "3");
    }
    auto limited = client.get("/api/v1/openapi.json", as_user(alice, tenant_a));
    check_429(limited);
    CHECK(limited.header("RateLimit-Limit") == "3");
    // Another user in another tenant is unaffected.
    CHECK(client.get("/api/v1/openapi.json", as_user(bob, tenant_b)).status == 200);

    // Tenant A has spent 3 of 5: carol's first two requests there fit, the third is over its budget.
    CHECK(client.get("/api/v1/openapi.json", as_user(carol, tenant_a)).status == 200);
    auto last = client.get("/api/v1/openapi.json", as_user(carol, tenant_a));
    CHECK(last.status == 200);
    CHECK(last.header("RateLimit-Limit") == "5");
    CHECK(last.header("RateLimit-Remaining") == "0");
    auto over = client.get("/api/v1/openapi.json", as_user(carol, tenant_a));
    check_429(over);
    CHECK(over.header("RateLimit-Limit") == "5");
  }
}

TEST_CASE("the register and auth policies have stricter per-IP budgets") {
  TestDatabase db("sqlite");
  ServerProcess server(db, {{"CRM_RATE_LIMIT_REGISTER_PER_HOUR", "2"}, {"CRM_RATE_LIMIT_AUTH_PER_MINUTE", "3"}});
  HttpClient client(server.port());
  wait_for_room({"auth:127.0.0.1"});
  wait_for_room({"register:127.0.0.1"}, 15000, 60 * kMinute);

  for (int i = 0; i < 2; ++i) {
    auto r = client.post_json("/api/v1/probe/signup", "{}");
    CHECK(r.status == 200);
    CHECK(r.header("RateLimit-Limit") == "2");
  }
  auto refused = client.post_json("/api/v1/probe/signup", "{}");
  CHECK(refused.status == 429);
  CHECK(refused.json().at("code").as_string() == "rate_limited");
  CHECK(std::stoi(refused.header("Retry-After")) > 0);

  for (int i = 0; i < 3; ++i) CHECK(client.post_json("/api/v1/probe/login", "{}").status == 200);
  CHECK(client.post_json("/api/v1/probe/login", "{}").status == 429);
  // Other routes of the address still have their budget.
  CHECK(client.get("/api/v1/openapi.json").status == 200);
  // Another address may register.
  HttpClient other(server.port(), "127.0.0.3");
  CHECK(other.post_json("/api/v1/probe/signup", "{}").status == 200);
}

TEST_CASE("two server processes on one database share one budget") {
  for (const auto& backend : backends()) {
    CAPTURE(backend);
    TestDatabase db(backend);
    std::map<std::string, std::string> env{{"CRM_RATE_LIMIT_IP_PER_MINUTE", "20"},
                                           {"CRM_RATE_LIMIT_SYNC_INTERVAL_MS", "100"}};
    ServerProcess first(db, env);
    ServerProcess second(db, env);
    HttpClient a(first.port()), b(second.port());
    wait_for_room({"ip:127.0.0.1"});
    auto settle = [] { std::this_thread::sleep_for(std::chrono::milliseconds(500)); };

    for (int i = 0; i < 12; ++i) REQUIRE(a.get("/api/v1/openapi.json").status == 200);
    settle();
    REQUIRE(b.get("/api/v1/openapi.json").status == 200);
    settle();  // the second process has now learnt the shared total: 13
    int allowed = 0;
    for (int i = 0; i < 30; ++i) {
      auto r = b.get("/api/v1/openapi.json");
      if (r.status != 200) {
        check_429(r);
        break;
      }
      ++allowed;
    }
    CHECK(allowed == 7);
    settle();  // the first process has not counted anything since, but it reads the shared total
    check_429(a.get("/api/v1/openapi.json"));
    CHECK(db.scalar("SELECT SUM(hits) FROM platform_rate_limits WHERE bucket = 'ip:127.0.0.1'") == 20);
  }
}

TEST_CASE("rate limiting can be switched off") {
  TestDatabase db("sqlite");
  ServerProcess server(db, {{"CRM_RATE_LIMIT_ENABLED", "false"}, {"CRM_RATE_LIMIT_IP_PER_MINUTE", "1"}});
  HttpClient client(server.port());
  for (int i = 0; i < 5; ++i) {
    auto r = client.get("/api/v1/openapi.json");
    CHECK(r.status == 200);
    CHECK(r.header("RateLimit-Limit").empty());
  }
}

}  // TEST_SUITE
