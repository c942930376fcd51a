#include "app/application.hpp"
#include "platform/middleware.hpp"
#include "platform/pipeline.hpp"
#include "platform/rate_limit.hpp"

#include "crm/platform/db.hpp"
#include "crm/platform/migrations.hpp"
#include "crm/platform/router.hpp"
#include "crm/platform/time.hpp"

#include <doctest/doctest.h>

#include <filesystem>
#include <memory>

namespace {

using namespace crm::platform;
namespace fs = std::filesystem;

constexpr std::int64_t kMinute = 60000;

/// A throwaway SQLite database with the platform schema.
struct TempDatabase {
  fs::path dir = fs::temp_directory_path() / ("crm-rl-" + random_hex(6));
  std::unique_ptr<Database> db;
  TempDatabase() {
    fs::create_directories(dir);
    DatabaseConfig cfg;
    cfg.pool_size = 2;
    db = std::make_unique<Database>(cfg, parse_database_url("sqlite:" + (dir / "rl.db").string()));
    Migrator(*db, crm::app::platform_migrations()).apply();
  }
  ~TempDatabase() {
    db.reset();
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
};

/// The platform's error mapping, then both rate-limit stages around a route.
struct LimitedPipeline {
  Router router;
  Pipeline pipeline;
  std::shared_ptr<RateLimiter> limiter = std::make_shared<RateLimiter>(nullptr);
  int handler_calls = 0;

  explicit LimitedPipeline(RateLimitConfig config) {
    pipeline.use(std::make_shared<ErrorMiddleware>());
    pipeline.use(std::make_shared<RateLimitMiddleware>(limiter, config, MiddlewareStage::before_auth));
    pipeline.use(std::make_shared<RateLimitMiddleware>(limiter, config, MiddlewareStage::after_auth));
    auto ok = [this](Request&) {
      ++handler_calls;
      return json_response(200, boost::json::object{{"ok", true}});
    };
    router.get("/api/v1/things", ok);
    router.get("/healthz", ok);
    RouteOptions reg;
    reg.rate_limit = "register";
    reg.public_route = true;
    router.post("/api/v1/register", ok, reg);
  }

  HttpResponse run(HttpVerb method, const std::string& target, const std::string& ip, const std::string& user = {}) {
    HttpRequest raw{method, target, 11};
    Request req(std::move(raw));
    req.context().remote_ip = ip;
    if (!user.empty()) {
      req.context().principal.authenticated = true;
      req.context().principal.user_id = user;
      req.context().principal.tenant_id = "tenant-1";
    }
    auto match = router.match(method, req.path());
    req.set_route(match.route);
    if (match.status != Router::Match::Status::found) req.set_pending_error(Error::not_found());
    return pipeline.run(req);
  }
};

}  // namespace

TEST_SUITE("platform/rate_limit") {
  TEST_CASE("windows are aligned to their offset and contain now") {
    CHECK(rate_window_start(125000, kMinute, 0) == 120000);
    CHECK(rate_window_start(125000, kMinute, 7000) == 67000);
    CHECK(rate_window_start(127000, kMinute, 7000) == 127000);
    CHECK(rate_window_start(3000, kMinute, 7000) == -53000);  // before the first offset window
    for (TimestampMs now : {0LL, 59999LL, 60000LL, 1700000000123LL}) {
      TimestampMs start = rate_window_start(now, kMinute, 12345);
      CHECK(start <= now);
      CHECK(now < start + kMinute);
    }
  }

  TEST_CASE("a budget allows exactly its limit per window, counting down what remains") {
    auto first = rate_decide(3, 0, 1000, 0, kMinute);
    CHECK(first.allowed);
    CHECK(first.limit == 3);
    CHECK(first.remaining == 2);
    CHECK(first.reset_seconds == 59);
    CHECK(rate_decide(3, 2, 1000, 0, kMinute).remaining == 0);
    CHECK(rate_decide(3, 2, 1000, 0, kMinute).allowed);
    auto denied = rate_decide(3, 3, 59001, 0, kMinute);
    CHECK_FALSE(denied.allowed);
    CHECK(denied.remaining == 0);
    CHECK(denied.reset_seconds == 1);  // rounded up, never 0
    CHECK(rate_decide(3, 3, 59999, 0, kMinute).reset_seconds == 1);
  }

  TEST_CASE("the tighter decision is a denial, else the one with fewer remaining") {
    RateDecision a{true, 10, 5, 30}, b{true, 100, 2, 50}, no{false, 10, 0, 40};
    CHECK(&rate_tighter(a, b) == &b);
    CHECK(&rate_tighter(a, no) == &no);
    CHECK(&rate_tighter(no, b) == &no);
  }

  TEST_CASE("key hashes are stable (processes must agree on windows)") {
    CHECK(rate_key_hash("") == 1469598103934665603ULL);
    CHECK(rate_key_hash("ip:127.0.0.1") == rate_key_hash(std::string("ip:") + "127.0.0.1"));
    CHECK(rate_key_hash("ip:127.0.0.1") != rate_key_hash("ip:127.0.0.2"));
  }

  TEST_CASE("a limiter denies after the limit, per key, and starts afresh in the next window") {
    RateLimiter limiter(nullptr);
    TimestampMs now = 1'700'000'000'000;
    for (int i = 0; i < 5; ++i) CHECK(limiter.hit("ip:a", 5, kMinute, now).allowed);
    auto denied = limiter.hit("ip:a", 5, kMinute, now);
    CHECK_FALSE(denied.allowed);
    CHECK(denied.reset_seconds >= 1);
    CHECK(limiter.hit("ip:b", 5, kMinute, now).allowed);
    limiter.sync(now);  // counts survive a sync
    CHECK_FALSE(limiter.hit("ip:a", 5, kMinute, now).allowed);
    CHECK(limiter.hit("ip:a", 5, kMinute, now + denied.reset_seconds * 1000).allowed);
  }

  TEST_CASE("two limiters on one database share a budget once they sync") {
    TempDatabase t;
    RateLimiter one(t.db.get()), two(t.db.get());
    TimestampMs now = now_ms();
    for (int i = 0; i < 6; ++i) CHECK(one.hit("user:u", 10, kMinute, now).allowed);
    one.sync(now);
    // The second process learns the shared total with its first sync.
    CHECK(two.hit("user:u", 10, kMinute, now).allowed);
    two.sync(now);
    auto d = two.hit("user:u", 10, kMinute, now);
    CHECK(d.allowed);
    CHECK(d.remaining == 2);  // 6 + 1 counted, this one is the 8th
    CHECK(two.hit("user:u", 10, kMinute, now).allowed);
    CHECK(two.hit("user:u", 10, kMinute, now).allowed);
    CHECK_FALSE(two.hit("user:u", 10, kMinute, now).allowed);
    two.sync(now);
    one.hit("user:u", 10, kMinute, now);  // one more locally, then learn the total
    one.sync(now);
    CHECK_FALSE(one.hit("user:u", 10, kMinute, now).allowed);
    CHECK(t.db->acquire().operator->() != nullptr);
    {
      auto lease = t.db->acquire();
      long long hits = 0;
      *lease << "SELECT SUM(hits) FROM platform_rate_limits WHERE bucket = 'user:u'", soci::into(hits);
      CHECK(hits == 11);  // denied requests are not counted
    }
    CHECK(one.purge(now + 2 * kMinute) == 1);
  }

  TEST_CASE("the middleware limits /api/v1 per IP, answers 429 with Retry-After, and leaves /healthz alone") {
    RateLimitConfig config;
    config.ip_per_minute = 2;
    LimitedPipeline p(config);
    auto first = p.run(HttpVerb::get, "/api/v1/things", "10.0.0.1");
    CHECK(first.result_int() == 200);
    CHECK(first["RateLimit-Limit"] == "2");
    CHECK(first["RateLimit-Remaining"] == "1");
    CHECK_FALSE(first["RateLimit-Reset"].empty());
    CHECK(p.run(HttpVerb::get, "/api/v1/things", "10.0.0.1").result_int() == 200);
    auto limited = p.run(HttpVerb::get, "/api/v1/things", "10.0.0.1");
    CHECK(limited.result_int() == 429);
    CHECK(limited["Content-Type"] == "application/problem+json");
    CHECK(limited.body().find("\"rate_limited\"") != std::string::npos);
    CHECK(std::stoi(std::string(limited["Retry-After"])) >= 1);
    CHECK(limited["RateLimit-Remaining"] == "0");
    CHECK(p.handler_calls == 2);
    // Unknown paths under /api/v1 count too; another address has its own budget.
    CHECK(p.run(HttpVerb::get, "/api/v1/nothing", "10.0.0.1").result_int() == 429);
    CHECK(p.run(HttpVerb::get, "/api/v1/things", "10.0.0.2").result_int() == 200);
    for (int i = 0; i < 10; ++i) {
      auto health = p.run(HttpVerb::get, "/healthz", "10.0.0.1");
      CHECK(health.result_int() == 200);
      CHECK(health.find("RateLimit-Limit") == health.end());
    }
  }

  TEST_CASE("authenticated requests use the user budget, not the IP budget") {
    RateLimitConfig config;
    config.ip_per_minute = 1;
    config.user_per_minute = 3;
    LimitedPipeline p(config);
    CHECK(p.run(HttpVerb::get, "/api/v1/things", "10.0.0.1").result_int() == 200);
    CHECK(p.run(HttpVerb::get, "/api/v1/things", "10.0.0.1").result_int() == 429);
    for (int i = 0; i < 3; ++i) CHECK(p.run(HttpVerb::get, "/api/v1/things", "10.0.0.1", "alice").result_int() == 200);
    auto limited = p.run(HttpVerb::get, "/api/v1/things", "10.0.0.1", "alice");
    CHECK(limited.result_int() == 429);
    CHECK(limited["RateLimit-Limit"] == "3");
    CHECK(p.run(HttpVerb::get, "/api/v1/things", "10.0.0.1", "bob").result_int() == 200);
  }

  TEST_CASE("the register policy adds a stricter hourly budget per IP") {
    RateLimitConfig config;
    config.register_per_hour = 2;
    LimitedPipeline p(config);
    auto first = p.run(HttpVerb::post, "/api/v1/register", "10.0.0.1");
    CHECK(first.result_int() == 200);
    CHECK(first["RateLimit-Limit"] == "2");  // the tighter budget is reported
    CHECK(p.run(HttpVerb::post, "/api/v1/register", "10.0.0.1").result_int() == 200);
    auto limited = p.run(HttpVerb::post, "/api/v1/register", "10.0.0.1");
    CHECK(limited.result_int() == 429);
    // The hourly window: the wait is up to an hour (less when the window is about to end, so
    // no lower bound above a minute holds), and the budget named is the register one.
    int retry = std::stoi(std::string(limited["Retry-After"]));
    CHECK(retry >= 1);
    CHECK(retry <= 3600);
    CHECK(limited["RateLimit-Limit"] == "2");
    CHECK(p.run(HttpVerb::get, "/api/v1/things", "10.0.0.1").result_int() == 200);
  }
}
