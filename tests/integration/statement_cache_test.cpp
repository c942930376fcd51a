// Each pooled connection keeps its prepared statements: the same SQL text is compiled once
// per connection and then reused, with correct results for every binding, on SQLite and
// PostgreSQL.
#include "support/harness.hpp"

#include "crm/platform/db.hpp"

#include <doctest/doctest.h>
#include <soci/soci.h>
#include <soci/sqlite3/soci-sqlite3.h>

#include <memory>
#include <optional>
#include <stdexcept>
#include <string>

using namespace crm::testing;
using crm::platform::Database;
using crm::platform::DatabaseConfig;

namespace {

/// A fresh database with a cache_items table, and the one connection of a pool of one (every
/// statement meets the same connection).
struct OneConnection {
  explicit OneConnection(const std::string& backend) : db(backend) {
    db.exec("CREATE TABLE cache_items (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE)");
    DatabaseConfig cfg;
    cfg.pool_size = 1;
    pool = std::make_unique<Database>(cfg, crm::platform::parse_database_url(db.url()));
    lease.emplace(pool->acquire());
  }
  soci::session& sql() { return **lease; }

  TestDatabase db;
  std::unique_ptr<Database> pool;
  std::optional<Database::Lease> lease;
};

std::string name_of(soci::session& sql, int id) {
  std::string name;
  soci::indicator ind = soci::i_null;
  sql << "SELECT name FROM cache_items WHERE id = :id", soci::use(id), soci::into(name, ind);
  return ind == soci::i_ok ? name : std::string("<none>");
}

}  // namespace

TEST_SUITE("integration/statement cache") {

TEST_CASE("a statement is prepared once per connection and reused with new bindings") {
  for (const auto& backend : backends()) {
    CAPTURE(backend);
    OneConnection c(backend);
    auto& pool = c.pool;
    soci::session& sql = c.sql();
    for (int i = 1; i <= 5; ++i) {
      std::string name = "batik-" + std::to_string(i);
      sql << "INSERT INTO cache_items (id, name) VALUES (:id, :name)", soci::use(i), soci::use(name);
    }
    auto before = pool->stats();
    CHECK(name_of(sql, 3) == "batik-3");
    auto after_first = pool->stats();
    CHECK(after_first.statements_prepared == before.statements_prepared + 1);
    for (int i = 1; i <= 5; ++i) CHECK(name_of(sql, i) == "batik-" + std::to_string(i));
    CHECK(name_of(sql, 99) == "<none>");
    auto after = pool->stats();
    CHECK(after.statements_prepared == after_first.statements_prepared);  // no new compilation
    CHECK(after.statements_reused >= after_first.statements_reused + 6);
  }
}

TEST_CASE("the same statement text open twice at once on one connection gives each its own rows") {
  for (const auto& backend : backends()) {
    CAPTURE(backend);
    OneConnection c(backend);
    c.db.exec("INSERT INTO cache_items (id, name) VALUES (1, 'kawung'), (2, 'parang'), (3, 'sekar jagad')");
    soci::session& sql = c.sql();
    int min_id = 1;
    std::string outer_name;
    soci::statement outer = (sql.prepare << "SELECT name FROM cache_items WHERE id >= :id ORDER BY id",
                             soci::use(min_id), soci::into(outer_name));
    outer.execute(false);
    std::vector<std::string> seen;
    while (outer.fetch()) {
      seen.push_back(outer_name);
      // The same text again while the outer statement is still walking its rows.
      int inner_id = 3;
      std::string inner_name;
      sql << "SELECT name FROM cache_items WHERE id >= :id ORDER BY id", soci::use(inner_id), soci::into(inner_name);
      CHECK(inner_name == "sekar jagad");
    }
    CHECK(seen == std::vector<std::string>{"kawung", "parang", "sekar jagad"});
  }
}

TEST_CASE("a failed statement and a rolled-back transaction leave the cached statement usable") {
  for (const auto& backend : backends()) {
    CAPTURE(backend);
    OneConnection c(backend);
    soci::session& sql = c.sql();
    auto insert = [&](int id, const std::string& name) {
      sql << "INSERT INTO cache_items (id, name) VALUES (:id, :name)", soci::use(id), soci::use(name);
    };
    insert(1, "tulis");
    CHECK_THROWS(insert(2, "tulis"));  // unique name: the statement fails mid-way
    insert(2, "cap");
    {
      soci::transaction tx(sql);
      insert(3, "printed");
      CHECK(name_of(sql, 3) == "printed");
      tx.rollback();
    }
    insert(3, "sarong");
    CHECK(name_of(sql, 1) == "tulis");
    CHECK(name_of(sql, 2) == "cap");
    CHECK(name_of(sql, 3) == "sarong");
    CHECK(c.db.scalar("SELECT COUNT(*) FROM cache_items") == 3);
  }
}

TEST_CASE("more distinct statements than a connection keeps are evicted and prepared again") {
  for (const auto& backend : backends()) {
    CAPTURE(backend);
    OneConnection c(backend);
    c.db.exec("INSERT INTO cache_items (id, name) VALUES (7, 'songket')");
    auto& pool = c.pool;
    soci::session& sql = c.sql();
    CHECK(name_of(sql, 7) == "songket");
    // 300 different texts push the first one out of the connection's 256.
    for (int i = 0; i < 300; ++i) {
      int n = 0;
      sql << ("SELECT COUNT(*) + " + std::to_string(i) + " FROM cache_items"), soci::into(n);
      CHECK(n == i + 1);
    }
    auto before = pool->stats();
    CHECK(name_of(sql, 7) == "songket");
    CHECK(pool->stats().statements_prepared == before.statements_prepared + 1);
    // The most recent ones are still there.
    int n = 0;
    sql << "SELECT COUNT(*) + 299 FROM cache_items", soci::into(n);
    CHECK(n == 300);
    CHECK(pool->stats().statements_prepared == before.statements_prepared + 1);
  }
}

TEST_CASE("a SqliteQuery shares the connection's statement cache, binds by name and reports SQLite's errors") {
  OneConnection c("sqlite");
  soci::session& sql = c.sql();
  for (int i = 1; i <= 3; ++i) {
    std::string name = "canting-" + std::to_string(i);
    sql << "INSERT INTO cache_items (id, name) VALUES (:id, :name)", soci::use(i), soci::use(name);
  }
  const std::string text = "SELECT id, name FROM cache_items WHERE id >= :p0 AND name <> :p1 ORDER BY id";
  auto names = [&](long long from, const std::string& except) {
    crm::platform::SqliteQuery q(sql, text);
    sqlite_api::sqlite3_bind_int64(q.get(), q.parameter(":p0"), from);
    sqlite_api::sqlite3_bind_text(q.get(), q.parameter(":p1"), except.data(), static_cast<int>(except.size()),
                                  SQLITE_STATIC);
    std::string out;
    while (q.step()) out += reinterpret_cast<const char*>(sqlite_api::sqlite3_column_text(q.get(), 1)) + std::string(";");
    return out;
  };
  auto before = c.pool->stats();
  CHECK(names(1, "canting-2") == "canting-1;canting-3;");
  auto after_first = c.pool->stats();
  CHECK(after_first.statements_prepared == before.statements_prepared + 1);
  // The second use finds the statement reset, with no binding left from the first.
  CHECK(names(2, "none") == "canting-2;canting-3;");
  CHECK(names(3, "canting-3").empty());
  auto after = c.pool->stats();
  CHECK(after.statements_prepared == after_first.statements_prepared);
  CHECK(after.statements_reused == after_first.statements_reused + 2);
  // SOCI statements with the same text share the cached statement too.
  int n = 0;
  long long from = 1;
  std::string except = "x";
  sql << text, soci::use(from), soci::use(except), soci::into(n);
  CHECK(n == 1);
  CHECK(c.pool->stats().statements_reused == after.statements_reused + 1);

  // A PRAGMA is prepared each time and never kept, as with SOCI.
  auto kept = c.pool->stats();
  for (int i = 0; i < 2; ++i) {
    crm::platform::SqliteQuery pragma(sql, "PRAGMA user_version");
    CHECK(pragma.step());
  }
  CHECK(c.pool->stats().statements_reused == kept.statements_reused);
  CHECK(c.pool->stats().statements_prepared == kept.statements_prepared);

  CHECK_THROWS_AS(crm::platform::SqliteQuery(sql, "SELECT nothing FROM no_such_table"), std::runtime_error);
  crm::platform::SqliteQuery q(sql, text);
  CHECK_THROWS_AS(q.parameter(":p2"), std::logic_error);
  sqlite_api::sqlite3_bind_text(q.get(), q.parameter(":p0"), "a", 1, SQLITE_STATIC);
  CHECK_FALSE(q.step());  // a text is greater than every integer id: no row
  crm::platform::SqliteQuery bad(sql, "INSERT INTO cache_items (id, name) VALUES (1, 'duplicate id')");
  CHECK_THROWS_AS(bad.step(), std::runtime_error);
}
TEST_CASE("execute binds NULL, text, integers and reals in order, returns a RETURNING value and reuses its statement") {
  for (const auto& backend : backends()) {
    CAPTURE(backend);
    OneConnection c(backend);
    c.db.exec(backend == "postgres"
                  ? "CREATE TABLE exec_items (seq BIGSERIAL PRIMARY KEY, name TEXT, note TEXT, qty BIGINT, price DOUBLE PRECISION)"
                  : "CREATE TABLE exec_items (seq INTEGER PRIMARY KEY, name TEXT, note TEXT, qty BIGINT, price REAL)");
    soci::session& sql = c.sql();
    const std::string insert =
        "INSERT INTO exec_items (name, note, qty, price) VALUES (:n, :note, :q, :p) RETURNING seq";
    std::string name = "Batik \"Parang\" 'Rusak', ñ", empty;
    std::optional<std::string> none;
    auto first = crm::platform::execute(sql, insert, {name, crm::platform::text_or_null(none), 9007199254740993LL, 12.5});
    REQUIRE(first.has_value());
    auto before = c.pool->stats();
    auto second = crm::platform::execute(sql, insert, {std::string_view("kawung"), crm::platform::text_or_null(empty),
                                                       crm::platform::number_or_null(std::nullopt), -0.25});
    REQUIRE(second.has_value());
    CHECK(*second > *first);
    if (backend == "sqlite") CHECK(c.pool->stats().statements_prepared == before.statements_prepared);  // from the cache

    std::string got_name, got_note;
    long long qty = 0;
    double price = 0;
    soci::indicator note_ind = soci::i_ok, qty_ind = soci::i_ok;
    sql << "SELECT name, note, qty, price FROM exec_items WHERE seq = :s", soci::use(*first), soci::into(got_name),
        soci::into(got_note, note_ind), soci::into(qty, qty_ind), soci::into(price);
    CHECK(got_name == name);
    CHECK(note_ind == soci::i_null);
    CHECK(qty == 9007199254740993LL);
    CHECK(price == 12.5);
    sql << "SELECT name, note, qty, price FROM exec_items WHERE seq = :s", soci::use(*second), soci::into(got_name),
        soci::into(got_note, note_ind), soci::into(qty, qty_ind), soci::into(price);
    CHECK(got_name == "kawung");
    CHECK(note_ind == soci::i_null);  // empty text is NULL through text_or_null
    CHECK(qty_ind == soci::i_null);
    CHECK(price == -0.25);

    // Without RETURNING nothing comes back; the change is made.
    CHECK_FALSE(crm::platform::execute(sql, "UPDATE exec_items SET qty = :q WHERE seq = :s", {7LL, *second}).has_value());
    sql << "SELECT qty FROM exec_items WHERE seq = :s", soci::use(*second), soci::into(qty, qty_ind);
    CHECK(qty_ind == soci::i_ok);
    CHECK(qty == 7);
    // A constraint failure throws and leaves the connection usable.
    CHECK_THROWS(crm::platform::execute(sql, "INSERT INTO exec_items (seq, name) VALUES (:s, :n)", {*first, name}));
    if (backend == "sqlite") {
      // SQLite counts the placeholders: too few or too many values are refused before running.
      CHECK_THROWS_AS(crm::platform::execute(sql, insert, {name, 1LL}), std::logic_error);
      CHECK_THROWS_AS(crm::platform::execute(sql, insert, {name, name, 1LL, 1.0, 2LL}), std::logic_error);
    } else {
      CHECK_THROWS(crm::platform::execute(sql, insert, {name, 1LL}));
    }
    long long rows = 0;
    sql << "SELECT COUNT(*) FROM exec_items", soci::into(rows);
    CHECK(rows == 2);

    // The key of a new row without RETURNING on SQLite (the rowid), with it on PostgreSQL.
    const std::string plain = "INSERT INTO exec_items (name, qty) VALUES (:n, :q)";
    long long third = crm::platform::insert_returning_key(sql, plain, "seq", {std::string_view("sekar"), 3LL});
    long long fourth = crm::platform::insert_returning_key(sql, plain, "seq", {std::string_view("truntum"), 4LL});
    CHECK(third > *second);
    CHECK(fourth > third);
    sql << "SELECT name FROM exec_items WHERE seq = :s", soci::use(fourth), soci::into(got_name);
    CHECK(got_name == "truntum");
    if (backend == "sqlite") {
      crm::platform::SqliteQuery q(sql, "SELECT qty FROM exec_items WHERE name = :n AND seq >= :s");
      REQUIRE(q.bind(1, "sekar").bind(2, third).step());
      CHECK(q.integer(0) == 3);
      CHECK_FALSE(q.step());
    }
  }
}

}
