#pragma once
/// Configuration: JSON file (comments allowed) + CRM_* environment + command-line flags,
/// precedence flag > env > file > default. Every bad value names its key.

#include <boost/json/value.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace crm::platform {

/// A bad configuration value; `what()` is one line naming the key.
class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct TlsConfig {
  std::string cert_file;
  std::string key_file;
  bool enabled() const { return !cert_file.empty() && !key_file.empty(); }
};

struct HttpConfig {
  std::string host = "127.0.0.1";
  int port = 8080;
  int io_threads = 0;      // 0: one per core up to 4, then half the cores
  int worker_threads = 0;        // reads; 0: the cores (at least 2) on SQLite, 4 per core (at least 8) on PostgreSQL
  // Writes: the most threads; 0: 32 per core (at least 64) on SQLite, as worker_threads on
  // PostgreSQL. The pool starts with write_worker_threads_initial and adds a thread whenever
  // every one is busy.
  int write_worker_threads = 0;
  int write_worker_threads_initial = 0;  // not a setting: 8 per core (at least 16), at most the above
  int max_queue = 1024;
  std::int64_t body_limit_bytes = 1024 * 1024;
  int request_timeout_ms = 30000;
  int idle_timeout_ms = 60000;
  int shutdown_timeout_ms = 10000;
  std::vector<std::string> cors_allowed_origins;
  TlsConfig tls;
};

struct DatabaseConfig {
  std::string url;  // empty: demo SQLite file under data_dir
  int pool_size = 8;
  std::string sqlite_synchronous = "full";  // off | normal | full | extra: full = durable once acknowledged
  int busy_timeout_ms = 5000;
};

struct OutboxConfig {
  bool dispatch_enabled = true;
  int poll_interval_ms = 1000;
  int batch_size = 100;
  int max_attempts = 10;
  int backoff_base_ms = 500;
  int backoff_max_ms = 300000;
  int lease_ms = 30000;
  int lag_threshold_ms = 60000;
  int retention_days = 30;
};

/// Request budgets (fixed windows per client IP, user, tenant; stricter per-IP policies for
/// auth and register routes). Counters are shared between processes through the database.
struct RateLimitConfig {
  bool enabled = true;
  int ip_per_minute = 300;        // unauthenticated requests per client IP
  int user_per_minute = 1200;     // authenticated requests per user (or API key)
  int tenant_per_minute = 6000;   // authenticated requests per tenant
  int register_per_hour = 20;     // per client IP, routes with the "register" policy
  int auth_per_minute = 30;       // per client IP, routes with the "auth" policy
  int sync_interval_ms = 250;     // how often a process shares its counts through the database
};

struct Config {
  HttpConfig http;
  DatabaseConfig database;
  OutboxConfig outbox;
  RateLimitConfig rate_limit;
  std::string log_level = "info";  // debug | info | warn | error
  std::string data_dir = "./data";
  std::string jwt_secret;
  std::string jwt_ed25519_key_file;  // when set, access tokens are signed with EdDSA
  bool demo = false;
  /// The merged raw document; modules read their own sections from it.
  boost::json::object raw;
};

/// Everything a configuration is made from; `env` is usually the process environment.
struct ConfigSources {
  std::optional<std::string> file;           // path of the JSON file (--config)
  std::map<std::string, std::string> env;    // CRM_* variables
  std::map<std::string, std::string> flags;  // dotted key -> value (--port → http.port)
  bool demo = false;
};

/// Builds the configuration; throws ConfigError naming the offending key.
Config load_config(const ConfigSources& sources);
/// The CRM_* variables of the current process.
std::map<std::string, std::string> process_environment();
/// The documented keys with their environment variable names (for --help and docs).
std::vector<std::pair<std::string, std::string>> config_env_variables();

}  // namespace crm::platform
