#include "sqlite_functions.hpp"

#include <algorithm>
#include <utility>

namespace crm::platform {

namespace {

using namespace sqlite_api;

void match_tier(const Fts5ExtensionApi* api, Fts5Context* fts, sqlite3_context* out, int n_tiers,
                sqlite3_value** tiers) {
  if (n_tiers < 1) {
    sqlite3_result_error(out, "match_tier needs the tier of column 0 at least", -1);
    return;
  }
  auto tier_of = [&](int column) { return sqlite3_value_int64(tiers[column]); };
  int phrases = api->xPhraseCount(fts);
  long long worst = 0;
  bool starts_column_0 = false;
  for (int p = 0; p < phrases; ++p) {
    Fts5PhraseIter it;
    int column = 0, offset = 0;
    long long best = -1;
    int rc = api->xPhraseFirst(fts, p, &it, &column, &offset);
    if (rc != SQLITE_OK) {
      sqlite3_result_error_code(out, rc);
      return;
    }
    for (; column >= 0; api->xPhraseNext(fts, &it, &column, &offset)) {
      long long tier = tier_of(std::min(column, n_tiers - 1));
      if (best < 0 || tier < best) best = tier;
      if (p == 0 && column == 0 && offset == 0) starts_column_0 = true;
    }
    // A phrase without an instance (a NOT branch, say) does not make the match worse.
    if (best > worst) worst = best;
  }
  sqlite3_result_int64(out, starts_column_0 && worst == tier_of(0) ? worst - 1 : worst);
}

}  // namespace

bool register_sqlite_functions(sqlite3* conn) {
  fts5_api* api = nullptr;
  sqlite3_stmt* st = nullptr;
  if (sqlite3_prepare_v2(conn, "SELECT fts5(?1)", -1, &st, nullptr) != SQLITE_OK) return false;
  sqlite3_bind_pointer(st, 1, static_cast<void*>(&api), "fts5_api_ptr", nullptr);
  sqlite3_step(st);
  sqlite3_finalize(st);
  if (api == nullptr || api->iVersion < 2) return false;
  return api->xCreateFunction(api, "match_tier", nullptr, match_tier, nullptr) == SQLITE_OK;
}

}  // namespace crm::platform
