// weighted_match, the FTS5 rank every SQLite session of the platform gets.
#include "crm/platform/db.hpp"
#include "crm/platform/time.hpp"

#include <doctest/doctest.h>
#include <soci/soci.h>

#include <filesystem>
#include <string>
#include <vector>

namespace {
namespace fs = std::filesystem;

std::vector<long long> ranked(soci::session& sql, const std::string& q) {
  std::vector<long long> out;
  long long id = 0;
  soci::statement st = (sql.prepare << "SELECT rowid FROM docs WHERE docs MATCH :q"
                                       " ORDER BY weighted_match(docs, 10.0, 3.0, 1.0), rowid",
                        soci::use(q), soci::into(id));
  st.execute();
  while (st.fetch()) out.push_back(id);
  return out;
}

}  // namespace

TEST_SUITE("platform/sqlite_functions") {
  TEST_CASE("weighted_match ranks by the columns a word is found in, its position and how often") {
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
      add(1, "Kedai Tenun", "", many);                      // only in the notes, 50 times
      add(2, "Kedai Songket", "", "");                      // in the name, not first
      add(3, "Songket Murni", "", "");                      // first in the name
      add(4, "Songket Songket Murni", "", "");              // first in the name, and again
      add(5, "Kedai Tenun", "songket", "");                 // a tag
      add(6, "Kedai Tenun", "", "");                        // no match
      add(7, "Songket Murni", "", "");                      // ties with 3: by rowid
      CHECK(ranked(*sql, "songket") == std::vector<long long>{4, 3, 7, 2, 5, 1});
      // Each word of the query counts: a name starting with one and a tag with the other
      // (15 + 4.5) beats a name starting with one (15), not one with it twice (15 + 5).
      add(8, "Tenun Indah", "songket", "");
      CHECK(ranked(*sql, "songket OR tenun") == std::vector<long long>{4, 8, 3, 7, 5, 1, 2, 6});
      // Prefix terms rank like the words they match.
      CHECK(ranked(*sql, "song*") == std::vector<long long>{4, 3, 7, 2, 5, 8, 1});
    }
    fs::remove_all(dir);
  }
}
