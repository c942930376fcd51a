#pragma once
/// Structured logging: one JSON object per line on stdout.

#include <boost/json/object.hpp>

#include <functional>
#include <string>
#include <string_view>

namespace crm::platform {

enum class LogLevel { debug = 0, info = 1, warn = 2, error = 3 };

/// Parses "debug" | "info" | "warn" | "error"; false when unknown.
bool parse_log_level(std::string_view text, LogLevel& out);

/// Request-scoped fields added to every line written on this thread while set.
struct LogContext {
  std::string request_id;
  std::string trace_id;
  std::string tenant_id;
  std::string user_id;
};

/// Sets the calling thread's log context for the lifetime of the guard.
class ScopedLogContext final {
 public:
  explicit ScopedLogContext(LogContext context);
  ~ScopedLogContext();
  ScopedLogContext(const ScopedLogContext&) = delete;
  ScopedLogContext& operator=(const ScopedLogContext&) = delete;

 private:
  LogContext previous_;
};

/// The calling thread's current context (may be empty).
const LogContext& current_log_context();

void set_log_level(LogLevel level);
bool log_enabled(LogLevel level);
/// Replaces the output (stdout by default); used by tests. Pass nullptr to restore stdout.
void set_log_sink(std::function<void(std::string_view line)> sink);

/// Writes one line: {"ts","level","msg", context fields..., fields...}.
void log(LogLevel level, std::string_view msg, const boost::json::object& fields = {});
inline void log_debug(std::string_view m, const boost::json::object& f = {}) { log(LogLevel::debug, m, f); }
inline void log_info(std::string_view m, const boost::json::object& f = {}) { log(LogLevel::info, m, f); }
inline void log_warn(std::string_view m, const boost::json::object& f = {}) { log(LogLevel::warn, m, f); }
inline void log_error(std::string_view m, const boost::json::object& f = {}) { log(LogLevel::error, m, f); }

}  // namespace crm::platform
