#pragma once
// Idempotency-Key on POST (SPEC §3). The first request with a key claims it by inserting an
// "in progress" row (the primary key decides races), runs, and stores its response; a repeat
// of the same request within 24 h gets that response again without running the handler; the
// same key on a different request is 422; a repeat while the first is running is 409. A 5xx
// or an error raised by the handler releases the key so the client may retry.
// Keys are scoped per tenant and user (API key), or per client IP when unauthenticated.

#include "crm/platform/http.hpp"
#include "crm/platform/time.hpp"

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace crm::platform {

class Database;
class PeriodicTask;

/// Why an Idempotency-Key value is unacceptable (1..255 printable ASCII); nullopt when fine.
std::optional<std::string> idempotency_key_problem(std::string_view key);
/// SHA-256 (hex) of what makes two requests "the same": method, target and body.
std::string idempotency_request_hash(std::string_view method, std::string_view target, std::string_view body);

class IdempotencyMiddleware final : public Middleware {
 public:
  /// `stale_after`: an "in progress" key older than this belongs to a request that died with
  /// its process and may be taken over.
  IdempotencyMiddleware(Database& db, std::chrono::milliseconds stale_after);
  ~IdempotencyMiddleware() override;
  HttpResponse handle(Request& request, const Next& next) override;

  /// Deletes expired keys; returns how many.
  std::int64_t purge(TimestampMs now);
  /// Purges on a background thread (now and then every `interval`).
  void start(std::chrono::milliseconds interval);
  void stop();

  static constexpr std::int64_t kRetentionMs = 24LL * 3600 * 1000;

 private:
  Database& db_;
  std::chrono::milliseconds stale_after_;
  std::unique_ptr<PeriodicTask> task_;
};

}  // namespace crm::platform
