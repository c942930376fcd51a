#include "sqlite_functions.hpp"

#include <algorithm>
#include <utility>

namespace crm::platform {

namespace {

using namespace sqlite_api;

void weighted_match(const Fts5ExtensionApi* api, Fts5Context* fts, sqlite3_context* out, int n_weights,
                    sqlite3_value** weights) {
  int phrases = api->xPhraseCount(fts);
  double score = 0;
  for (int p = 0; p < phrases; ++p) {
    Fts5PhraseIter it;
    int column = 0, offset = 0;
    double best = 0, rest = 0;
    int rc = api->xPhraseFirst(fts, p, &it, &column, &offset);
    if (rc != SQLITE_OK) {
      sqlite3_result_error_code(out, rc);
      return;
    }
    for (; column >= 0; api->xPhraseNext(fts, &it, &column, &offset)) {
      double w = column < n_weights ? sqlite3_value_double(weights[column]) : 1.0;
      if (offset == 0) w *= 1.5;
      if (w > best) std::swap(w, best);
      rest += w;
    }
    // Further occurrences add up to half the best one's weight again.
    score += best + 0.5 * std::min(rest, best);
  }
  sqlite3_result_double(out, -score);
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
  return api->xCreateFunction(api, "weighted_match", nullptr, weighted_match, nullptr) == SQLITE_OK;
}

}  // namespace crm::platform
