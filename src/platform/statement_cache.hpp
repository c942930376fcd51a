#pragma once
// Private to the platform: SOCI backend factories whose sessions keep their prepared
// statements. SOCI prepares every statement again each time it runs (sqlite3_prepare_v2,
// or a parse and plan on the PostgreSQL server). These sessions keep each statement they
// prepared, keyed by its SQL text, and hand it to the next statement with the same text on
// the same connection: a SQLite statement is reset and reused, a PostgreSQL statement is
// prepared once under a name and then run with PQexecPrepared (one round trip, no parse).

#include <soci/soci-backend.h>

#include <atomic>
#include <cstdint>
#include <memory>

namespace crm::platform::detail {

struct StatementCounters {
  std::atomic<std::uint64_t> prepared{0};  // statements compiled (cache misses)
  std::atomic<std::uint64_t> reused{0};    // statements served from a connection's cache
};

/// Statements kept per connection; the least recently used beyond this are dropped.
inline constexpr std::size_t kStatementsPerConnection = 256;

/// A backend factory for SQLite or PostgreSQL sessions with a statement cache. The counters
/// outlive every session the factory makes.
std::unique_ptr<soci::backend_factory> caching_sqlite_factory(StatementCounters& counters);
std::unique_ptr<soci::backend_factory> caching_postgresql_factory(StatementCounters& counters);

}  // namespace crm::platform::detail
