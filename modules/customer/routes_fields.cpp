// /api/v1/custom-fields: tenant-defined, typed custom fields, and the rules a custom_fields
// value follows once its entity has definitions.
#include "customer_internal.hpp"

#include "crm/platform/authorization.hpp"
#include "crm/platform/openapi_schema.hpp"
#include "crm/platform/pagination.hpp"
#include "crm/platform/router.hpp"
#include "custom_fields.hpp"
#include "validation.hpp"

#include <soci/soci.h>

#include <algorithm>
#include <cmath>
#include <set>

namespace crm::customer {

using namespace crm::platform;

namespace {

/// Definitions per entity and tenant: what a record's custom_fields may hold at most.
constexpr std::size_t kMaxDefinitions = 100;
constexpr std::size_t kMaxOptions = 200;
constexpr std::size_t kMaxText = 2000;

bool has_control(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) { return static_cast<unsigned char>(c) < 0x20 && c != '\n' && c != '\t'; });
}

/// Free-form custom fields: what a tenant without definitions may store.
bj::object read_free_form(const bj::object& o, const std::string& prefix, std::vector<FieldError>& errors) {
  bj::object out;
  for (const auto& kv : o) {
    std::string key(kv.key());
    std::string name = prefix + "." + key;
    if (!domain::valid_field_key(key)) {
      errors.push_back({name, "invalid", "Custom field keys are snake_case: a-z, 0-9 and _, starting with a letter."});
      continue;
    }
    const auto& value = kv.value();
    if (value.is_string()) {
      if (value.get_string().size() > kMaxText) {
        errors.push_back({name, "too_long", "Must be at most 2000 characters."});
        continue;
      }
    } else if (!value.is_number() && !value.is_bool() && !value.is_null()) {
      errors.push_back({name, "type", "Custom field values are strings, numbers, booleans or null."});
      continue;
    }
    out[key] = value;
  }
  return out;
}

/// One value checked against its definition; nullopt (with an error) when it does not fit.
std::optional<bj::value> typed_value(const FieldDefinition& d, const bj::value& v, const std::string& name,
                                     std::vector<FieldError>& errors) {
  auto fail = [&](const char* code, std::string message) -> std::optional<bj::value> {
    errors.push_back({name, code, std::move(message)});
    return std::nullopt;
  };
  auto text = [&]() -> std::optional<std::string> {
    if (!v.is_string()) return std::nullopt;
    return std::string(v.get_string());
  };
  const std::string& t = d.type;
  if (t == "text") {
    auto s = text();
    if (!s) return fail("type", "Must be a string.");
    if (s->size() > kMaxText) return fail("too_long", "Must be at most 2000 characters.");
    if (has_control(*s)) return fail("invalid", "Must not contain control characters.");
    return bj::value(*s);
  }
  if (t == "number") {
    if (v.is_double() && !std::isfinite(v.get_double())) return fail("type", "Must be a number.");
    if (!v.is_number()) return fail("type", "Must be a number.");
    return v;
  }
  if (t == "integer") {
    if (v.is_int64()) return v;
    if (v.is_double()) {
      double x = v.get_double();
      if (std::isfinite(x) && std::trunc(x) == x && std::fabs(x) < 9.007199254740992e15) {
        return bj::value(static_cast<std::int64_t>(x));
      }
    }
    return fail("type", "Must be a whole number.");
  }
  if (t == "boolean") {
    if (!v.is_bool()) return fail("type", "Must be true or false.");
    return v;
  }
  if (t == "date") {
    auto s = text();
    if (!s || !domain::valid_iso_date(*s)) return fail("invalid", "Must be a date YYYY-MM-DD.");
    return bj::value(*s);
  }
  if (t == "datetime") {
    auto s = text();
    auto at = s ? parse_rfc3339(*s) : std::nullopt;
    if (!at) return fail("invalid", "Must be an RFC 3339 timestamp such as 2026-01-31T09:30:00Z.");
    return bj::value(format_rfc3339(*at));
  }
  if (t == "select") {
    auto s = text();
    if (!s || std::find(d.options.begin(), d.options.end(), *s) == d.options.end()) {
      return fail("invalid_option", "Must be one of the field's options.");
    }
    return bj::value(*s);
  }
  if (t == "multi_select") {
    const auto* a = v.if_array();
    if (!a) return fail("type", "Must be a list of the field's options.");
    std::set<std::string> picked;
    for (const auto& item : *a) {
      if (!item.is_string() ||
          std::find(d.options.begin(), d.options.end(), std::string(item.get_string())) == d.options.end()) {
        return fail("invalid_option", "Every item must be one of the field's options.");
      }
      if (!picked.insert(std::string(item.get_string())).second) return fail("duplicate", "An option may appear once.");
    }
    // Stored in the definition's order, so equal choices compare equal.
    bj::array out;
    for (const auto& o : d.options) {
      if (picked.count(o)) out.emplace_back(o);
    }
    return bj::value(std::move(out));
  }
  if (t == "url") {
    auto s = text();
    auto normalized = s ? domain::normalize_website(*s) : std::nullopt;
    if (!normalized || normalized->size() > kMaxText) return fail("invalid", "Must be a web address such as https://example.com.");
    return bj::value(*normalized);
  }
  if (t == "email") {
    auto s = text();
    auto normalized = s ? domain::normalize_email(*s) : std::nullopt;
    if (!normalized) return fail("invalid", "Is not a valid email address.");
    return bj::value(*normalized);
  }
  return fail("type", "Has a type this server does not know.");
}

}  // namespace

bj::object read_custom_fields(const bj::value& v, const FieldDefinitions* definitions, bool check_required,
                              const std::string& prefix, std::vector<FieldError>& errors) {
  const auto* o = v.if_object();
  if (!o || o->size() > kMaxDefinitions) {
    errors.push_back({prefix, "type", "Must be an object of at most 100 fields."});
    return {};
  }
  if (!definitions || definitions->empty()) return read_free_form(*o, prefix, errors);
  bj::object out;
  for (const auto& kv : *o) {
    std::string key(kv.key());
    std::string name = prefix + "." + key;
    auto d = std::find_if(definitions->begin(), definitions->end(), [&](const FieldDefinition& x) { return x.key == key; });
    if (d == definitions->end()) {
      errors.push_back({name, "unknown_field", "Is not a defined custom field (see GET /api/v1/custom-fields)."});
      continue;
    }
    if (kv.value().is_null()) continue;  // null unsets
    if (auto value = typed_value(*d, kv.value(), name, errors)) out[key] = std::move(*value);
  }
  if (check_required) {
    for (const auto& d : *definitions) {
      if (d.required && !out.contains(d.key)) errors.push_back({prefix + "." + d.key, "required", "Is required."});
    }
  }
  return out;
}

bj::object FieldDefinition::to_json() const {
  bj::array opts;
  for (const auto& o : options) opts.emplace_back(o);
  return bj::object{{"id", id},
                    {"tenant_id", tenant_id},
                    {"entity", entity},
                    {"key", key},
                    {"label", label},
                    {"type", type},
                    {"options", std::move(opts)},
                    {"required", required},
                    {"description", description ? bj::value(*description) : bj::value(nullptr)},
                    {"position", position},
                    {"version", version},
                    {"created_at", format_rfc3339(created_at)},
                    {"updated_at", format_rfc3339(updated_at)}};
}

namespace {

RouteOptions route(const char* summary) { return route_options("custom-fields", summary); }

/// The writable fields of a definition body. On create every field is read; on replace
/// entity, key and type may be repeated but not changed.
void read_definition(const bj::value& body, bool creating, FieldDefinition& d) {
  json::ObjectReader r(body);
  for (const char* f : {"id", "tenant_id", "version", "created_at", "updated_at"}) {
    if (r.optional_value(f)) r.add_error(f, "read_only", "Is set by the server and cannot be written.");
  }
  auto fixed = [&](const char* name, std::string& target, bool (*valid)(std::string_view), const char* message) {
    auto s = creating ? std::optional<std::string>(r.required_string(name, 64)) : r.optional_string(name, 64);
    if (!s) return;
    if (!creating) {
      if (*s != target) r.add_error(name, "immutable", "Cannot change after the field is created; define a new one.");
      return;
    }
    if (!s->empty() && !valid(*s)) r.add_error(name, "invalid", message);
    target = *s;
  };
  fixed("entity", d.entity, domain::valid_field_entity, "Must be customer, lead, opportunity or deal.");
  fixed("key", d.key, domain::valid_field_key, "Must be snake_case: a-z, 0-9 and _, starting with a letter.");
  fixed("type", d.type, domain::valid_field_type,
        "Must be text, number, integer, boolean, date, datetime, select, multi_select, url or email.");
  d.label = r.required_string("label", 100);
  if (d.label.find_first_not_of(" \t") == std::string::npos && !d.label.empty()) {
    r.add_error("label", "required", "Must not be blank.");
  }
  d.description = r.optional_string("description", 500);
  if (d.description && d.description->empty()) d.description.reset();
  d.required = r.optional_bool("required").value_or(false);
  d.position = static_cast<int>(r.optional_int("position", 0, 10000).value_or(0));
  d.options.clear();
  bool choices = d.type == "select" || d.type == "multi_select";
  if (const auto* v = r.optional_value("options"); v && !v->is_null()) {
    const auto* a = v->if_array();
    if (!choices) {
      r.add_error("options", "not_allowed", "Only select and multi_select fields have options.");
    } else if (!a || a->empty() || a->size() > kMaxOptions) {
      r.add_error("options", "type", "Must be a list of 1 to 200 options.");
    } else {
      std::set<std::string> seen;
      for (std::size_t i = 0; i < a->size(); ++i) {
        const auto& o = (*a)[i];
        std::string name = "options[" + std::to_string(i) + "]";
        if (!o.is_string() || o.get_string().empty() || o.get_string().size() > 100 || has_control(o.get_string())) {
          r.add_error(name, "invalid", "Must be a text of 1 to 100 characters.");
        } else if (!seen.insert(std::string(o.get_string())).second) {
          r.add_error(name, "duplicate", "An option may appear once.");
        } else {
          d.options.emplace_back(o.get_string());
        }
      }
    }
  } else if (choices) {
    r.add_error("options", "required", "A select or multi_select field needs its options.");
  }
  r.finish();
}

FieldDefinition load_definition(soci::session& sql, const std::string& tenant_id, const std::string& id) {
  std::optional<FieldDefinition> d;
  if (is_uuid(id)) d = store::field_definition(sql, tenant_id, id);
  if (!d) throw Error::not_found("No such custom field.");
  return *d;
}

void after_change(UnitOfWork& uow, CustomerContext& cc, const std::string& tenant_id) {
  // Customer bodies are checked against the cached definitions: drop them once this commits.
  uow.after_commit([&cc, tenant_id] { cc.forget_defaults(tenant_id); });
}

void describe(Router& router) {
  using namespace platform::openapi;
  auto types = enum_of({"text", "number", "integer", "boolean", "date", "datetime", "select", "multi_select", "url",
                        "email"});
  auto entities = enum_of({"customer", "lead", "opportunity", "deal"});
  router.add_schema("CustomFieldInput", object({{"entity", entities},
                                                {"key", str()},
                                                {"label", str()},
                                                {"type", types},
                                                {"options", array_of(str())},
                                                {"required", boolean()},
                                                {"description", nullable(str())},
                                                {"position", integer()}},
                                               {"entity", "key", "label", "type"}));
  router.add_schema("CustomField", object({{"id", str("uuid")},
                                           {"tenant_id", str("uuid")},
                                           {"entity", entities},
                                           {"key", str()},
                                           {"label", str()},
                                           {"type", types},
                                           {"options", array_of(str())},
                                           {"required", boolean()},
                                           {"description", nullable(str())},
                                           {"position", integer()},
                                           {"version", integer()},
                                           {"created_at", str("date-time")},
                                           {"updated_at", str("date-time")}},
                                          {"id", "tenant_id", "entity", "key", "label", "type", "options", "required",
                                           "position", "version", "created_at", "updated_at"}));
  auto one = response("The custom field (ETag: its version)", ref("CustomField"));
  bj::object if_match{{"name", "If-Match"}, {"in", "header"}, {"required", false},
                      {"description", "The version (ETag) the change is based on; 412 when it moved on"},
                      {"schema", str()}};
  router.describe(HttpVerb::get, "/api/v1/custom-fields",
                  {{"parameters", bj::array{query("entity", "customer, lead, opportunity or deal (default: all)", entities),
                                            query("limit", "Page size, 1 to 200 (default 25)", integer()),
                                            query("cursor", "next_cursor of the previous page"),
                                            query("include_total", "Add page.total", boolean())}},
                   {"responses", {{"200", response("A page of custom fields, by entity and position",
                                                   page_of("CustomField"))}}}});
  router.describe(HttpVerb::post, "/api/v1/custom-fields",
                  {{"requestBody", body(ref("CustomFieldInput"))},
                   {"responses", {{"201", one}, {"409", response("The key exists for the entity, or the entity has "
                                                                 "100 fields")}}}});
  router.describe(HttpVerb::get, "/api/v1/custom-fields/{id}", {{"responses", {{"200", one}}}});
  router.describe(HttpVerb::put, "/api/v1/custom-fields/{id}",
                  {{"parameters", bj::array{if_match}},
                   {"requestBody", body(ref("CustomFieldInput"))},
                   {"responses", {{"200", one}}}});
  router.describe(HttpVerb::delete_, "/api/v1/custom-fields/{id}", {{"parameters", bj::array{if_match}}});
}

}  // namespace

FieldDefinition define_custom_field(UnitOfWork& uow, CustomerContext& cc, FieldDefinition d) {
  auto& sql = uow.sql();
  const std::string& tenant_id = uow.context().tenant_id;
  // The definitions of a tenant change under the customer lock, so two creates of one key or
  // of the 101st field cannot both pass the checks.
  store::lock_customers(sql, tenant_id);
  auto existing = store::field_definitions(sql, tenant_id, d.entity);
  for (const auto& x : existing) {
    if (x.key == d.key) {
      throw Error(ErrorKind::conflict, "key_taken", "The entity has a custom field with this key.",
                  {FieldError{"key", "taken", "Another custom field of " + d.entity + " has it."}})
          .with_extension("existing_id", x.id);
    }
  }
  if (existing.size() >= kMaxDefinitions) throw Error::conflict("limit_reached", "An entity has at most 100 custom fields.");
  d.tenant_id = tenant_id;
  d.id = new_uuid_v7();
  d.created_at = d.updated_at = now_ms();
  store::insert_field_definition(sql, d);
  publish(uow, events::kCustomFieldCreated, "custom_field", d.id,
          bj::object{{"custom_field_id", d.id}, {"entity", d.entity}, {"key", d.key},
                     {"changes", changes(bj::object{}, d.to_json(),
                                         {"entity", "key", "label", "type", "options", "required", "description",
                                          "position"})}});
  after_change(uow, cc, tenant_id);
  return d;
}

void register_field_routes(Router& router, CustomerContext& cc) {
  router.get("/api/v1/custom-fields", [&cc](Request& req) {
    const auto& tenant_id = tenant_of(req);
    require_permission(req.context(), "custom_fields:read");
    std::vector<std::string> entities = {"customer", "lead", "opportunity", "deal"};
    for (const auto& [k, v] : req.query_params()) {
      if (k != "entity" && k != "limit" && k != "cursor" && k != "include_total") {
        throw Error::bad_parameter(k, "Is not a parameter of this collection.");
      }
    }
    if (auto e = req.query("entity")) {
      if (!domain::valid_field_entity(*e)) throw Error::bad_parameter("entity", "Must be customer, lead, opportunity or deal.");
      entities = {*e};
    }
    std::string scope = "custom-fields:" + tenant_id + ":" + (entities.size() == 1 ? entities[0] : "*");
    auto page = page_request(req, scope);
    // At most 100 fields per entity: the page is cut from the whole ordered list, the cursor
    // holds the last (entity, position, key).
    auto lease = cc.db.acquire();
    std::vector<FieldDefinition> all;
    for (const auto& e : entities) {
      auto defs = store::field_definitions(*lease, tenant_id, e);
      all.insert(all.end(), defs.begin(), defs.end());
    }
    std::size_t start = 0;
    if (page.after) {
      const auto* e = page.after->if_contains("e");
      const auto* p = page.after->if_contains("p");
      const auto* k = page.after->if_contains("k");
      if (!e || !e->is_string() || !p || !p->is_int64() || !k || !k->is_string()) {
        throw Error::bad_parameter("cursor", "The cursor is not valid here.");
      }
      auto rank = [&](const std::string& entity) {
        return std::find(entities.begin(), entities.end(), entity) - entities.begin();
      };
      auto last = std::make_tuple(rank(std::string(e->get_string())), p->get_int64(), std::string(k->get_string()));
      while (start < all.size() &&
             std::make_tuple(rank(all[start].entity), static_cast<std::int64_t>(all[start].position), all[start].key) <= last) {
        ++start;
      }
    }
    bj::array items;
    std::optional<bj::object> next;
    for (std::size_t i = start; i < all.size() && items.size() < static_cast<std::size_t>(page.limit); ++i) {
      items.push_back(all[i].to_json());
      if (items.size() == static_cast<std::size_t>(page.limit) && i + 1 < all.size()) {
        next = bj::object{{"e", all[i].entity}, {"p", all[i].position}, {"k", all[i].key}};
      }
    }
    std::optional<std::int64_t> total;
    if (page.include_total) total = static_cast<std::int64_t>(all.size());
    return json_response(200, page_response(std::move(items), page, next, scope, total));
  }, route("List the tenant's custom field definitions"));

  router.post("/api/v1/custom-fields", [&cc](Request& req) {
    tenant_of(req);  // 401/403 before the body is read
    require_permission(req.context(), "custom_fields:create");
    FieldDefinition d;
    read_definition(req.json(), true, d);
    auto created = cc.uow.run(req.context(), [&](UnitOfWork& uow) { return define_custom_field(uow, cc, d); });
    return with_etag(created_response(created.to_json(), "/api/v1/custom-fields/" + created.id), created.version);
  }, route("Define a custom field of customers, leads, opportunities or deals"));

  router.get("/api/v1/custom-fields/{id}", [&cc](Request& req) {
    const auto& tenant_id = tenant_of(req);
    require_permission(req.context(), "custom_fields:read");
    auto lease = cc.db.acquire();
    auto d = load_definition(*lease, tenant_id, req.path_param("id"));
    return with_etag(json_response(200, d.to_json()), d.version);
  }, route("One custom field definition"));

  router.put("/api/v1/custom-fields/{id}", [&cc](Request& req) {
    const auto& tenant_id = tenant_of(req);
    require_permission(req.context(), "custom_fields:update");
    auto body = req.json();
    auto updated = cc.uow.run(req.context(), [&](UnitOfWork& uow) {
      auto& sql = uow.sql();
      store::lock_customers(sql, tenant_id);
      auto before = load_definition(sql, tenant_id, req.path_param("id"));
      require_version(req, before.version);
      FieldDefinition d = before;
      read_definition(body, false, d);
      auto b = before.to_json(), a = d.to_json();
      if (a == b) return before;
      d.updated_at = now_ms();
      if (!store::update_field_definition(sql, d, before.version)) {
        throw Error::precondition_failed("The custom field changed since you read it.");
      }
      publish(uow, events::kCustomFieldUpdated, "custom_field", d.id,
              bj::object{{"custom_field_id", d.id}, {"entity", d.entity}, {"key", d.key},
                         {"changes", changes(b, a, {"label", "options", "required", "description", "position"})}});
      after_change(uow, cc, tenant_id);
      return load_definition(sql, tenant_id, d.id);
    });
    return with_etag(json_response(200, updated.to_json()), updated.version);
  }, route("Change a custom field's label, options, required flag, description or position (entity, key and "
           "type are fixed)"));

  router.del("/api/v1/custom-fields/{id}", [&cc](Request& req) {
    const auto& tenant_id = tenant_of(req);
    require_permission(req.context(), "custom_fields:delete");
    cc.uow.run(req.context(), [&](UnitOfWork& uow) {
      auto& sql = uow.sql();
      store::lock_customers(sql, tenant_id);
      auto d = load_definition(sql, tenant_id, req.path_param("id"));
      require_version(req, d.version);
      store::delete_field_definition(sql, tenant_id, d.id);
      // A customer never keeps a value no definition describes; the other entities' modules
      // strip theirs on custom_field.deleted.
      std::int64_t stripped = d.entity == "customer" ? store::strip_custom_field(sql, tenant_id, d.key) : 0;
      publish(uow, events::kCustomFieldDeleted, "custom_field", d.id,
              bj::object{{"custom_field_id", d.id}, {"entity", d.entity}, {"key", d.key},
                         {"records_changed", stripped}});
      after_change(uow, cc, tenant_id);
    });
    return no_content_response();
  }, route("Delete a custom field definition; its values are removed from the entity's records"));

  describe(router);
}

}  // namespace crm::customer
