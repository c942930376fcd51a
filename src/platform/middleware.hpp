#pragma once
// The platform's middleware: access log and metrics, response headers, CORS, error mapping,
// content-type checks.

#include "crm/platform/config.hpp"
#include "crm/platform/http.hpp"
#include "crm/platform/metrics.hpp"

#include <mutex>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace crm::platform {

/// Outermost: one JSON log line and request metrics per request; sets the log context.
class AccessLogMiddleware final : public Middleware {
 public:
  explicit AccessLogMiddleware(MetricsRegistry& metrics) : metrics_(metrics) {}
  HttpResponse handle(Request& request, const Next& next) override;

 private:
  struct RequestMetrics {
    Counter* counter;
    Histogram* histogram;
  };
  // (route, method, status): the route is a stable address in the router (null when unmatched).
  struct Key {
    const void* route;
    int method;
    unsigned status;
    bool operator==(const Key&) const = default;
  };
  struct KeyHash {
    std::size_t operator()(const Key& k) const noexcept {
      return std::hash<const void*>()(k.route) ^ (static_cast<std::size_t>(k.method) << 20) ^
             (static_cast<std::size_t>(k.status) << 4);
    }
  };
  MetricsRegistry& metrics_;
  std::shared_mutex cache_mutex_;
  std::unordered_map<Key, RequestMetrics, KeyHash> cache_;
};

/// X-Request-ID, traceparent and the security headers of every response.
class ResponseHeadersMiddleware final : public Middleware {
 public:
  explicit ResponseHeadersMiddleware(bool tls) : tls_(tls) {}
  HttpResponse handle(Request& request, const Next& next) override;

 private:
  bool tls_;
};

/// CORS for origins on the allow-list, including preflight requests.
class CorsMiddleware final : public Middleware {
 public:
  explicit CorsMiddleware(std::vector<std::string> allowed_origins) : allowed_(std::move(allowed_origins)) {}
  HttpResponse handle(Request& request, const Next& next) override;

 private:
  bool allowed(std::string_view origin) const;
  std::vector<std::string> allowed_;
};

/// Turns exceptions into problem+json: typed errors as they are, anything else a 500 that
/// reveals nothing (the cause is logged).
class ErrorMiddleware final : public Middleware {
 public:
  HttpResponse handle(Request& request, const Next& next) override;
};

/// A body with a content type the route does not accept is a 415.
class ContentTypeMiddleware final : public Middleware {
 public:
  HttpResponse handle(Request& request, const Next& next) override;
};

}  // namespace crm::platform
