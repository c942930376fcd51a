// Tenant lifecycle: platform administrators create, edit and delete tenants; owners export
// their data and close their tenant; old audit entries are archived.
#include "iam_internal.hpp"

#include "crm/platform/authorization.hpp"
#include "crm/platform/json.hpp"
#include "crm/platform/log.hpp"
#include "crm/platform/router.hpp"
#include "secrets.hpp"

#include <soci/soci.h>
#include <zlib.h>

#include <algorithm>
#include <filesystem>
#include <iostream>

namespace crm::iam {

using namespace crm::platform;

namespace {

constexpr std::int64_t kDeletionGraceMs = 30LL * 86400 * 1000;
constexpr std::int64_t kInviteValidMs = 7LL * 86400 * 1000;

RouteOptions route(const char* tag, const char* summary) {
  RouteOptions o;
  o.tag = tag;
  o.openapi = {{"summary", summary}};
  return o;
}

void require_platform_admin(const Request& req) {
  require_authenticated(req.context());
  if (!req.context().principal.platform_admin) throw Error::forbidden("Platform administrators only.");
}

bool is_owner(const RequestContext& ctx) {
  return std::find(ctx.principal.roles.begin(), ctx.principal.roles.end(), "owner") != ctx.principal.roles.end();
}

}  // namespace

void register_tenancy_routes(Router& router, IamContext& iam) {
  router.post("/api/v1/tenants", [&iam](Request& req) {
    require_platform_admin(req);
    auto body = req.json();
    json::ObjectReader r(body);
    std::string name = r.required_string("name", 200);
    auto given_slug = r.optional_string("slug", 63);
    std::string slug = given_slug ? *given_slug : default_slug(name);
    std::string plan = r.optional_string("plan", 20).value_or("free");
    std::string status = r.optional_string("status", 20).value_or("trial");
    auto owner_email = r.optional_string("owner_email", 254);
    if (given_slug && !valid_slug(slug)) {
      r.add_error("slug", "invalid", "Use 3-63 lower-case letters, digits and single hyphens.");
    }
    if (!valid_plan(plan)) r.add_error("plan", "invalid", "Must be free, starter, pro or enterprise.");
    if (!valid_tenant_status(status)) r.add_error("status", "invalid", "Must be trial, active, suspended or cancelled.");
    if (owner_email && normalize_email(*owner_email).empty()) r.add_error("owner_email", "invalid", "Is not a valid email address.");
    r.finish();
    TenantRow t;
    t.id = new_uuid_v7();
    RequestContext ctx = req.context();
    ctx.tenant_id = t.id;
    auto created = iam.uow.run(ctx, [&](UnitOfWork& uow) {
      auto& sql = uow.sql();
      if (store::tenant_by_slug(sql, slug)) throw Error::conflict("slug_taken", "That tenant slug is taken.");
      auto now = now_ms();
      t.slug = slug;
      t.name = name;
      t.status = status;
      t.plan = plan;
      t.settings = bj::object{{"currency", "USD"}, {"timezone", "UTC"}, {"locale", "en"}, {"require_verified_email", false}};
      t.created_at = t.updated_at = now;
      store::insert_tenant(sql, t);
      auto owner = create_system_roles(uow, t.id);
      publish(uow, events::kTenantCreated, "tenant", t.id, bj::object{{"slug", slug}, {"name", name}, {"plan", plan},
                                                                      {"status", status}});
      if (owner_email) {
        auto user = store::user_by_email(sql, normalize_email(*owner_email));
        if (!user) {
          UserRow u;
          u.id = new_uuid_v7();
          u.email = *owner_email;
          u.name = owner_email->substr(0, owner_email->find('@'));
          u.created_at = u.updated_at = now;
          store::insert_user(sql, u);
          user = u;
        }
        store::insert_membership(sql, t.id, user->id, "invited", req.context().actor_id, now);
        store::add_member_role(sql, t.id, user->id, owner.id);
        std::string token = create_one_time_token(uow, "invitation", user->id, t.id, kInviteValidMs);
        publish(uow, events::kUserInvited, "user", user->id,
                bj::object{{"email", user->email}, {"tenant_id", t.id}, {"tenant_name", name},
                           {"roles", bj::array{"owner"}}, {"invitation_token", token},
                           {"link", "/accept-invitation?token=" + token}});
      }
      return *store::tenant_by_id(sql, t.id);
    });
    return created_response(created.to_json(), "/api/v1/tenants/" + created.id);
  }, route("platform", "Create a tenant (optionally inviting its owner)"));

  router.put("/api/v1/tenants/{id}", [&iam](Request& req) {
    require_platform_admin(req);
    auto body = req.json();
    json::ObjectReader r(body);
    std::string name = r.required_string("name", 200);
    r.finish();
    RequestContext ctx = req.context();
    ctx.tenant_id = req.path_param("id");
    auto t = iam.uow.run(ctx, [&](UnitOfWork& uow) {
      auto t = store::tenant_by_id(uow.sql(), ctx.tenant_id);
      if (!t) throw Error::not_found("No such tenant.");
      std::string old = t->name;
      t->name = name;
      t->updated_at = now_ms();
      store::update_tenant(uow.sql(), *t);
      publish(uow, events::kTenantUpdated, "tenant", t->id,
              bj::object{{"changes", bj::object{{"name", bj::object{{"old", old}, {"new", name}}}}}});
      return *store::tenant_by_id(uow.sql(), t->id);
    });
    return json_response(200, t.to_json());
  }, route("platform", "Rename a tenant"));

  // Closing a tenant: cancelled at once (nobody can sign in), data removed after the grace
  // period (purge_due_tenants). Closing it again keeps the first schedule. Answers the due time.
  auto close_tenant = [&iam](const RequestContext& base, const std::string& tenant_id, const std::string& reason) {
    RequestContext ctx = base;
    ctx.tenant_id = tenant_id;
    auto due = iam.uow.run(ctx, [&](UnitOfWork& uow) {
      auto t = store::tenant_by_id(uow.sql(), tenant_id);
      if (!t) throw Error::not_found("No such tenant.");
      if (t->status == "cancelled") {
        if (const auto* scheduled = t->settings.if_contains("deletion_due_at"); scheduled && scheduled->is_string()) {
          return std::string(scheduled->get_string());
        }
      }
      auto now = now_ms();
      std::string old = t->status;
      t->status = "cancelled";
      t->settings["deletion_requested_at"] = format_rfc3339(now);
      t->settings["deletion_due_at"] = format_rfc3339(now + kDeletionGraceMs);
      t->updated_at = now;
      store::update_tenant(uow.sql(), *t);
      publish(uow, events::kTenantStatusChanged, "tenant", tenant_id,
              bj::object{{"reason", reason},
                         {"deletion_due_at", t->settings.at("deletion_due_at")},
                         {"changes", bj::object{{"status", bj::object{{"old", old}, {"new", "cancelled"}}}}}});
      return std::string(t->settings.at("deletion_due_at").as_string());
    });
    iam.access_cache.invalidate_tenant(tenant_id);
    return due;
  };

  router.del("/api/v1/tenants/{id}", [close_tenant](Request& req) {
    require_platform_admin(req);
    close_tenant(req.context(), req.path_param("id"), "deleted_by_platform_admin");
    return no_content_response();
  }, route("platform", "Delete a tenant (cancelled now, data removed after 30 days)"));

  router.del("/api/v1/tenant", [close_tenant, &iam](Request& req) {
    const auto& ctx = req.context();
    require_permission(ctx, "tenant:delete");
    if (!is_owner(ctx)) throw Error::forbidden("Only an owner can delete the tenant.");
    auto body = req.json();
    json::ObjectReader r(body);
    std::string confirm = r.required_string("confirm", 100);
    r.finish();
    {
      auto lease = iam.db.acquire();
      auto t = store::tenant_by_id(*lease, ctx.tenant_id);
      if (!t) throw Error::not_found();
      if (confirm != t->slug) throw Error::validation("confirm", "mismatch", "Type the tenant's slug to confirm.");
    }
    std::string due = close_tenant(ctx, ctx.tenant_id, "deleted_by_owner");
    // 202, not 204: the removal itself happens later; the answer says when.
    return json_response(202, bj::object{{"status", "cancelled"},
                                         {"deletion_grace_days", kDeletionGraceMs / (86400 * 1000)},
                                         {"deletion_due_at", due}});
  }, [] {
    auto o = route("tenant", "Delete the tenant (owner; body {\"confirm\": slug}); removed after 30 days");
    o.content_types = {"application/json"};
    return o;
  }());

  router.get("/api/v1/tenant/export", [&iam](Request& req) {
    const auto& ctx = req.context();
    require_authenticated(ctx);
    if (!is_owner(ctx)) throw Error::forbidden("Only an owner can export the tenant.");
    // JSON lines, one record each: {"type": ..., "data": {...}}, streamed a page at a time
    // (keyset pagination) so memory stays flat whatever the tenant's size. Password hashes and
    // token hashes are never exported.
    std::optional<TenantRow> tenant;
    {
      auto lease = iam.db.acquire();
      tenant = store::tenant_by_id(*lease, ctx.tenant_id);
    }
    if (!tenant) throw Error::not_found();
    struct Cursor {
      enum class Phase { head, members, audit, done } phase = Phase::head;
      std::string after_member;
      long long after_seq = -1;
    };
    constexpr int kPage = 500;
    auto cursor = std::make_shared<Cursor>();
    std::string tenant_id = ctx.tenant_id;
    auto res = streamed_response(req, 200, "application/x-ndjson", [&iam, cursor, tenant_id]() -> std::optional<std::string> {
      std::string out;
      auto line = [&out](const char* type, bj::object data) {
        out += json::dump(bj::object{{"type", type}, {"data", std::move(data)}});
        out += '\n';
      };
      auto lease = iam.db.acquire();
      auto& sql = *lease;
      switch (cursor->phase) {
        case Cursor::Phase::head: {
          auto t = store::tenant_by_id(sql, tenant_id);
          if (!t) throw std::runtime_error("the tenant disappeared during its export");
          line("tenant", t->to_json());
          for (const auto& role : store::roles(sql, tenant_id)) line("role", role.to_json());
          cursor->phase = Cursor::Phase::members;
          return out;
        }
        case Cursor::Phase::members: {
          auto page = store::members(sql, tenant_id, kPage, cursor->after_member, std::nullopt);
          for (const auto& m : page) line("member", m.to_json());
          if (page.size() < static_cast<std::size_t>(kPage)) {
            cursor->phase = Cursor::Phase::audit;
          } else {
            cursor->after_member = page.back().user.id;
          }
          return out;
        }
        case Cursor::Phase::audit: {
          long long seq = 0, at = 0, after = cursor->after_seq;
          int limit = kPage, rows = 0;
          std::string id, actor, action, etype, eid, changes, outcome;
          soci::indicator actor_ind, eid_ind;
          soci::statement st =
              (sql.prepare << "SELECT seq, id, occurred_at, actor_id, action, entity_type, entity_id, changes, outcome"
                              " FROM iam_audit_log WHERE tenant_id = :t AND seq > :after ORDER BY seq LIMIT :l",
               soci::use(tenant_id), soci::use(after), soci::use(limit), soci::into(seq), soci::into(id),
               soci::into(at), soci::into(actor, actor_ind), soci::into(action), soci::into(etype),
               soci::into(eid, eid_ind), soci::into(changes), soci::into(outcome));
          st.execute();
          auto opt = [](soci::indicator ind, const std::string& v) {
            return ind == soci::i_ok ? bj::value(v) : bj::value(nullptr);
          };
          while (st.fetch()) {
            ++rows;
            cursor->after_seq = seq;
            line("audit_entry", bj::object{{"id", id}, {"occurred_at", format_rfc3339(at)},
                                           {"actor_id", opt(actor_ind, actor)}, {"action", action},
                                           {"entity_type", etype}, {"entity_id", opt(eid_ind, eid)},
                                           {"changes", json::parse_relaxed(changes)}, {"outcome", outcome}});
          }
          if (rows < kPage) cursor->phase = Cursor::Phase::done;
          return out;
        }
        case Cursor::Phase::done:
          break;
      }
      return std::nullopt;
    });
    res.set("Content-Disposition", "attachment; filename=\"" + tenant->slug + "-export.jsonl\"");
    return res;
  }, route("tenant", "Export the tenant's data as JSON lines (owner)"));
}

namespace {

std::optional<TimestampMs> deletion_due(const TenantRow& t) {
  const auto* v = t.settings.if_contains("deletion_due_at");
  if (!v || !v->is_string()) return std::nullopt;
  return parse_rfc3339(v->get_string());
}

}  // namespace

PurgeResult purge_due_tenants(IamContext& iam, TimestampMs now) {
  PurgeResult result;
  std::vector<TenantRow> due;
  {
    auto lease = iam.db.acquire();
    for (auto& t : store::cancelled_tenants(*lease)) {
      if (auto at = deletion_due(t); at && *at <= now) due.push_back(std::move(t));
    }
  }
  for (const auto& candidate : due) {
    try {
      // Read outside the tenant's transaction: there, on PostgreSQL, row-level security hides
      // the memberships of other tenants that keep an identity alive. (An invitation into
      // another tenant created between this read and the commit would go with the identity.)
      std::vector<std::string> own_users;
      {
        auto lease = iam.db.acquire();
        own_users = store::users_only_in(*lease, candidate.id);
      }
      RequestContext ctx;
      ctx.request_id = new_uuid_v7();
      ctx.correlation_id = ctx.request_id;
      ctx.tenant_id = candidate.id;
      bool removed = iam.uow.run(ctx, [&](UnitOfWork& uow) {
        auto& sql = uow.sql();
        auto t = store::tenant_by_id(sql, candidate.id);
        auto at = t ? deletion_due(*t) : std::nullopt;
        if (!t || t->status != "cancelled" || !at || *at > now) return false;  // reactivated meanwhile
        // Claims the tenant: of two processes purging at once, the second finds it gone here.
        long long n = now;
        soci::statement claim = (sql.prepare << "UPDATE iam_tenants SET deleted_at = :n WHERE id = :id"
                                                " AND status = 'cancelled' AND deleted_at IS NULL",
                                 soci::use(n), soci::use(t->id));
        claim.execute(true);
        if (claim.get_affected_rows() != 1) return false;
        // Other modules remove their rows in their synchronous handlers of this event.
        publish(uow, events::kTenantDeleted, "tenant", t->id,
                bj::object{{"slug", t->slug}, {"name", t->name}, {"deletion_due_at", format_rfc3339(*at)}});
        store::delete_tenant_rows(sql, t->id);
        for (const auto& user_id : own_users) {
          if (auto u = store::user_by_id(sql, user_id); u && !u->platform_admin) store::delete_user(sql, *u);
        }
        return true;
      });
      if (removed) {
        iam.access_cache.invalidate_tenant(candidate.id);
        log_info("tenant removed after its grace period", {{"tenant_id", candidate.id}, {"slug", candidate.slug}});
        result.removed.push_back(candidate.slug);
      }
    } catch (const std::exception& e) {
      // Nothing of this tenant was removed (one unit of work); the next run tries again.
      log_error("removing a tenant failed", {{"tenant_id", candidate.id}, {"error", e.what()}});
      ++result.failed;
    }
  }
  return result;
}

int purge_tenants_command(IamContext& iam, const std::vector<std::string>& args) {
  if (args.size() != 1 || args[0] != "purge") {
    std::cerr << "crm: usage: crm tenants purge (removes cancelled tenants whose grace period is over)\n";
    return 2;
  }
  auto result = purge_due_tenants(iam, now_ms());
  std::cout << "removed " << result.removed.size() << " tenant" << (result.removed.size() == 1 ? "" : "s");
  for (std::size_t i = 0; i < result.removed.size(); ++i) std::cout << (i == 0 ? ": " : ", ") << result.removed[i];
  std::cout << "\n";
  if (result.failed > 0) {
    std::cerr << "crm: " << result.failed << " tenant(s) could not be removed; see the log\n";
    return 1;
  }
  return 0;
}

AuditArchive archive_audit_entries(IamContext& iam, TimestampMs cutoff) {
  AuditArchive result;
  std::filesystem::path dir = std::filesystem::path(iam.config.data_dir) / "audit-archive";
  std::filesystem::create_directories(dir);
  std::string label = format_rfc3339(cutoff).substr(0, 10);
  std::filesystem::path file = dir / ("audit-before-" + label + "-" + random_hex(4) + ".jsonl.gz");
  gzFile gz = gzopen(file.c_str(), "wb9");
  if (!gz) throw std::runtime_error("cannot write " + file.string());
  long long limit = cutoff, max_seq = 0;
  try {
    auto lease = iam.db.acquire();
    long long seq = 0, at = 0;
    std::string id, tenant, actor, action, etype, eid, changes, outcome, ip, ua, rid;
    soci::indicator t_ind, a_ind, e_ind, ip_ind, ua_ind, r_ind;
    soci::statement st = (lease->prepare << "SELECT seq, id, tenant_id, occurred_at, actor_id, action, entity_type,"
                                            " entity_id, changes, outcome, ip, user_agent, request_id FROM iam_audit_log"
                                            " WHERE occurred_at < :c ORDER BY seq",
                          soci::use(limit), soci::into(seq), soci::into(id), soci::into(tenant, t_ind), soci::into(at),
                          soci::into(actor, a_ind), soci::into(action), soci::into(etype), soci::into(eid, e_ind),
                          soci::into(changes), soci::into(outcome), soci::into(ip, ip_ind), soci::into(ua, ua_ind),
                          soci::into(rid, r_ind));
    st.execute();
    auto opt = [](soci::indicator ind, const std::string& v) { return ind == soci::i_ok ? bj::value(v) : bj::value(nullptr); };
    while (st.fetch()) {
      std::string text = json::dump(bj::object{
          {"id", id}, {"tenant_id", opt(t_ind, tenant)}, {"occurred_at", format_rfc3339(at)},
          {"actor_id", opt(a_ind, actor)}, {"action", action}, {"entity_type", etype}, {"entity_id", opt(e_ind, eid)},
          {"changes", json::parse_relaxed(changes)}, {"outcome", outcome}, {"ip", opt(ip_ind, ip)},
          {"user_agent", opt(ua_ind, ua)}, {"request_id", opt(r_ind, rid)}}) + "\n";
      gzwrite(gz, text.data(), static_cast<unsigned>(text.size()));
      ++result.count;
      max_seq = std::max(max_seq, seq);
    }
  } catch (...) {
    gzclose(gz);
    std::filesystem::remove(file);
    throw;
  }
  if (gzclose(gz) != Z_OK) {
    std::filesystem::remove(file);
    throw std::runtime_error("writing the archive failed; nothing was removed");
  }
  // Remove exactly what was written (entries up to the last archived one).
  if (result.count > 0) {
    auto lease = iam.db.acquire();
    *lease << "DELETE FROM iam_audit_log WHERE occurred_at < :c AND seq <= :s", soci::use(limit), soci::use(max_seq);
    result.file = file.string();
  } else {
    std::filesystem::remove(file);
  }
  return result;
}

int archive_audit_log(IamContext& iam, const std::vector<std::string>& args) {
  std::string before;
  for (std::size_t i = 0; i + 1 < args.size(); ++i)
    if (args[i] == "--before") before = args[i + 1];
  std::optional<TimestampMs> cutoff;
  if (before.size() == 10) cutoff = parse_rfc3339(before + "T00:00:00Z");
  if (!cutoff) cutoff = parse_rfc3339(before);
  if (!cutoff) {
    std::cerr << "crm: audit archive needs --before YYYY-MM-DD (or an RFC 3339 time)\n";
    return 2;
  }
  AuditArchive result;
  try {
    result = archive_audit_entries(iam, *cutoff);
  } catch (const std::exception& e) {
    std::cerr << "crm: " << e.what() << "\n";
    return 1;
  }
  std::cout << "archived " << result.count << " audit entr" << (result.count == 1 ? "y" : "ies");
  if (result.count > 0) std::cout << " to " << result.file;
  std::cout << "\n";
  return 0;
}

}  // namespace crm::iam
