#pragma once
/// The IAM module's facade: what other modules may ask of it.

#include "crm/platform/module.hpp"

#include <optional>
#include <string>
#include <vector>

namespace crm::iam {

struct TenantInfo {
  std::string id;
  std::string slug;
  std::string name;
  std::string status;
  std::string plan;
  std::string currency;  // ISO 4217, the tenant's default
  std::string timezone;
  std::string locale;
  std::string country;  // ISO 3166-1 alpha-2 from the tenant's settings; empty when not set
};

struct UserInfo {
  std::string id;
  std::string email;
  std::string name;
  std::vector<std::string> roles;  // role names in the tenant asked about
};

/// Read access to tenants and members for other modules (owner checks, defaults).
class IamDirectory {
 public:
  virtual ~IamDirectory() = default;
  virtual std::optional<TenantInfo> tenant(const std::string& tenant_id) const = 0;
  /// The user when it is an active member of the tenant; nullopt otherwise (another
  /// tenant's user is indistinguishable from none).
  virtual std::optional<UserInfo> member(const std::string& tenant_id, const std::string& user_id) const = 0;
  /// The tenant with that slug (demo seeding, imports naming a tenant).
  virtual std::optional<TenantInfo> tenant_by_slug(const std::string& slug) const = 0;
  /// The tenant's active members with their role names, in a stable order.
  virtual std::vector<UserInfo> active_members(const std::string& tenant_id) const = 0;
};

/// The IAM module factory for the composition root.
platform::ModuleFactory iam_module_factory();

}  // namespace crm::iam
