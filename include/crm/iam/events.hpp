#pragma once
/// The events the IAM module publishes: the contract other modules may depend on.
/// Payloads carry `changes` ({field: {old, new}}) for updates; secrets never appear, except
/// the one-time link data of user.registered, user.invited and user.password_reset_requested,
/// which exist to be delivered to the user.

namespace crm::iam::events {

inline constexpr const char* kTenantCreated = "tenant.created";
inline constexpr const char* kTenantUpdated = "tenant.updated";
inline constexpr const char* kTenantStatusChanged = "tenant.status_changed";
inline constexpr const char* kTenantPlanChanged = "tenant.plan_changed";
/// A closed tenant's grace period is over and its data is being removed. Published inside the
/// unit of work that deletes the tenant's IAM rows: a module subscribes synchronously and
/// deletes its own rows of `tenant_id` in the same transaction (throwing rolls the whole
/// removal back, to be retried on the next run). Payload: slug, name, deletion_due_at.
inline constexpr const char* kTenantDeleted = "tenant.deleted";
inline constexpr const char* kUserRegistered = "user.registered";
inline constexpr const char* kUserInvited = "user.invited";
inline constexpr const char* kUserJoined = "user.joined";
inline constexpr const char* kUserUpdated = "user.updated";
inline constexpr const char* kUserSuspended = "user.suspended";
inline constexpr const char* kUserActivated = "user.activated";
inline constexpr const char* kUserRemoved = "user.removed";
inline constexpr const char* kUserRolesChanged = "user.roles_changed";
inline constexpr const char* kUserPasswordChanged = "user.password_changed";
inline constexpr const char* kUserPasswordResetRequested = "user.password_reset_requested";
inline constexpr const char* kUserEmailVerified = "user.email_verified";
inline constexpr const char* kRoleCreated = "role.created";
inline constexpr const char* kRoleUpdated = "role.updated";
inline constexpr const char* kRoleDeleted = "role.deleted";
inline constexpr const char* kSessionRevoked = "session.revoked";
inline constexpr const char* kLoginSucceeded = "auth.login_succeeded";
inline constexpr const char* kLoginFailed = "auth.login_failed";
inline constexpr const char* kLockedOut = "auth.locked_out";

/// Schema version of every IAM event payload.
inline constexpr int kVersion = 1;

}  // namespace crm::iam::events
