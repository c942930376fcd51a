#include "crm/platform/log.hpp"

#include "crm/platform/time.hpp"

#include <boost/json/serialize.hpp>
#include <fmt/format.h>

#include <atomic>
#include <cstdio>
#include <mutex>

namespace crm::platform {

namespace {
std::atomic<int> g_level{static_cast<int>(LogLevel::info)};
std::mutex g_sink_mutex;
std::function<void(std::string_view)> g_sink;
thread_local LogContext t_context;

const char* level_name(LogLevel l) {
  switch (l) {
    case LogLevel::debug: return "debug";
    case LogLevel::info: return "info";
    case LogLevel::warn: return "warn";
    case LogLevel::error: return "error";
  }
  return "info";
}
}  // namespace

bool parse_log_level(std::string_view text, LogLevel& out) {
  if (text == "debug") out = LogLevel::debug;
  else if (text == "info") out = LogLevel::info;
  else if (text == "warn" || text == "warning") out = LogLevel::warn;
  else if (text == "error") out = LogLevel::error;
  else return false;
  return true;
}

ScopedLogContext::ScopedLogContext(LogContext context) : previous_(std::move(t_context)) {
  t_context = std::move(context);
}

ScopedLogContext::~ScopedLogContext() { t_context = std::move(previous_); }

const LogContext& current_log_context() { return t_context; }

void set_log_level(LogLevel level) { g_level.store(static_cast<int>(level)); }

bool log_enabled(LogLevel level) { return static_cast<int>(level) >= g_level.load(std::memory_order_relaxed); }

void set_log_sink(std::function<void(std::string_view)> sink) {
  std::lock_guard lock(g_sink_mutex);
  g_sink = std::move(sink);
}

void log(LogLevel level, std::string_view msg, const boost::json::object& fields) {
  if (!log_enabled(level)) return;
  boost::json::object line;
  line.reserve(8 + fields.size());
  line["ts"] = format_rfc3339(now_ms());
  line["level"] = level_name(level);
  line["msg"] = msg;
  const LogContext& ctx = t_context;
  if (!ctx.request_id.empty()) line["request_id"] = ctx.request_id;
  if (!ctx.trace_id.empty()) line["trace_id"] = ctx.trace_id;
  if (!ctx.tenant_id.empty()) line["tenant_id"] = ctx.tenant_id;
  if (!ctx.user_id.empty()) line["user_id"] = ctx.user_id;
  for (const auto& kv : fields) line[kv.key()] = kv.value();
  // Serialized by hand so durations read as 0.42, not 4.2E-1.
  std::string text = "{";
  bool first = true;
  for (const auto& kv : line) {
    if (!first) text.push_back(',');
    first = false;
    text += boost::json::serialize(boost::json::value(kv.key()));
    text.push_back(':');
    if (kv.value().is_double()) {
      text += fmt::format("{:.3f}", kv.value().get_double());
    } else {
      text += boost::json::serialize(kv.value());
    }
  }
  text += "}\n";
  std::lock_guard lock(g_sink_mutex);
  if (g_sink) {
    g_sink(text);
  } else {
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fflush(stdout);
  }
}

}  // namespace crm::platform
