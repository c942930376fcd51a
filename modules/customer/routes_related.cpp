// A customer's contacts, notes, activities and timeline, and the activity review queue.
#include "customer_internal.hpp"

#include "crm/platform/authorization.hpp"
#include "crm/platform/pagination.hpp"
#include "crm/platform/router.hpp"
#include "validation.hpp"

#include <soci/soci.h>

#include <algorithm>
#include <set>

namespace crm::customer {

using namespace crm::platform;

namespace {

RouteOptions route(const char* tag, const char* summary) { return route_options(tag, summary); }

/// Marks read-only fields of a body as errors and returns the reader.
void refuse_read_only(json::ObjectReader& r, std::initializer_list<const char*> fields) {
  for (const char* f : fields) {
    if (r.optional_value(f)) r.add_error(f, "read_only", "Is set by the server and cannot be written.");
  }
}

std::optional<std::string> blank_to_none(std::optional<std::string> s) {
  if (s && s->find_first_not_of(" \t\r\n") == std::string::npos) return std::nullopt;
  return s;
}

std::optional<TimestampMs> time_field(json::ObjectReader& r, const char* name) {
  auto s = r.optional_string(name, 64);
  if (!s) return std::nullopt;
  auto t = parse_rfc3339(*s);
  if (!t) r.add_error(name, "invalid", "Must be an RFC 3339 timestamp such as 2026-01-31T09:30:00Z.");
  return t;
}

// ---- contacts ----

/// Reads a contact body onto `c` (all writable fields: a PUT replaces). Returns is_primary
/// when the body names it.
std::optional<bool> read_contact(const bj::value& body, const TenantDefaults& defaults, ContactRow& c) {
  json::ObjectReader r(body);
  refuse_read_only(r, {"id", "tenant_id", "customer_id", "version", "created_at", "updated_at"});
  c.first_name = r.required_string("first_name", 100);
  c.last_name = blank_to_none(r.optional_string("last_name", 100));
  c.job_title = blank_to_none(r.optional_string("job_title", 100));
  c.department = blank_to_none(r.optional_string("department", 100));
  c.email = blank_to_none(r.optional_string("email", 254));
  if (c.email) {
    auto normalized = domain::normalize_email(*c.email);
    if (!normalized) r.add_error("email", "invalid", "Is not a valid email address.");
    else c.email = normalized;
  }
  c.phones = bj::array{};
  if (const auto* v = r.optional_value("phones")) {
    if (!v->is_array() || v->get_array().size() > 10) {
      r.add_error("phones", "type", "Must be a list of at most 10 {type, number} objects.");
    } else {
      std::size_t i = 0;
      for (const auto& p : v->get_array()) {
        std::string name = "phones[" + std::to_string(i++) + "]";
        const auto* o = p.if_object();
        if (!o) {
          r.add_error(name, "type", "Must be an object {type, number}.");
          continue;
        }
        for (const auto& kv : *o) {
          if (kv.key() != "type" && kv.key() != "number") r.add_error(name + "." + std::string(kv.key()), "unknown_field", "Is not a field here.");
        }
        std::string type = "mobile";
        if (const auto* t = o->if_contains("type"); t && !t->is_null()) {
          static const std::set<std::string> kTypes = {"mobile", "work", "home", "other"};
          if (!t->is_string() || !kTypes.count(std::string(t->get_string()))) {
            r.add_error(name + ".type", "invalid", "Must be mobile, work, home or other.");
            continue;
          }
          type = std::string(t->get_string());
        }
        const auto* n = o->if_contains("number");
        if (!n || !n->is_string()) {
          r.add_error(name + ".number", "required", "Is required.");
          continue;
        }
        auto parsed = domain::parse_phone(n->get_string(), defaults.region);
        if (!parsed.e164) {
          r.add_error(name + ".number", parsed.error, "Is not a valid phone number.");
          continue;
        }
        c.phones.emplace_back(bj::object{{"type", type}, {"number", *parsed.e164}});
      }
    }
  }
  c.roles = bj::array{};
  if (const auto* v = r.optional_value("roles")) {
    static const std::set<std::string> kRoles = {"decision_maker", "billing", "technical", "other"};
    if (!v->is_array()) {
      r.add_error("roles", "type", "Must be a list of roles.");
    } else {
      std::set<std::string> seen;
      for (const auto& role : v->get_array()) {
        if (!role.is_string() || !kRoles.count(std::string(role.get_string()))) {
          r.add_error("roles", "invalid", "Each role is decision_maker, billing, technical or other.");
          break;
        }
        if (seen.insert(std::string(role.get_string())).second) c.roles.emplace_back(role);
      }
    }
  }
  c.communication_preferences = bj::object{{"email_opt_in", true}, {"sms_opt_in", false}, {"phone_opt_in", true},
                                           {"preferred_channel", nullptr}};
  if (const auto* v = r.optional_value("communication_preferences")) {
    if (!v->is_object()) {
      r.add_error("communication_preferences", "type", "Must be an object.");
    } else {
      for (const auto& kv : v->get_object()) {
        std::string key(kv.key());
        std::string name = "communication_preferences." + key;
        if (key == "email_opt_in" || key == "sms_opt_in" || key == "phone_opt_in") {
          if (!kv.value().is_bool()) r.add_error(name, "type", "Must be true or false.");
          else c.communication_preferences[key] = kv.value();
        } else if (key == "preferred_channel") {
          if (!kv.value().is_null() && (!kv.value().is_string() || !domain::valid_channel(kv.value().get_string()))) {
            r.add_error(name, "invalid", "Must be email, phone, sms, whatsapp, mail or none.");
          } else {
            c.communication_preferences[key] = kv.value();
          }
        } else {
          r.add_error(name, "unknown_field", "Is not a communication preference.");
        }
      }
    }
  }
  c.last_contacted_at = time_field(r, "last_contacted_at");
  auto primary = r.optional_bool("is_primary");
  r.finish();
  return primary;
}

std::string contact_name(const ContactRow& c) { return c.first_name + (c.last_name ? " " + *c.last_name : ""); }

ContactRow load_contact(soci::session& sql, const std::string& tenant_id, const std::string& customer_id,
                        const std::string& id) {
  if (!is_uuid(id)) throw Error::not_found("No such contact.");
  auto c = store::contact(sql, tenant_id, customer_id, id);
  if (!c) throw Error::not_found("No such contact.");
  return *c;
}

const std::vector<std::string>& contact_fields() {
  static const std::vector<std::string> f = {"first_name", "last_name", "email", "phones", "job_title", "department",
                                             "roles", "is_primary", "communication_preferences", "last_contacted_at"};
  return f;
}

// ---- notes ----

NoteRow load_note(soci::session& sql, const std::string& tenant_id, const std::string& customer_id,
                  const std::string& id) {
  if (!is_uuid(id)) throw Error::not_found("No such note.");
  auto n = store::note(sql, tenant_id, customer_id, id);
  if (!n) throw Error::not_found("No such note.");
  return *n;
}

std::string read_note_body(const bj::value& body) {
  json::ObjectReader r(body);
  refuse_read_only(r, {"id", "tenant_id", "customer_id", "pinned", "pinned_at", "author_id", "version", "created_at",
                       "updated_at"});
  std::string text = r.required_string("body", 20000);
  r.finish();
  return text;
}

// ---- activities ----

/// Reads an activity body. With `patch`, absent fields keep their values and null clears.
void read_activity(const bj::value& body, bool patch, ActivityRow& a) {
  json::ObjectReader r(body);
  refuse_read_only(r, {"id", "tenant_id", "customer_id", "status", "created_by", "version", "created_at",
                       "updated_at", "missing_details"});
  const auto* obj = body.if_object();
  auto present = [&](const char* f) { return obj && obj->contains(f); };
  if (!patch || present("type")) {
    std::string type = r.required_string("type", 20);
    static const std::set<std::string> kTypes = {"call", "email", "meeting", "note", "task", "system"};
    if (!type.empty() && !kTypes.count(type)) r.add_error("type", "invalid", "Must be call, email, meeting, note, task or system.");
    else a.type = type;
  }
  auto text = [&](const char* name, std::size_t max, std::optional<std::string>& target) {
    if (patch && !present(name)) return;
    target = blank_to_none(r.optional_string(name, max));
  };
  text("subject", 200, a.subject);
  text("body", 20000, a.body);
  text("outcome", 200, a.outcome);
  if (!patch || present("occurred_at")) a.occurred_at = time_field(r, "occurred_at");
  if (!patch || present("duration_minutes")) {
    auto d = r.optional_int("duration_minutes", 0, 7 * 24 * 60);
    a.duration_minutes = d ? std::optional<int>(static_cast<int>(*d)) : std::nullopt;
  }
  if (!patch || present("contact_id")) {
    auto c = r.optional_string("contact_id", 64);
    if (c && !is_uuid(*c)) r.add_error("contact_id", "invalid", "Must be the id of one of the customer's contacts.");
    a.contact_id = c;
  }
  r.finish();
}

void require_contact_of(soci::session& sql, const std::string& tenant_id, const std::string& customer_id,
                        const std::optional<std::string>& contact_id) {
  if (contact_id && !store::contact(sql, tenant_id, customer_id, *contact_id)) {
    throw Error::validation("contact_id", "not_found", "Is not a contact of this customer.");
  }
}

std::string activity_summary(const ActivityRow& a) {
  return a.type + (a.subject ? ": " + *a.subject : std::string(" logged"));
}

/// Page of "newest first" rows with a {"at", "id"} cursor.
template <class Row, class ToJson>
bj::object newest_first_page(std::vector<Row> rows, const PageRequest& page, const std::string& scope, ToJson to_json,
                             TimestampMs (*at)(const Row&)) {
  std::optional<bj::object> next;
  if (static_cast<int>(rows.size()) > page.limit) {
    rows.pop_back();
    next = bj::object{{"at", at(rows.back())}, {"id", rows.back().id}};
  }
  bj::array items;
  for (const auto& r : rows) items.push_back(to_json(r));
  return page_response(std::move(items), page, next, scope);
}

}  // namespace

std::optional<bool> read_contact_body(const bj::value& body, const TenantDefaults& defaults, ContactRow& c) {
  return read_contact(body, defaults, c);
}
std::string read_note(const bj::value& body) { return read_note_body(body); }
void read_activity_body(const bj::value& body, ActivityRow& a) { read_activity(body, false, a); }

ContactRow add_contact(UnitOfWork& uow, CustomerContext& cc, const CustomerRow& customer, ContactRow c,
                       std::optional<bool> primary) {
  auto& sql = uow.sql();
  const std::string& tenant_id = customer.tenant_id;
  // The customer row is the lock that keeps the count and the primary consistent.
  store::lock_customers(sql, tenant_id);
  auto count = store::count_contacts(sql, tenant_id, customer.id);
  if (count >= cc.max_contacts) {
    throw Error::conflict("contact_limit_reached",
                          "A customer has at most " + std::to_string(cc.max_contacts) + " contacts.");
  }
  c.tenant_id = tenant_id;
  c.id = new_uuid_v7();
  c.customer_id = customer.id;
  c.created_at = c.updated_at = now_ms();
  c.is_primary = count == 0 || primary.value_or(false);
  // Another primary steps down first (the new row does not exist yet), then the row goes in.
  if (c.is_primary) store::set_primary_contact(sql, tenant_id, customer.id, c.id, c.created_at);
  store::insert_contact(sql, c);
  auto row = *store::contact(sql, tenant_id, customer.id, c.id);
  publish(uow, events::kContactAdded, "contact", c.id,
          bj::object{{"customer_id", customer.id}, {"contact_id", c.id}, {"name", contact_name(row)},
                     {"changes", changes(bj::object{}, row.to_json(), contact_fields())}});
  return row;
}

NoteRow add_note(UnitOfWork& uow, const CustomerRow& customer, const std::string& text) {
  NoteRow n;
  n.tenant_id = customer.tenant_id;
  n.id = new_uuid_v7();
  n.customer_id = customer.id;
  n.body = text;
  n.author_id = uow.context().actor_id;
  n.created_at = n.updated_at = now_ms();
  store::insert_note(uow.sql(), n);
  publish(uow, events::kNoteAdded, "note", n.id,
          bj::object{{"customer_id", customer.id}, {"note_id", n.id},
                     {"changes", bj::object{{"body", bj::object{{"old", nullptr}, {"new", n.body}}}}}});
  return n;
}

/// A call, email or meeting with a contact that has happened moves the contact's
/// last_contacted_at forward (never back: an older activity logged late changes nothing).
void note_contact_reached(soci::session& sql, const ActivityRow& a) {
  constexpr TimestampMs kClockSkewMs = 5 * 60 * 1000;
  if (!a.contact_id || !a.occurred_at || a.status != "completed") return;
  if (a.type != "call" && a.type != "email" && a.type != "meeting") return;
  if (*a.occurred_at > now_ms() + kClockSkewMs) return;  // planned, not yet happened
  store::touch_contact_reached(sql, a.tenant_id, *a.contact_id, *a.occurred_at);
}

ActivityRow log_activity(UnitOfWork& uow, const CustomerRow& customer, ActivityRow a) {
  require_contact_of(uow.sql(), customer.tenant_id, customer.id, a.contact_id);
  a.tenant_id = customer.tenant_id;
  a.id = new_uuid_v7();
  a.customer_id = customer.id;
  a.created_by = uow.context().actor_id;
  a.status = missing_details(a).empty() ? "completed" : "needs_review";
  a.created_at = a.updated_at = now_ms();
  store::insert_activity(uow.sql(), a);
  note_contact_reached(uow.sql(), a);
  publish(uow, events::kActivityLogged, "activity", a.id,
          bj::object{{"customer_id", customer.id}, {"activity_id", a.id}, {"type", a.type},
                     {"status", a.status}, {"summary", activity_summary(a)}});
  return a;
}

/// Details an activity needs to count as complete; the names of those missing.
std::vector<std::string> missing_details(const ActivityRow& a) {
  std::vector<std::string> missing;
  if (a.type == "system") return missing;
  if (!a.subject) missing.emplace_back("subject");
  if (!a.occurred_at) missing.emplace_back("occurred_at");
  if (a.type == "call" || a.type == "meeting") {
    if (!a.duration_minutes) missing.emplace_back("duration_minutes");
    if (!a.outcome) missing.emplace_back("outcome");
  }
  return missing;
}

bj::object activity_json(const ActivityRow& a) {
  auto o = a.to_json();
  bj::array missing;
  for (const auto& m : missing_details(a)) missing.emplace_back(m);
  o["missing_details"] = std::move(missing);
  return o;
}

void register_related_routes(Router& router, CustomerContext& cc) {
  const std::string base = "/api/v1/customers/{id}";

  // ---- contacts ----
  router.get(base + "/contacts", [&cc](Request& req) {
    const auto& tenant_id = tenant_of(req);
    require_permission(req.context(), "contacts:read");
    auto lease = cc.db.acquire();
    auto customer = load_customer(*lease, tenant_id, req.path_param("id"));
    bj::array items;
    for (const auto& c : store::contacts(*lease, tenant_id, customer.id)) items.push_back(c.to_json());
    // Contacts are bounded by the per-customer maximum, so they come as one page.
    return json_response(200, bj::object{{"data", std::move(items)},
                                         {"page", bj::object{{"limit", cc.max_contacts}, {"next_cursor", nullptr}}}});
  }, route("contacts", "A customer's contacts, the primary one first"));

  router.post(base + "/contacts", [&cc](Request& req) {
    const auto& tenant_id = tenant_of(req);
    auto body = req.json();
    ContactRow c;
    auto primary = read_contact(body, cc.defaults(tenant_id), c);
    auto created = cc.uow.run(req.context(), [&](UnitOfWork& uow) {
      auto customer = load_customer(uow.sql(), tenant_id, req.path_param("id"));
      require_permission(req.context(), "contacts:create", customer.owner_id);
      return add_contact(uow, cc, customer, std::move(c), primary);
    });
    return with_etag(created_response(created.to_json(), "/api/v1/customers/" + created.customer_id + "/contacts/" + created.id),
                     created.version);
  }, route("contacts", "Add a contact (the first one becomes primary; 409 past the per-customer maximum)"));

  router.get(base + "/contacts/{contact_id}", [&cc](Request& req) {
    const auto& tenant_id = tenant_of(req);
    require_permission(req.context(), "contacts:read");
    auto lease = cc.db.acquire();
    auto customer = load_customer(*lease, tenant_id, req.path_param("id"));
    auto c = load_contact(*lease, tenant_id, customer.id, req.path_param("contact_id"));
    return with_etag(json_response(200, c.to_json()), c.version);
  }, route("contacts", "One contact"));

  router.put(base + "/contacts/{contact_id}", [&cc](Request& req) {
    const auto& tenant_id = tenant_of(req);
    auto body = req.json();
    ContactRow input;
    auto primary = read_contact(body, cc.defaults(tenant_id), input);
    auto updated = cc.uow.run(req.context(), [&](UnitOfWork& uow) {
      auto& sql = uow.sql();
      auto customer = load_customer(sql, tenant_id, req.path_param("id"));
      auto before = load_contact(sql, tenant_id, customer.id, req.path_param("contact_id"));
      require_permission(req.context(), "contacts:update", customer.owner_id);
      require_version(req, before.version);
      if (primary && !*primary && before.is_primary) {
        throw Error(ErrorKind::conflict, "primary_required",
                    "A customer with contacts keeps one primary: make another contact primary instead.",
                    {FieldError{"is_primary", "primary_required", "Make another contact primary instead."}});
      }
      ContactRow row = input;
      row.tenant_id = tenant_id;
      row.id = before.id;
      row.customer_id = customer.id;
      row.is_primary = before.is_primary;
      row.created_at = before.created_at;
      row.updated_at = now_ms();
      if (!store::update_contact(sql, row, before.version)) throw Error::precondition_failed("The contact changed since you read it.");
      if (primary.value_or(false) && !before.is_primary) {
        store::lock_customers(sql, tenant_id);
        store::set_primary_contact(sql, tenant_id, customer.id, row.id, row.updated_at);
      }
      auto after = *store::contact(sql, tenant_id, customer.id, row.id);
      auto diff = changes(before.to_json(), after.to_json(), contact_fields());
      if (!diff.empty()) {
        publish(uow, events::kContactUpdated, "contact", row.id,
                bj::object{{"customer_id", customer.id}, {"contact_id", row.id}, {"changes", diff}});
      }
      return after;
    });
    return with_etag(json_response(200, updated.to_json()), updated.version);
  }, route("contacts", "Replace a contact"));

  router.del(base + "/contacts/{contact_id}", [&cc](Request& req) {
    const auto& tenant_id = tenant_of(req);
    cc.uow.run(req.context(), [&](UnitOfWork& uow) {
      auto& sql = uow.sql();
      auto customer = load_customer(sql, tenant_id, req.path_param("id"));
      auto c = load_contact(sql, tenant_id, customer.id, req.path_param("contact_id"));
      require_permission(req.context(), "contacts:delete", customer.owner_id);
      require_version(req, c.version);
      store::lock_customers(sql, tenant_id);
      store::delete_contact(sql, tenant_id, c.id);
      if (c.is_primary) {
        // The oldest remaining contact takes over, so one stays primary.
        auto rest = store::contacts(sql, tenant_id, customer.id);
        if (!rest.empty()) {
          auto oldest = std::min_element(rest.begin(), rest.end(), [](const ContactRow& a, const ContactRow& b) {
            return std::tie(a.created_at, a.id) < std::tie(b.created_at, b.id);
          });
          store::set_primary_contact(sql, tenant_id, customer.id, oldest->id, now_ms());
        }
      }
      publish(uow, events::kContactRemoved, "contact", c.id,
              bj::object{{"customer_id", customer.id}, {"contact_id", c.id}, {"name", contact_name(c)}});
    });
    return no_content_response();
  }, route("contacts", "Remove a contact (a removed primary is replaced by the oldest remaining contact)"));

  router.post(base + "/contacts/{contact_id}/primary", [&cc](Request& req) {
    const auto& tenant_id = tenant_of(req);
    auto c = cc.uow.run(req.context(), [&](UnitOfWork& uow) {
      auto& sql = uow.sql();
      auto customer = load_customer(sql, tenant_id, req.path_param("id"));
      auto before = load_contact(sql, tenant_id, customer.id, req.path_param("contact_id"));
      require_permission(req.context(), "contacts:update", customer.owner_id);
      require_version(req, before.version);
      if (before.is_primary) return before;
      store::lock_customers(sql, tenant_id);
      store::set_primary_contact(sql, tenant_id, customer.id, before.id, now_ms());
      publish(uow, events::kContactUpdated, "contact", before.id,
              bj::object{{"customer_id", customer.id}, {"contact_id", before.id},
                         {"changes", bj::object{{"is_primary", bj::object{{"old", false}, {"new", true}}}}}});
      return *store::contact(sql, tenant_id, customer.id, before.id);
    });
    return with_etag(json_response(200, c.to_json()), c.version);
  }, route("contacts", "Make a contact the customer's primary one"));

  // ---- notes ----
  router.get(base + "/notes", [&cc](Request& req) {
    const auto& tenant_id = tenant_of(req);
    require_permission(req.context(), "notes:read");
    const std::string& id = req.path_param("id");
    std::string scope = "notes:" + tenant_id + ":" + id;
    auto page = page_request(req, scope);
    auto lease = cc.db.acquire();
    load_customer(*lease, tenant_id, id);
    auto rows = store::notes(*lease, tenant_id, id, page.limit + 1, page.after);
    std::optional<bj::object> next;
    if (static_cast<int>(rows.size()) > page.limit) {
      rows.pop_back();
      next = bj::object{{"pinned", rows.back().pinned ? 1 : 0}, {"at", rows.back().created_at}, {"id", rows.back().id}};
    }
    bj::array items;
    for (const auto& n : rows) items.push_back(n.to_json());
    return json_response(200, page_response(std::move(items), page, next, scope));
  }, route("notes", "A customer's notes, pinned first, then newest first"));

  router.post(base + "/notes", [&cc](Request& req) {
    const auto& tenant_id = tenant_of(req);
    require_permission(req.context(), "notes:create");
    auto text = read_note_body(req.json());
    auto n = cc.uow.run(req.context(), [&](UnitOfWork& uow) {
      auto customer = load_customer(uow.sql(), tenant_id, req.path_param("id"));
      return add_note(uow, customer, text);
    });
    return with_etag(created_response(n.to_json(), "/api/v1/customers/" + n.customer_id + "/notes/" + n.id), n.version);
  }, route("notes", "Add a note"));

  router.put(base + "/notes/{note_id}", [&cc](Request& req) {
    const auto& tenant_id = tenant_of(req);
    auto text = read_note_body(req.json());
    auto n = cc.uow.run(req.context(), [&](UnitOfWork& uow) {
      auto customer = load_customer(uow.sql(), tenant_id, req.path_param("id"));
      auto before = load_note(uow.sql(), tenant_id, customer.id, req.path_param("note_id"));
      require_permission(req.context(), "notes:update", before.author_id);
      require_version(req, before.version);
      if (before.body == text) return before;
      NoteRow n = before;
      n.body = text;
      n.updated_at = now_ms();
      if (!store::update_note(uow.sql(), n, before.version)) throw Error::precondition_failed("The note changed since you read it.");
      publish(uow, events::kNoteUpdated, "note", n.id,
              bj::object{{"customer_id", customer.id}, {"note_id", n.id},
                         {"changes", bj::object{{"body", bj::object{{"old", before.body}, {"new", n.body}}}}}});
      return *store::note(uow.sql(), tenant_id, customer.id, n.id);
    });
    return with_etag(json_response(200, n.to_json()), n.version);
  }, route("notes", "Change a note's body"));

  router.del(base + "/notes/{note_id}", [&cc](Request& req) {
    const auto& tenant_id = tenant_of(req);
    cc.uow.run(req.context(), [&](UnitOfWork& uow) {
      auto customer = load_customer(uow.sql(), tenant_id, req.path_param("id"));
      auto n = load_note(uow.sql(), tenant_id, customer.id, req.path_param("note_id"));
      require_permission(req.context(), "notes:delete", n.author_id);
      require_version(req, n.version);
      store::delete_note(uow.sql(), tenant_id, n.id);
      publish(uow, events::kNoteRemoved, "note", n.id, bj::object{{"customer_id", customer.id}, {"note_id", n.id}});
    });
    return no_content_response();
  }, route("notes", "Delete a note"));

  for (bool pin : {true, false}) {
    router.post(base + "/notes/{note_id}/" + (pin ? "pin" : "unpin"), [&cc, pin](Request& req) {
      const auto& tenant_id = tenant_of(req);
      auto n = cc.uow.run(req.context(), [&](UnitOfWork& uow) {
        auto customer = load_customer(uow.sql(), tenant_id, req.path_param("id"));
        auto before = load_note(uow.sql(), tenant_id, customer.id, req.path_param("note_id"));
        require_permission(req.context(), "notes:update", before.author_id);
        require_version(req, before.version);
        if (before.pinned == pin) return before;
        NoteRow n = before;
        n.pinned = pin;
        n.updated_at = now_ms();
        n.pinned_at = pin ? std::optional<TimestampMs>(n.updated_at) : std::nullopt;
        if (!store::update_note(uow.sql(), n, before.version)) throw Error::precondition_failed("The note changed since you read it.");
        publish(uow, events::kNoteUpdated, "note", n.id,
                bj::object{{"customer_id", customer.id}, {"note_id", n.id},
                           {"changes", bj::object{{"pinned", bj::object{{"old", !pin}, {"new", pin}}}}}});
        return *store::note(uow.sql(), tenant_id, customer.id, n.id);
      });
      return with_etag(json_response(200, n.to_json()), n.version);
    }, route("notes", pin ? "Pin a note (pinned notes are listed first)" : "Unpin a note"));
  }

  // ---- activities ----
  router.get(base + "/activities", [&cc](Request& req) {
    const auto& tenant_id = tenant_of(req);
    require_permission(req.context(), "activities:read");
    const std::string& id = req.path_param("id");
    std::string scope = "activities:" + tenant_id + ":" + id;
    auto page = page_request(req, scope);
    auto lease = cc.db.acquire();
    load_customer(*lease, tenant_id, id);
    auto rows = store::activities(*lease, tenant_id, id, std::nullopt, page.limit + 1, page.after);
    return json_response(200, newest_first_page(std::move(rows), page, scope, activity_json,
                                                +[](const ActivityRow& a) { return a.created_at; }));
  }, route("activities", "A customer's activities, newest first"));

  router.post(base + "/activities", [&cc](Request& req) {
    const auto& tenant_id = tenant_of(req);
    auto body = req.json();
    ActivityRow a;
    read_activity(body, false, a);
    auto created = cc.uow.run(req.context(), [&](UnitOfWork& uow) {
      auto customer = load_customer(uow.sql(), tenant_id, req.path_param("id"));
      require_permission(req.context(), "activities:create", customer.owner_id);
      return log_activity(uow, customer, std::move(a));
    });
    return with_etag(created_response(activity_json(created),
                                      "/api/v1/customers/" + created.customer_id + "/activities/" + created.id),
                     created.version);
  }, route("activities", "Log an activity (kept as needs_review while details are missing)"));

  router.get(base + "/activities/{activity_id}", [&cc](Request& req) {
    const auto& tenant_id = tenant_of(req);
    require_permission(req.context(), "activities:read");
    auto lease = cc.db.acquire();
    auto customer = load_customer(*lease, tenant_id, req.path_param("id"));
    const auto& aid = req.path_param("activity_id");
    auto a = is_uuid(aid) ? store::activity(*lease, tenant_id, customer.id, aid) : std::nullopt;
    if (!a) throw Error::not_found("No such activity.");
    return with_etag(json_response(200, activity_json(*a)), a->version);
  }, route("activities", "One activity"));

  router.patch(base + "/activities/{activity_id}", [&cc](Request& req) {
    const auto& tenant_id = tenant_of(req);
    auto body = req.json();
    ActivityRow probe;
    probe.type = "note";
    read_activity(body, true, probe);  // the 422 comes before any lookup
    auto updated = cc.uow.run(req.context(), [&](UnitOfWork& uow) {
      auto customer = load_customer(uow.sql(), tenant_id, req.path_param("id"));
      const auto& aid = req.path_param("activity_id");
      auto before = is_uuid(aid) ? store::activity(uow.sql(), tenant_id, customer.id, aid) : std::nullopt;
      if (!before) throw Error::not_found("No such activity.");
      require_permission(req.context(), "activities:update", before->created_by);
      require_version(req, before->version);
      ActivityRow a = *before;
      read_activity(body, true, a);
      require_contact_of(uow.sql(), tenant_id, customer.id, a.contact_id);
      a.status = missing_details(a).empty() ? "completed" : "needs_review";
      auto diff = changes(activity_json(*before), activity_json(a),
                          {"type", "subject", "body", "occurred_at", "duration_minutes", "outcome", "contact_id", "status"});
      if (diff.empty()) return *before;
      a.updated_at = now_ms();
      if (!store::update_activity(uow.sql(), a, before->version)) {
        throw Error::precondition_failed("The activity changed since you read it.");
      }
      note_contact_reached(uow.sql(), a);
      publish(uow, events::kActivityUpdated, "activity", a.id,
              bj::object{{"customer_id", customer.id}, {"activity_id", a.id}, {"changes", diff}});
      return *store::activity(uow.sql(), tenant_id, customer.id, a.id);
    });
    return with_etag(json_response(200, activity_json(updated)), updated.version);
  }, route("activities", "Complete or correct an activity (it leaves the review queue once nothing is missing)"));

  router.get("/api/v1/activities/review-queue", [&cc](Request& req) {
    const auto& tenant_id = tenant_of(req);
    require_permission(req.context(), "activities:read");
    std::string scope = "review-queue:" + tenant_id;
    auto page = page_request(req, scope);
    auto lease = cc.db.acquire();
    auto rows = store::activities(*lease, tenant_id, std::nullopt, std::string("needs_review"), page.limit + 1, page.after);
    return json_response(200, newest_first_page(std::move(rows), page, scope, activity_json,
                                                +[](const ActivityRow& a) { return a.created_at; }));
  }, route("activities", "Activities logged with missing details, newest first"));

  // ---- timeline ----
  router.get(base + "/timeline", [&cc](Request& req) {
    const auto& tenant_id = tenant_of(req);
    require_permission(req.context(), "customers:read");
    const std::string& id = req.path_param("id");
    std::string scope = "timeline:" + tenant_id + ":" + id;
    auto page = page_request(req, scope);
    auto lease = cc.db.acquire();
    load_customer(*lease, tenant_id, id, true);
    auto rows = store::timeline(*lease, tenant_id, id, page.limit + 1, page.after);
    return json_response(200, newest_first_page(std::move(rows), page, scope,
                                                [](const TimelineRow& t) { return t.to_json(); },
                                                +[](const TimelineRow& t) { return t.occurred_at; }));
  }, route("customers", "A customer's timeline: system entries, activities and other modules' entries, newest first"));
}

}  // namespace crm::customer
