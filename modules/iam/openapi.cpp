// OpenAPI descriptions of the IAM endpoints: request bodies, responses and schemas.
#include "iam_internal.hpp"

#include "crm/platform/openapi_schema.hpp"
#include "crm/platform/router.hpp"

namespace crm::iam {

using platform::HttpVerb;

namespace {

using namespace platform::openapi;

bj::object timestamps() { return str("date-time"); }

}  // namespace

void describe_iam_api(platform::Router& router) {
  router.add_schema("TokenPair",
                    object({{"access_token", str()},
                            {"refresh_token", str()},
                            {"token_type", str()},
                            {"expires_in", integer()},
                            {"user", object({{"id", str("uuid")}, {"email", str("email")}, {"name", str()},
                                             {"email_verified", boolean()}},
                                            {"id", "email", "name", "email_verified"})},
                            {"tenant", nullable(object({{"id", str("uuid")}, {"slug", str()}, {"name", str()}},
                                                       {"id", "slug", "name"}))},
                            {"tenants", array_of(object({{"id", str("uuid")}, {"slug", str()}, {"name", str()},
                                                         {"roles", array_of(str())}},
                                                        {"id", "slug", "name", "roles"}))}},
                           {"access_token", "refresh_token", "token_type", "expires_in", "user", "tenant", "tenants"}));
  router.add_schema("Member", object({{"id", str("uuid")}, {"tenant_id", str("uuid")}, {"email", str("email")},
                                      {"name", str()}, {"email_verified", boolean()}, {"status", str()},
                                      {"roles", array_of(object({{"id", str("uuid")}, {"name", str()}}, {"id", "name"}))},
                                      {"last_used_at", nullable(timestamps())}, {"version", integer()},
                                      {"created_at", timestamps()}, {"updated_at", timestamps()}},
                                     {"id", "tenant_id", "email", "name", "status", "roles", "version"}));
  router.add_schema("Role", object({{"id", str("uuid")}, {"tenant_id", str("uuid")}, {"name", str()},
                                    {"description", str()}, {"system", boolean()}, {"permissions", array_of(str())},
                                    {"version", integer()}, {"created_at", timestamps()}, {"updated_at", timestamps()}},
                                   {"id", "tenant_id", "name", "system", "permissions", "version"}));
  router.add_schema("Tenant", object({{"id", str("uuid")}, {"slug", str()}, {"name", str()}, {"status", str()},
                                      {"plan", str()}, {"settings", bj::object{{"type", "object"}}},
                                      {"version", integer()}, {"created_at", timestamps()}, {"updated_at", timestamps()}},
                                     {"id", "slug", "name", "status", "plan", "settings", "version"}));
  router.add_schema("AuditEntry",
                    object({{"id", str("uuid")}, {"tenant_id", str("uuid")}, {"occurred_at", timestamps()},
                            {"actor_id", nullable(str())}, {"action", str()}, {"entity_type", str()},
                            {"entity_id", nullable(str())}, {"changes", bj::object{{"type", "object"}}},
                            {"outcome", str()}, {"ip", nullable(str())}, {"user_agent", nullable(str())},
                            {"request_id", nullable(str())}},
                           {"id", "occurred_at", "action", "entity_type", "changes", "outcome"}));
  router.add_schema("Session", object({{"id", str("uuid")}, {"tenant_id", str()}, {"created_at", timestamps()},
                                       {"last_used_at", timestamps()}, {"expires_at", timestamps()},
                                       {"ip", nullable(str())}, {"user_agent", nullable(str())}, {"current", boolean()}},
                                      {"id", "created_at", "expires_at", "current"}));

  auto tokens = response("A token pair", ref("TokenPair"));
  auto d = [&router](HttpVerb m, const char* path, bj::object op) { router.describe(m, path, op); };
  auto with_body = [](bj::object schema, bj::object responses) {
    return bj::object{{"requestBody", body(std::move(schema))}, {"responses", std::move(responses)}};
  };
  auto only = [](bj::object responses) { return bj::object{{"responses", std::move(responses)}}; };
  auto no_content = response("Done");

  d(HttpVerb::post, "/api/v1/auth/register",
    with_body(object({{"tenant_name", str()}, {"tenant_slug", str()}, {"name", str()}, {"email", str("email")},
                      {"password", str("password")}},
                     {"tenant_name", "name", "email", "password"}),
              {{"201", response("Tenant and owner created; signed in", ref("TokenPair"))}}));
  d(HttpVerb::post, "/api/v1/auth/login",
    with_body(object({{"email", str("email")}, {"password", str("password")}, {"tenant", str()}}, {"email", "password"}),
              {{"200", tokens}}));
  d(HttpVerb::post, "/api/v1/auth/refresh", with_body(object({{"refresh_token", str()}}, {"refresh_token"}), {{"200", tokens}}));
  d(HttpVerb::post, "/api/v1/auth/logout", only({{"204", no_content}}));
  d(HttpVerb::get, "/api/v1/auth/jwks",
    only({{"200", response("JWK set (RFC 7517) of the Ed25519 keys that sign access tokens; empty under HS256",
                           object({{"keys", array_of(object({{"kty", str()}, {"crv", str()}, {"use", str()},
                                                              {"alg", str()}, {"kid", str()}, {"x", str()}},
                                                             {"kty", "crv", "kid", "x"}))}},
                                  {"keys"}))}}));
  d(HttpVerb::get, "/api/v1/auth/me",
    only({{"200", response("The signed-in user",
                           object({{"user", object({{"id", str("uuid")}, {"email", str("email")}, {"name", str()},
                                                    {"email_verified", boolean()}, {"platform_admin", boolean()}},
                                                   {"id", "email", "name", "email_verified", "platform_admin"})},
                                   {"tenant", nullable(object({{"id", str("uuid")}, {"slug", str()}, {"name", str()}},
                                                              {"id", "slug", "name"}))},
                                   {"roles", array_of(str())},
                                   {"permissions", array_of(str())},
                                   {"tenants", array_of(object({{"id", str("uuid")}, {"slug", str()}, {"name", str()},
                                                                {"roles", array_of(str())}},
                                                               {"id", "slug", "name", "roles"}))}},
                                  {"user", "tenant", "roles", "permissions", "tenants"}))}}));
  d(HttpVerb::put, "/api/v1/auth/password",
    with_body(object({{"current_password", str("password")}, {"new_password", str("password")}},
                     {"current_password", "new_password"}),
              {{"200", tokens}}));
  d(HttpVerb::post, "/api/v1/auth/verify-email",
    with_body(object({{"token", str()}}, {"token"}),
              {{"200", response("Verified", object({{"email_verified", boolean()}}, {"email_verified"}))}}));
  d(HttpVerb::post, "/api/v1/auth/resend-verification",
    only({{"202", response("Sent", object({{"status", str()}}, {"status"}))}}));
  d(HttpVerb::post, "/api/v1/auth/forgot-password",
    with_body(object({{"email", str("email")}}, {"email"}),
              {{"202", response("Accepted (always)", object({{"status", str()}}, {"status"}))}}));
  d(HttpVerb::post, "/api/v1/auth/reset-password",
    with_body(object({{"token", str()}, {"new_password", str("password")}}, {"token", "new_password"}),
              {{"204", no_content}}));
  d(HttpVerb::post, "/api/v1/auth/switch-tenant",
    with_body(object({{"tenant_id", str("uuid")}}, {"tenant_id"}), {{"200", tokens}}));
  d(HttpVerb::get, "/api/v1/auth/sessions",
    only({{"200", response("Active sessions", object({{"data", array_of(ref("Session"))}}, {"data"}))}}));
  d(HttpVerb::delete_, "/api/v1/auth/sessions/{id}", only({{"204", no_content}}));
  d(HttpVerb::post, "/api/v1/auth/accept-invitation",
    with_body(object({{"token", str()}, {"name", str()}, {"password", str("password")}}, {"token"}), {{"200", tokens}}));

  auto member = response("A member", ref("Member"));
  auto role = response("A role", ref("Role"));
  d(HttpVerb::get, "/api/v1/users", only({{"200", response("Members", page_of("Member"))}}));
  d(HttpVerb::post, "/api/v1/users",
    with_body(object({{"email", str("email")}, {"name", str()}, {"role_ids", array_of(str("uuid"))}},
                     {"email", "role_ids"}),
              {{"201", response("Invited", ref("Member"))}}));
  d(HttpVerb::get, "/api/v1/users/{id}", only({{"200", member}}));
  d(HttpVerb::put, "/api/v1/users/{id}", with_body(object({{"name", str()}}, {"name"}), {{"200", member}}));
  d(HttpVerb::delete_, "/api/v1/users/{id}", only({{"204", no_content}}));
  d(HttpVerb::post, "/api/v1/users/{id}/suspend", only({{"200", member}}));
  d(HttpVerb::post, "/api/v1/users/{id}/activate", only({{"200", member}}));
  d(HttpVerb::post, "/api/v1/users/{id}/roles",
    with_body(object({{"role_ids", array_of(str("uuid"))}}, {"role_ids"}), {{"200", member}}));
  d(HttpVerb::delete_, "/api/v1/users/{id}/roles/{role_id}", only({{"204", no_content}}));
  d(HttpVerb::get, "/api/v1/users/{id}/permissions",
    only({{"200", response("Effective permissions",
                           object({{"user_id", str("uuid")}, {"roles", array_of(str())},
                                   {"permissions", array_of(str())}},
                                  {"user_id", "roles", "permissions"}))}}));
  auto role_body = object({{"name", str()}, {"description", str()}, {"permissions", array_of(str())}},
                          {"name", "permissions"});
  d(HttpVerb::get, "/api/v1/roles", only({{"200", response("Roles", page_of("Role"))}}));
  d(HttpVerb::get, "/api/v1/roles/system",
    only({{"200", response("System roles",
                           object({{"data", array_of(object({{"name", str()}, {"description", str()},
                                                             {"permissions", array_of(str())}},
                                                            {"name", "description", "permissions"}))}},
                                  {"data"}))}}));
  d(HttpVerb::post, "/api/v1/roles", with_body(role_body, {{"201", role}}));
  d(HttpVerb::get, "/api/v1/roles/{id}", only({{"200", role}}));
  d(HttpVerb::put, "/api/v1/roles/{id}", with_body(role_body, {{"200", role}}));
  d(HttpVerb::delete_, "/api/v1/roles/{id}", only({{"204", no_content}}));
  d(HttpVerb::post, "/api/v1/roles/{id}/permissions",
    with_body(object({{"permissions", array_of(str())}}, {"permissions"}), {{"200", role}}));
  d(HttpVerb::delete_, "/api/v1/roles/{id}/permissions",
    with_body(object({{"permissions", array_of(str())}}, {"permissions"}), {{"200", role}}));
  d(HttpVerb::get, "/api/v1/roles/{id}/users",
    only({{"200", response("Members with the role", object({{"data", array_of(ref("Member"))}}, {"data"}))}}));

  auto tenant = response("A tenant", ref("Tenant"));
  d(HttpVerb::get, "/api/v1/tenant", only({{"200", tenant}}));
  d(HttpVerb::put, "/api/v1/tenant",
    with_body(object({{"name", str()}, {"settings", bj::object{{"type", "object"}}}}, {"name"}), {{"200", tenant}}));
  bj::array page_params;
  for (const char* p : {"limit", "cursor", "include_total"}) {
    page_params.push_back(bj::object{{"name", p}, {"in", "query"}, {"required", false}, {"schema", str()}});
  }
  d(HttpVerb::get, "/api/v1/tenants",
    bj::object{{"parameters", page_params}, {"responses", bj::object{{"200", response("Tenants", page_of("Tenant"))}}}});
  d(HttpVerb::get, "/api/v1/tenants/check-slug",
    bj::object{{"parameters", bj::array{bj::object{{"name", "slug"}, {"in", "query"}, {"required", true},
                                                   {"schema", str()}}}},
               {"responses", bj::object{{"200", response("Availability", object({{"slug", str()}, {"available", boolean()}},
                                                                               {"slug", "available"}))}}}});
  d(HttpVerb::get, "/api/v1/tenants/by-slug/{slug}", only({{"200", tenant}}));
  d(HttpVerb::get, "/api/v1/tenants/{id}", only({{"200", tenant}}));
  d(HttpVerb::get, "/api/v1/tenants/{id}/stats",
    only({{"200", response("Usage", object({{"tenant_id", str("uuid")}, {"users", integer()},
                                            {"user_limit", integer()}, {"audit_entries", integer()}},
                                           {"tenant_id", "users", "user_limit", "audit_entries"}))}}));
  d(HttpVerb::post, "/api/v1/tenants",
    with_body(object({{"name", str()}, {"slug", str()}, {"plan", str()}, {"status", str()}, {"owner_email", str("email")}},
                     {"name"}),
              {{"201", response("Created", ref("Tenant"))}}));
  d(HttpVerb::put, "/api/v1/tenants/{id}", with_body(object({{"name", str()}}, {"name"}), {{"200", tenant}}));
  d(HttpVerb::delete_, "/api/v1/tenants/{id}", only({{"204", no_content}}));
  d(HttpVerb::delete_, "/api/v1/tenant",
    with_body(object({{"confirm", str()}}, {"confirm"}),
              {{"202", response("Cancelled; removed after the grace period",
                                object({{"status", str()}, {"deletion_grace_days", integer()},
                                        {"deletion_due_at", timestamps()}},
                                       {"status", "deletion_grace_days", "deletion_due_at"}))}}));
  d(HttpVerb::get, "/api/v1/tenant/export",
    only({{"200", bj::object{{"description", "JSON lines: {type, data} per record"},
                             {"content", bj::object{{"application/x-ndjson", bj::object{{"schema", str()}}}}}}}}));
  d(HttpVerb::put, "/api/v1/tenants/{id}/status", with_body(object({{"status", str()}}, {"status"}), {{"200", tenant}}));
  d(HttpVerb::put, "/api/v1/tenants/{id}/plan", with_body(object({{"plan", str()}}, {"plan"}), {{"200", tenant}}));

  bj::array audit_params;
  for (const char* p : {"entity_type", "entity_id", "actor_id", "action", "from", "to", "limit", "cursor",
                        "include_total"}) {
    bj::object schema = std::string_view(p) == "from" || std::string_view(p) == "to" ? timestamps() : str();
    audit_params.push_back(bj::object{{"name", p}, {"in", "query"}, {"required", false}, {"schema", schema}});
  }
  d(HttpVerb::get, "/api/v1/audit-logs",
    bj::object{{"parameters", audit_params}, {"responses", bj::object{{"200", response("Entries", page_of("AuditEntry"))}}}});
}

}  // namespace crm::iam
