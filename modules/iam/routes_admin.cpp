// Users and roles of the current tenant, the tenant itself, platform tenants, the audit log.
#include "iam_internal.hpp"

#include "crm/platform/authorization.hpp"
#include "crm/platform/json.hpp"
#include "crm/platform/pagination.hpp"
#include "crm/platform/router.hpp"
#include "password.hpp"

#include <soci/soci.h>

#include <algorithm>
#include <set>

namespace crm::iam {

using namespace crm::platform;

namespace {

constexpr std::int64_t kInviteValidMs = 7LL * 86400 * 1000;

RouteOptions route(const char* tag, const char* summary) {
  RouteOptions o;
  o.tag = tag;
  o.openapi = {{"summary", summary}};
  return o;
}

const std::string& tenant_of(const Request& req) {
  const auto& ctx = req.context();
  require_authenticated(ctx);
  if (ctx.tenant_id.empty()) throw Error::forbidden("This endpoint needs a tenant-scoped token.");
  return ctx.tenant_id;
}

void require_version(const Request& req, int version) {
  auto if_match = req.header("If-Match");
  if (if_match.empty()) return;
  std::string v(if_match);
  if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
  if (v != std::to_string(version)) throw Error::precondition_failed("The resource changed since you read it.");
}

HttpResponse with_etag(HttpResponse res, int version) {
  res.set("ETag", "\"" + std::to_string(version) + "\"");
  return res;
}

// Nobody can grant what they do not hold: every permission of a role must be allowed by the
// actor's own grants.
void require_can_grant(const RequestContext& ctx, const std::vector<std::string>& permissions, const char* field) {
  for (const auto& p : permissions) {
    bool ok = std::any_of(ctx.principal.permissions.begin(), ctx.principal.permissions.end(),
                          [&](const std::string& g) {
                            if (g == p) return true;
                            if (grant_allows(g, p)) return true;
                            // an :own grant is covered by the same grant without the scope
                            auto own = p.rfind(":own");
                            return own != std::string::npos && own + 4 == p.size() && grant_allows(g, p.substr(0, own));
                          });
    if (!ok) {
      throw Error(ErrorKind::forbidden, "cannot_grant",
                  "You cannot grant the permission " + p + ", which you do not hold.",
                  {FieldError{field, "cannot_grant", "Not held by you: " + p}});
    }
  }
}

bool valid_permission(const std::string& p) {
  if (p == "*") return true;
  auto c1 = p.find(':');
  if (c1 == std::string::npos || c1 == 0) return false;
  auto rest = p.substr(c1 + 1);
  auto c2 = rest.find(':');
  std::string action = rest.substr(0, c2);
  if (action.empty()) return false;
  if (c2 != std::string::npos && rest.substr(c2 + 1) != "own") return false;
  for (char c : p)
    if (!(std::islower(static_cast<unsigned char>(c)) || c == '_' || c == ':' || c == '*')) return false;
  return true;
}

std::vector<std::string> permission_list(json::ObjectReader& r, const char* field, bool required) {
  const bj::value* v = r.optional_value(field);
  if (!v) {
    if (required) r.add_error(field, "required", "Is required.");
    return {};
  }
  if (!v->is_array()) {
    r.add_error(field, "type", "Must be a list of permission strings.");
    return {};
  }
  std::vector<std::string> out;
  for (const auto& e : v->get_array()) {
    if (!e.is_string() || !valid_permission(std::string(e.get_string()))) {
      r.add_error(field, "invalid", "Each permission is resource:action or resource:action:own (wildcards *).");
      return {};
    }
    out.emplace_back(e.get_string());
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

MemberRow load_member(soci::session& sql, const std::string& tenant_id, const std::string& user_id) {
  auto m = store::member(sql, tenant_id, user_id);
  if (!m) throw Error::not_found("No such user.");
  return *m;
}

RoleRow load_role(soci::session& sql, const std::string& tenant_id, const std::string& role_id) {
  auto r = store::role(sql, tenant_id, role_id);
  if (!r) throw Error::not_found("No such role.");
  return *r;
}

// The last active owner cannot be removed, suspended or lose the owner role.
void keep_an_owner(soci::session& sql, const std::string& tenant_id, const MemberRow& m) {
  bool is_owner = std::any_of(m.roles.begin(), m.roles.end(), [](const RoleRow& r) { return r.name == "owner"; });
  if (is_owner && m.status == "active" && store::count_role_members(sql, tenant_id, "owner") <= 1) {
    throw Error::conflict("last_owner", "A tenant keeps at least one active owner.");
  }
}

bj::array role_names(const std::vector<RoleRow>& roles) {
  bj::array a;
  for (const auto& r : roles) a.emplace_back(r.name);
  return a;
}

}  // namespace

void register_admin_routes(Router& router, IamContext& iam) {
  // ---- users of the current tenant ----
  router.get("/api/v1/users", [&iam](Request& req) {
    const auto& tenant_id = tenant_of(req);
    require_permission(req.context(), "users:read");
    auto status = req.query("status");
    if (status && *status != "active" && *status != "invited" && *status != "suspended") {
      throw Error::bad_parameter("status", "Must be active, invited or suspended.");
    }
    auto page = page_request(req, "users:" + tenant_id);
    std::string after = page.after ? std::string(page.after->at("id").as_string()) : "";
    auto lease = iam.db.acquire();
    auto rows = store::members(*lease, tenant_id, page.limit + 1, after, status);
    std::optional<bj::object> next;
    if (static_cast<int>(rows.size()) > page.limit) {
      rows.pop_back();
      next = bj::object{{"id", rows.back().user.id}};
    }
    bj::array items;
    for (const auto& m : rows) items.push_back(m.to_json());
    std::optional<std::int64_t> total;
    if (page.include_total) total = store::count_members(*lease, tenant_id);
    return json_response(200, page_response(std::move(items), page, next, "users:" + tenant_id, total));
  }, route("users", "Members of the current tenant"));

  router.post("/api/v1/users", [&iam](Request& req) {
    const auto& tenant_id = tenant_of(req);
    require_permission(req.context(), "users:manage");
    auto body = req.json();
    json::ObjectReader r(body);
    std::string email = r.required_string("email", 254);
    auto name = r.optional_string("name", 200);
    const bj::value* role_ids_v = r.optional_value("role_ids");
    std::vector<std::string> role_ids = role_ids_v ? json_strings(*role_ids_v) : std::vector<std::string>{};
    std::string normalized = normalize_email(email);
    if (!email.empty() && normalized.empty()) r.add_error("email", "invalid", "Is not a valid email address.");
    if (!role_ids_v || role_ids.empty()) r.add_error("role_ids", "required", "Give at least one role id.");
    r.finish();
    auto member = iam.uow.run(req.context(), [&](UnitOfWork& uow) {
      auto& sql = uow.sql();
      auto tenant = store::tenant_by_id(sql, tenant_id);
      std::vector<RoleRow> roles;
      for (const auto& id : role_ids) {
        auto role = store::role(sql, tenant_id, id);
        if (!role) throw Error::validation("role_ids", "not_found", "No such role: " + id);
        require_can_grant(req.context(), role->permissions, "role_ids");
        roles.push_back(*role);
      }
      int limit = plan_user_limit(tenant->plan);
      if (limit > 0 && store::count_members(sql, tenant_id) >= limit) {
        throw Error::conflict("plan_limit_reached", "The plan allows " + std::to_string(limit) + " users.");
      }
      auto now = now_ms();
      auto user = store::user_by_email(sql, normalized);
      if (!user) {
        UserRow u;
        u.id = new_uuid_v7();
        u.email = email;
        u.name = name.value_or(email.substr(0, email.find('@')));
        u.created_at = u.updated_at = now;
        store::insert_user(sql, u);
        user = u;
      } else if (store::member(sql, tenant_id, user->id)) {
        throw Error::conflict("already_member", "That person is already a member of this tenant.");
      }
      store::insert_membership(sql, tenant_id, user->id, "invited", req.context().actor_id, now);
      for (const auto& role : roles) store::add_member_role(sql, tenant_id, user->id, role.id);
      std::string token = create_one_time_token(uow, "invitation", user->id, tenant_id, kInviteValidMs);
      publish(uow, events::kUserInvited, "user", user->id,
              bj::object{{"email", user->email}, {"tenant_id", tenant_id}, {"tenant_name", tenant->name},
                         {"roles", role_names(roles)}, {"invitation_token", token},
                         {"link", "/accept-invitation?token=" + token}});
      return load_member(sql, tenant_id, user->id);
    });
    return created_response(member.to_json(), "/api/v1/users/" + member.user.id);
  }, route("users", "Invite someone to the tenant (creates or reuses the identity)"));

  router.get("/api/v1/users/{id}", [&iam](Request& req) {
    const auto& tenant_id = tenant_of(req);
    require_permission(req.context(), "users:read");
    auto lease = iam.db.acquire();
    auto m = load_member(*lease, tenant_id, req.path_param("id"));
    return with_etag(json_response(200, m.to_json()), m.version);
  }, route("users", "One member"));

  router.put("/api/v1/users/{id}", [&iam](Request& req) {
    const auto& tenant_id = tenant_of(req);
    const std::string& id = req.path_param("id");
    bool self = id == req.context().actor_id;
    if (!self) require_permission(req.context(), "users:manage");
    auto body = req.json();
    json::ObjectReader r(body);
    std::string name = r.required_string("name", 200);
    r.finish();
    auto m = iam.uow.run(req.context(), [&](UnitOfWork& uow) {
      auto m = load_member(uow.sql(), tenant_id, id);
      require_version(req, m.version);
      if (m.user.name != name) {
        bj::object before{{"name", m.user.name}};
        m.user.name = name;
        m.user.updated_at = now_ms();
        store::update_user(uow.sql(), m.user);
        publish(uow, events::kUserUpdated, "user", id, bj::object{{"changes", changes(before, {{"name", name}})}});
      }
      return load_member(uow.sql(), tenant_id, id);
    });
    return with_etag(json_response(200, m.to_json()), m.version);
  }, route("users", "Update a member's profile"));

  router.del("/api/v1/users/{id}", [&iam](Request& req) {
    const auto& tenant_id = tenant_of(req);
    require_permission(req.context(), "users:manage");
    const std::string& id = req.path_param("id");
    if (id == req.context().actor_id) throw Error::conflict("cannot_remove_self", "You cannot remove yourself.");
    iam.uow.run(req.context(), [&](UnitOfWork& uow) {
      auto m = load_member(uow.sql(), tenant_id, id);
      keep_an_owner(uow.sql(), tenant_id, m);
      store::delete_membership(uow.sql(), tenant_id, id);
      publish(uow, events::kUserRemoved, "user", id, bj::object{{"email", m.user.email}});
    });
    iam.access_cache.invalidate(tenant_id, id);
    return no_content_response();
  }, route("users", "Remove a member from the tenant"));

  for (const char* action : {"suspend", "activate"}) {
    bool suspend = std::string_view(action) == "suspend";
    router.post(std::string("/api/v1/users/{id}/") + action, [&iam, suspend](Request& req) {
      const auto& tenant_id = tenant_of(req);
      require_permission(req.context(), "users:manage");
      const std::string& id = req.path_param("id");
      if (id == req.context().actor_id) throw Error::conflict("cannot_change_self", "You cannot change your own status.");
      auto m = iam.uow.run(req.context(), [&](UnitOfWork& uow) {
        auto m = load_member(uow.sql(), tenant_id, id);
        std::string target = suspend ? "suspended" : "active";
        if (m.status == target) throw Error::conflict("invalid_transition", "The member is already " + target + ".");
        if (suspend) keep_an_owner(uow.sql(), tenant_id, m);
        store::set_membership_status(uow.sql(), tenant_id, id, target, now_ms());
        publish(uow, suspend ? events::kUserSuspended : events::kUserActivated, "user", id,
                bj::object{{"changes", bj::object{{"status", bj::object{{"old", m.status}, {"new", target}}}}}});
        return load_member(uow.sql(), tenant_id, id);
      });
      iam.access_cache.invalidate(tenant_id, id);
      return json_response(200, m.to_json());
    }, route("users", suspend ? "Suspend a member (cannot sign in to this tenant)" : "Activate a member"));
  }

  router.post("/api/v1/users/{id}/roles", [&iam](Request& req) {
    const auto& tenant_id = tenant_of(req);
    require_permission(req.context(), "users:manage");
    const std::string& id = req.path_param("id");
    if (id == req.context().actor_id) throw Error::forbidden("You cannot change your own roles.");
    auto body = req.json();
    json::ObjectReader r(body);
    const bj::value* v = r.optional_value("role_ids");
    auto role_ids = v ? json_strings(*v) : std::vector<std::string>{};
    if (role_ids.empty()) r.add_error("role_ids", "required", "Give at least one role id.");
    r.finish();
    auto m = iam.uow.run(req.context(), [&](UnitOfWork& uow) {
      auto m = load_member(uow.sql(), tenant_id, id);
      bj::array before = role_names(m.roles);
      for (const auto& rid : role_ids) {
        auto role = store::role(uow.sql(), tenant_id, rid);
        if (!role) throw Error::validation("role_ids", "not_found", "No such role: " + rid);
        require_can_grant(req.context(), role->permissions, "role_ids");
        store::add_member_role(uow.sql(), tenant_id, id, rid);
      }
      auto after = load_member(uow.sql(), tenant_id, id);
      publish(uow, events::kUserRolesChanged, "user", id,
              bj::object{{"changes", bj::object{{"roles", bj::object{{"old", before}, {"new", role_names(after.roles)}}}}}});
      return after;
    });
    iam.access_cache.invalidate(tenant_id, id);
    return json_response(200, m.to_json());
  }, route("users", "Give a member roles"));

  router.del("/api/v1/users/{id}/roles/{role_id}", [&iam](Request& req) {
    const auto& tenant_id = tenant_of(req);
    require_permission(req.context(), "users:manage");
    const std::string& id = req.path_param("id");
    if (id == req.context().actor_id) throw Error::forbidden("You cannot change your own roles.");
    const std::string& role_id = req.path_param("role_id");
    iam.uow.run(req.context(), [&](UnitOfWork& uow) {
      auto m = load_member(uow.sql(), tenant_id, id);
      auto role = load_role(uow.sql(), tenant_id, role_id);
      require_can_grant(req.context(), role.permissions, "role_id");
      bool has = std::any_of(m.roles.begin(), m.roles.end(), [&](const RoleRow& r) { return r.id == role_id; });
      if (!has) throw Error::not_found("The member does not have that role.");
      if (role.name == "owner") keep_an_owner(uow.sql(), tenant_id, m);
      store::remove_member_role(uow.sql(), tenant_id, id, role_id);
      auto after = load_member(uow.sql(), tenant_id, id);
      publish(uow, events::kUserRolesChanged, "user", id,
              bj::object{{"changes", bj::object{{"roles", bj::object{{"old", role_names(m.roles)},
                                                                     {"new", role_names(after.roles)}}}}}});
    });
    iam.access_cache.invalidate(tenant_id, id);
    return no_content_response();
  }, route("users", "Take a role from a member"));

  router.get("/api/v1/users/{id}/permissions", [&iam](Request& req) {
    const auto& tenant_id = tenant_of(req);
    const std::string& id = req.path_param("id");
    if (id != req.context().actor_id) require_permission(req.context(), "users:read");
    auto lease = iam.db.acquire();
    auto m = load_member(*lease, tenant_id, id);
    std::set<std::string> grants;
    for (const auto& r : m.roles) grants.insert(r.permissions.begin(), r.permissions.end());
    return json_response(200, bj::object{{"user_id", id}, {"roles", role_names(m.roles)},
                                         {"permissions", to_json_array({grants.begin(), grants.end()})}});
  }, route("users", "A member's effective permissions"));

  // ---- roles ----
  router.get("/api/v1/roles", [&iam](Request& req) {
    const auto& tenant_id = tenant_of(req);
    require_permission(req.context(), "roles:read");
    auto lease = iam.db.acquire();
    bj::array items;
    for (const auto& r : store::roles(*lease, tenant_id)) items.push_back(r.to_json());
    return json_response(200, bj::object{{"data", items}, {"page", bj::object{{"limit", 200}, {"next_cursor", nullptr}}}});
  }, route("roles", "Roles of the tenant"));

  router.get("/api/v1/roles/system", [](Request& req) {
    require_authenticated(req.context());
    bj::array items;
    for (const auto& sr : system_roles()) {
      items.push_back(bj::object{{"name", sr.name}, {"description", sr.description},
                                 {"permissions", to_json_array(sr.permissions)}});
    }
    return json_response(200, bj::object{{"data", items}});
  }, route("roles", "The system roles every tenant has"));

  router.post("/api/v1/roles", [&iam](Request& req) {
    const auto& tenant_id = tenant_of(req);
    require_permission(req.context(), "roles:manage");
    auto body = req.json();
    json::ObjectReader r(body);
    std::string name = r.required_string("name", 100);
    std::string description = r.optional_string("description", 500).value_or("");
    auto permissions = permission_list(r, "permissions", true);
    r.finish();
    require_can_grant(req.context(), permissions, "permissions");
    auto role = iam.uow.run(req.context(), [&](UnitOfWork& uow) {
      if (store::role_by_name(uow.sql(), tenant_id, name)) throw Error::conflict("name_taken", "A role has that name.");
      RoleRow role;
      role.tenant_id = tenant_id;
      role.id = new_uuid_v7();
      role.name = name;
      role.description = description;
      role.permissions = permissions;
      role.created_at = role.updated_at = now_ms();
      store::insert_role(uow.sql(), role);
      publish(uow, events::kRoleCreated, "role", role.id, bj::object{{"name", name}, {"permissions", to_json_array(permissions)}});
      return role;
    });
    return created_response(role.to_json(), "/api/v1/roles/" + role.id);
  }, route("roles", "Create a custom role"));

  router.get("/api/v1/roles/{id}", [&iam](Request& req) {
    const auto& tenant_id = tenant_of(req);
    require_permission(req.context(), "roles:read");
    auto lease = iam.db.acquire();
    auto role = load_role(*lease, tenant_id, req.path_param("id"));
    return with_etag(json_response(200, role.to_json()), role.version);
  }, route("roles", "One role"));

  router.put("/api/v1/roles/{id}", [&iam](Request& req) {
    const auto& tenant_id = tenant_of(req);
    require_permission(req.context(), "roles:manage");
    auto body = req.json();
    json::ObjectReader r(body);
    std::string name = r.required_string("name", 100);
    std::string description = r.optional_string("description", 500).value_or("");
    auto permissions = permission_list(r, "permissions", true);
    r.finish();
    require_can_grant(req.context(), permissions, "permissions");
    auto role = iam.uow.run(req.context(), [&](UnitOfWork& uow) {
      auto role = load_role(uow.sql(), tenant_id, req.path_param("id"));
      require_version(req, role.version);
      if (role.system) throw Error::conflict("system_role", "System roles cannot be changed.");
      if (auto other = store::role_by_name(uow.sql(), tenant_id, name); other && other->id != role.id) {
        throw Error::conflict("name_taken", "A role has that name.");
      }
      bj::object before{{"name", role.name}, {"description", role.description},
                        {"permissions", to_json_array(role.permissions)}};
      role.name = name;
      role.description = description;
      role.permissions = permissions;
      role.updated_at = now_ms();
      store::update_role(uow.sql(), role);
      bj::object after{{"name", name}, {"description", description}, {"permissions", to_json_array(permissions)}};
      publish(uow, events::kRoleUpdated, "role", role.id, bj::object{{"changes", changes(before, after)}});
      return load_role(uow.sql(), tenant_id, role.id);
    });
    iam.access_cache.invalidate_tenant(tenant_id);
    return with_etag(json_response(200, role.to_json()), role.version);
  }, route("roles", "Replace a custom role"));

  router.del("/api/v1/roles/{id}", [&iam](Request& req) {
    const auto& tenant_id = tenant_of(req);
    require_permission(req.context(), "roles:manage");
    iam.uow.run(req.context(), [&](UnitOfWork& uow) {
      auto role = load_role(uow.sql(), tenant_id, req.path_param("id"));
      if (role.system) throw Error::conflict("system_role", "System roles cannot be deleted.");
      store::delete_role(uow.sql(), tenant_id, role.id);
      publish(uow, events::kRoleDeleted, "role", role.id, bj::object{{"name", role.name}});
    });
    iam.access_cache.invalidate_tenant(tenant_id);
    return no_content_response();
  }, route("roles", "Delete a custom role"));

  for (bool add : {true, false}) {
    auto handler = [&iam, add](Request& req) {
      const auto& tenant_id = tenant_of(req);
      require_permission(req.context(), "roles:manage");
      auto body = req.json();
      json::ObjectReader r(body);
      auto permissions = permission_list(r, "permissions", true);
      r.finish();
      if (add) require_can_grant(req.context(), permissions, "permissions");
      auto role = iam.uow.run(req.context(), [&](UnitOfWork& uow) {
        auto role = load_role(uow.sql(), tenant_id, req.path_param("id"));
        if (role.system) throw Error::conflict("system_role", "System roles cannot be changed.");
        auto before = to_json_array(role.permissions);
        std::set<std::string> set(role.permissions.begin(), role.permissions.end());
        for (const auto& p : permissions) add ? (void)set.insert(p) : (void)set.erase(p);
        role.permissions.assign(set.begin(), set.end());
        role.updated_at = now_ms();
        store::update_role(uow.sql(), role);
        publish(uow, events::kRoleUpdated, "role", role.id,
                bj::object{{"changes", bj::object{{"permissions", bj::object{{"old", before},
                                                                             {"new", to_json_array(role.permissions)}}}}}});
        return load_role(uow.sql(), tenant_id, role.id);
      });
      iam.access_cache.invalidate_tenant(tenant_id);
      return json_response(200, role.to_json());
    };
    if (add) {
      router.post("/api/v1/roles/{id}/permissions", handler, route("roles", "Add permissions to a custom role"));
    } else {
      router.del("/api/v1/roles/{id}/permissions", handler, route("roles", "Remove permissions from a custom role"));
    }
  }

  router.get("/api/v1/roles/{id}/users", [&iam](Request& req) {
    const auto& tenant_id = tenant_of(req);
    require_permission(req.context(), "roles:read");
    auto lease = iam.db.acquire();
    auto role = load_role(*lease, tenant_id, req.path_param("id"));
    bj::array items;
    for (const auto& uid : store::role_member_ids(*lease, tenant_id, role.id)) {
      if (auto m = store::member(*lease, tenant_id, uid)) items.push_back(m->to_json());
    }
    return json_response(200, bj::object{{"data", items}});
  }, route("roles", "Members holding a role"));

  // ---- the current tenant ----
  router.get("/api/v1/tenant", [&iam](Request& req) {
    const auto& tenant_id = tenant_of(req);
    require_permission(req.context(), "tenant:read");
    auto lease = iam.db.acquire();
    auto t = store::tenant_by_id(*lease, tenant_id);
    if (!t) throw Error::not_found();
    return with_etag(json_response(200, t->to_json()), t->version);
  }, route("tenant", "The current tenant"));

  router.put("/api/v1/tenant", [&iam](Request& req) {
    const auto& tenant_id = tenant_of(req);
    require_permission(req.context(), "tenant:update");
    auto body = req.json();
    json::ObjectReader r(body);
    std::string name = r.required_string("name", 200);
    const bj::value* settings = r.optional_value("settings");
    bj::object new_settings;
    if (settings) {
      if (!settings->is_object()) {
        r.add_error("settings", "type", "Must be an object.");
      } else {
        for (const auto& kv : settings->get_object()) {
          std::string key(kv.key());
          const auto& v = kv.value();
          if (key == "currency") {
            bool ok = v.is_string() && v.get_string().size() == 3 &&
                      std::all_of(v.get_string().begin(), v.get_string().end(), [](char c) { return c >= 'A' && c <= 'Z'; });
            if (!ok) r.add_error("settings.currency", "invalid", "Must be an ISO 4217 code such as MYR.");
          } else if (key == "timezone" || key == "locale" || key == "country") {
            if (!v.is_string() || v.get_string().empty() || v.get_string().size() > 64) {
              r.add_error("settings." + key, "invalid", "Must be a non-empty string.");
            }
          } else if (key == "require_verified_email") {
            if (!v.is_bool()) r.add_error("settings." + key, "type", "Must be true or false.");
          } else if (key == "locales") {
            if (!v.is_array()) r.add_error("settings." + key, "type", "Must be a list of locales.");
          } else {
            r.add_error("settings." + key, "unknown_field", "Is not a tenant setting.");
          }
          new_settings[key] = v;
        }
      }
    }
    r.finish();
    auto t = iam.uow.run(req.context(), [&](UnitOfWork& uow) {
      auto t = store::tenant_by_id(uow.sql(), tenant_id);
      if (!t) throw Error::not_found();
      require_version(req, t->version);
      bj::object before = t->to_json();
      t->name = name;
      for (const auto& kv : new_settings) t->settings[kv.key()] = kv.value();
      t->updated_at = now_ms();
      store::update_tenant(uow.sql(), *t);
      bj::object after = t->to_json();
      bj::object diff;
      for (const char* k : {"name", "settings"}) {
        if (before.at(k) != after.at(k)) diff[k] = bj::object{{"old", before.at(k)}, {"new", after.at(k)}};
      }
      publish(uow, events::kTenantUpdated, "tenant", tenant_id, bj::object{{"changes", diff}});
      return *store::tenant_by_id(uow.sql(), tenant_id);
    });
    return with_etag(json_response(200, t.to_json()), t.version);
  }, route("tenant", "Rename the tenant or change its settings"));

  // ---- platform administration ----
  auto require_platform_admin = [](const Request& req) {
    require_authenticated(req.context());
    if (!req.context().principal.platform_admin) throw Error::forbidden("Platform administrators only.");
  };

  router.get("/api/v1/tenants", [&iam, require_platform_admin](Request& req) {
    require_platform_admin(req);
    auto page = page_request(req, "tenants");
    std::string after = page.after ? std::string(page.after->at("id").as_string()) : "";
    auto lease = iam.db.acquire();
    auto rows = store::list_tenants(*lease, page.limit + 1, after);
    std::optional<bj::object> next;
    if (static_cast<int>(rows.size()) > page.limit) {
      rows.pop_back();
      next = bj::object{{"id", rows.back().id}};
    }
    bj::array items;
    for (const auto& t : rows) items.push_back(t.to_json());
    std::optional<std::int64_t> total;
    if (page.include_total) total = store::count_tenants(*lease);
    return json_response(200, page_response(std::move(items), page, next, "tenants", total));
  }, route("platform", "All tenants (platform administrators)"));

  router.get("/api/v1/tenants/check-slug", [&iam, require_platform_admin](Request& req) {
    require_platform_admin(req);
    auto slug = req.query("slug");
    if (!slug || !valid_slug(*slug)) throw Error::bad_parameter("slug", "Use 3-63 lower-case letters, digits and hyphens.");
    auto lease = iam.db.acquire();
    return json_response(200, bj::object{{"slug", *slug}, {"available", !store::tenant_by_slug(*lease, *slug)}});
  }, route("platform", "Whether a tenant slug is free"));

  router.get("/api/v1/tenants/by-slug/{slug}", [&iam, require_platform_admin](Request& req) {
    require_platform_admin(req);
    auto lease = iam.db.acquire();
    auto t = store::tenant_by_slug(*lease, req.path_param("slug"));
    if (!t) throw Error::not_found("No such tenant.");
    return with_etag(json_response(200, t->to_json()), t->version);
  }, route("platform", "A tenant by slug"));

  router.get("/api/v1/tenants/{id}", [&iam, require_platform_admin](Request& req) {
    require_platform_admin(req);
    auto lease = iam.db.acquire();
    auto t = store::tenant_by_id(*lease, req.path_param("id"));
    if (!t) throw Error::not_found("No such tenant.");
    return with_etag(json_response(200, t->to_json()), t->version);
  }, route("platform", "A tenant"));

  router.get("/api/v1/tenants/{id}/stats", [&iam, require_platform_admin](Request& req) {
    require_platform_admin(req);
    auto lease = iam.db.acquire();
    auto t = store::tenant_by_id(*lease, req.path_param("id"));
    if (!t) throw Error::not_found("No such tenant.");
    long long events = 0;
    *lease << "SELECT COUNT(*) FROM iam_audit_log WHERE tenant_id = :t", soci::use(t->id), soci::into(events);
    return json_response(200, bj::object{{"tenant_id", t->id}, {"users", store::count_members(*lease, t->id)},
                                         {"user_limit", plan_user_limit(t->plan)}, {"audit_entries", events}});
  }, route("platform", "Usage of a tenant"));

  for (const char* field : {"status", "plan"}) {
    bool is_status = std::string_view(field) == "status";
    router.put(std::string("/api/v1/tenants/{id}/") + field, [&iam, require_platform_admin, is_status, field](Request& req) {
      require_platform_admin(req);
      auto body = req.json();
      json::ObjectReader r(body);
      std::string value = r.required_string(field, 20);
      if (!value.empty() && !(is_status ? valid_tenant_status(value) : valid_plan(value))) {
        r.add_error(field, "invalid", is_status ? "Must be trial, active, suspended or cancelled."
                                                : "Must be free, starter, pro or enterprise.");
      }
      r.finish();
      RequestContext ctx = req.context();
      ctx.tenant_id = req.path_param("id");
      auto t = iam.uow.run(ctx, [&](UnitOfWork& uow) {
        auto t = store::tenant_by_id(uow.sql(), ctx.tenant_id);
        if (!t) throw Error::not_found("No such tenant.");
        std::string old = is_status ? t->status : t->plan;
        (is_status ? t->status : t->plan) = value;
        bj::object diff{{field, bj::object{{"old", old}, {"new", value}}}};
        // Reopening a closed tenant calls off its removal.
        if (is_status && value != "cancelled" && t->settings.contains("deletion_due_at")) {
          diff["deletion_due_at"] = bj::object{{"old", t->settings.at("deletion_due_at")}, {"new", nullptr}};
          t->settings.erase("deletion_due_at");
          t->settings.erase("deletion_requested_at");
        }
        t->updated_at = now_ms();
        store::update_tenant(uow.sql(), *t);
        publish(uow, is_status ? events::kTenantStatusChanged : events::kTenantPlanChanged, "tenant", t->id,
                bj::object{{"changes", diff}});
        return *store::tenant_by_id(uow.sql(), t->id);
      });
      iam.access_cache.invalidate_tenant(t.id);
      return json_response(200, t.to_json());
    }, route("platform", is_status ? "Change a tenant's status" : "Change a tenant's plan"));
  }

  // ---- audit log ----
  router.get("/api/v1/audit-logs", [&iam](Request& req) {
    const auto& tenant_id = tenant_of(req);
    require_permission(req.context(), "audit:read");
    std::string scope = "audit:" + tenant_id;
    static const std::set<std::string> kParameters = {"entity_type", "entity_id", "actor_id", "action", "from",
                                                      "to", "limit", "cursor", "include_total"};
    for (const auto& [name, value] : req.query_params()) {
      if (!kParameters.count(name)) throw Error::bad_parameter(name, "Is not a filter of the audit log.");
    }
    auto page = page_request(req, scope);
    long long before_seq = page.after ? page.after->at("seq").as_int64() : (1LL << 62);
    // Names are lower-case words joined by '.' or '_' (tenant.updated, role, access.denied).
    auto name_filter = [&req](const char* param) {
      std::string v = req.query(param).value_or("");
      bool ok = v.size() <= 100 && std::all_of(v.begin(), v.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
      });
      if (!ok) throw Error::bad_parameter(param, "Must be a lower-case name such as tenant.updated.");
      return v;
    };
    std::string entity_type = name_filter("entity_type"), action = name_filter("action");
    std::string entity_id = req.query("entity_id").value_or(""), actor_id = req.query("actor_id").value_or("");
    if (entity_id.size() > 255) throw Error::bad_parameter("entity_id", "Is too long.");
    if (!actor_id.empty() && !is_uuid(actor_id)) throw Error::bad_parameter("actor_id", "Must be a user id (UUID).");
    long long from = 0, to = 1LL << 62;
    if (auto f = req.query("from")) {
      auto ms = parse_rfc3339(*f);
      if (!ms) throw Error::bad_parameter("from", "Must be an RFC 3339 timestamp.");
      from = *ms;
    }
    if (auto t = req.query("to")) {
      auto ms = parse_rfc3339(*t);
      if (!ms) throw Error::bad_parameter("to", "Must be an RFC 3339 timestamp.");
      to = *ms;
    }
    if (from > to) throw Error::bad_parameter("to", "Must not be before from.");
    int limit = page.limit + 1;
    auto lease = iam.db.acquire();
    long long seq = 0, at = 0;
    std::string id, actor, act, etype, eid, body, outcome, ip, ua, rid;
    soci::indicator actor_ind, eid_ind, ip_ind, ua_ind, rid_ind;
    soci::statement st =
        (lease->prepare << "SELECT seq, id, occurred_at, actor_id, action, entity_type, entity_id, changes, outcome, ip,"
                           " user_agent, request_id FROM iam_audit_log WHERE tenant_id = :t AND seq < :b"
                           " AND (:et1 = '' OR entity_type = :et2) AND (:ei1 = '' OR entity_id = :ei2)"
                           " AND (:a1 = '' OR actor_id = :a2) AND (:ac1 = '' OR action = :ac2)"
                           " AND occurred_at >= :f AND occurred_at <= :to ORDER BY seq DESC LIMIT :l",
         soci::use(tenant_id), soci::use(before_seq), soci::use(entity_type), soci::use(entity_type),
         soci::use(entity_id), soci::use(entity_id), soci::use(actor_id), soci::use(actor_id), soci::use(action),
         soci::use(action), soci::use(from), soci::use(to), soci::use(limit), soci::into(seq), soci::into(id),
         soci::into(at), soci::into(actor, actor_ind), soci::into(act), soci::into(etype), soci::into(eid, eid_ind),
         soci::into(body), soci::into(outcome), soci::into(ip, ip_ind), soci::into(ua, ua_ind),
         soci::into(rid, rid_ind));
    st.execute();
    bj::array items;
    std::vector<long long> seqs;
    auto opt = [](soci::indicator ind, const std::string& v) { return ind == soci::i_ok ? bj::value(v) : bj::value(nullptr); };
    while (st.fetch()) {
      seqs.push_back(seq);
      items.push_back(bj::object{{"id", id}, {"tenant_id", tenant_id}, {"occurred_at", format_rfc3339(at)},
                                 {"actor_id", opt(actor_ind, actor)}, {"action", act}, {"entity_type", etype},
                                 {"entity_id", opt(eid_ind, eid)}, {"changes", json::parse_relaxed(body)},
                                 {"outcome", outcome}, {"ip", opt(ip_ind, ip)}, {"user_agent", opt(ua_ind, ua)},
                                 {"request_id", opt(rid_ind, rid)}});
    }
    std::optional<bj::object> next;
    if (static_cast<int>(items.size()) > page.limit) {
      items.pop_back();
      next = bj::object{{"seq", seqs[static_cast<std::size_t>(page.limit) - 1]}};
    }
    std::optional<std::int64_t> total;
    if (page.include_total) {
      long long n = 0;
      *lease << "SELECT COUNT(*) FROM iam_audit_log WHERE tenant_id = :t"
                " AND (:et1 = '' OR entity_type = :et2) AND (:ei1 = '' OR entity_id = :ei2)"
                " AND (:a1 = '' OR actor_id = :a2) AND (:ac1 = '' OR action = :ac2)"
                " AND occurred_at >= :f AND occurred_at <= :to",
          soci::use(tenant_id), soci::use(entity_type), soci::use(entity_type), soci::use(entity_id),
          soci::use(entity_id), soci::use(actor_id), soci::use(actor_id), soci::use(action), soci::use(action),
          soci::use(from), soci::use(to), soci::into(n);
      total = n;
    }
    return json_response(200, page_response(std::move(items), page, next, scope, total));
  }, route("audit", "The tenant's audit log, newest first"));
}

}  // namespace crm::iam
