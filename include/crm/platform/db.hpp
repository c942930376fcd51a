#pragma once
/// Database access on SOCI: a connection pool over SQLite or PostgreSQL from one URL.

#include "crm/platform/config.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <initializer_list>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace sqlite_api {
struct sqlite3;
struct sqlite3_stmt;
}

namespace soci {
class session;
class backend_factory;
}  // namespace soci

namespace crm::platform::detail {
struct StatementCounters;
}

namespace crm::platform {

enum class Backend { sqlite, postgres };

/// A parsed `sqlite:PATH` or `postgresql://user:pass@host:port/db` URL.
struct DatabaseUrl {
  Backend backend = Backend::sqlite;
  std::string sqlite_path;     // sqlite only
  std::string connect_string;  // what SOCI's backend takes
  /// The URL with any password replaced by `***`, safe for logs.
  std::string redacted;
};

/// Throws ConfigError (key `database.url`) when the URL is not understood.
DatabaseUrl parse_database_url(const std::string& url);

struct PoolStats {
  std::size_t size = 0;
  std::size_t in_use = 0;
  std::uint64_t waits = 0;     // acquisitions that had to wait
  std::uint64_t timeouts = 0;  // acquisitions that gave up (503)
  std::uint64_t statements_prepared = 0;  // statements compiled (not found in a connection's cache)
  std::uint64_t statements_reused = 0;    // statements served from a connection's cache
};

/// A fixed-size pool of sessions. Connections are opened lazily and replaced when broken.
/// Each connection keeps the statements it prepared and reuses them for the same SQL text.
class Database final {
 public:
  Database(const DatabaseConfig& config, const DatabaseUrl& url);
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  Backend backend() const noexcept { return url_.backend; }
  const DatabaseUrl& url() const noexcept { return url_; }

  /// A pooled session, returned to the pool when the lease ends.
  class Lease final {
   public:
    Lease(Database* db, std::size_t slot) : db_(db), slot_(slot) {}
    Lease(Lease&& other) noexcept : db_(other.db_), slot_(other.slot_) { other.db_ = nullptr; }
    Lease& operator=(Lease&&) = delete;
    ~Lease();
    soci::session& operator*() const;
    soci::session* operator->() const { return &**this; }
    /// Marks the connection broken: it is closed instead of being reused.
    void discard() noexcept { broken_ = true; }

   private:
    Database* db_;
    std::size_t slot_;
    bool broken_ = false;
  };

  /// Waits up to `timeout` for a free session; throws a 503 Error when none frees up.
  Lease acquire(std::chrono::milliseconds timeout = std::chrono::milliseconds(5000));

  /// SQLite has one writer at a time. Writers of this process queue on this lock before
  /// BEGIN IMMEDIATE, so they wait their turn instead of sleeping in SQLite's busy handler
  /// (which backs off by milliseconds and was the ceiling of concurrent writes). Take it
  /// before acquiring the session the transaction runs on. Throws a 503 Error after the busy
  /// timeout. PostgreSQL: an empty lock.
  std::unique_lock<std::timed_mutex> write_lock();
  /// Writers queued on write_lock() now (SQLite; always 0 on PostgreSQL). A long-running
  /// writer such as an import commits early and lets them in when this is not zero.
  int writers_waiting() const noexcept { return write_waiters_.load(std::memory_order_relaxed); }
  /// Writers queued for the write lock elsewhere (the units of work waiting for a group
  /// commit) count in writers_waiting() too.
  void count_queued_writers(int delta) noexcept { write_waiters_.fetch_add(delta, std::memory_order_relaxed); }

  /// True when a trivial query succeeds.
  bool ping();
  /// SQLite: write-ahead log checkpoints run so far by the background checkpointer.
  std::uint64_t checkpoints() const noexcept { return checkpoints_.load(std::memory_order_relaxed); }
  PoolStats stats() const;

  /// Runs SQL text with several statements (migrations) on a raw connection.
  static void execute_script(soci::session& session, Backend backend, const std::string& sql);

 private:
  friend class Lease;
  struct Checkpointer;
  void release(std::size_t slot, bool broken);
  void request_checkpoint() noexcept;
  void run_checkpointer();
  void checkpoint_once(sqlite_api::sqlite3* conn);
  std::unique_ptr<soci::session> open_session();

  DatabaseConfig config_;
  DatabaseUrl url_;
  std::unique_ptr<detail::StatementCounters> statement_counters_;
  std::unique_ptr<soci::backend_factory> factory_;
  mutable std::mutex mutex_;
  std::timed_mutex write_mutex_;
  std::atomic<int> write_waiters_{0};
  std::condition_variable cv_;
  std::vector<std::unique_ptr<soci::session>> sessions_;
  std::vector<bool> busy_;
  std::uint64_t waits_ = 0;
  std::uint64_t timeouts_ = 0;
  std::atomic<std::uint64_t> checkpoints_{0};
  std::unique_ptr<Checkpointer> checkpointer_;  // SQLite
};

/// Opens the database described by the configuration (demo SQLite under data_dir when no URL).
std::unique_ptr<Database> open_database(const Config& config);

/// Whether an error from the database driver means that the server could not be reached: the
/// connection was refused, lost or closed by the server (shut down, or the database dropped).
/// Such a request may succeed when retried, so it answers 503, not 500.
bool is_connection_loss(const std::exception& error) noexcept;

/// A value for a statement's placeholder: NULL, text, an integer or a real. Text is not
/// copied: it must outlive the call it is passed to.
using SqlValue = std::variant<std::monostate, std::string_view, long long, double>;

/// Text, or NULL when there is none (absent, or empty for `text_or_null(const std::string&)`).
inline SqlValue text_or_null(const std::string& s) {
  return s.empty() ? SqlValue() : SqlValue(std::string_view(s));
}
inline SqlValue text_or_null(const std::optional<std::string>& s) {
  return s ? SqlValue(std::string_view(*s)) : SqlValue();
}
inline SqlValue number_or_null(const std::optional<long long>& v) { return v ? SqlValue(*v) : SqlValue(); }

/// SQLite only: a statement of a session's connection for `sql`, taken from the connection's
/// statement cache (or prepared) and given back to it, reset and with its bindings cleared,
/// when this goes. For hot reads that bind and read columns with the SQLite API instead of
/// SOCI's conversions column by column. Errors throw std::runtime_error with SQLite's message.
class SqliteQuery final {
 public:
  SqliteQuery(soci::session& session, std::string sql);
  ~SqliteQuery();
  SqliteQuery(const SqliteQuery&) = delete;
  SqliteQuery& operator=(const SqliteQuery&) = delete;

  sqlite_api::sqlite3_stmt* get() const noexcept { return stmt_; }
  /// The index of a named parameter (":p0"); throws when the statement has none of that name.
  int parameter(const char* name) const;
  /// Binds a value to the placeholder at `index` (from 1); the text must outlive the query.
  SqliteQuery& bind(int index, std::string_view text);
  SqliteQuery& bind(int index, long long number);
  SqliteQuery& bind(int index, double number);
  SqliteQuery& bind_value(int index, const SqlValue& value);  // NULL for std::monostate
  /// Steps to the next row: false when there is none.
  bool step();
  /// Rewinds the statement to run it again; the bindings stay until bound anew.
  void reset();
  /// A column of the current row as an integer.
  long long integer(int column) const;
  /// A column of the current row as text, valid until the next step; none when NULL.
  std::optional<std::string_view> text(int column) const;

 private:
  soci::session& session_;
  std::string sql_;
  sqlite_api::sqlite3_stmt* stmt_ = nullptr;
  bool cached_ = false;  // goes back to the connection's cache
};

/// Runs one statement that changes rows. Its placeholders (":name", each used once) take
/// `values` in the order they appear. On SQLite it goes through the SQLite API, with the
/// statement from the connection's cache and the values bound without copies; on PostgreSQL
/// through SOCI. Returns the first column of the first row the statement returns (an id
/// from RETURNING), or nothing when it returns none. Errors throw (std::runtime_error with
/// SQLite's message; SOCI's errors on PostgreSQL); a count of values that does not match
/// the placeholders throws std::logic_error.
std::optional<long long> execute(soci::session& session, std::string_view sql, std::initializer_list<SqlValue> values);

/// Runs an INSERT of one row, as execute does, and returns the new row's integer key: on
/// SQLite the rowid (`key` must be the table's INTEGER PRIMARY KEY), on PostgreSQL through
/// "RETURNING key". SQLite answers RETURNING through a temporary table of its own, which
/// costs more than the insert of a small row.
long long insert_returning_key(soci::session& session, std::string_view sql, std::string_view key,
                               std::initializer_list<SqlValue> values);

}  // namespace crm::platform
