#pragma once
// The platform's staged middleware (rate limits, idempotency) and their background work,
// built once by the composition root.

#include "crm/platform/config.hpp"
#include "crm/platform/http.hpp"

#include <memory>
#include <vector>

namespace crm::platform {

class Database;
class IdempotencyMiddleware;
class RateLimiter;

class RequestGuards final {
 public:
  RequestGuards(const Config& config, Database& db);
  ~RequestGuards();
  RequestGuards(const RequestGuards&) = delete;
  RequestGuards& operator=(const RequestGuards&) = delete;

  /// Rate limits before and after authentication, then idempotency (after the limiter).
  std::vector<StagedMiddleware> middleware() const;
  /// Starts the counter sync and the purge of expired rows.
  void start();
  /// Stops them, pushing the last counts.
  void stop();

 private:
  RateLimitConfig rate_config_;
  std::shared_ptr<RateLimiter> limiter_;  // null when rate limiting is disabled
  std::shared_ptr<IdempotencyMiddleware> idempotency_;
};

}  // namespace crm::platform
