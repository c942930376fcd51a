#pragma once
/// Who and what a unit of work runs for: carried from the HTTP edge into transactions,
/// events and logs.

#include <cstdint>
#include <string>
#include <vector>

namespace crm::platform {

/// Who is acting, as the authentication middleware resolved it.
struct Principal {
  bool authenticated = false;
  std::string user_id;
  std::string tenant_id;
  std::string session_id;   // refresh-token family of the access token, if any
  std::string token_id;     // access token `jti`
  std::int64_t token_expires_at = 0;  // ms
  std::string api_key_id;   // set when authenticated with an API key
  bool platform_admin = false;
  std::vector<std::string> roles;        // role names in the tenant
  std::vector<std::string> permissions;  // effective `resource:action[:own]` grants, resolved per request
};

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
  Principal principal;
  std::string rate_limit_budget;  // the budget this request was charged to ("ip", "user"); empty: none yet
};

}  // namespace crm::platform
