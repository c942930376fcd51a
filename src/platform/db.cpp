#include "crm/platform/db.hpp"

#include "crm/platform/error.hpp"
#include "crm/platform/log.hpp"
#include "sqlite_functions.hpp"
#include "statement_cache.hpp"

#include <soci/postgresql/soci-postgresql.h>
#include <soci/soci.h>
#include <soci/sqlite3/soci-sqlite3.h>

#include <boost/url/parse.hpp>

#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <thread>

namespace crm::platform {

namespace {

// libpq keyword/value form ("host=... dbname=..."): SOCI does not pass URIs through intact.
std::string quote_keyword_value(const std::string& v) {
  std::string out = "'";
  for (char c : v) {
    if (c == '\\' || c == '\'') out.push_back('\\');
    out.push_back(c);
  }
  return out + "'";
}

std::string libpq_keywords(const std::string& url) {
  auto parsed = boost::urls::parse_uri(url);
  if (!parsed) throw ConfigError("invalid configuration: database.url: not a valid postgresql:// URL");
  const auto& u = *parsed;
  std::string out;
  auto add = [&](const std::string& k, const std::string& v) {
    if (v.empty()) return;
    if (!out.empty()) out.push_back(' ');
    out += k + "=" + quote_keyword_value(v);
  };
  add("host", std::string(u.host()));
  add("port", std::string(u.port()));
  add("user", u.has_userinfo() ? std::string(u.user()) : std::string());
  add("password", u.has_password() ? std::string(u.password()) : std::string());
  std::string path = u.path();
  if (!path.empty() && path[0] == '/') path.erase(0, 1);
  add("dbname", path);
  for (auto p : u.params()) {
    if (!p.has_value) continue;
    std::string key = p.key;
    bool known = key == "sslmode" || key == "connect_timeout" || key == "application_name" || key == "sslrootcert" ||
                 key == "sslcert" || key == "sslkey" || key == "target_session_attrs" || key == "options";
    if (!known) throw ConfigError("invalid configuration: database.url: unsupported parameter " + key);
    add(key, std::string(p.value));
  }
  return out;
}

// A pooled connection is used by one thread at a time, so SQLite needs no mutex of its own
// (multi-thread mode) and no global memory statistics (whose lock every worker would meet on
// every allocation). Must run before SQLite initializes; later calls are refused and harmless.
void configure_sqlite_once() {
  static std::once_flag once;
  std::call_once(once, [] {
    sqlite_api::sqlite3_config(SQLITE_CONFIG_MULTITHREAD);
    sqlite_api::sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
  });
}

// Once the write-ahead log holds this many pages after a commit (SQLite's own default for
// its automatic checkpoint), the background checkpointer copies them into the database.
constexpr int kCheckpointPages = 1000;
// A log file larger than this (left by a burst the checkpointer could not keep up with) is
// truncated when it starts over; a smaller one is reused from its beginning.
constexpr std::uintmax_t kWalKeepBytes = 64u << 20;

}  // namespace

// SQLite checkpoints in the background. Left to itself, SQLite checkpoints inside the commit
// that crosses the threshold: that writer copies the log into the database and flushes the
// database file while holding the write lock, and every writer queued behind it waits. A
// PASSIVE checkpoint on a connection of its own runs beside the writers instead.
struct Database::Checkpointer {
  std::mutex mutex;
  std::condition_variable wake;
  bool wanted = false;
  bool stopping = false;
  std::thread thread;
};

void Database::request_checkpoint() noexcept {
  {
    std::lock_guard lock(checkpointer_->mutex);
    if (checkpointer_->wanted) return;
    checkpointer_->wanted = true;
  }
  checkpointer_->wake.notify_one();
}

namespace {

// A checkpoint that starts the log over waits at most about 50 ms for the readers of its
// frames (250 waits of 200 microseconds), then gives up until the next one.
int short_busy_wait(void*, int attempts) {
  if (attempts >= 250) return 0;
  std::this_thread::sleep_for(std::chrono::microseconds(200));
  return 1;
}

}  // namespace

void Database::checkpoint_once(sqlite_api::sqlite3* conn) {
  using namespace sqlite_api;
  // The bulk of the copy runs beside the writers, without a lock.
  int log_pages = 0, copied = 0;
  int rc = sqlite3_wal_checkpoint_v2(conn, nullptr, SQLITE_CHECKPOINT_PASSIVE, &log_pages, &copied);
  if (rc != SQLITE_OK && rc != SQLITE_BUSY) {
    log_warn("write-ahead log checkpoint failed", {{"error", sqlite3_errmsg(conn)}});
    return;
  }
  if (log_pages < kCheckpointPages) return;
  // The log only starts over from its beginning once every frame in it was copied and no
  // reader still reads one, which a steady stream of commits and reads never allows by
  // itself: the log would grow without end. So the last frames are copied between two
  // writers, holding the write lock, and the log is started over once the readers of its
  // frames are done (a RESTART checkpoint). When an earlier burst left the file large, it
  // is truncated instead.
  try {
    auto writing = write_lock();
    std::error_code ec;
    auto size = std::filesystem::file_size(url_.sqlite_path + "-wal", ec);
    int mode = !ec && size > kWalKeepBytes ? SQLITE_CHECKPOINT_TRUNCATE : SQLITE_CHECKPOINT_RESTART;
    sqlite3_busy_handler(conn, short_busy_wait, nullptr);
    rc = sqlite3_wal_checkpoint_v2(conn, nullptr, mode, &log_pages, &copied);
    sqlite3_busy_timeout(conn, config_.busy_timeout_ms);
    if (rc != SQLITE_OK && rc != SQLITE_BUSY) {
      log_warn("write-ahead log checkpoint failed", {{"error", sqlite3_errmsg(conn)}});
    }
  } catch (const std::exception&) {
    // The write lock stayed busy: the next commit over the threshold asks again.
  }
}

void Database::run_checkpointer() {
  using namespace sqlite_api;
  sqlite3* conn = nullptr;  // opened at the first checkpoint, when the database exists
  Checkpointer& c = *checkpointer_;
  std::unique_lock lock(c.mutex);
  for (;;) {
    c.wake.wait(lock, [&] { return c.wanted || c.stopping; });
    if (c.stopping) break;
    lock.unlock();
    if (!conn) {
      if (sqlite3_open_v2(url_.sqlite_path.c_str(), &conn, SQLITE_OPEN_READWRITE, nullptr) == SQLITE_OK) {
        sqlite3_busy_timeout(conn, config_.busy_timeout_ms);
        // A connection opens the log at its first read; until then it checkpoints nothing.
        sqlite3_exec(conn, "PRAGMA journal_mode=WAL", nullptr, nullptr, nullptr);
      } else {
        log_warn("the checkpointer cannot open the database", {{"error", conn ? sqlite3_errmsg(conn) : "out of memory"}});
        sqlite3_close(conn);
        conn = nullptr;
      }
    }
    if (conn) {
      checkpoint_once(conn);
      checkpoints_.fetch_add(1, std::memory_order_relaxed);
    }
    // While readers keep the log from being reset, every commit asks again: pace the retries.
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    lock.lock();
    c.wanted = false;
  }
  lock.unlock();
  if (conn) sqlite3_close(conn);
}

DatabaseUrl parse_database_url(const std::string& url) {
  DatabaseUrl out;
  if (url.rfind("sqlite:", 0) == 0) {
    out.backend = Backend::sqlite;
    out.sqlite_path = url.substr(7);
    if (out.sqlite_path.rfind("//", 0) == 0) out.sqlite_path = out.sqlite_path.substr(2);
    if (out.sqlite_path.empty()) throw ConfigError("invalid configuration: database.url: sqlite URL needs a path (sqlite:PATH)");
    if (out.sqlite_path == ":memory:") {
      throw ConfigError("invalid configuration: database.url: in-memory SQLite cannot be shared by a pool; use a file");
    }
    out.connect_string = "db=" + out.sqlite_path;
    out.redacted = url;
    return out;
  }
  if (url.rfind("postgresql://", 0) == 0 || url.rfind("postgres://", 0) == 0) {
    out.backend = Backend::postgres;
    out.connect_string = libpq_keywords(url);
    // Redact a password between "user:" and "@".
    std::string rest = url.substr(url.find("://") + 3);
    auto at = rest.find('@');
    auto colon = rest.find(':');
    out.redacted = url;
    if (at != std::string::npos && colon != std::string::npos && colon < at) {
      out.redacted = url.substr(0, url.find("://") + 3) + rest.substr(0, colon) + ":***" + rest.substr(at);
    }
    return out;
  }
  throw ConfigError("invalid configuration: database.url: must start with sqlite: or postgresql://");
}

Database::Database(const DatabaseConfig& config, const DatabaseUrl& url)
    : config_(config), url_(url), sessions_(static_cast<std::size_t>(config.pool_size)),
      busy_(static_cast<std::size_t>(config.pool_size), false) {
  statement_counters_ = std::make_unique<detail::StatementCounters>();
  factory_ = url_.backend == Backend::sqlite ? detail::caching_sqlite_factory(*statement_counters_)
                                             : detail::caching_postgresql_factory(*statement_counters_);
  if (url_.backend == Backend::sqlite) {
    configure_sqlite_once();
    auto parent = std::filesystem::path(url_.sqlite_path).parent_path();
    if (!parent.empty()) std::filesystem::create_directories(parent);
    checkpointer_ = std::make_unique<Checkpointer>();
    checkpointer_->thread = std::thread([this] { run_checkpointer(); });
  }
}

Database::~Database() {
  if (checkpointer_) {
    {
      std::lock_guard lock(checkpointer_->mutex);
      checkpointer_->stopping = true;
    }
    checkpointer_->wake.notify_one();
    checkpointer_->thread.join();
  }
  sessions_.clear();  // before the factory and counters they refer to
}

std::unique_ptr<soci::session> Database::open_session() {
  auto s = std::make_unique<soci::session>();
  if (url_.backend == Backend::sqlite) {
    s->open(*factory_, url_.connect_string + " timeout=" + std::to_string(config_.busy_timeout_ms / 1000 + 1));
    *s << "PRAGMA journal_mode=WAL";
    *s << "PRAGMA foreign_keys=ON";
    *s << ("PRAGMA synchronous=" + config_.sqlite_synchronous);
    *s << ("PRAGMA busy_timeout=" + std::to_string(config_.busy_timeout_ms));
    // Temporary b-trees (sorts) stay in memory.
    *s << "PRAGMA temp_store=MEMORY";
    // Commits leave checkpoints to the background checkpointer (this replaces SQLite's own).
    auto* conn = static_cast<soci::sqlite3_session_backend*>(s->get_backend())->conn_;
    if (!register_sqlite_functions(conn)) throw std::runtime_error("SQLite was built without FTS5");
    sqlite_api::sqlite3_wal_hook(conn, [](void* db, sqlite_api::sqlite3*, const char*, int pages) {
      if (pages >= kCheckpointPages) static_cast<Database*>(db)->request_checkpoint();
      return SQLITE_OK;
    }, this);
  } else {
    s->open(*factory_, url_.connect_string);
    *s << "SET TIME ZONE 'UTC'";
  }
  return s;
}

std::unique_lock<std::timed_mutex> Database::write_lock() {
  if (url_.backend != Backend::sqlite) return {};
  std::unique_lock lock(write_mutex_, std::defer_lock);
  if (lock.try_lock()) return lock;
  write_waiters_.fetch_add(1, std::memory_order_relaxed);
  bool locked = lock.try_lock_for(std::chrono::milliseconds(config_.busy_timeout_ms));
  write_waiters_.fetch_sub(1, std::memory_order_relaxed);
  if (!locked) {
    throw Error(ErrorKind::unavailable, "database_busy", "The database is busy; try again.");
  }
  return lock;
}

Database::Lease Database::acquire(std::chrono::milliseconds timeout) {
  std::size_t slot = 0;
  {
    std::unique_lock lock(mutex_);
    auto free_slot = [&] {
      for (std::size_t i = 0; i < busy_.size(); ++i)
        if (!busy_[i]) return static_cast<std::ptrdiff_t>(i);
      return std::ptrdiff_t{-1};
    };
    std::ptrdiff_t found = free_slot();
    if (found < 0) {
      ++waits_;
      if (!cv_.wait_for(lock, timeout, [&] { return (found = free_slot()) >= 0; })) {
        ++timeouts_;
        throw Error(ErrorKind::unavailable, "database_busy", "The database is busy; try again shortly.")
            .with_header("Retry-After", "1");
      }
    }
    slot = static_cast<std::size_t>(found);
    busy_[slot] = true;
  }
  if (!sessions_[slot]) {
    try {
      sessions_[slot] = open_session();
    } catch (const std::exception& e) {
      release(slot, true);
      log_error("database connection failed", {{"error", e.what()}, {"database", url_.redacted}});
      throw Error(ErrorKind::unavailable, "database_unavailable", "The database is unavailable.");
    }
  }
  return Lease(this, slot);
}

void Database::release(std::size_t slot, bool broken) {
  if (!broken && sessions_[slot] && url_.backend == Backend::postgres) {
    auto* be = static_cast<soci::postgresql_session_backend*>(sessions_[slot]->get_backend());
    broken = be == nullptr || PQstatus(be->conn_) != CONNECTION_OK;
  }
  if (broken) sessions_[slot].reset();
  {
    std::lock_guard lock(mutex_);
    busy_[slot] = false;
  }
  cv_.notify_one();
}

Database::Lease::~Lease() {
  if (db_) db_->release(slot_, broken_);
}

soci::session& Database::Lease::operator*() const { return *db_->sessions_[slot_]; }

bool Database::ping() {
  try {
    auto lease = acquire(std::chrono::milliseconds(1000));
    int one = 0;
    try {
      *lease << "SELECT 1", soci::into(one);
    } catch (...) {
      lease.discard();
      throw;
    }
    return one == 1;
  } catch (const std::exception&) {
    return false;
  }
}

PoolStats Database::stats() const {
  std::lock_guard lock(mutex_);
  PoolStats s;
  s.size = busy_.size();
  for (bool b : busy_) s.in_use += b ? 1 : 0;
  s.waits = waits_;
  s.timeouts = timeouts_;
  s.statements_prepared = statement_counters_->prepared.load(std::memory_order_relaxed);
  s.statements_reused = statement_counters_->reused.load(std::memory_order_relaxed);
  return s;
}

void Database::execute_script(soci::session& session, Backend backend, const std::string& sql) {
  if (backend == Backend::sqlite) {
    auto* be = static_cast<soci::sqlite3_session_backend*>(session.get_backend());
    char* message = nullptr;
    if (sqlite_api::sqlite3_exec(be->conn_, sql.c_str(), nullptr, nullptr, &message) != SQLITE_OK) {
      std::string text = message ? message : "unknown error";
      sqlite_api::sqlite3_free(message);
      throw std::runtime_error("SQL script failed: " + text);
    }
  } else {
    auto* be = static_cast<soci::postgresql_session_backend*>(session.get_backend());
    PGresult* result = PQexec(be->conn_, sql.c_str());
    auto status = PQresultStatus(result);
    std::string text = PQresultErrorMessage(result);
    PQclear(result);
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) throw std::runtime_error("SQL script failed: " + text);
  }
}

bool is_connection_loss(const std::exception& error) noexcept {
  const auto* soci_error = dynamic_cast<const soci::soci_error*>(&error);
  if (soci_error == nullptr) return false;
  if (soci_error->get_error_category() == soci::soci_error::connection_error) return true;
  const auto* pg = dynamic_cast<const soci::postgresql_soci_error*>(&error);
  if (pg == nullptr) return false;
  std::string state = pg->sqlstate();
  // Class 08 is a connection exception; 57P01-57P03 a server shutting down or not yet up. An
  // error without a SQLSTATE comes from libpq, not the server: a connection already closed
  // ("server closed the connection unexpectedly", "no connection to the server").
  return state.rfind("08", 0) == 0 || state == "57P01" || state == "57P02" || state == "57P03" ||
         state == "     ";
}

std::unique_ptr<Database> open_database(const Config& config) {
  std::string url = config.database.url;
  if (url.empty()) url = "sqlite:" + (std::filesystem::path(config.data_dir) / "demo.db").string();
  return std::make_unique<Database>(config.database, parse_database_url(url));
}

}  // namespace crm::platform
