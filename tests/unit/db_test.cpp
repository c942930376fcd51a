#include "crm/platform/db.hpp"
#include "crm/platform/error.hpp"
#include "crm/platform/time.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>

namespace {
namespace fs = std::filesystem;
using crm::platform::Database;
using crm::platform::DatabaseConfig;
}  // namespace

TEST_SUITE("platform/db") {
  TEST_CASE("a sqlite url names its file") {
    auto u = crm::platform::parse_database_url("sqlite:/var/lib/crm/crm.db");
    CHECK(u.backend == crm::platform::Backend::sqlite);
    CHECK(u.sqlite_path == "/var/lib/crm/crm.db");
    CHECK(crm::platform::parse_database_url("sqlite://data/crm.db").sqlite_path == "data/crm.db");
  }

  TEST_CASE("a postgres url's password is redacted") {
    auto u = crm::platform::parse_database_url("postgresql://crm:s3cret@db.local:5432/crm");
    CHECK(u.backend == crm::platform::Backend::postgres);
    CHECK(u.redacted.find("s3cret") == std::string::npos);
    CHECK(u.redacted.find("crm:***@db.local:5432/crm") != std::string::npos);
    CHECK(crm::platform::parse_database_url("postgres://crm@db/crm").backend == crm::platform::Backend::postgres);
  }

  TEST_CASE("an unusable database url is a ConfigError naming database.url") {
    for (const char* url : {"mysql://x/y", "sqlite:", "sqlite::memory:", ""}) {
      CAPTURE(url);
      try {
        crm::platform::parse_database_url(url);
        FAIL("expected a ConfigError");
      } catch (const crm::platform::ConfigError& e) {
        CHECK(std::string(e.what()).find("database.url") != std::string::npos);
      }
    }
  }

  TEST_CASE("an exhausted pool answers 503 after the timeout and recovers on release") {
    auto dir = fs::temp_directory_path() / ("crm-db-test-" + crm::platform::random_hex(8));
    fs::create_directories(dir);
    {
      DatabaseConfig cfg;
      cfg.pool_size = 1;
      Database db(cfg, crm::platform::parse_database_url("sqlite:" + (dir / "pool.db").string()));
      CHECK(db.ping());
      {
        auto held = db.acquire();
        try {
          db.acquire(std::chrono::milliseconds(20));
          FAIL("expected the pool to time out");
        } catch (const crm::platform::Error& e) {
          CHECK(e.kind() == crm::platform::ErrorKind::unavailable);
          CHECK(e.headers().count("Retry-After") == 1);
        }
        auto stats = db.stats();
        CHECK(stats.size == 1);
        CHECK(stats.in_use == 1);
        CHECK(stats.timeouts == 1);
      }
      CHECK(db.stats().in_use == 0);
      CHECK(db.ping());
    }
    std::error_code ec;
    fs::remove_all(dir, ec);
  }

  TEST_CASE("a writer queued on the sqlite write lock is counted until it gets the lock") {
    auto dir = fs::temp_directory_path() / ("crm-db-test-" + crm::platform::random_hex(8));
    fs::create_directories(dir);
    {
      Database db(DatabaseConfig{}, crm::platform::parse_database_url("sqlite:" + (dir / "lock.db").string()));
      auto held = db.write_lock();
      CHECK(db.writers_waiting() == 0);
      std::thread waiter([&] { auto mine = db.write_lock(); });
      for (int i = 0; i < 2000 && db.writers_waiting() == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(1));
      CHECK(db.writers_waiting() == 1);
      held.unlock();
      waiter.join();
      CHECK(db.writers_waiting() == 0);
    }
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
}
