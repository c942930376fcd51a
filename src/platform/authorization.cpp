#include "crm/platform/authorization.hpp"

#include "crm/platform/error.hpp"

namespace crm::platform {

namespace {

// Splits "a:b:c" into at most three parts.
struct Parts {
  std::string_view resource, action, scope;
};

Parts split(std::string_view s) {
  Parts p;
  auto c1 = s.find(':');
  p.resource = s.substr(0, c1);
  if (c1 == std::string_view::npos) return p;
  auto rest = s.substr(c1 + 1);
  auto c2 = rest.find(':');
  p.action = rest.substr(0, c2);
  if (c2 != std::string_view::npos) p.scope = rest.substr(c2 + 1);
  return p;
}

bool part_matches(std::string_view grant, std::string_view wanted) { return grant == "*" || grant == wanted; }

}  // namespace

bool grant_allows(std::string_view grant, std::string_view permission) {
  if (grant == "*") return true;
  Parts g = split(grant), w = split(permission);
  if (!g.scope.empty()) return false;  // `:own` grants never allow unconditionally
  if (g.action.empty()) return false;
  return part_matches(g.resource, w.resource) && part_matches(g.action, w.action);
}

bool grant_allows_own(std::string_view grant, std::string_view permission) {
  Parts g = split(grant), w = split(permission);
  return g.scope == "own" && part_matches(g.resource, w.resource) && part_matches(g.action, w.action);
}

bool permits(const std::vector<std::string>& grants, std::string_view permission, std::string_view user_id,
             std::optional<std::string_view> owner_id) {
  for (const auto& g : grants) {
    if (grant_allows(g, permission)) return true;
    if (owner_id && !user_id.empty() && *owner_id == user_id && grant_allows_own(g, permission)) return true;
  }
  return false;
}

void require_authenticated(const RequestContext& context) {
  if (!context.principal.authenticated) throw Error::unauthorized();
}

bool has_permission(const RequestContext& context, std::string_view permission,
                    std::optional<std::string_view> owner_id) {
  const auto& p = context.principal;
  return p.authenticated && permits(p.permissions, permission, p.user_id, owner_id);
}

void require_permission(const RequestContext& context, std::string_view permission,
                        std::optional<std::string_view> owner_id) {
  require_authenticated(context);
  if (!has_permission(context, permission, owner_id)) {
    throw Error::forbidden("You do not have the permission " + std::string(permission) + ".");
  }
}

}  // namespace crm::platform
