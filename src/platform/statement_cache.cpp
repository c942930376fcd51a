#include "statement_cache.hpp"

#include "crm/platform/db.hpp"

#include <soci/postgresql/soci-postgresql.h>
#include <soci/session.h>
#include <soci/soci.h>
#include <soci/sqlite3/soci-sqlite3.h>

#include <cctype>
#include <deque>
#include <type_traits>
#include <variant>
#include <list>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

namespace crm::platform::detail {

namespace {

using soci::details::statement_type;

// Only statements whose text repeats are kept: queries and row changes. Schema changes,
// PRAGMAs and session settings run once and are prepared the ordinary way.
bool worth_keeping(std::string_view sql, bool transaction_control) {
  std::size_t i = 0;
  while (i < sql.size() && std::isspace(static_cast<unsigned char>(sql[i]))) ++i;
  std::string word;
  while (i < sql.size() && std::isalpha(static_cast<unsigned char>(sql[i])) && word.size() < 10) {
    word.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(sql[i]))));
    ++i;
  }
  if (word == "SELECT" || word == "INSERT" || word == "UPDATE" || word == "DELETE" || word == "WITH") return true;
  return transaction_control && (word == "BEGIN" || word == "COMMIT" || word == "ROLLBACK" || word == "SAVEPOINT" ||
                                 word == "RELEASE");
}

/// Least-recently-used map from SQL text to a connection's statement.
template <class Value>
class Lru {
 public:
  struct Entry {
    std::string sql;
    Value value;
  };
  using List = std::list<Entry>;

  /// The entry for `sql`, now the most recently used; null when absent.
  Entry* find(const std::string& sql) {
    auto it = index_.find(sql);
    if (it == index_.end()) return nullptr;
    entries_.splice(entries_.begin(), entries_, it->second);
    return &*it->second;
  }
  Entry& insert(std::string sql, Value value) {
    entries_.push_front(Entry{std::move(sql), std::move(value)});
    index_.emplace(entries_.front().sql, entries_.begin());
    return entries_.front();
  }
  void erase(const std::string& sql) {
    auto it = index_.find(sql);
    if (it == index_.end()) return;
    auto pos = it->second;
    index_.erase(it);
    entries_.erase(pos);
  }
  std::size_t size() const noexcept { return entries_.size(); }
  List& entries() noexcept { return entries_; }

 private:
  List entries_;
  std::unordered_map<std::string_view, typename List::iterator> index_;
};

// ---- SQLite -------------------------------------------------------------------------------

class SqliteSession;

// A statement taken from its session's cache while it is in use and given back, reset and
// with its parameters cleared, when SOCI is done with it. Two statements with the same text
// open at once on one connection simply get a statement each.
struct SqliteStatement final : soci::sqlite3_statement_backend {
  explicit SqliteStatement(SqliteSession& session);
  void prepare(const std::string& query, statement_type type) override;
  void clean_up() override;

  SqliteSession& owner;
  std::string key;  // non-empty: the statement goes back to the cache
};

class SqliteSession final : public soci::sqlite3_session_backend {
 public:
  SqliteSession(const soci::connection_parameters& parameters, StatementCounters& counters)
      : soci::sqlite3_session_backend(parameters), counters_(counters) {}
  ~SqliteSession() override {
    // sqlite3_close refuses to close a connection with statements left.
    for (auto& e : cache_.entries()) sqlite_api::sqlite3_finalize(e.value);
  }
  soci::sqlite3_statement_backend* make_statement_backend() override { return new SqliteStatement(*this); }

  sqlite_api::sqlite3_stmt* take(const std::string& sql) {
    auto* entry = cache_.find(sql);
    if (!entry) return nullptr;
    auto* stmt = entry->value;
    cache_.erase(sql);
    counters_.reused.fetch_add(1, std::memory_order_relaxed);
    return stmt;
  }
  void give_back(std::string sql, sqlite_api::sqlite3_stmt* stmt) {
    if (cache_.find(sql)) {  // another statement with this text came back first
      sqlite_api::sqlite3_finalize(stmt);
      return;
    }
    cache_.insert(std::move(sql), stmt);
    while (cache_.size() > kStatementsPerConnection) {
      auto& oldest = cache_.entries().back();
      sqlite_api::sqlite3_finalize(oldest.value);
      cache_.erase(std::string(oldest.sql));
    }
  }
  StatementCounters& counters() noexcept { return counters_; }

 private:
  StatementCounters& counters_;
  Lru<sqlite_api::sqlite3_stmt*> cache_;
};

SqliteStatement::SqliteStatement(SqliteSession& session) : soci::sqlite3_statement_backend(session), owner(session) {}

void SqliteStatement::prepare(const std::string& query, statement_type type) {
  clean_up();
  bool keep = worth_keeping(query, true);
  if (keep) {
    if (auto* stmt = owner.take(query)) {
      stmt_ = stmt;
      databaseReady_ = true;
      key = query;
      return;
    }
  }
  soci::sqlite3_statement_backend::prepare(query, type);
  owner.counters().prepared.fetch_add(1, std::memory_order_relaxed);
  if (keep) key = query;
}

void SqliteStatement::clean_up() {
  if (stmt_ && !key.empty()) {
    sqlite_api::sqlite3_reset(stmt_);
    sqlite_api::sqlite3_clear_bindings(stmt_);
    owner.give_back(std::move(key), stmt_);
    key.clear();
    stmt_ = nullptr;
    databaseReady_ = false;
    rowsAffectedBulk_ = -1;
    return;
  }
  key.clear();
  soci::sqlite3_statement_backend::clean_up();
}

// ---- PostgreSQL ---------------------------------------------------------------------------

class PgSession;

// A statement prepared on the server once per connection under a name of its own; later
// statements with the same text run it by name. SOCI's rewriting of :name parameters into
// $n is kept (the base prepare does it), only the PQprepare and the DEALLOCATE move into
// the session's cache.
struct PgStatement final : soci::postgresql_statement_backend {
  explicit PgStatement(PgSession& session);
  ~PgStatement() override;
  void prepare(const std::string& query, statement_type type) override;

  PgSession& owner;
  bool cached = false;
};

class PgSession final : public soci::postgresql_session_backend {
 public:
  struct Prepared {
    std::string name;
    int users = 0;  // statements running it now: never evicted while in use
  };

  PgSession(const soci::connection_parameters& parameters, StatementCounters& counters)
      : soci::postgresql_session_backend(parameters, false), counters_(counters) {}
  soci::postgresql_statement_backend* make_statement_backend() override { return new PgStatement(*this); }

  /// The server-side name for `sql` ($n form), preparing it on this connection if needed.
  const std::string& acquire(const std::string& sql, int parameters) {
    if (auto* entry = cache_.find(sql)) {
      ++entry->value.users;
      counters_.reused.fetch_add(1, std::memory_order_relaxed);
      return entry->value.name;
    }
    std::string name = "crm_" + std::to_string(++sequence_);
    soci::details::postgresql_result result(*this, PQprepare(conn_, name.c_str(), sql.c_str(), parameters, nullptr));
    result.check_for_errors("Cannot prepare statement.");
    counters_.prepared.fetch_add(1, std::memory_order_relaxed);
    evict_beyond(kStatementsPerConnection - 1);
    auto& entry = cache_.insert(sql, Prepared{std::move(name), 1});
    return entry.value.name;
  }
  void release(const std::string& sql) {
    if (auto* entry = cache_.find(sql); entry && entry->value.users > 0) --entry->value.users;
  }

 private:
  void evict_beyond(std::size_t limit) {
    auto& entries = cache_.entries();
    for (auto it = entries.end(); cache_.size() > limit && it != entries.begin();) {
      --it;
      if (it->value.users > 0) continue;
      // Prepared statements are not transactional: this works inside a transaction too.
      PGresult* r = PQexec(conn_, ("DEALLOCATE " + it->value.name).c_str());
      PQclear(r);
      std::string sql = it->sql;
      it = std::next(it);
      cache_.erase(sql);
    }
  }

  StatementCounters& counters_;
  Lru<Prepared> cache_;
  std::uint64_t sequence_ = 0;
};

PgStatement::PgStatement(PgSession& session) : soci::postgresql_statement_backend(session, false), owner(session) {}

PgStatement::~PgStatement() {
  if (cached) {
    owner.release(query_);
    statementName_.clear();  // the session's cache owns the server-side statement
  }
}

void PgStatement::prepare(const std::string& query, statement_type type) {
  if (!worth_keeping(query, false)) {
    soci::postgresql_statement_backend::prepare(query, type);
    return;
  }
  // A one-time prepare only rewrites the text (query_, names_); nothing reaches the server.
  soci::postgresql_statement_backend::prepare(query, soci::details::st_one_time_query);
  statementName_ = owner.acquire(query_, static_cast<int>(names_.size()));
  cached = true;
  stType_ = soci::details::st_repeatable_query;
}

/// Makes sessions of one of the two kinds above.
template <class Session>
class Factory final : public soci::backend_factory {
 public:
  explicit Factory(StatementCounters& counters) : counters_(counters) {}
  soci::details::session_backend* make_session(const soci::connection_parameters& parameters) const override {
    return new Session(parameters, counters_);
  }

 private:
  StatementCounters& counters_;
};

}  // namespace

std::unique_ptr<soci::backend_factory> caching_sqlite_factory(StatementCounters& counters) {
  return std::make_unique<Factory<SqliteSession>>(counters);
}

std::unique_ptr<soci::backend_factory> caching_postgresql_factory(StatementCounters& counters) {
  return std::make_unique<Factory<PgSession>>(counters);
}

}  // namespace crm::platform::detail

namespace crm::platform {

SqliteQuery::SqliteQuery(soci::session& session, std::string sql) : session_(session), sql_(std::move(sql)) {
  auto* owner = dynamic_cast<detail::SqliteSession*>(session.get_backend());
  if (owner && !detail::worth_keeping(sql_, true)) owner = nullptr;  // as SOCI's statements are kept
  if (owner) stmt_ = owner->take(sql_);
  if (!stmt_) {
    auto* backend = dynamic_cast<soci::sqlite3_session_backend*>(session.get_backend());
    if (!backend) throw std::logic_error("SqliteQuery needs a SQLite session");
    if (sqlite_api::sqlite3_prepare_v3(backend->conn_, sql_.data(), static_cast<int>(sql_.size()),
                                       SQLITE_PREPARE_PERSISTENT, &stmt_, nullptr) != SQLITE_OK) {
      std::string message = sqlite_api::sqlite3_errmsg(backend->conn_);
      sqlite_api::sqlite3_finalize(stmt_);
      stmt_ = nullptr;
      throw std::runtime_error("sqlite3_prepare_v3: " + message);
    }
    if (owner) owner->counters().prepared.fetch_add(1, std::memory_order_relaxed);
  }
  cached_ = owner != nullptr;
}

SqliteQuery::~SqliteQuery() {
  if (!cached_) {
    sqlite_api::sqlite3_finalize(stmt_);
    return;
  }
  sqlite_api::sqlite3_reset(stmt_);
  sqlite_api::sqlite3_clear_bindings(stmt_);
  static_cast<detail::SqliteSession*>(session_.get_backend())->give_back(std::move(sql_), stmt_);
}

int SqliteQuery::parameter(const char* name) const {
  int index = sqlite_api::sqlite3_bind_parameter_index(stmt_, name);
  if (index == 0) throw std::logic_error(std::string("no parameter ") + name + " in the statement");
  return index;
}

SqliteQuery& SqliteQuery::bind(int index, std::string_view text) {
  int rc = sqlite_api::sqlite3_bind_text(stmt_, index, text.data(), static_cast<int>(text.size()), SQLITE_STATIC);
  if (rc != SQLITE_OK) throw std::runtime_error("sqlite3_bind_text: " + std::string(sqlite_api::sqlite3_errstr(rc)));
  return *this;
}

SqliteQuery& SqliteQuery::bind(int index, long long number) {
  int rc = sqlite_api::sqlite3_bind_int64(stmt_, index, number);
  if (rc != SQLITE_OK) throw std::runtime_error("sqlite3_bind_int64: " + std::string(sqlite_api::sqlite3_errstr(rc)));
  return *this;
}

SqliteQuery& SqliteQuery::bind(int index, double number) {
  int rc = sqlite_api::sqlite3_bind_double(stmt_, index, number);
  if (rc != SQLITE_OK) throw std::runtime_error("sqlite3_bind_double: " + std::string(sqlite_api::sqlite3_errstr(rc)));
  return *this;
}

SqliteQuery& SqliteQuery::bind_value(int index, const SqlValue& value) {
  return std::visit(
      [&](const auto& x) -> SqliteQuery& {
        if constexpr (std::is_same_v<std::decay_t<decltype(x)>, std::monostate>) {
          int rc = sqlite_api::sqlite3_bind_null(stmt_, index);
          if (rc != SQLITE_OK) throw std::runtime_error("sqlite3_bind_null: " + std::string(sqlite_api::sqlite3_errstr(rc)));
          return *this;
        } else {
          return bind(index, x);
        }
      },
      value);
}

long long SqliteQuery::integer(int column) const { return sqlite_api::sqlite3_column_int64(stmt_, column); }

std::optional<std::string_view> SqliteQuery::text(int column) const {
  const auto* p = reinterpret_cast<const char*>(sqlite_api::sqlite3_column_text(stmt_, column));
  if (p == nullptr) return std::nullopt;
  return std::string_view(p, static_cast<std::size_t>(sqlite_api::sqlite3_column_bytes(stmt_, column)));
}

void SqliteQuery::reset() { sqlite_api::sqlite3_reset(stmt_); }

bool SqliteQuery::step() {
  int rc = sqlite_api::sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  throw std::runtime_error(std::string("sqlite3_step: ") + sqlite_api::sqlite3_errmsg(sqlite_api::sqlite3_db_handle(stmt_)));
}

}  // namespace crm::platform

namespace crm::platform {

namespace {

std::optional<long long> execute_sqlite(soci::session& session, std::string_view sql,
                                        std::initializer_list<SqlValue> values) {
  SqliteQuery query(session, std::string(sql));
  int placeholders = sqlite_api::sqlite3_bind_parameter_count(query.get());
  if (placeholders != static_cast<int>(values.size())) {
    throw std::logic_error("execute: " + std::to_string(values.size()) + " values for " +
                           std::to_string(placeholders) + " placeholders");
  }
  int index = 1;
  for (const auto& v : values) query.bind_value(index++, v);
  std::optional<long long> first;
  if (query.step()) {
    first = query.integer(0);
    while (query.step()) {
    }
  }
  return first;
}

std::optional<long long> execute_soci(soci::session& session, std::string_view sql,
                                      std::initializer_list<SqlValue> values) {
  // SOCI binds references: the converted values live in deques, which never move them.
  std::deque<std::string> texts;
  std::deque<long long> numbers;
  std::deque<double> reals;
  std::deque<soci::indicator> indicators;
  soci::statement st(session);
  for (const auto& v : values) {
    if (std::holds_alternative<std::monostate>(v)) {
      texts.emplace_back();
      indicators.push_back(soci::i_null);
      st.exchange(soci::use(texts.back(), indicators.back()));
    } else if (const auto* text = std::get_if<std::string_view>(&v)) {
      texts.emplace_back(*text);
      st.exchange(soci::use(texts.back()));
    } else if (const auto* number = std::get_if<long long>(&v)) {
      numbers.push_back(*number);
      st.exchange(soci::use(numbers.back()));
    } else {
      reals.push_back(std::get<double>(v));
      st.exchange(soci::use(reals.back()));
    }
  }
  long long first = 0;
  soci::indicator first_ind = soci::i_null;
  bool returns = sql.find("RETURNING") != std::string_view::npos;
  if (returns) st.exchange(soci::into(first, first_ind));
  st.alloc();
  st.prepare(std::string(sql));
  st.define_and_bind();
  bool got = st.execute(true);
  if (returns && got && first_ind == soci::i_ok) return first;
  return std::nullopt;
}

}  // namespace

std::optional<long long> execute(soci::session& session, std::string_view sql, std::initializer_list<SqlValue> values) {
  if (dynamic_cast<soci::sqlite3_session_backend*>(session.get_backend())) return execute_sqlite(session, sql, values);
  return execute_soci(session, sql, values);
}

long long insert_returning_key(soci::session& session, std::string_view sql, std::string_view key,
                               std::initializer_list<SqlValue> values) {
  if (auto* backend = dynamic_cast<soci::sqlite3_session_backend*>(session.get_backend())) {
    execute_sqlite(session, sql, values);
    return sqlite_api::sqlite3_last_insert_rowid(backend->conn_);
  }
  auto returned = execute_soci(session, std::string(sql) + " RETURNING " + std::string(key), values);
  if (!returned) throw std::runtime_error("the insert returned no " + std::string(key));
  return *returned;
}

}  // namespace crm::platform
