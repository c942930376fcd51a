#include "crm/platform/outbox.hpp"

#include "crm/platform/db.hpp"
#include "crm/platform/event_bus.hpp"
#include "crm/platform/json.hpp"
#include "crm/platform/log.hpp"
#include "crm/platform/metrics.hpp"
#include "crm/platform/unit_of_work.hpp"

#include <boost/json/parse.hpp>
#include <soci/soci.h>

#include <algorithm>
#include <cmath>
#include <random>

namespace crm::platform {

namespace {

constexpr std::size_t kMaxErrorLength = 1000;

long long backoff_ms(const OutboxConfig& c, int attempts) {
  double base = static_cast<double>(c.backoff_base_ms) * std::pow(2.0, std::min(attempts - 1, 30));
  double capped = std::min(base, static_cast<double>(c.backoff_max_ms));
  thread_local std::mt19937_64 rng{std::random_device{}()};
  std::uniform_real_distribution<double> jitter(0.5, 1.0);  // "equal jitter"
  return static_cast<long long>(capped * jitter(rng));
}

}  // namespace

struct OutboxDispatcher::Claimed {
  std::string subscriber;
  long long seq = 0;
  int attempts = 0;
};

OutboxDispatcher::OutboxDispatcher(Database& db, EventBus& bus, OutboxConfig config, MetricsRegistry& metrics)
    : db_(db), bus_(bus), config_(config), metrics_(metrics), worker_id_(new_uuid_v7()) {}

OutboxDispatcher::~OutboxDispatcher() { stop(false); }

void OutboxDispatcher::start() {
  if (thread_.joinable()) return;
  stopping_ = false;
  thread_ = std::thread([this] { loop(); });
}

void OutboxDispatcher::wake() {
  {
    std::lock_guard lock(mutex_);
    wake_ = true;
  }
  cv_.notify_one();
}

void OutboxDispatcher::stop(bool flush) {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  cv_.notify_one();
  if (thread_.joinable()) thread_.join();
  if (flush) {
    // Deliver what is due now, bounded so a failing subscriber cannot hold shutdown.
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    try {
      while (run_once() > 0 && std::chrono::steady_clock::now() < deadline) {
      }
    } catch (const std::exception& e) {
      log_warn("outbox flush failed", {{"error", e.what()}});
    }
  }
}

void OutboxDispatcher::loop() {
  while (true) {
    std::size_t handled = 0;
    try {
      handled = run_once();
      if (now_ms() >= next_purge_at_) {
        // Retention: once an hour, and once shortly after start.
        next_purge_at_ = now_ms() + 3600 * 1000;
        auto cutoff = now_ms() - static_cast<TimestampMs>(config_.retention_days) * 86400 * 1000;
        if (auto purged = outbox_purge(db_, cutoff); purged > 0) log_info("outbox events purged", {{"count", purged}});
      }
    } catch (const std::exception& e) {
      log_warn("outbox dispatch failed", {{"error", e.what()}});
    }
    std::unique_lock lock(mutex_);
    if (stopping_) return;
    if (handled > 0 && !wake_) continue;  // more may be due: go again at once
    cv_.wait_for(lock, std::chrono::milliseconds(config_.poll_interval_ms), [this] { return wake_ || stopping_; });
    wake_ = false;
    if (stopping_) return;
  }
}

std::vector<OutboxDispatcher::Claimed> OutboxDispatcher::claim_batch() {
  std::vector<Claimed> claimed;
  auto writing = db_.write_lock();
  auto lease = db_.acquire();
  soci::session& sql = *lease;
  bool pg = db_.backend() == Backend::postgres;
  long long now = now_ms();
  long long until = now + config_.lease_ms;
  int limit = config_.batch_size;
  try {
    sql << (pg ? "BEGIN" : "BEGIN IMMEDIATE");
    // The head of each (subscriber, aggregate) queue only: events of one aggregate are handled
    // in order. On PostgreSQL, rows another process is claiming are skipped, not waited for.
    std::string query =
        "SELECT d.subscriber, d.event_seq, d.attempts FROM platform_outbox_deliveries d"
        " WHERE d.status = 'pending' AND d.next_attempt_at <= :now"
        " AND (d.lease_until IS NULL OR d.lease_until < :now2)"
        " AND NOT EXISTS (SELECT 1 FROM platform_outbox_deliveries p WHERE p.subscriber = d.subscriber"
        " AND p.aggregate_key = d.aggregate_key AND p.status = 'pending' AND p.event_seq < d.event_seq)"
        " ORDER BY d.event_seq LIMIT :limit";
    if (pg) query += " FOR UPDATE OF d SKIP LOCKED";
    std::string subscriber;
    long long seq = 0;
    int attempts = 0;
    soci::statement st = (sql.prepare << query, soci::use(now), soci::use(now), soci::use(limit),
                          soci::into(subscriber), soci::into(seq), soci::into(attempts));
    st.execute();
    while (st.fetch()) claimed.push_back(Claimed{subscriber, seq, attempts});
    for (auto it = claimed.begin(); it != claimed.end();) {
      soci::statement up = (sql.prepare << "UPDATE platform_outbox_deliveries SET lease_owner = :w, lease_until = :u,"
                                           " updated_at = :n WHERE subscriber = :s AND event_seq = :q AND status = 'pending'"
                                           " AND (lease_until IS NULL OR lease_until < :n2)",
                            soci::use(worker_id_), soci::use(until), soci::use(now), soci::use(it->subscriber),
                            soci::use(it->seq), soci::use(now));
      up.execute(true);
      it = up.get_affected_rows() == 1 ? it + 1 : claimed.erase(it);
    }
    sql << "COMMIT";
  } catch (...) {
    try {
      sql << "ROLLBACK";
    } catch (...) {
      lease.discard();
    }
    throw;
  }
  return claimed;
}

std::size_t OutboxDispatcher::run_once() {
  auto batch = claim_batch();
  for (const auto& c : batch) deliver(c);
  return batch.size();
}

void OutboxDispatcher::deliver(const Claimed& c) {
  const AsyncSubscriber* subscriber = bus_.async_subscriber(c.subscriber);
  EventEnvelope event;
  {
    auto lease = db_.acquire();
    std::string payload;
    soci::indicator tenant_ind, actor_ind, cause_ind, corr_ind, trace_ind;
    long long occurred = 0;
    *lease << "SELECT CAST(id AS TEXT), type, version, CAST(tenant_id AS TEXT), aggregate_type, aggregate_id,"
              " occurred_at, actor_id, correlation_id, causation_id, trace_id, CAST(payload AS TEXT)"
              " FROM platform_outbox WHERE seq = :seq",
        soci::use(c.seq), soci::into(event.id), soci::into(event.type), soci::into(event.version),
        soci::into(event.tenant_id, tenant_ind), soci::into(event.aggregate_type), soci::into(event.aggregate_id),
        soci::into(occurred), soci::into(event.actor_id, actor_ind), soci::into(event.correlation_id, corr_ind),
        soci::into(event.causation_id, cause_ind), soci::into(event.trace_id, trace_ind), soci::into(payload);
    event.occurred_at = occurred;
    event.sequence = c.seq;
    auto parsed = boost::json::parse(payload);
    if (parsed.is_object()) event.payload = std::move(parsed.get_object());
  }
  event = bus_.upcast(std::move(event));

  RequestContext ctx;
  ctx.tenant_id = event.tenant_id;
  ctx.actor_id = event.actor_id;
  ctx.correlation_id = event.correlation_id;
  ctx.causation_id = event.id;
  ctx.trace_id = event.trace_id;
  ctx.request_id = event.correlation_id;
  ScopedLogContext log_context(LogContext{ctx.request_id, ctx.trace_id, ctx.tenant_id, {}});

  Labels labels{{"subscriber", c.subscriber}};
  int attempts = c.attempts + 1;
  try {
    if (!subscriber) throw std::runtime_error("no subscriber named " + c.subscriber + " in this process");
    UnitOfWork uow(db_, bus_, ctx);
    soci::session& sql = uow.sql();
    long long now = now_ms();
    soci::statement inbox = (sql.prepare << "INSERT INTO platform_inbox (subscriber, event_id, handled_at)"
                                            " VALUES (:s, :e, :h) ON CONFLICT DO NOTHING",
                             soci::use(c.subscriber), soci::use(event.id), soci::use(now));
    inbox.execute(true);
    bool first_time = inbox.get_affected_rows() == 1;
    if (first_time) {
      subscriber->handler(uow, event);
    } else {
      metrics_.counter("crm_outbox_duplicates_skipped_total", "Redelivered events skipped by the inbox", labels).inc();
    }
    soci::statement done = (sql.prepare << "UPDATE platform_outbox_deliveries SET status = 'done', attempts = :a,"
                                           " lease_owner = NULL, lease_until = NULL, last_error = NULL, updated_at = :n"
                                           " WHERE subscriber = :s AND event_seq = :q AND lease_owner = :w",
                            soci::use(attempts), soci::use(now), soci::use(c.subscriber), soci::use(c.seq),
                            soci::use(worker_id_));
    done.execute(true);
    if (done.get_affected_rows() != 1) {
      // Our lease ran out and another worker took the delivery: let it win.
      throw std::runtime_error("lease lost");
    }
    uow.commit();
    metrics_.counter("crm_outbox_delivered_total", "Events handled by asynchronous subscribers", labels).inc();
  } catch (const std::exception& e) {
    std::string message = e.what();
    if (message == "lease lost") return;
    if (message.size() > kMaxErrorLength) message.resize(kMaxErrorLength);
    int max_attempts = subscriber && subscriber->options.max_attempts > 0 ? subscriber->options.max_attempts
                                                                           : config_.max_attempts;
    bool dead = attempts >= max_attempts;
    long long now = now_ms();
    long long next = now + backoff_ms(config_, attempts);
    std::string status = dead ? "dead" : "pending";
    try {
      auto writing = db_.write_lock();
      auto lease = db_.acquire();
      *lease << "UPDATE platform_outbox_deliveries SET status = :st, attempts = :a, next_attempt_at = :next,"
                " lease_owner = NULL, lease_until = NULL, last_error = :err, updated_at = :n"
                " WHERE subscriber = :s AND event_seq = :q AND lease_owner = :w",
          soci::use(status), soci::use(attempts), soci::use(next), soci::use(message), soci::use(now),
          soci::use(c.subscriber), soci::use(c.seq), soci::use(worker_id_);
    } catch (const std::exception& inner) {
      log_error("outbox: recording a failed delivery failed", {{"error", inner.what()}});
    }
    if (dead) {
      metrics_.counter("crm_outbox_dead_total", "Deliveries moved to dead letter", labels).inc();
      log_error("outbox: delivery dead after max attempts",
                {{"subscriber", c.subscriber}, {"event_id", event.id}, {"type", event.type}, {"attempts", attempts},
                 {"error", message}});
    } else {
      metrics_.counter("crm_outbox_failures_total", "Failed delivery attempts", labels).inc();
      log_warn("outbox: delivery failed, will retry",
               {{"subscriber", c.subscriber}, {"event_id", event.id}, {"attempts", attempts}, {"error", message}});
    }
  }
}

OutboxStatus outbox_status(Database& db) {
  OutboxStatus s;
  auto lease = db.acquire();
  soci::session& sql = *lease;
  long long events = 0;
  sql << "SELECT COUNT(*) FROM platform_outbox", soci::into(events);
  s.events = events;
  std::string subscriber, status;
  long long count = 0, retrying = 0;
  soci::statement st = (sql.prepare << "SELECT subscriber, status, COUNT(*),"
                                       " SUM(CASE WHEN attempts > 0 AND status = 'pending' THEN 1 ELSE 0 END)"
                                       " FROM platform_outbox_deliveries GROUP BY subscriber, status ORDER BY subscriber",
                        soci::into(subscriber), soci::into(status), soci::into(count), soci::into(retrying));
  st.execute();
  while (st.fetch()) {
    if (s.subscribers.empty() || s.subscribers.back().subscriber != subscriber) {
      s.subscribers.push_back(OutboxSubscriberStatus{subscriber});
    }
    auto& sub = s.subscribers.back();
    if (status == "pending") {
      sub.pending += count;
      sub.retrying += retrying;
      s.pending += count;
      s.retrying += retrying;
    } else if (status == "done") {
      sub.done += count;
    } else if (status == "dead") {
      sub.dead += count;
      s.dead += count;
    }
  }
  long long oldest = 0;
  soci::indicator ind = soci::i_null;
  sql << "SELECT MIN(created_at) FROM platform_outbox_deliveries WHERE status = 'pending'", soci::into(oldest, ind);
  if (ind == soci::i_ok) s.oldest_pending_age_ms = std::max<long long>(0, now_ms() - oldest);
  return s;
}

int outbox_replay(Database& db, const std::string& event_id) {
  if (!is_uuid(event_id)) return 0;
  auto writing = db.write_lock();
  auto lease = db.acquire();
  soci::session& sql = *lease;
  bool pg = db.backend() == Backend::postgres;
  sql << (pg ? "BEGIN" : "BEGIN IMMEDIATE");
  try {
    long long seq = 0;
    sql << "SELECT seq FROM platform_outbox WHERE id = :id", soci::use(event_id), soci::into(seq);
    if (!sql.got_data()) {
      sql << "ROLLBACK";
      return 0;
    }
    long long now = now_ms();
    sql << "DELETE FROM platform_inbox WHERE event_id = :id", soci::use(event_id);
    soci::statement st = (sql.prepare << "UPDATE platform_outbox_deliveries SET status = 'pending', attempts = 0,"
                                         " next_attempt_at = :n, lease_owner = NULL, lease_until = NULL,"
                                         " last_error = NULL, updated_at = :n2 WHERE event_seq = :q",
                          soci::use(now), soci::use(now), soci::use(seq));
    st.execute(true);
    int n = static_cast<int>(st.get_affected_rows());
    sql << "COMMIT";
    return n;
  } catch (...) {
    try {
      sql << "ROLLBACK";
    } catch (...) {
      lease.discard();
    }
    throw;
  }
}

std::int64_t outbox_purge(Database& db, TimestampMs cutoff) {
  auto lease = db.acquire();
  long long at = cutoff;
  // Deliveries and inbox rows go with their event (ON DELETE CASCADE for deliveries).
  *lease << "DELETE FROM platform_inbox WHERE handled_at < :c AND event_id IN (SELECT o.id FROM platform_outbox o"
            " WHERE o.created_at < :c2 AND NOT EXISTS (SELECT 1 FROM platform_outbox_deliveries d"
            " WHERE d.event_seq = o.seq AND d.status <> 'done'))",
      soci::use(at), soci::use(at);
  soci::statement st = (lease->prepare << "DELETE FROM platform_outbox WHERE created_at < :c AND NOT EXISTS"
                                          " (SELECT 1 FROM platform_outbox_deliveries d WHERE d.event_seq = platform_outbox.seq"
                                          " AND d.status <> 'done')",
                        soci::use(at));
  st.execute(true);
  return st.get_affected_rows();
}

std::vector<DeadDelivery> outbox_dead(Database& db, int limit) {
  std::vector<DeadDelivery> out;
  auto lease = db.acquire();
  DeadDelivery d;
  soci::indicator err_ind;
  soci::statement st = (lease->prepare << "SELECT CAST(o.id AS TEXT), o.type, d.subscriber, d.attempts, d.last_error"
                                          " FROM platform_outbox_deliveries d JOIN platform_outbox o ON o.seq = d.event_seq"
                                          " WHERE d.status = 'dead' ORDER BY d.event_seq DESC LIMIT :l",
                        soci::use(limit), soci::into(d.event_id), soci::into(d.event_type), soci::into(d.subscriber),
                        soci::into(d.attempts), soci::into(d.last_error, err_ind));
  st.execute();
  while (st.fetch()) {
    if (err_ind != soci::i_ok) d.last_error.clear();
    out.push_back(d);
  }
  return out;
}

}  // namespace crm::platform
