#pragma once
/// The outbox dispatcher: hands committed events to asynchronous subscribers.

#include "crm/platform/config.hpp"
#include "crm/platform/time.hpp"

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace crm::platform {

class Database;
class EventBus;
class MetricsRegistry;

struct OutboxSubscriberStatus {
  std::string subscriber;
  std::int64_t pending = 0;  // waiting or retrying
  std::int64_t retrying = 0; // pending with at least one failed attempt
  std::int64_t done = 0;
  std::int64_t dead = 0;
};

struct OutboxStatus {
  std::int64_t events = 0;
  std::int64_t pending = 0;
  std::int64_t retrying = 0;
  std::int64_t dead = 0;
  std::int64_t oldest_pending_age_ms = 0;  // the lag
  std::vector<OutboxSubscriberStatus> subscribers;
};

struct DeadDelivery {
  std::string event_id;
  std::string event_type;
  std::string subscriber;
  int attempts = 0;
  std::string last_error;
};

/// Counts of deliveries per state, and the age of the oldest pending one.
OutboxStatus outbox_status(Database& db);
/// Re-queues every delivery of an event (attempts reset, inbox entries cleared so it is handled
/// again); returns the number of deliveries re-queued, 0 when the event is unknown.
int outbox_replay(Database& db, const std::string& event_id);
/// Deletes events created before `cutoff` whose every delivery is done (events with pending
/// or dead deliveries are kept for retry and inspection); returns how many were deleted.
std::int64_t outbox_purge(Database& db, TimestampMs cutoff);
/// Deliveries that exhausted their attempts, newest first.
std::vector<DeadDelivery> outbox_dead(Database& db, int limit);

class OutboxDispatcher final {
 public:
  OutboxDispatcher(Database& db, EventBus& bus, OutboxConfig config, MetricsRegistry& metrics);
  ~OutboxDispatcher();
  OutboxDispatcher(const OutboxDispatcher&) = delete;
  OutboxDispatcher& operator=(const OutboxDispatcher&) = delete;

  /// Starts the background thread (woken by commits, polling as a fallback).
  void start();
  /// Wakes the background thread now.
  void wake();
  /// Stops the thread after the batch in hand; with `flush`, first delivers what is due.
  void stop(bool flush);
  /// Claims and handles one batch of due deliveries synchronously; returns how many it handled.
  std::size_t run_once();

  const std::string& worker_id() const noexcept { return worker_id_; }

 private:
  struct Claimed;
  std::vector<Claimed> claim_batch();
  void deliver(const Claimed& claimed);
  void loop();

  Database& db_;
  EventBus& bus_;
  OutboxConfig config_;
  MetricsRegistry& metrics_;
  std::string worker_id_;
  std::thread thread_;
  std::mutex mutex_;
  std::condition_variable cv_;
  bool wake_ = false;
  bool stopping_ = false;
  TimestampMs next_purge_at_ = 0;
};

}  // namespace crm::platform
