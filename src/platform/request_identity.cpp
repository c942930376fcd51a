#include "request_identity.hpp"

#include "crm/platform/time.hpp"

namespace crm::platform {

namespace {
bool lower_hex(std::string_view s) {
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}
}  // namespace

bool well_formed_request_id(std::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  for (char c : id) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
              c == '_' || c == '-' || c == ':';
    if (!ok) return false;
  }
  return true;
}

std::string trace_id_from_traceparent(std::string_view h) {
  if (h.size() < 55 || h[2] != '-' || h[35] != '-' || h[52] != '-') return {};
  auto version = h.substr(0, 2), trace = h.substr(3, 32), parent = h.substr(36, 16), flags = h.substr(53, 2);
  if (!lower_hex(version) || version == "ff" || !lower_hex(trace) || !lower_hex(parent) || !lower_hex(flags)) return {};
  if (version == "00" && h.size() != 55) return {};
  if (trace == std::string(32, '0') || parent == std::string(16, '0')) return {};
  return std::string(trace);
}

void assign_request_identity(Request& request) {
  auto& ctx = request.context();
  std::string_view given = request.header("X-Request-ID");
  ctx.request_id = well_formed_request_id(given) ? std::string(given) : new_uuid_v7();
  ctx.trace_id = trace_id_from_traceparent(request.header("traceparent"));
  if (ctx.trace_id.empty()) ctx.trace_id = random_hex(16);
  ctx.span_id = random_hex(8);
  ctx.correlation_id = ctx.request_id;
  ctx.user_agent = std::string(request.header("User-Agent").substr(0, 512));
}

}  // namespace crm::platform
