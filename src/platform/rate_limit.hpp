#pragma once
// Rate limits (SPEC §3, §11). Each budget ("ip:1.2.3.4", "user:<id>", "tenant:<id>",
// "auth:<ip>", "register:<ip>") allows `limit` requests per fixed window. A window's start is
// offset by a stable hash of the key, so budgets do not all reset at the same instant; a
// client can at most spend two windows' worth across one boundary.
//
// Counting happens in memory; a background sync adds each process's new hits to
// platform_rate_limits (one upsert per key with new hits, every `sync_interval_ms`) and reads
// back the shared totals (also of keys used in the last seconds without new hits here), so
// several processes on one database share a budget, give or take what they admit within one
// sync interval. Denied requests are not counted.

#include "crm/platform/config.hpp"
#include "crm/platform/http.hpp"
#include "crm/platform/time.hpp"

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace crm::platform {

class Database;
class PeriodicTask;

/// One request measured against one budget.
struct RateDecision {
  bool allowed = true;
  std::int64_t limit = 0;
  std::int64_t remaining = 0;      // after this request
  std::int64_t reset_seconds = 0;  // until the window ends (Retry-After when denied), at least 1
};

/// FNV-1a of a key: stable across processes and builds.
std::uint64_t rate_key_hash(std::string_view key);
/// Start of the window holding `now`, for windows of `window_ms` shifted by `offset_ms`.
TimestampMs rate_window_start(TimestampMs now, std::int64_t window_ms, std::int64_t offset_ms);
/// Whether one more request fits when `used` requests were counted in the window.
RateDecision rate_decide(std::int64_t limit, std::int64_t used, TimestampMs now, TimestampMs window_start,
                         std::int64_t window_ms);
/// The decision to report: a denial first, then the one with fewer requests remaining.
const RateDecision& rate_tighter(const RateDecision& a, const RateDecision& b);

/// Budgets of this process, shared with other processes through the database.
class RateLimiter final {
 public:
  /// `db` null: counts stay in this process (tests).
  explicit RateLimiter(Database* db);
  ~RateLimiter();
  RateLimiter(const RateLimiter&) = delete;
  RateLimiter& operator=(const RateLimiter&) = delete;

  /// Counts one request against `key` when it fits.
  RateDecision hit(std::string_view key, std::int64_t limit, std::int64_t window_ms, TimestampMs now);
  /// Adds this process's new hits to the shared counters and takes the totals back.
  void sync(TimestampMs now);
  /// Deletes counters of windows that ended; returns how many.
  std::int64_t purge(TimestampMs now);
  /// Syncs every `interval` (and purges now and then) on a background thread.
  void start(std::chrono::milliseconds interval);
  /// Stops the thread and pushes the last counts.
  void stop();

 private:
  struct Entry {
    TimestampMs window_start = 0;
    std::int64_t window_ms = 0;
    std::int64_t synced = 0;    // the shared total at the last sync (our synced hits included)
    std::int64_t inflight = 0;  // hits being written by the running sync
    std::int64_t pending = 0;   // hits not yet written
    TimestampMs last_hit = 0;
  };
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
  };
  struct Shard {
    std::mutex mutex;
    std::unordered_map<std::string, Entry, Hash, std::equal_to<>> entries;
  };
  static constexpr std::size_t kShards = 16;

  Database* db_;
  std::array<Shard, kShards> shards_;
  std::mutex sync_mutex_;
  TimestampMs next_purge_at_ = 0;
  std::unique_ptr<PeriodicTask> task_;
};

/// The two rate-limit middleware of the platform (only /api/v1 paths are limited).
///
/// `before_auth`: the stricter per-IP policies of "auth" and "register" routes; and the IP
/// budget of requests that never reached `after_auth` (refused by authentication), charged
/// once they return so a flood of bad credentials is limited too.
/// `after_auth`: per user and per tenant when authenticated, else per client IP. Deciding the
/// IP budget after authentication keeps authenticated users behind a shared address (an
/// office NAT) out of the anonymous budget of that address.
class RateLimitMiddleware final : public Middleware {
 public:
  RateLimitMiddleware(std::shared_ptr<RateLimiter> limiter, RateLimitConfig config, MiddlewareStage stage)
      : limiter_(std::move(limiter)), config_(config), stage_(stage) {}
  HttpResponse handle(Request& request, const Next& next) override;

 private:
  HttpResponse before_auth(Request& request, const Next& next);
  HttpResponse after_auth(Request& request, const Next& next);
  RateDecision charge_ip(Request& request);

  std::shared_ptr<RateLimiter> limiter_;
  RateLimitConfig config_;
  MiddlewareStage stage_;
};

/// True for paths under /api/v1 (operations endpoints are never limited).
bool rate_limited_path(std::string_view path) noexcept;

}  // namespace crm::platform
