#pragma once
/// Who and what a unit of work runs for: carried from the HTTP edge into transactions,
/// events and logs.

#include <string>

namespace crm::platform {

struct RequestContext {
  std::string request_id;
  std::string trace_id;        // W3C trace id (32 hex) when a traceparent came in or was made
  std::string span_id;         // this request's span (16 hex)
  std::string tenant_id;       // empty: no tenant (platform-level work)
  std::string actor_id;        // user or API key id; empty for system work
  std::string remote_ip;
  std::string user_agent;
  std::string correlation_id;  // defaults to request_id
  std::string causation_id;    // the event that caused this work, if any
};

}  // namespace crm::platform
