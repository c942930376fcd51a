#include "crm/platform/event_bus.hpp"

#include "crm/platform/json.hpp"
#include "crm/platform/unit_of_work.hpp"

#include <soci/soci.h>

#include <stdexcept>

namespace crm::platform {

bool event_type_matches(const std::string& pattern, const std::string& type) {
  if (pattern == "*" || pattern == type) return true;
  if (pattern.size() >= 2 && pattern.compare(pattern.size() - 2, 2, ".*") == 0) {
    return type.compare(0, pattern.size() - 1, pattern, 0, pattern.size() - 1) == 0;
  }
  return false;
}

namespace {
bool any_match(const std::vector<std::string>& patterns, const std::string& type) {
  for (const auto& p : patterns)
    if (event_type_matches(p, type)) return true;
  return false;
}
}  // namespace

bool AsyncSubscriber::wants(const std::string& type) const { return any_match(event_types, type); }

boost::json::object EventEnvelope::to_json() const {
  boost::json::object o;
  o["id"] = id;
  o["type"] = type;
  o["version"] = version;
  o["tenant_id"] = tenant_id.empty() ? boost::json::value(nullptr) : boost::json::value(tenant_id);
  o["aggregate_type"] = aggregate_type;
  o["aggregate_id"] = aggregate_id;
  o["occurred_at"] = format_rfc3339(occurred_at);
  o["actor_id"] = actor_id.empty() ? boost::json::value(nullptr) : boost::json::value(actor_id);
  o["correlation_id"] = correlation_id;
  o["causation_id"] = causation_id.empty() ? boost::json::value(nullptr) : boost::json::value(causation_id);
  o["trace_id"] = trace_id;
  o["payload"] = payload;
  return o;
}

void EventBus::subscribe_sync(std::string name, std::vector<std::string> event_types, EventHandler handler) {
  sync_.push_back(SyncSubscriber{std::move(name), std::move(event_types), std::move(handler)});
}

void EventBus::subscribe_async(std::string name, std::vector<std::string> event_types, EventHandler handler,
                               AsyncSubscriberOptions options) {
  for (const auto& s : async_)
    if (s.name == name) throw std::logic_error("duplicate async subscriber " + name);
  async_.push_back(AsyncSubscriber{std::move(name), std::move(event_types), std::move(handler), options});
}

void EventBus::register_upcaster(const std::string& type, int from_version, Upcaster upcaster) {
  upcasters_[{type, from_version}] = std::move(upcaster);
}

EventEnvelope EventBus::upcast(EventEnvelope event) const {
  for (;;) {
    auto it = upcasters_.find({event.type, event.version});
    if (it == upcasters_.end()) return event;
    it->second(event.payload);
    ++event.version;
  }
}

const AsyncSubscriber* EventBus::async_subscriber(const std::string& name) const {
  for (const auto& s : async_)
    if (s.name == name) return &s;
  return nullptr;
}

std::vector<const AsyncSubscriber*> EventBus::async_subscribers() const {
  std::vector<const AsyncSubscriber*> out;
  for (const auto& s : async_) out.push_back(&s);
  return out;
}

int EventBus::publish(UnitOfWork& uow, EventEnvelope& event) {
  for (const auto& s : sync_) {
    if (any_match(s.event_types, event.type)) s.handler(uow, event);
  }
  soci::session& sql = uow.sql();
  std::string payload = json::dump(event.payload);
  long long created = now_ms();
  long long seq = insert_returning_key(
      sql,
      "INSERT INTO platform_outbox (id, type, version, tenant_id, aggregate_type, aggregate_id, occurred_at,"
      " actor_id, correlation_id, causation_id, trace_id, payload, created_at)"
      " VALUES (:id, :type, :version, :tenant, :agg_type, :agg_id, :occurred, :actor, :corr, :cause, :trace,"
      " :payload, :created)",
      "seq",
      {event.id, event.type, static_cast<long long>(event.version), text_or_null(event.tenant_id),
       event.aggregate_type, event.aggregate_id, static_cast<long long>(event.occurred_at),
       text_or_null(event.actor_id), event.correlation_id, text_or_null(event.causation_id), event.trace_id,
       payload, created});
  event.sequence = seq;
  std::string aggregate_key = event.tenant_id + "|" + event.aggregate_type + "|" + event.aggregate_id;
  int queued = 0;
  for (const auto& s : async_) {
    if (!s.wants(event.type)) continue;
    ++queued;
    execute(sql,
            "INSERT INTO platform_outbox_deliveries (subscriber, event_seq, aggregate_key, status, attempts,"
            " next_attempt_at, created_at, updated_at) VALUES (:s, :seq, :key, 'pending', 0, :next, :c, :u)",
            {s.name, seq, aggregate_key, created, created, created});
  }
  return queued;
}

}  // namespace crm::platform
