#include "rate_limit.hpp"

#include "crm/platform/db.hpp"
#include "crm/platform/log.hpp"
#include "crm/platform/router.hpp"
#include "periodic_task.hpp"

#include <soci/soci.h>

#include <algorithm>
#include <charconv>
#include <vector>

namespace crm::platform {

namespace {

constexpr std::int64_t kMinute = 60 * 1000;
constexpr std::int64_t kHour = 60 * kMinute;
constexpr std::int64_t kPurgeIntervalMs = 60 * 1000;
// Keys used this recently are refreshed at every sync even without new hits of their own.
constexpr std::int64_t kRefreshIdleMs = 10 * 1000;

Error too_many(const RateDecision& d) {
  Error e(ErrorKind::rate_limited, "rate_limited",
          "Too many requests; retry after " + std::to_string(d.reset_seconds) + " seconds.");
  e.with_header("Retry-After", std::to_string(d.reset_seconds));
  return e;
}

std::int64_t header_number(std::string_view text, std::int64_t fallback) {
  std::int64_t v = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  return ec == std::errc() && ptr == text.data() + text.size() ? v : fallback;
}

// RateLimit-* of the tightest budget a request was measured against: a budget only replaces
// the headers another one set when it leaves fewer requests.
void set_headers(HttpResponse& response, const RateDecision& d) {
  auto existing = response.find("RateLimit-Remaining");
  if (existing != response.end() && header_number(existing->value(), INT64_MAX) <= d.remaining) return;
  response.set("RateLimit-Limit", std::to_string(d.limit));
  response.set("RateLimit-Remaining", std::to_string(d.remaining));
  response.set("RateLimit-Reset", std::to_string(d.reset_seconds));
}

void set_headers(Error& error, const RateDecision& d) {
  const auto& h = error.headers();
  if (auto it = h.find("RateLimit-Remaining"); it != h.end() && header_number(it->second, INT64_MAX) <= d.remaining) {
    return;
  }
  error.with_header("RateLimit-Limit", std::to_string(d.limit));
  error.with_header("RateLimit-Remaining", std::to_string(d.remaining));
  error.with_header("RateLimit-Reset", std::to_string(d.reset_seconds));
}

// Runs the rest of the chain and puts the decision's headers on whatever comes back.
HttpResponse with_headers(Request& request, const Next& next, const RateDecision& d) {
  try {
    HttpResponse response = next(request);
    set_headers(response, d);
    return response;
  } catch (Error& e) {
    set_headers(e, d);
    throw;
  }
}

}  // namespace

std::uint64_t rate_key_hash(std::string_view key) {
  std::uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : key) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return h;
}

TimestampMs rate_window_start(TimestampMs now, std::int64_t window_ms, std::int64_t offset_ms) {
  TimestampMs shifted = now - offset_ms;
  TimestampMs index = shifted >= 0 ? shifted / window_ms : -((-shifted + window_ms - 1) / window_ms);
  return index * window_ms + offset_ms;
}

RateDecision rate_decide(std::int64_t limit, std::int64_t used, TimestampMs now, TimestampMs window_start,
                         std::int64_t window_ms) {
  RateDecision d;
  d.limit = limit;
  d.allowed = used < limit;
  d.remaining = d.allowed ? limit - used - 1 : 0;
  std::int64_t left_ms = std::max<std::int64_t>(window_start + window_ms - now, 1);
  d.reset_seconds = (left_ms + 999) / 1000;
  return d;
}

const RateDecision& rate_tighter(const RateDecision& a, const RateDecision& b) {
  if (a.allowed != b.allowed) return a.allowed ? b : a;
  if (!a.allowed) return a.reset_seconds >= b.reset_seconds ? a : b;  // the longer wait
  return a.remaining <= b.remaining ? a : b;
}

bool rate_limited_path(std::string_view path) noexcept {
  constexpr std::string_view prefix = "/api/v1";
  return path.substr(0, prefix.size()) == prefix && (path.size() == prefix.size() || path[prefix.size()] == '/');
}

RateLimiter::RateLimiter(Database* db) : db_(db) {}

RateLimiter::~RateLimiter() { stop(); }

RateDecision RateLimiter::hit(std::string_view key, std::int64_t limit, std::int64_t window_ms, TimestampMs now) {
  std::uint64_t h = rate_key_hash(key);
  TimestampMs start = rate_window_start(now, window_ms, static_cast<std::int64_t>(h % static_cast<std::uint64_t>(window_ms)));
  Shard& shard = shards_[(h >> 32) % kShards];
  std::lock_guard lock(shard.mutex);
  auto it = shard.entries.find(key);
  if (it == shard.entries.end()) it = shard.entries.emplace(std::string(key), Entry{}).first;
  Entry& e = it->second;
  if (e.window_start != start || e.window_ms != window_ms) e = Entry{start, window_ms};
  e.last_hit = now;
  RateDecision d = rate_decide(limit, e.synced + e.inflight + e.pending, now, start, window_ms);
  if (d.allowed) ++e.pending;
  return d;
}

void RateLimiter::sync(TimestampMs now) {
  std::lock_guard sync_lock(sync_mutex_);
  struct Item {
    std::string key;
    TimestampMs window_start;
    std::int64_t window_ms;
    std::int64_t delta;
    std::int64_t total = -1;
  };
  std::vector<Item> items;
  for (auto& shard : shards_) {
    std::lock_guard lock(shard.mutex);
    for (auto it = shard.entries.begin(); it != shard.entries.end();) {
      Entry& e = it->second;
      if (e.pending > 0) {
        items.push_back(Item{it->first, e.window_start, e.window_ms, e.pending});
        e.inflight += e.pending;
        e.pending = 0;
      } else if (e.inflight == 0 && e.window_start + e.window_ms > now && now - e.last_hit < kRefreshIdleMs) {
        // No new hits here, but recently used: read what the other processes counted.
        items.push_back(Item{it->first, e.window_start, e.window_ms, 0});
      } else if (e.inflight == 0 && e.window_start + e.window_ms <= now) {
        it = shard.entries.erase(it);  // its window is over
        continue;
      }
      ++it;
    }
  }
  if (items.empty()) return;

  bool written = false;
  if (db_ == nullptr) {
    for (auto& item : items) item.total = -1;
    written = true;
  } else {
    // One order for every process, so two concurrent syncs cannot deadlock on PostgreSQL.
    std::sort(items.begin(), items.end(), [](const Item& a, const Item& b) {
      return std::tie(a.key, a.window_start) < std::tie(b.key, b.window_start);
    });
    try {
      auto writing = db_->write_lock();
      auto lease = db_->acquire();
      soci::session& sql = *lease;
      bool pg = db_->backend() == Backend::postgres;
      try {
        sql << (pg ? "BEGIN" : "BEGIN IMMEDIATE");
        for (auto& item : items) {
          long long start = item.window_start;
          long long delta = item.delta;
          long long expires = item.window_start + item.window_ms;
          long long total = 0;
          if (delta == 0) {
            soci::indicator ind = soci::i_ok;
            sql << "SELECT hits FROM platform_rate_limits WHERE bucket = :b AND window_start = :w", soci::use(item.key),
                soci::use(start), soci::into(total, ind);
            item.total = sql.got_data() && ind == soci::i_ok ? total : -1;
            continue;
          }
          sql << "INSERT INTO platform_rate_limits (bucket, window_start, hits, expires_at)"
                 " VALUES (:b, :w, :d, :e)"
                 " ON CONFLICT (bucket, window_start) DO UPDATE SET hits = platform_rate_limits.hits + excluded.hits"
                 " RETURNING hits",
              soci::use(item.key), soci::use(start), soci::use(delta), soci::use(expires), soci::into(total);
          item.total = total;
        }
        sql << "COMMIT";
        written = true;
      } catch (...) {
        try {
          sql << "ROLLBACK";
        } catch (...) {
          lease.discard();
        }
        throw;
      }
    } catch (const std::exception& e) {
      log_warn("rate-limit sync failed", {{"error", e.what()}, {"keys", items.size()}});
    }
  }

  for (const auto& item : items) {
    Shard& shard = shards_[(rate_key_hash(item.key) >> 32) % kShards];
    std::lock_guard lock(shard.mutex);
    auto it = shard.entries.find(item.key);
    if (it == shard.entries.end()) continue;
    Entry& e = it->second;
    if (e.window_start != item.window_start || e.window_ms != item.window_ms) continue;  // a new window began
    e.inflight -= item.delta;
    if (!written) {
      e.pending += item.delta;  // try again at the next sync
    } else if (item.total >= 0) {
      e.synced = std::max(e.synced, static_cast<std::int64_t>(item.total));
    } else {
      e.synced += item.delta;
    }
  }
}

std::int64_t RateLimiter::purge(TimestampMs now) {
  if (db_ == nullptr) return 0;
  auto lease = db_->acquire();
  long long cutoff = now;
  soci::statement st = (lease->prepare << "DELETE FROM platform_rate_limits WHERE expires_at < :n", soci::use(cutoff));
  st.execute(true);
  return st.get_affected_rows();
}

void RateLimiter::start(std::chrono::milliseconds interval) {
  if (task_) return;
  task_ = std::make_unique<PeriodicTask>(interval, [this] {
    TimestampMs now = now_ms();
    sync(now);
    if (now >= next_purge_at_) {
      next_purge_at_ = now + kPurgeIntervalMs;
      try {
        purge(now);
      } catch (const std::exception& e) {
        log_warn("rate-limit purge failed", {{"error", e.what()}});
      }
    }
  });
  task_->start();
}

void RateLimiter::stop() {
  if (!task_) return;
  task_->stop();
  task_.reset();
  sync(now_ms());
}

HttpResponse RateLimitMiddleware::handle(Request& request, const Next& next) {
  if (!rate_limited_path(request.path())) return next(request);
  // The late answer to a request that timed out: the request itself was already counted.
  if (request.pending_error() && request.pending_error()->kind() == ErrorKind::timeout) return next(request);
  return stage_ == MiddlewareStage::before_auth ? before_auth(request, next) : after_auth(request, next);
}

RateDecision RateLimitMiddleware::charge_ip(Request& request) {
  request.context().rate_limit_budget = "ip";
  return limiter_->hit("ip:" + request.context().remote_ip, config_.ip_per_minute, kMinute, now_ms());
}

HttpResponse RateLimitMiddleware::before_auth(Request& request, const Next& next) {
  std::optional<RateDecision> strict;
  if (const Route* route = request.route()) {
    const std::string& ip = request.context().remote_ip;
    if (route->options.rate_limit == "auth") {
      strict = limiter_->hit("auth:" + ip, config_.auth_per_minute, kMinute, now_ms());
    } else if (route->options.rate_limit == "register") {
      strict = limiter_->hit("register:" + ip, config_.register_per_hour, kHour, now_ms());
    }
  }
  if (strict && !strict->allowed) {
    Error e = too_many(*strict);
    set_headers(e, *strict);
    throw e;
  }
  try {
    HttpResponse response = next(request);
    if (request.context().rate_limit_budget.empty()) {
      RateDecision ip = charge_ip(request);
      if (!ip.allowed) {
        Error e = too_many(ip);
        set_headers(e, ip);
        throw e;
      }
      set_headers(response, ip);
    }
    if (strict) set_headers(response, *strict);
    return response;
  } catch (Error& e) {
    if (request.context().rate_limit_budget.empty()) {
      RateDecision ip = charge_ip(request);
      if (!ip.allowed) {
        Error denied = too_many(ip);
        set_headers(denied, ip);
        throw denied;
      }
      set_headers(e, ip);
    }
    if (strict) set_headers(e, *strict);
    throw;
  }
}

HttpResponse RateLimitMiddleware::after_auth(Request& request, const Next& next) {
  const Principal& p = request.context().principal;
  RateDecision d;
  if (p.authenticated) {
    request.context().rate_limit_budget = "user";
    TimestampMs now = now_ms();
    std::string who = !p.user_id.empty() ? "user:" + p.user_id : "api_key:" + p.api_key_id;
    d = limiter_->hit(who, config_.user_per_minute, kMinute, now);
    if (d.allowed && !p.tenant_id.empty()) {
      d = rate_tighter(d, limiter_->hit("tenant:" + p.tenant_id, config_.tenant_per_minute, kMinute, now));
    }
  } else {
    d = charge_ip(request);
  }
  if (!d.allowed) {
    Error e = too_many(d);
    set_headers(e, d);
    throw e;
  }
  return with_headers(request, next, d);
}

}  // namespace crm::platform
