#include "request_guards.hpp"

#include "idempotency.hpp"
#include "rate_limit.hpp"

#include <algorithm>

namespace crm::platform {

RequestGuards::RequestGuards(const Config& config, Database& db) : rate_config_(config.rate_limit) {
  if (rate_config_.enabled) limiter_ = std::make_shared<RateLimiter>(&db);
  // A claim older than any request may run belongs to a request that died with its process.
  auto stale = std::chrono::milliseconds(std::max(2 * config.http.request_timeout_ms, 60000));
  idempotency_ = std::make_shared<IdempotencyMiddleware>(db, stale);
}

RequestGuards::~RequestGuards() { stop(); }

std::vector<StagedMiddleware> RequestGuards::middleware() const {
  std::vector<StagedMiddleware> out;
  if (limiter_) {
    out.push_back({MiddlewareStage::before_auth,
                   std::make_shared<RateLimitMiddleware>(limiter_, rate_config_, MiddlewareStage::before_auth)});
    out.push_back({MiddlewareStage::after_auth,
                   std::make_shared<RateLimitMiddleware>(limiter_, rate_config_, MiddlewareStage::after_auth)});
  }
  out.push_back({MiddlewareStage::after_auth, idempotency_});
  return out;
}

void RequestGuards::start() {
  if (limiter_) limiter_->start(std::chrono::milliseconds(rate_config_.sync_interval_ms));
  idempotency_->start(std::chrono::minutes(10));
}

void RequestGuards::stop() {
  if (limiter_) limiter_->stop();
  idempotency_->stop();
}

}  // namespace crm::platform
