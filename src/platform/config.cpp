#include "crm/platform/config.hpp"

#include "crm/platform/json.hpp"
#include "crm/platform/log.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

extern char** environ;

namespace crm::platform {

namespace bj = boost::json;

namespace {

enum class Kind { string, integer, boolean, choice, list };

struct KeySpec {
  const char* path;  // dotted
  const char* env;
  Kind kind;
  std::int64_t min = 0;
  std::int64_t max = 0;
  std::vector<std::string> choices = {};
};

const std::vector<KeySpec>& key_specs() {
  static const std::vector<KeySpec> specs = {
      {"http.host", "CRM_HTTP_HOST", Kind::string},
      {"http.port", "CRM_HTTP_PORT", Kind::integer, 0, 65535},
      {"http.io_threads", "CRM_HTTP_IO_THREADS", Kind::integer, 0, 64},
      {"http.worker_threads", "CRM_HTTP_WORKER_THREADS", Kind::integer, 0, 512},
      {"http.write_worker_threads", "CRM_HTTP_WRITE_WORKER_THREADS", Kind::integer, 0, 512},
      {"http.max_queue", "CRM_HTTP_MAX_QUEUE", Kind::integer, 1, 1000000},
      {"http.body_limit_bytes", "CRM_HTTP_BODY_LIMIT_BYTES", Kind::integer, 1024, 1LL << 31},
      {"http.request_timeout_ms", "CRM_HTTP_REQUEST_TIMEOUT_MS", Kind::integer, 50, 3600000},
      {"http.idle_timeout_ms", "CRM_HTTP_IDLE_TIMEOUT_MS", Kind::integer, 100, 3600000},
      {"http.shutdown_timeout_ms", "CRM_HTTP_SHUTDOWN_TIMEOUT_MS", Kind::integer, 0, 600000},
      {"http.cors_allowed_origins", "CRM_CORS_ALLOWED_ORIGINS", Kind::list},
      {"http.tls.cert_file", "CRM_TLS_CERT_FILE", Kind::string},
      {"http.tls.key_file", "CRM_TLS_KEY_FILE", Kind::string},
      {"database.url", "CRM_DATABASE_URL", Kind::string},
      {"database.pool_size", "CRM_DATABASE_POOL_SIZE", Kind::integer, 1, 512},
      {"database.sqlite_synchronous", "CRM_DATABASE_SQLITE_SYNCHRONOUS", Kind::choice, 0, 0,
       {"off", "normal", "full", "extra"}},
      {"database.busy_timeout_ms", "CRM_DATABASE_BUSY_TIMEOUT_MS", Kind::integer, 0, 600000},
      {"log.level", "CRM_LOG_LEVEL", Kind::choice, 0, 0, {"debug", "info", "warn", "error"}},
      {"data_dir", "CRM_DATA_DIR", Kind::string},
      {"auth.jwt_secret", "CRM_JWT_SECRET", Kind::string},
      {"auth.jwt_ed25519_key_file", "CRM_JWT_ED25519_KEY_FILE", Kind::string},
      {"outbox.dispatch_enabled", "CRM_OUTBOX_DISPATCH_ENABLED", Kind::boolean},
      {"outbox.poll_interval_ms", "CRM_OUTBOX_POLL_INTERVAL_MS", Kind::integer, 10, 3600000},
      {"outbox.batch_size", "CRM_OUTBOX_BATCH_SIZE", Kind::integer, 1, 10000},
      {"outbox.max_attempts", "CRM_OUTBOX_MAX_ATTEMPTS", Kind::integer, 1, 1000},
      {"outbox.backoff_base_ms", "CRM_OUTBOX_BACKOFF_BASE_MS", Kind::integer, 1, 3600000},
      {"outbox.backoff_max_ms", "CRM_OUTBOX_BACKOFF_MAX_MS", Kind::integer, 1, 86400000},
      {"outbox.lease_ms", "CRM_OUTBOX_LEASE_MS", Kind::integer, 100, 3600000},
      {"outbox.lag_threshold_ms", "CRM_OUTBOX_LAG_THRESHOLD_MS", Kind::integer, 1, 86400000},
      {"outbox.retention_days", "CRM_OUTBOX_RETENTION_DAYS", Kind::integer, 1, 36500},
      {"rate_limit.enabled", "CRM_RATE_LIMIT_ENABLED", Kind::boolean},
      {"rate_limit.ip_per_minute", "CRM_RATE_LIMIT_IP_PER_MINUTE", Kind::integer, 1, 1000000000},
      {"rate_limit.user_per_minute", "CRM_RATE_LIMIT_USER_PER_MINUTE", Kind::integer, 1, 1000000000},
      {"rate_limit.tenant_per_minute", "CRM_RATE_LIMIT_TENANT_PER_MINUTE", Kind::integer, 1, 1000000000},
      {"rate_limit.register_per_hour", "CRM_RATE_LIMIT_REGISTER_PER_HOUR", Kind::integer, 1, 1000000000},
      {"rate_limit.auth_per_minute", "CRM_RATE_LIMIT_AUTH_PER_MINUTE", Kind::integer, 1, 1000000000},
      {"rate_limit.sync_interval_ms", "CRM_RATE_LIMIT_SYNC_INTERVAL_MS", Kind::integer, 10, 60000},
  };
  return specs;
}

// Sections whose content belongs to modules and is not checked here.
bool free_form_section(std::string_view key) { return key == "modules"; }

std::vector<std::string> split(std::string_view path, char sep) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  while (true) {
    auto pos = path.find(sep, start);
    parts.emplace_back(path.substr(start, pos == std::string_view::npos ? pos : pos - start));
    if (pos == std::string_view::npos) break;
    start = pos + 1;
  }
  return parts;
}

const KeySpec* find_spec(std::string_view path) {
  for (const auto& s : key_specs())
    if (path == s.path) return &s;
  return nullptr;
}

bool is_section_prefix(std::string_view path) {
  for (const auto& s : key_specs()) {
    std::string_view p = s.path;
    if (p.size() > path.size() && p.substr(0, path.size()) == path && p[path.size()] == '.') return true;
  }
  return false;
}

[[noreturn]] void fail(const std::string& where, const std::string& message) {
  throw ConfigError("invalid configuration: " + where + ": " + message);
}

std::string describe(const KeySpec& spec) {
  switch (spec.kind) {
    case Kind::string: return "must be a string";
    case Kind::integer:
      return "must be an integer between " + std::to_string(spec.min) + " and " + std::to_string(spec.max);
    case Kind::boolean: return "must be true or false";
    case Kind::choice: {
      std::string s = "must be one of";
      for (std::size_t i = 0; i < spec.choices.size(); ++i) s += (i ? ", " : " ") + spec.choices[i];
      return s;
    }
    case Kind::list: return "must be a list of strings";
  }
  return "is invalid";
}

// Converts a textual value (environment or flag) to JSON of the key's type.
bj::value from_text(const KeySpec& spec, const std::string& text, const std::string& where) {
  switch (spec.kind) {
    case Kind::string:
    case Kind::choice: return bj::value(text);
    case Kind::integer: {
      std::int64_t v = 0;
      auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
      if (ec != std::errc() || ptr != text.data() + text.size()) fail(where, describe(spec) + " (got \"" + text + "\")");
      return bj::value(v);
    }
    case Kind::boolean:
      if (text == "true" || text == "1" || text == "yes" || text == "on") return bj::value(true);
      if (text == "false" || text == "0" || text == "no" || text == "off") return bj::value(false);
      fail(where, describe(spec) + " (got \"" + text + "\")");
    case Kind::list: {
      bj::array a;
      for (auto& part : split(text, ',')) {
        auto b = part.find_first_not_of(' ');
        auto e = part.find_last_not_of(' ');
        if (b != std::string::npos) a.emplace_back(part.substr(b, e - b + 1));
      }
      return a;
    }
  }
  return {};
}

void check_value(const KeySpec& spec, const bj::value& v, const std::string& where) {
  bool ok = false;
  switch (spec.kind) {
    case Kind::string: ok = v.is_string(); break;
    case Kind::integer: {
      if (v.is_int64()) ok = v.get_int64() >= spec.min && v.get_int64() <= spec.max;
      else if (v.is_uint64()) ok = v.get_uint64() <= static_cast<std::uint64_t>(spec.max);
      break;
    }
    case Kind::boolean: ok = v.is_bool(); break;
    case Kind::choice:
      ok = v.is_string() &&
           std::find(spec.choices.begin(), spec.choices.end(), std::string(v.get_string())) != spec.choices.end();
      break;
    case Kind::list:
      ok = v.is_array();
      if (ok)
        for (const auto& e : v.get_array()) ok = ok && e.is_string();
      break;
  }
  if (!ok) fail(where, describe(spec) + " (got " + bj::serialize(v) + ")");
}

void set_path(bj::object& root, const std::string& path, bj::value v) {
  auto parts = split(path, '.');
  bj::object* obj = &root;
  for (std::size_t i = 0; i + 1 < parts.size(); ++i) {
    bj::value& next = (*obj)[parts[i]];
    if (!next.is_object()) next = bj::object();
    obj = &next.get_object();
  }
  (*obj)[parts.back()] = std::move(v);
}

const bj::value* get_path(const bj::object& root, const std::string& path) {
  const bj::object* obj = &root;
  auto parts = split(path, '.');
  for (std::size_t i = 0; i < parts.size(); ++i) {
    const bj::value* v = obj->if_contains(parts[i]);
    if (!v) return nullptr;
    if (i + 1 == parts.size()) return v;
    obj = v->if_object();
    if (!obj) return nullptr;
  }
  return nullptr;
}

// Checks every key of a file document, recursively, against the known keys.
void check_file(const bj::object& obj, const std::string& prefix, const std::string& file) {
  for (const auto& kv : obj) {
    std::string path = prefix.empty() ? std::string(kv.key()) : prefix + "." + std::string(kv.key());
    if (prefix.empty() && free_form_section(kv.key())) {
      if (!kv.value().is_object()) fail(path + " in " + file, "must be an object");
      continue;
    }
    if (const KeySpec* spec = find_spec(path)) {
      check_value(*spec, kv.value(), path + " in " + file);
    } else if (is_section_prefix(path)) {
      if (!kv.value().is_object()) fail(path + " in " + file, "must be an object");
      check_file(kv.value().get_object(), path, file);
    } else {
      fail(path + " in " + file, "unknown configuration key");
    }
  }
}

template <class T>
T get_int(const bj::object& root, const char* path, T fallback) {
  const bj::value* v = get_path(root, path);
  if (!v) return fallback;
  if (v->is_int64()) return static_cast<T>(v->get_int64());
  if (v->is_uint64()) return static_cast<T>(v->get_uint64());
  return fallback;
}

std::string get_string(const bj::object& root, const char* path, const std::string& fallback) {
  const bj::value* v = get_path(root, path);
  return v && v->is_string() ? std::string(v->get_string()) : fallback;
}

bool get_bool(const bj::object& root, const char* path, bool fallback) {
  const bj::value* v = get_path(root, path);
  return v && v->is_bool() ? v->get_bool() : fallback;
}

}  // namespace

Config load_config(const ConfigSources& sources) {
  bj::object merged;
  if (sources.file) {
    std::ifstream in(*sources.file, std::ios::binary);
    if (!in) fail("--config", "cannot read file " + *sources.file);
    std::stringstream ss;
    ss << in.rdbuf();
    bj::value doc;
    try {
      doc = json::parse_relaxed(ss.str());
    } catch (const std::exception&) {
      fail(*sources.file, "is not valid JSON");
    }
    if (!doc.is_object()) fail(*sources.file, "must contain a JSON object");
    check_file(doc.get_object(), "", *sources.file);
    merged = std::move(doc.get_object());
  }
  for (const auto& spec : key_specs()) {
    auto it = sources.env.find(spec.env);
    if (it == sources.env.end()) continue;
    std::string where = std::string(spec.env) + " (" + spec.path + ")";
    bj::value v = from_text(spec, it->second, where);
    check_value(spec, v, where);
    set_path(merged, spec.path, std::move(v));
  }
  for (const auto& [key, text] : sources.flags) {
    if (key.rfind("modules.", 0) == 0 && key.size() > 8) {
      // Module sections are free-form: a value that reads as JSON (true, 3, "x") is taken as such.
      bj::value v;
      try {
        v = bj::parse(text);
      } catch (const std::exception&) {
        v = bj::value(text);
      }
      set_path(merged, key, std::move(v));
      continue;
    }
    const KeySpec* spec = find_spec(key);
    if (!spec) fail(key, "unknown configuration key");
    std::string where = std::string("flag for ") + spec->path;
    bj::value v = from_text(*spec, text, where);
    check_value(*spec, v, where);
    set_path(merged, spec->path, std::move(v));
  }

  Config c;
  c.http.host = get_string(merged, "http.host", c.http.host);
  c.http.port = get_int(merged, "http.port", c.http.port);
  c.http.io_threads = get_int(merged, "http.io_threads", c.http.io_threads);
  c.http.worker_threads = get_int(merged, "http.worker_threads", c.http.worker_threads);
  c.http.write_worker_threads = get_int(merged, "http.write_worker_threads", c.http.write_worker_threads);
  c.http.max_queue = get_int(merged, "http.max_queue", c.http.max_queue);
  c.http.body_limit_bytes = get_int(merged, "http.body_limit_bytes", c.http.body_limit_bytes);
  c.http.request_timeout_ms = get_int(merged, "http.request_timeout_ms", c.http.request_timeout_ms);
  c.http.idle_timeout_ms = get_int(merged, "http.idle_timeout_ms", c.http.idle_timeout_ms);
  c.http.shutdown_timeout_ms = get_int(merged, "http.shutdown_timeout_ms", c.http.shutdown_timeout_ms);
  if (const bj::value* v = get_path(merged, "http.cors_allowed_origins")) {
    for (const auto& e : v->get_array()) c.http.cors_allowed_origins.emplace_back(e.get_string());
  }
  c.http.tls.cert_file = get_string(merged, "http.tls.cert_file", "");
  c.http.tls.key_file = get_string(merged, "http.tls.key_file", "");
  if (c.http.tls.cert_file.empty() != c.http.tls.key_file.empty()) {
    fail(c.http.tls.cert_file.empty() ? "http.tls.cert_file" : "http.tls.key_file",
         "TLS needs both a certificate and a key");
  }
  c.database.url = get_string(merged, "database.url", "");
  c.database.pool_size = get_int(merged, "database.pool_size", c.database.pool_size);
  c.database.sqlite_synchronous = get_string(merged, "database.sqlite_synchronous", c.database.sqlite_synchronous);
  c.database.busy_timeout_ms = get_int(merged, "database.busy_timeout_ms", c.database.busy_timeout_ms);
  // 0 = sized to the machine. On PostgreSQL handlers mostly wait on the network. On SQLite
  // they are CPU work, so more readers than cores only add context switches; but writers wait
  // for a group commit, and a group can only be as large as the number of writers waiting for
  // it, so writes have a pool of their own, larger than the machine. It grows to its size
  // only under load: each thread costs memory even while it waits.
  const int cores = std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  if (c.http.io_threads == 0) c.http.io_threads = cores <= 4 ? cores : std::max(4, cores / 2);
  bool sqlite = c.database.url.empty() || c.database.url.rfind("sqlite:", 0) == 0;
  if (c.http.worker_threads == 0) c.http.worker_threads = sqlite ? std::max(2, cores) : std::max(8, 4 * cores);
  if (c.http.write_worker_threads == 0) {
    c.http.write_worker_threads = sqlite ? std::max(64, 32 * cores) : c.http.worker_threads;
  }
  c.http.write_worker_threads_initial =
      std::min(c.http.write_worker_threads, sqlite ? std::max(16, 8 * cores) : c.http.worker_threads);
  c.log_level = get_string(merged, "log.level", c.log_level);
  c.data_dir = get_string(merged, "data_dir", c.data_dir);
  if (c.data_dir.empty()) fail("data_dir", "must not be empty");
  c.jwt_secret = get_string(merged, "auth.jwt_secret", "");
  if (!c.jwt_secret.empty() && c.jwt_secret.size() < 32) fail("auth.jwt_secret", "must be at least 32 bytes");
  c.jwt_ed25519_key_file = get_string(merged, "auth.jwt_ed25519_key_file", "");
  c.outbox.dispatch_enabled = get_bool(merged, "outbox.dispatch_enabled", c.outbox.dispatch_enabled);
  c.outbox.poll_interval_ms = get_int(merged, "outbox.poll_interval_ms", c.outbox.poll_interval_ms);
  c.outbox.batch_size = get_int(merged, "outbox.batch_size", c.outbox.batch_size);
  c.outbox.max_attempts = get_int(merged, "outbox.max_attempts", c.outbox.max_attempts);
  c.outbox.backoff_base_ms = get_int(merged, "outbox.backoff_base_ms", c.outbox.backoff_base_ms);
  c.outbox.backoff_max_ms = get_int(merged, "outbox.backoff_max_ms", c.outbox.backoff_max_ms);
  c.outbox.lease_ms = get_int(merged, "outbox.lease_ms", c.outbox.lease_ms);
  c.outbox.lag_threshold_ms = get_int(merged, "outbox.lag_threshold_ms", c.outbox.lag_threshold_ms);
  c.outbox.retention_days = get_int(merged, "outbox.retention_days", c.outbox.retention_days);
  c.rate_limit.enabled = get_bool(merged, "rate_limit.enabled", c.rate_limit.enabled);
  c.rate_limit.ip_per_minute = get_int(merged, "rate_limit.ip_per_minute", c.rate_limit.ip_per_minute);
  c.rate_limit.user_per_minute = get_int(merged, "rate_limit.user_per_minute", c.rate_limit.user_per_minute);
  c.rate_limit.tenant_per_minute = get_int(merged, "rate_limit.tenant_per_minute", c.rate_limit.tenant_per_minute);
  c.rate_limit.register_per_hour = get_int(merged, "rate_limit.register_per_hour", c.rate_limit.register_per_hour);
  c.rate_limit.auth_per_minute = get_int(merged, "rate_limit.auth_per_minute", c.rate_limit.auth_per_minute);
  c.rate_limit.sync_interval_ms = get_int(merged, "rate_limit.sync_interval_ms", c.rate_limit.sync_interval_ms);
  c.demo = sources.demo || c.database.url.empty();
  if (sources.demo && sources.env.count("CRM_DATABASE_URL") == 0 && sources.flags.count("database.url") == 0) {
    c.database.url.clear();  // --demo uses the embedded SQLite file unless told otherwise
  }
  c.raw = std::move(merged);
  return c;
}

std::map<std::string, std::string> process_environment() {
  std::map<std::string, std::string> env;
  for (char** e = environ; e && *e; ++e) {
    std::string_view kv(*e);
    if (kv.substr(0, 4) != "CRM_") continue;
    auto eq = kv.find('=');
    if (eq == std::string_view::npos) continue;
    env.emplace(std::string(kv.substr(0, eq)), std::string(kv.substr(eq + 1)));
  }
  return env;
}

std::vector<std::pair<std::string, std::string>> config_env_variables() {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& s : key_specs()) out.emplace_back(s.path, s.env);
  return out;
}

}  // namespace crm::platform
