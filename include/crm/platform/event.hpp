#pragma once
/// The envelope every domain event travels in.

#include "crm/platform/time.hpp"

#include <boost/json/object.hpp>

#include <cstdint>
#include <string>

namespace crm::platform {

struct EventEnvelope {
  std::string id;              // UUIDv7
  std::string type;            // "customer.created": explicit, stable, never a C++ type name
  int version = 1;             // schema version of the payload
  std::string tenant_id;       // empty for platform-level events
  std::string aggregate_type;  // "customer"
  std::string aggregate_id;
  TimestampMs occurred_at = 0;
  std::string actor_id;
  std::string correlation_id;
  std::string causation_id;
  std::string trace_id;
  boost::json::object payload;
  std::int64_t sequence = 0;  // outbox position, set when written

  boost::json::object to_json() const;
};

}  // namespace crm::platform
