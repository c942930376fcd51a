// SQLite behaviour the platform provides (match_tier) and relies on (FTS5 merging).
#include "crm/platform/db.hpp"
#include "crm/platform/time.hpp"

#include <doctest/doctest.h>
#include <soci/soci.h>
#include <soci/sqlite3/soci-sqlite3.h>

#include <array>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

namespace {
namespace fs = std::filesystem;

std::vector<long long> rowids(soci::session& sql, const std::string& select, const std::string& q) {
  std::vector<long long> out;
  long long id = 0;
  soci::statement st = (sql.prepare << select, soci::use(q), soci::into(id));
  st.execute();
  while (st.fetch()) out.push_back(id);
  return out;
}

std::vector<long long> ranked(soci::session& sql, const std::string& q) {
  return rowids(sql, "SELECT rowid FROM docs WHERE docs MATCH :q ORDER BY match_tier(docs, 1, 2, 3), rowid", q);
}

}  // namespace

TEST_SUITE("platform/sqlite_functions") {
  TEST_CASE("match_tier ranks by the columns every word is found in, and a name that starts with the first") {
    auto dir = fs::temp_directory_path() / ("crm-rank-test-" + crm::platform::random_hex(8));
    fs::create_directories(dir);
    {
      crm::platform::Database db({}, crm::platform::parse_database_url("sqlite:" + (dir / "rank.db").string()));
      auto sql = db.acquire();
      *sql << "CREATE VIRTUAL TABLE docs USING fts5(name, tags, notes)";
      auto add = [&](long long id, const std::string& name, const std::string& tags, const std::string& notes) {
        *sql << "INSERT INTO docs (rowid, name, tags, notes) VALUES (:i, :n, :t, :o)", soci::use(id), soci::use(name),
            soci::use(tags), soci::use(notes);
      };
      std::string many;
      for (int i = 0; i < 50; ++i) many += "songket ";
      add(1, "Kedai Tenun", "", many);                      // only in the notes, 50 times: tier 3
      add(2, "Kedai Songket", "", "");                      // in the name, not first: 1
      add(3, "Songket Murni", "", "");                      // first in the name: 0
      add(4, "Songket Songket Murni", "", "");              // the same tier as 3, however often
      add(5, "Kedai Tenun", "songket", "");                 // a tag: 2
      add(6, "Kedai Tenun", "", "");                        // no match
      add(7, "Songket Murni", "", "");                      // ties with 3: by rowid
      CHECK(ranked(*sql, "songket") == std::vector<long long>{3, 4, 7, 2, 5, 1});
      // A match is as good as its worst word: both in the name, however placed, beat one in a tag.
      add(8, "Tenun Indah", "songket", "");
      add(9, "Tenun Songket", "", "");
      add(10, "Songket Tenun", "", "");
      CHECK(ranked(*sql, "tenun songket") == std::vector<long long>{9, 10, 5, 8, 1});
      CHECK(ranked(*sql, "songket tenun") == std::vector<long long>{10, 9, 5, 8, 1});
      // Prefix terms rank like the words they match.
      CHECK(ranked(*sql, "song*") == std::vector<long long>{3, 4, 7, 10, 2, 9, 5, 8, 1});
      auto tier_of = [&](long long id, const std::string& q) {
        long long tier = -1;
        *sql << "SELECT match_tier(docs, 1, 2, 3) FROM docs WHERE docs MATCH :q AND rowid = :i", soci::use(q),
            soci::use(id), soci::into(tier);
        return tier;
      };
      CHECK(tier_of(3, "songket") == 0);
      CHECK(tier_of(2, "songket") == 1);
      CHECK(tier_of(5, "songket") == 2);
      CHECK(tier_of(1, "songket") == 3);
    }
    fs::remove_all(dir);
  }

  TEST_CASE("match_tier agrees with the column filters that read one tier at a time") {
    auto dir = fs::temp_directory_path() / ("crm-tier-test-" + crm::platform::random_hex(8));
    fs::create_directories(dir);
    {
      crm::platform::Database db({}, crm::platform::parse_database_url("sqlite:" + (dir / "tier.db").string()));
      auto sql = db.acquire();
      *sql << "CREATE VIRTUAL TABLE docs USING fts5(name, legal, email, tags, notes, prefix = '2')";
      const std::array<const char*, 6> words{"batik", "bunga", "songket", "sutera", "tenun", "kain"};
      std::mt19937 rng(7);
      auto text = [&](int max_words) {
        std::string out;
        int n = static_cast<int>(rng() % (max_words + 1));
        for (int i = 0; i < n; ++i) out += std::string(words[rng() % words.size()]) + " ";
        return out;
      };
      for (long long id = 1; id <= 400; ++id) {
        std::string name = text(3), legal = text(2), email = text(1), tags = text(2), notes = text(4);
        *sql << "INSERT INTO docs (rowid, name, legal, email, tags, notes) VALUES (:i, :n, :l, :e, :t, :o)",
            soci::use(id), soci::use(name), soci::use(legal), soci::use(email), soci::use(tags), soci::use(notes);
      }
      // Tiers: name 1, legal and email 2, tags 3, notes 4.
      const std::array<const char*, 5> at_most{"{name} : (^%F %R)", "{name} : (%F %R)", "{name legal email} : (%F %R)",
                                               "{name legal email tags} : (%F %R)", "(%F %R)"};
      std::array<std::size_t, 5> seen{};
      for (std::string first : {"\"batik\"*", "\"su\"*", "\"tenun\"*"}) {
        for (std::string rest : {"", "\"kain\"*", "\"bu\"*"}) {
          std::string q = first + " " + rest;
          CAPTURE(q);
          for (int tier = 0; tier < 5; ++tier) {
            std::string filter = at_most[tier];
            filter.replace(filter.find("%F"), 2, first);
            filter.replace(filter.find("%R"), 2, rest);
            auto by_filter = rowids(*sql, "SELECT rowid FROM docs WHERE docs MATCH :q ORDER BY rowid", filter);
            auto by_tier = rowids(*sql,
                                  "SELECT rowid FROM docs WHERE docs MATCH :q AND match_tier(docs, 1, 2, 2, 3, 4) <= " +
                                      std::to_string(tier) + " ORDER BY rowid",
                                  q);
            CAPTURE(tier);
            CHECK(by_filter == by_tier);
            seen[tier] += by_tier.size();
          }
        }
      }
      // Every tier held documents: the comparison was not between empty sets.
      for (int tier = 1; tier < 5; ++tier) CHECK(seen[tier] > seen[tier - 1]);
      CHECK(seen[0] > 0);
    }
    fs::remove_all(dir);
  }
}

// FTS5 behaviour the customer module's background merge relies on: 'merge' with a positive
// page count and usermerge 2, run between transactions that insert, replace and delete
// documents in savepoints (some rolled back), leaves an index that passes FTS5's own
// integrity check. (The same merge with a negative page count, its documented equivalent,
// corrupted the index of SQLite 3.40 within 8,000 such transactions here.)
TEST_SUITE("platform/sqlite_functions") {
  TEST_CASE("FTS5 merges with a positive page count keep an index intact through interleaved writes") {
    using namespace sqlite_api;
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open(":memory:", &db) == SQLITE_OK);
    auto exec = [&](const std::string& sql) {
      char* message = nullptr;
      int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &message);
      std::string text = message ? message : "";
      sqlite3_free(message);
      REQUIRE_MESSAGE(rc == SQLITE_OK, sql << ": " << text);
    };
    exec("CREATE VIRTUAL TABLE t USING fts5(a, b, prefix='2 3')");
    exec("INSERT INTO t (t, rank) VALUES ('usermerge', 2)");
    std::mt19937 random(7);
    auto pick = [&](int n) { return static_cast<int>(random() % static_cast<unsigned>(n)); };
    const char* words[] = {"songket", "batik", "tenun", "canting", "warisan", "murni", "seri", "indah"};
    auto text = [&] {
      std::string out;
      for (int i = 0; i < 5; ++i) out += std::string(words[pick(8)]) + std::to_string(pick(50)) + " ";
      return "'" + out + "'";
    };
    std::vector<long long> live;
    long long next = 1;
    int merges = 0;
    for (int tx = 0; tx < 8000; ++tx) {
      if (pick(10) < 3) {
        exec("BEGIN IMMEDIATE");
        exec("INSERT INTO t (t, rank) VALUES ('merge', " + std::to_string(std::array{2, 4, 16, 64}[pick(4)]) + ")");
        exec("COMMIT");
        ++merges;
      }
      exec("BEGIN");
      int ops = 1 + pick(8);
      for (int op = 0; op < ops; ++op) {
        std::string name = "s" + std::to_string(op);
        exec("SAVEPOINT " + name);
        auto before = live;
        auto next_before = next;
        int r = pick(100);
        if (r < 45) {
          for (int i = 1 + pick(5); i > 0; --i) {
            exec("INSERT INTO t (rowid, a, b) VALUES (" + std::to_string(next) + ", " + text() + ", " + text() + ")");
            live.push_back(next++);
          }
        } else if (r < 70 && !live.empty()) {
          std::size_t at = static_cast<std::size_t>(pick(static_cast<int>(live.size())));
          exec("DELETE FROM t WHERE rowid = " + std::to_string(live[at]));
          live.erase(live.begin() + static_cast<std::ptrdiff_t>(at));
        } else if (!live.empty()) {
          exec("UPDATE t SET a = " + text() + " WHERE rowid = " +
               std::to_string(live[static_cast<std::size_t>(pick(static_cast<int>(live.size())))]));
        }
        if (pick(10) < 3) {
          exec("ROLLBACK TO " + name);
          live = before;
          next = next_before;
        }
        exec("RELEASE " + name);
      }
      exec("COMMIT");
    }
    CHECK(merges > 2000);
    exec("INSERT INTO t (t) VALUES ('integrity-check')");
    sqlite3_stmt* st = nullptr;
    REQUIRE(sqlite3_prepare_v2(db, "SELECT COUNT(*) FROM t", -1, &st, nullptr) == SQLITE_OK);
    REQUIRE(sqlite3_step(st) == SQLITE_ROW);
    CHECK(sqlite3_column_int64(st, 0) == static_cast<long long>(live.size()));
    sqlite3_finalize(st);
    sqlite3_close(db);
  }
}
