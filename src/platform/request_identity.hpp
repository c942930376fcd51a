#pragma once
// Gives each request its id (X-Request-ID when well-formed, else a new UUIDv7) and its W3C
// trace context (from `traceparent`, else a new trace).

#include "crm/platform/http.hpp"

namespace crm::platform {

void assign_request_identity(Request& request);
/// True for 1..128 characters of [A-Za-z0-9._:-].
bool well_formed_request_id(std::string_view id);
/// Parses `00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>`; empty when malformed.
std::string trace_id_from_traceparent(std::string_view header);

}  // namespace crm::platform
