#pragma once
/// The in-process event bus. Synchronous subscribers run inside the publishing transaction;
/// asynchronous subscribers get each event after commit through the outbox dispatcher, once
/// per subscriber (inbox de-duplication), in order per aggregate, with retries.

#include "crm/platform/event.hpp"

#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace crm::platform {

class UnitOfWork;

/// Handlers get the unit of work of the transaction they run in.
using EventHandler = std::function<void(UnitOfWork&, const EventEnvelope&)>;
/// Rewrites a payload of `from_version` into `from_version + 1`.
using Upcaster = std::function<void(boost::json::object& payload)>;

struct AsyncSubscriberOptions {
  int max_attempts = 0;  // 0: the outbox default
};

struct AsyncSubscriber {
  std::string name;                      // stable: progress is recorded under it
  std::vector<std::string> event_types;  // exact types, "prefix.*" or "*"
  EventHandler handler;
  AsyncSubscriberOptions options;

  bool wants(const std::string& type) const;
};

class EventBus final {
 public:
  /// A handler run inside the publisher's transaction; throwing rolls the whole change back.
  void subscribe_sync(std::string name, std::vector<std::string> event_types, EventHandler handler);
  /// A handler run after commit by the dispatcher, in its own transaction.
  void subscribe_async(std::string name, std::vector<std::string> event_types, EventHandler handler,
                       AsyncSubscriberOptions options = {});
  /// Registers the step that rewrites payloads of `type` at `from_version` into
  /// `from_version + 1`; handlers always see the newest version reachable by these steps.
  void register_upcaster(const std::string& type, int from_version, Upcaster upcaster);

  /// Brings an old envelope to the current schema version of its type.
  EventEnvelope upcast(EventEnvelope event) const;

  /// Called by UnitOfWork::publish: runs sync handlers and writes outbox + delivery rows.
  /// Returns the number of asynchronous deliveries queued (0: no dispatcher needs waking).
  int publish(UnitOfWork& uow, EventEnvelope& event);

  const AsyncSubscriber* async_subscriber(const std::string& name) const;
  std::vector<const AsyncSubscriber*> async_subscribers() const;

  /// Called after a transaction with events commits (wakes the dispatcher).
  void set_commit_listener(std::function<void()> listener) { commit_listener_ = std::move(listener); }
  void notify_committed() const {
    if (commit_listener_) commit_listener_();
  }

 private:
  struct SyncSubscriber {
    std::string name;
    std::vector<std::string> event_types;
    EventHandler handler;
  };
  std::vector<SyncSubscriber> sync_;
  std::vector<AsyncSubscriber> async_;
  std::map<std::pair<std::string, int>, Upcaster> upcasters_;
  std::function<void()> commit_listener_;
};

/// True when `pattern` ("a.b", "a.*", "*") matches `type`.
bool event_type_matches(const std::string& pattern, const std::string& type);

}  // namespace crm::platform
