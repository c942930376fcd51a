#include "crm/platform/db.hpp"
#include "crm/platform/log.hpp"
#include "crm/platform/migrations.hpp"
#include "crm/platform/time.hpp"

#include <doctest/doctest.h>

#include <soci/soci.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;
using crm::platform::Database;
using crm::platform::DatabaseConfig;
using crm::platform::MigrationError;
using crm::platform::MigrationSource;
using crm::platform::Migrator;

/// A fresh SQLite database file in a unique temp directory, removed afterwards.
class TempDatabase final {
 public:
  TempDatabase() : dir_(fs::temp_directory_path() / ("crm-migrations-test-" + crm::platform::random_hex(8))) {
    fs::create_directories(dir_);
    crm::platform::set_log_sink([](std::string_view) {});  // keep test output readable
    DatabaseConfig cfg;
    cfg.pool_size = 2;
    db_ = std::make_unique<Database>(cfg, crm::platform::parse_database_url("sqlite:" + (dir_ / "test.db").string()));
  }
  ~TempDatabase() {
    db_.reset();
    crm::platform::set_log_sink(nullptr);
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  TempDatabase(const TempDatabase&) = delete;
  TempDatabase& operator=(const TempDatabase&) = delete;

  Database& db() { return *db_; }

  bool has_table(const std::string& name) {
    auto lease = db_->acquire();
    int n = 0;
    *lease << "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = :n", soci::use(name),
        soci::into(n);
    return n == 1;
  }

  int recorded(const std::string& owner, const std::string& name) {
    auto lease = db_->acquire();
    int n = 0;
    *lease << "SELECT count(*) FROM platform_schema_migrations WHERE owner = :o AND name = :n", soci::use(owner),
        soci::use(name), soci::into(n);
    return n;
  }

 private:
  fs::path dir_;
  std::unique_ptr<Database> db_;
};

std::vector<MigrationSource> two_sources() {
  return {
      {"probe", "sqlite", "0001_a", "CREATE TABLE probe_a (id INTEGER PRIMARY KEY, name TEXT NOT NULL);"},
      {"probe", "sqlite", "0002_b", "CREATE TABLE probe_b (id INTEGER PRIMARY KEY);\n"
                                    "CREATE INDEX probe_b_id ON probe_b (id);"},
  };
}

std::string error_of_apply(Migrator& m) {
  try {
    m.apply();
  } catch (const MigrationError& e) {
    return e.what();
  }
  FAIL("expected a MigrationError");
  return {};
}

}  // namespace

TEST_SUITE("platform/migrations") {
  TEST_CASE("migration_checksum is lower-case SHA-256 hex") {
    CHECK(crm::platform::migration_checksum("") ==
          "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    CHECK(crm::platform::migration_checksum("abc") ==
          "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    CHECK(crm::platform::migration_checksum("abc ") != crm::platform::migration_checksum("abc"));
  }

  TEST_CASE("pending migrations are listed as not applied before apply") {
    TempDatabase t;
    Migrator m(t.db(), two_sources());
    auto st = m.status();
    REQUIRE(st.size() == 2);
    CHECK_FALSE(st[0].applied);
    CHECK(st[0].applied_at.empty());
    CHECK(st[0].checksum == crm::platform::migration_checksum(two_sources()[0].sql));
    CHECK_FALSE(m.current());
  }

  TEST_CASE("apply runs every pending migration once and records it") {
    TempDatabase t;
    Migrator m(t.db(), two_sources());
    CHECK(m.apply() == 2);
    CHECK(t.has_table("probe_a"));
    CHECK(t.has_table("probe_b"));

    auto st = m.status();
    REQUIRE(st.size() == 2);
    for (std::size_t i = 0; i < st.size(); ++i) {
      CAPTURE(i);
      CHECK(st[i].owner == "probe");
      CHECK(st[i].applied);
      CHECK(crm::platform::parse_rfc3339(st[i].applied_at).has_value());
      CHECK(st[i].checksum == crm::platform::migration_checksum(two_sources()[i].sql));
    }
    CHECK(st[0].name == "0001_a");
    CHECK(st[1].name == "0002_b");
    CHECK(m.current());

    // A second run (even by another migrator) finds nothing to do.
    CHECK(m.apply() == 0);
    Migrator again(t.db(), two_sources());
    CHECK(again.apply() == 0);
    CHECK(t.recorded("probe", "0001_a") == 1);
  }

  TEST_CASE("a new migration added later is the only one applied") {
    TempDatabase t;
    auto sources = two_sources();
    sources.pop_back();
    CHECK(Migrator(t.db(), sources).apply() == 1);
    CHECK_FALSE(t.has_table("probe_b"));
    Migrator full(t.db(), two_sources());
    CHECK_FALSE(full.current());
    CHECK(full.apply() == 1);
    CHECK(t.has_table("probe_b"));
    CHECK(full.current());
  }

  TEST_CASE("an applied migration whose file changed is refused by apply and status") {
    TempDatabase t;
    REQUIRE(Migrator(t.db(), two_sources()).apply() == 2);

    auto changed = two_sources();
    changed[0].sql = "CREATE TABLE probe_a (id INTEGER PRIMARY KEY, name TEXT);";
    Migrator m(t.db(), changed);
    auto msg = error_of_apply(m);
    CHECK(msg.find("probe/0001_a") != std::string::npos);
    CHECK(msg.find("checksum") != std::string::npos);
    CHECK_THROWS_AS(m.status(), MigrationError);
    CHECK_THROWS_AS(m.current(), MigrationError);

    // The refusal changed nothing: the original still counts as applied.
    CHECK(Migrator(t.db(), two_sources()).current());
  }

  TEST_CASE("a changed file stops apply before later pending migrations run") {
    TempDatabase t;
    auto first = two_sources();
    first.pop_back();
    REQUIRE(Migrator(t.db(), first).apply() == 1);

    auto changed = two_sources();
    changed[0].sql += "\n-- edited";
    Migrator m(t.db(), changed);
    CHECK_THROWS_AS(m.apply(), MigrationError);
    CHECK_FALSE(t.has_table("probe_b"));
    CHECK(t.recorded("probe", "0002_b") == 0);
  }

  TEST_CASE("a failing migration throws, leaves no record and no partial table") {
    TempDatabase t;
    std::vector<MigrationSource> sources = {
        {"probe", "sqlite", "0001_ok", "CREATE TABLE probe_ok (id INTEGER PRIMARY KEY);"},
        {"probe", "sqlite", "0002_bad",
         "CREATE TABLE probe_partial (id INTEGER PRIMARY KEY);\nINSERT INTO probe_missing VALUES (1);"},
        {"probe", "sqlite", "0003_after", "CREATE TABLE probe_after (id INTEGER PRIMARY KEY);"},
    };
    Migrator m(t.db(), sources);
    auto msg = error_of_apply(m);
    CHECK(msg.find("probe/0002_bad") != std::string::npos);

    CHECK(t.has_table("probe_ok"));
    CHECK(t.recorded("probe", "0001_ok") == 1);
    CHECK_FALSE(t.has_table("probe_partial"));
    CHECK(t.recorded("probe", "0002_bad") == 0);
    CHECK_FALSE(t.has_table("probe_after"));

    auto st = m.status();
    REQUIRE(st.size() == 3);
    CHECK(st[0].applied);
    CHECK_FALSE(st[1].applied);
    CHECK_FALSE(st[2].applied);

    // Fixed, the same migration then applies cleanly on the same database.
    sources[1].sql = "CREATE TABLE probe_partial (id INTEGER PRIMARY KEY);";
    CHECK(Migrator(t.db(), sources).apply() == 2);
    CHECK(t.has_table("probe_partial"));
    CHECK(t.has_table("probe_after"));
  }

  TEST_CASE("migrations run by name within an owner and owners in the order given") {
    TempDatabase t;
    // 0002 depends on 0001's table, so applying out of order would fail.
    std::vector<MigrationSource> sources = {
        {"platform", "sqlite", "0002_index", "CREATE INDEX platform_t_name ON platform_t (name);"},
        {"iam", "sqlite", "0001_users", "CREATE TABLE iam_users (id INTEGER PRIMARY KEY);"},
        {"platform", "sqlite", "0001_table", "CREATE TABLE platform_t (id INTEGER PRIMARY KEY, name TEXT);"},
        {"iam", "sqlite", "0010_later", "ALTER TABLE iam_users ADD COLUMN email TEXT;"},
        {"iam", "sqlite", "0002_roles", "CREATE TABLE iam_roles (id INTEGER PRIMARY KEY);"},
    };
    Migrator m(t.db(), sources);
    auto before = m.status();
    REQUIRE(before.size() == 5);
    std::vector<std::string> order;
    for (const auto& s : before) order.push_back(s.owner + "/" + s.name);
    CHECK(order == std::vector<std::string>{"platform/0001_table", "platform/0002_index", "iam/0001_users",
                                            "iam/0002_roles", "iam/0010_later"});
    CHECK(m.apply() == 5);
  }

  TEST_CASE("the same name under two owners is two migrations") {
    TempDatabase t;
    std::vector<MigrationSource> sources = {
        {"iam", "sqlite", "0001_init", "CREATE TABLE iam_t (id INTEGER);"},
        {"customer", "sqlite", "0001_init", "CREATE TABLE customer_t (id INTEGER);"},
    };
    CHECK(Migrator(t.db(), sources).apply() == 2);
    CHECK(t.recorded("iam", "0001_init") == 1);
    CHECK(t.recorded("customer", "0001_init") == 1);
  }

  TEST_CASE("postgres migrations are ignored on SQLite") {
    TempDatabase t;
    auto sources = two_sources();
    sources.push_back({"probe", "postgres", "0003_pg", "CREATE TABLE probe_pg (id BIGSERIAL PRIMARY KEY) nonsense;"});
    sources.insert(sources.begin(), {"pgonly", "postgres", "0001_pg", "CREATE EXTENSION pgcrypto;"});
    Migrator m(t.db(), sources);
    CHECK(m.apply() == 2);
    auto st = m.status();
    REQUIRE(st.size() == 2);
    for (const auto& s : st) CHECK(s.owner == "probe");
    CHECK_FALSE(t.has_table("probe_pg"));
  }
}
