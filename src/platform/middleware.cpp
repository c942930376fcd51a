#include "middleware.hpp"

#include "crm/platform/db.hpp"
#include "crm/platform/log.hpp"
#include "crm/platform/router.hpp"

#include <boost/beast/http/field.hpp>

#include <algorithm>
#include <cmath>
#include <cctype>
#include <unordered_map>

namespace crm::platform {

namespace http = boost::beast::http;

namespace {

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

HttpResponse AccessLogMiddleware::handle(Request& request, const Next& next) {
  const auto& ctx = request.context();
  ScopedLogContext log_context(LogContext{ctx.request_id, ctx.trace_id, {}, {}});
  HttpResponse response;
  try {
    response = next(request);
  } catch (const std::exception& e) {
    log_error("unhandled error", {{"error", e.what()}});
    response = problem_response(Error::internal(), ctx.request_id);
  }
  auto elapsed = std::chrono::steady_clock::now() - request.started_at();
  double seconds = std::chrono::duration<double>(elapsed).count();
  unsigned status = response.result_int();
  std::string_view route = request.route_pattern();
  // Metric handles are looked up in the registry once per (route, method, status).
  Key key{request.route(), static_cast<int>(request.method()), status};
  RequestMetrics handles{};
  bool found = false;
  {
    std::shared_lock lock(cache_mutex_);
    if (auto it = cache_.find(key); it != cache_.end()) {
      handles = it->second;
      found = true;
    }
  }
  if (!found) {
    std::string method(http::to_string(request.method()));
    Labels labels{{"method", method}, {"route", std::string(route)}};
    Histogram& h = metrics_.histogram("crm_http_request_duration_seconds", "HTTP request latency by route", labels);
    labels.emplace_back("status", std::to_string(status));
    Counter& c = metrics_.counter("crm_http_requests_total", "HTTP requests by route and status", labels);
    handles = RequestMetrics{&c, &h};
    std::unique_lock lock(cache_mutex_);
    cache_.emplace(key, handles);
  }
  handles.counter->inc();
  handles.histogram->observe(seconds);

  if (log_enabled(LogLevel::info)) {
    boost::json::object fields{{"method", std::string_view(http::to_string(request.method()))},
                               {"route", route},
                               {"path", request.path()},
                               {"status", status},
                               {"duration_ms", std::round(seconds * 1e5) / 100.0}};
    if (!ctx.tenant_id.empty()) fields["tenant_id"] = ctx.tenant_id;
    if (!ctx.actor_id.empty()) fields["user_id"] = ctx.actor_id;
    if (!ctx.remote_ip.empty()) fields["remote_ip"] = ctx.remote_ip;
    log(status >= 500 ? LogLevel::error : LogLevel::info, "request", fields);
  }
  return response;
}

HttpResponse ResponseHeadersMiddleware::handle(Request& request, const Next& next) {
  HttpResponse response = next(request);
  const auto& ctx = request.context();
  response.set("X-Request-ID", ctx.request_id);
  response.set("traceparent", "00-" + ctx.trace_id + "-" + ctx.span_id + "-01");
  response.set("X-Content-Type-Options", "nosniff");
  response.set("X-Frame-Options", "DENY");
  response.set("Referrer-Policy", "no-referrer");
  response.set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'");
  response.set("Cache-Control", response.find(http::field::cache_control) == response.end()
                                    ? std::string("no-store")
                                    : std::string(response[http::field::cache_control]));
  if (tls_) response.set("Strict-Transport-Security", "max-age=31536000; includeSubDomains");
  return response;
}

bool CorsMiddleware::allowed(std::string_view origin) const {
  for (const auto& a : allowed_)
    if (a == "*" || a == origin) return true;
  return false;
}

HttpResponse CorsMiddleware::handle(Request& request, const Next& next) {
  std::string_view origin = request.header("Origin");
  if (origin.empty() || !allowed(origin)) return next(request);
  if (request.method() == http::verb::options && !request.header("Access-Control-Request-Method").empty()) {
    HttpResponse preflight = no_content_response();
    preflight.set("Access-Control-Allow-Origin", origin);
    preflight.set("Access-Control-Allow-Methods", "GET, POST, PUT, PATCH, DELETE, OPTIONS");
    preflight.set("Access-Control-Allow-Headers",
                  "Authorization, Content-Type, If-Match, Idempotency-Key, X-Request-ID, traceparent");
    preflight.set("Access-Control-Max-Age", "600");
    preflight.set("Vary", "Origin");
    return preflight;
  }
  HttpResponse response = next(request);
  response.set("Access-Control-Allow-Origin", origin);
  response.set("Access-Control-Expose-Headers",
               "ETag, Location, X-Request-ID, Retry-After, RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset");
  response.set("Vary", "Origin");
  return response;
}

HttpResponse ErrorMiddleware::handle(Request& request, const Next& next) {
  try {
    return next(request);
  } catch (const Error& e) {
    if (e.kind() == ErrorKind::internal) log_error("internal error", {{"detail", e.detail()}});
    return problem_response(e, request.context().request_id);
  } catch (const std::exception& e) {
    // The cause goes to the log only: responses never carry SQL, paths or internals.
    if (is_connection_loss(e)) {
      // The driver's text may quote the statement; the pool logs the cause when it reconnects.
      log_error("database unreachable", {{"route", request.route_pattern()}});
      return problem_response(Error(ErrorKind::unavailable, "database_unavailable", "The database is unavailable.")
                                  .with_header("Retry-After", "1"),
                              request.context().request_id);
    }
    log_error("unhandled exception", {{"error", e.what()}, {"route", request.route_pattern()}});
    return problem_response(Error::internal(), request.context().request_id);
  }
}

HttpResponse ContentTypeMiddleware::handle(Request& request, const Next& next) {
  const Route* route = request.route();
  if (route && !request.pending_error() && !request.body().empty()) {
    std::string_view type = request.header("Content-Type");
    type = trim(type.substr(0, type.find(';')));
    bool ok = false;
    for (const auto& accepted : route->options.content_types) ok = ok || iequals(type, accepted);
    if (!ok) {
      std::string list;
      for (const auto& a : route->options.content_types) list += (list.empty() ? "" : ", ") + a;
      throw Error(ErrorKind::unsupported_media_type, "unsupported_media_type",
                  "The request body must be one of: " + list + ".",
                  {FieldError{"Content-Type", "unsupported", "Expected " + list + "."}});
    }
  }
  return next(request);
}

}  // namespace crm::platform
