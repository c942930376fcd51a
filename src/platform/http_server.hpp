#pragma once
// The HTTP(S) server: Boost.Beast sessions as coroutines on I/O threads, handlers on a worker
// pool, graceful shutdown.

#include "crm/platform/config.hpp"
#include "crm/platform/metrics.hpp"
#include "crm/platform/router.hpp"
#include "pipeline.hpp"

#include <memory>

namespace crm::platform {

class HttpServer final {
 public:
  HttpServer(HttpConfig config, const Router& router, const Pipeline& pipeline, MetricsRegistry& metrics);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  /// Binds and starts the I/O threads and the worker pool; throws when the address is taken.
  void start();
  /// The bound port (useful with port 0).
  unsigned short port() const;
  /// Stops accepting, lets in-flight requests finish (up to the shutdown timeout), closes idle
  /// connections, and stops every thread. Safe to call more than once.
  void shutdown();
  /// Number of requests being handled right now.
  int in_flight() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace crm::platform
