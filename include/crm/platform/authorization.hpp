#pragma once
/// Permission checks every module makes in one line:
///   require_permission(req.context(), "customers:update", customer.owner_id);
/// Grants are `resource:action` strings with wildcards (`customers:*`, `*`); a grant ending in
/// `:own` (`customers:update:own`) allows the action only on records the user owns.

#include "crm/platform/request_context.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace crm::platform {

/// True when `grant` allows `permission` ("resource:action") on any record.
bool grant_allows(std::string_view grant, std::string_view permission);
/// True when `grant` is an ownership-limited grant (`…:own`) allowing `permission`.
bool grant_allows_own(std::string_view grant, std::string_view permission);

/// True when the grants allow the permission; with `owner_id`, `:own` grants count when the
/// record belongs to `user_id`.
bool permits(const std::vector<std::string>& grants, std::string_view permission, std::string_view user_id = {},
             std::optional<std::string_view> owner_id = std::nullopt);

/// Throws 401 when nobody is authenticated, 403 when the principal lacks the permission.
void require_permission(const RequestContext& context, std::string_view permission,
                        std::optional<std::string_view> owner_id = std::nullopt);
/// True when the principal has the permission (no throw).
bool has_permission(const RequestContext& context, std::string_view permission,
                    std::optional<std::string_view> owner_id = std::nullopt);
/// Throws 401 when nobody is authenticated.
void require_authenticated(const RequestContext& context);

}  // namespace crm::platform
