// /api/v1/customers: the customer aggregate's endpoints.
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

RouteOptions route(const char* summary) { return route_options("customers", summary); }

std::vector<std::string> list_param(const Request& req, const char* name, bool (*valid)(std::string_view),
                                    const char* message) {
  std::vector<std::string> out;
  auto v = req.query(name);
  if (!v) return out;
  std::size_t start = 0;
  while (start <= v->size()) {
    auto comma = v->find(',', start);
    std::string item = v->substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    if (item.empty() || !valid(item)) throw Error::bad_parameter(name, message);
    out.push_back(item);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  if (out.size() > 50) throw Error::bad_parameter(name, "At most 50 values.");
  return out;
}

std::optional<TimestampMs> time_param(const Request& req, const char* name) {
  auto v = req.query(name);
  if (!v) return std::nullopt;
  auto t = parse_rfc3339(*v);
  if (!t) throw Error::bad_parameter(name, "Must be an RFC 3339 timestamp such as 2026-01-31T00:00:00Z.");
  return t;
}

/// The filter, search and sort parameters of a customer listing (GET /customers and its export).
const std::set<std::string>& filter_parameters() {
  static const std::set<std::string> p = {"sort",          "status",         "tier",           "type",
                                          "owner_id",      "tag",            "industry",       "country",
                                          "created_after", "created_before", "updated_after",  "updated_before",
                                          "include_deleted", "q",            "segment_id"};
  return p;
}

/// `q` of a customer listing split into search terms; 400 naming q.
std::vector<std::string> parse_q(const std::string& text) {
  if (text.size() > 500) throw Error::bad_parameter("q", "At most 500 characters.");
  auto terms = domain::search_terms(text);
  if (terms.empty()) throw Error::bad_parameter("q", "Give at least one word or number to search for.");
  return terms;
}

}  // namespace

std::vector<SortKey> parse_sort(const std::optional<std::string>& given, bool searching, std::string& canonical) {
  static const std::set<std::string> fields = {"name",       "code",           "status",      "created_at",
                                               "updated_at", "lifetime_value", "credit_limit"};
  std::string spec = given.value_or(searching ? "relevance" : "-created_at");
  std::vector<SortKey> keys;
  std::set<std::string> seen;
  std::size_t start = 0;
  while (true) {
    auto comma = spec.find(',', start);
    std::string item = spec.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    SortKey k;
    if (!item.empty() && (item[0] == '-' || item[0] == '+')) {
      k.descending = item[0] == '-';
      item.erase(0, 1);
    }
    if (item == "relevance" && !searching) throw Error::bad_parameter("sort", "relevance needs a search (q=).");
    if (!fields.count(item) && item != "relevance") {
      throw Error::bad_parameter("sort", "Sort by name, code, status, created_at, updated_at, lifetime_value or "
                                         "credit_limit, or relevance with q= (prefix - for descending).");
    }
    if (!seen.insert(item).second) throw Error::bad_parameter("sort", "A field may appear once.");
    k.field = item;
    keys.push_back(k);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  if (keys.size() > 4) throw Error::bad_parameter("sort", "At most 4 sort fields.");
  for (const auto& k : keys) canonical += (canonical.empty() ? "" : ",") + std::string(k.descending ? "-" : "") + k.field;
  return keys;
}

CustomerQuery list_query(CustomerContext& cc, const Request& req, const std::set<std::string>& other_parameters,
                         std::string& canonical_sort) {
  const auto& tenant_id = req.context().tenant_id;
  for (const auto& [k, v] : req.query_params()) {
    if (!filter_parameters().count(k) && !other_parameters.count(k)) {
      throw Error::bad_parameter(k, "Is not a parameter of this collection.");
    }
  }
  CustomerQuery q;
  auto& f = q.filter;
  f.statuses = list_param(req, "status", domain::valid_customer_status,
                          "Must be lead, prospect, active, inactive, churned or blocked (comma separated).");
  f.tiers = list_param(req, "tier", domain::valid_tier, "Must be bronze, silver, gold or platinum (comma separated).");
  f.types = list_param(req, "type", domain::valid_customer_type, "Must be individual or business.");
  f.owner_ids = list_param(req, "owner_id", [](std::string_view v) { return is_uuid(v); }, "Must be user ids.");
  if (auto tag = req.query("tag")) {
    std::string t = *tag;
    for (auto& c : t) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (t.empty() || t.size() > 50) throw Error::bad_parameter("tag", "Must be 1 to 50 characters.");
    f.tag = t;
  }
  if (auto industry = req.query("industry")) {
    if (industry->empty() || industry->size() > 100) throw Error::bad_parameter("industry", "Must be 1 to 100 characters.");
    f.industry = *industry;
  }
  if (auto country = req.query("country")) {
    std::string c = *country;
    for (auto& ch : c) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    if (!domain::valid_country(c)) throw Error::bad_parameter("country", "Must be an ISO 3166-1 alpha-2 code.");
    f.country = c;
  }
  f.created_after = time_param(req, "created_after");
  f.created_before = time_param(req, "created_before");
  f.updated_after = time_param(req, "updated_after");
  f.updated_before = time_param(req, "updated_before");
  f.include_deleted = flag(req, "include_deleted");
  if (f.include_deleted) require_permission(req.context(), "customers:delete");
  if (auto text = req.query("q")) f.search_terms = parse_q(*text);
  if (auto segment = req.query("segment_id")) {
    require_permission(req.context(), "segments:read");
    f.segment_id = *segment;
    f.segment = segment_condition(cc, tenant_id, *segment);
  }
  q.sort = parse_sort(req.query("sort"), !f.search_terms.empty(), canonical_sort);
  return q;
}

std::string list_scope(const std::string& tenant_id, const std::string& canonical_sort, const CustomerFilter& f,
                       const std::optional<std::string>& filter_text) {
  std::string scope = "customers:" + tenant_id + ":" + canonical_sort;
  for (const auto& t : f.search_terms) scope += ":" + t;
  if (f.segment_id) scope += "\nsegment:" + *f.segment_id;
  if (filter_text) scope += "\nfilter:" + *filter_text;
  return scope;
}

HttpResponse list_page(CustomerContext& cc, const std::string& tenant_id, CustomerQuery q, const PageRequest& page,
                       const std::string& scope) {
  q.limit = page.limit + 1;
  q.after = page.after;
  auto lease = cc.db.acquire();
  auto rows = store::list_customer_documents(*lease, tenant_id, q);
  std::optional<bj::object> next;
  if (static_cast<int>(rows.size()) > page.limit) {
    rows.pop_back();
    next = bj::object{{"k", store::sort_values(rows.back(), q.sort)}, {"id", rows.back().id}};
  }
  std::optional<std::int64_t> total;
  if (page.include_total) total = store::count_customers(*lease, tenant_id, q.filter);
  // page_response()'s document, written as text: the customers are already JSON.
  std::size_t size = 64;
  for (const auto& c : rows) size += c.json.size() + 1;
  std::string body;
  body.reserve(size);
  body += "{\"data\":[";
  for (std::size_t i = 0; i < rows.size(); ++i) {
    if (i) body += ',';
    body += rows[i].json;
  }
  body += "],\"page\":";
  body += json::dump(page_meta(page, next, scope, total));
  body += '}';
  return text_response(200, std::move(body), "application/json");
}

namespace {

/// GET of one customer with `?include=` relations embedded (each needs its read permission).
bj::object with_includes(soci::session& sql, const Request& req, const CustomerRow& c) {
  bj::object out = c.to_json();
  auto include = req.query("include");
  if (!include) return out;
  static const std::set<std::string> kRelations = {"contacts", "notes", "activities", "timeline"};
  std::set<std::string> wanted;
  std::size_t start = 0;
  while (true) {
    auto comma = include->find(',', start);
    std::string item = include->substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    if (!kRelations.count(item)) {
      throw Error::bad_parameter("include", "Embed contacts, notes, activities or timeline (comma separated).");
    }
    wanted.insert(item);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  constexpr int kEmbedded = 25;  // the newest; the relation's own endpoint pages through the rest
  if (wanted.count("contacts")) {
    require_permission(req.context(), "contacts:read");
    bj::array a;
    for (const auto& x : store::contacts(sql, c.tenant_id, c.id)) a.push_back(x.to_json());
    out["contacts"] = std::move(a);
  }
  if (wanted.count("notes")) {
    require_permission(req.context(), "notes:read");
    bj::array a;
    for (const auto& x : store::notes(sql, c.tenant_id, c.id, kEmbedded, std::nullopt)) a.push_back(x.to_json());
    out["notes"] = std::move(a);
  }
  if (wanted.count("activities")) {
    require_permission(req.context(), "activities:read");
    bj::array a;
    for (const auto& x : store::activities(sql, c.tenant_id, c.id, std::nullopt, kEmbedded, std::nullopt)) {
      a.push_back(activity_json(x));
    }
    out["activities"] = std::move(a);
  }
  if (wanted.count("timeline")) {
    bj::array a;
    for (const auto& x : store::timeline(sql, c.tenant_id, c.id, kEmbedded, std::nullopt)) a.push_back(x.to_json());
    out["timeline"] = std::move(a);
  }
  return out;
}

}  // namespace

void register_customer_routes(Router& router, CustomerContext& cc) {
  router.get("/api/v1/customers", [&cc](Request& req) {
    const auto& tenant_id = tenant_of(req);
    require_permission(req.context(), "customers:read");
    std::string canonical_sort;
    auto q = list_query(cc, req, {"limit", "cursor", "include_total"}, canonical_sort);
    const auto& f = q.filter;
    // A cursor belongs to one tenant, one sort, one search and one segment.
    std::string scope = list_scope(tenant_id, canonical_sort, f);
    auto page = page_request(req, scope);
    return list_page(cc, tenant_id, std::move(q), page, scope);
  }, route("List customers (filters, sort, cursor pagination)"));

  router.post("/api/v1/customers/search", [&cc](Request& req) {
    const auto& tenant_id = tenant_of(req);
    require_permission(req.context(), "customers:read");
    auto body = req.json();
    // The amounts of a filter are in the tenant's currency (asked before the lease is taken).
    filter::ParseOptions options;
    options.amount_exponent = domain::currency_exponent(cc.defaults(tenant_id).currency).value_or(2);
    json::ObjectReader r(body);
    const bj::value* filter_value = r.optional_value("filter");
    const bj::value* q_value = r.optional_value("q");
    const bj::value* sort_value = r.optional_value("sort");
    const bj::value* limit_value = r.optional_value("limit");
    const bj::value* cursor_value = r.optional_value("cursor");
    std::vector<FieldError> problems;
    std::optional<filter::Node> tree;
    if (filter_value && !filter_value->is_null()) tree = filter::parse(*filter_value, "filter", options, problems);
    if (tree && !filter::segment_conditions(*tree).empty()) {
      require_permission(req.context(), "segments:read");
      auto lease = cc.db.acquire();
      resolve_segments(*lease, tenant_id, *tree, options, false, problems);
    }
    for (const auto& p : problems) r.add_error(p.field, p.code, p.message);
    auto text_of = [&r](const bj::value* v, const char* name) -> std::optional<std::string> {
      if (!v || v->is_null()) return std::nullopt;
      if (!v->is_string()) {
        r.add_error(name, "type", "Must be a text.");
        return std::nullopt;
      }
      return std::string(v->get_string());
    };
    auto q_text = text_of(q_value, "q");
    auto sort_text = text_of(sort_value, "sort");
    auto cursor_text = text_of(cursor_value, "cursor");
    r.finish();
    CustomerQuery q;
    auto& f = q.filter;
    if (tree) f.tree = std::make_shared<const filter::Node>(std::move(*tree));
    // As on GET /customers: q, sort, limit and cursor, with the same 400s.
    if (q_text) f.search_terms = parse_q(*q_text);
    std::string canonical_sort;
    q.sort = parse_sort(sort_text, !f.search_terms.empty(), canonical_sort);
    std::optional<std::string> filter_text;
    if (f.tree) filter_text = bj::serialize(*filter_value);
    std::string scope = list_scope(tenant_id, canonical_sort, f, filter_text.value_or(""));
    PageRequest page;
    if (limit_value && !limit_value->is_null()) {
      if (!limit_value->is_int64() || limit_value->get_int64() < 1 || limit_value->get_int64() > 200) {
        throw Error::bad_parameter("limit", "Must be an integer from 1 to 200.");
      }
      page.limit = static_cast<int>(limit_value->get_int64());
    }
    if (cursor_text && !cursor_text->empty()) page.after = decode_cursor(*cursor_text, scope);
    return list_page(cc, tenant_id, std::move(q), page, scope);
  }, route("Search customers with a structured filter (and/or/not of field conditions), q, sort and cursor "
           "pagination"));

  router.post("/api/v1/customers", [&cc](Request& req) {
    const auto& tenant_id = tenant_of(req);
    require_permission(req.context(), "customers:create");
    bool allow_duplicate = flag(req, "allow_duplicate");
    auto body = req.json();
    CustomerRow row;
    row.owner_id = CustomerContext::default_owner(req.context());
    auto defaults = cc.defaults(tenant_id);
    apply_customer_body(body, Mode::create, defaults, row);
    cc.require_member(req.context(), row.owner_id, "owner_id");
    auto created =
        cc.uow.run(req.context(), [&](UnitOfWork& uow) { return cc.create(uow, row, defaults, allow_duplicate); });
    return with_etag(created_response(created.to_json(), "/api/v1/customers/" + created.id), created.version);
  }, route("Create a customer (409 duplicate on a known email or phone unless ?allow_duplicate=true)"));

  router.get("/api/v1/customers/duplicates", [&cc](Request& req) {
    const auto& tenant_id = tenant_of(req);
    require_permission(req.context(), "customers:read");
    std::string scope = "duplicates:" + tenant_id;
    auto page = page_request(req, scope);
    std::optional<std::pair<std::string, std::string>> after;
    if (page.after) {
      const auto* a = page.after->if_contains("a");
      const auto* b = page.after->if_contains("b");
      if (!a || !a->is_string() || !b || !b->is_string()) throw Error::bad_parameter("cursor", "The cursor is not valid here.");
      after.emplace(std::string(a->get_string()), std::string(b->get_string()));
    }
    auto lease = cc.db.acquire();
    auto pairs = store::duplicate_pairs(*lease, tenant_id, page.limit + 1, after);
    std::optional<bj::object> next;
    if (static_cast<int>(pairs.size()) > page.limit) {
      pairs.pop_back();
      next = bj::object{{"a", pairs.back().first_id}, {"b", pairs.back().second_id}};
    }
    bj::array items;
    for (const auto& p : pairs) {
      bj::array reasons;
      if (p.email) reasons.emplace_back("email");
      if (p.phone) reasons.emplace_back("phone");
      if (p.name) reasons.emplace_back("name");
      bj::array customers;
      for (const auto& id : {p.first_id, p.second_id}) {
        auto c = store::customer(*lease, tenant_id, id);
        if (c) customers.push_back(bj::object{{"id", c->id}, {"code", c->code}, {"name", c->name},
                                              {"email", c->email ? bj::value(*c->email) : bj::value(nullptr)},
                                              {"phone", c->phone ? bj::value(*c->phone) : bj::value(nullptr)}});
      }
      items.push_back(bj::object{{"customer_ids", bj::array{bj::value(p.first_id), bj::value(p.second_id)}},
                                 {"reasons", std::move(reasons)},
                                 {"customers", std::move(customers)}});
    }
    return json_response(200, page_response(std::move(items), page, next, scope));
  }, route("Likely duplicate pairs: customers sharing an email, a phone or a name"));

  router.get("/api/v1/customers/by-slug/{slug}", [&cc](Request& req) {
    const auto& tenant_id = tenant_of(req);
    require_permission(req.context(), "customers:read");
    auto lease = cc.db.acquire();
    auto c = store::customer_by_slug(*lease, tenant_id, req.path_param("slug"));
    bool include_deleted = flag(req, "include_deleted");
    if (!c || (c->deleted_at && !include_deleted)) throw Error::not_found("No such customer.");
    if (c->deleted_at) require_permission(req.context(), "customers:delete", c->owner_id);
    return with_etag(json_response(200, with_includes(*lease, req, *c)), c->version);
  }, route("One customer by its slug"));

  router.get("/api/v1/customers/{id}", [&cc](Request& req) {
    const auto& tenant_id = tenant_of(req);
    require_permission(req.context(), "customers:read");
    bool include_deleted = flag(req, "include_deleted");
    auto lease = cc.db.acquire();
    if (!req.query("include")) {
      // The stored customer written out as it is: nothing to embed.
      auto c = load_customer_document(*lease, tenant_id, req.path_param("id"), include_deleted);
      if (c.deleted_at) require_permission(req.context(), "customers:delete", c.owner_id);
      return with_etag(text_response(200, std::move(c.json), "application/json"), c.version);
    }
    auto c = load_customer(*lease, tenant_id, req.path_param("id"), include_deleted);
    if (c.deleted_at) require_permission(req.context(), "customers:delete", c.owner_id);
    return with_etag(json_response(200, with_includes(*lease, req, c)), c.version);
  }, route("One customer"));

  for (HttpVerb verb : {HttpVerb::put, HttpVerb::patch}) {
    Mode mode = verb == HttpVerb::put ? Mode::replace : Mode::patch;
    router.add(verb, "/api/v1/customers/{id}", [&cc, mode](Request& req) {
      const auto& tenant_id = tenant_of(req);
      const std::string& id = req.path_param("id");
      bool allow_duplicate = flag(req, "allow_duplicate");
      auto body = req.json();
      auto defaults = cc.defaults(tenant_id);
      // Validate the body first (on a blank row), so the membership check, which asks IAM,
      // runs outside the transaction.
      CustomerRow probe;
      auto named = apply_customer_body(body, mode, defaults, probe);
      bool owner_named = std::find(named.begin(), named.end(), "owner_id") != named.end();
      if (owner_named) cc.require_member(req.context(), probe.owner_id, "owner_id");
      auto expected = if_match(req);
      auto after = cc.uow.run(req.context(), [&](UnitOfWork& uow) {
        return cc.update(uow, id, body, mode, defaults, allow_duplicate, expected);
      });
      return with_etag(json_response(200, after.to_json()), after.version);
    }, route(mode == Mode::replace ? "Replace a customer's writable fields (absent optional fields are cleared; "
                                     "409 duplicate on another customer's email or phone unless ?allow_duplicate=true)"
                                   : "Change some fields of a customer (null clears a field; 409 duplicate on another "
                                     "customer's email or phone unless ?allow_duplicate=true)"));
  }

  router.del("/api/v1/customers/{id}", [&cc](Request& req) {
    const auto& tenant_id = tenant_of(req);
    const std::string& id = req.path_param("id");
    bool hard = flag(req, "hard");
    cc.uow.run(req.context(), [&](UnitOfWork& uow) {
      if (!hard) return cc.soft_delete(uow, id, if_match(req));
      auto c = load_customer(uow.sql(), tenant_id, id, true);
      require_permission(req.context(), "customers:purge");
      require_version(req, c.version);
      store::purge_customer(uow.sql(), tenant_id, id);
      publish(uow, events::kCustomerPurged, "customer", id,
              bj::object{{"customer_id", id}, {"code", c.code}, {"name", c.name}});
    });
    return no_content_response();
  }, route("Delete a customer (soft; ?hard=true purges it and needs customers:purge)"));

  router.post("/api/v1/customers/{id}/merge", [&cc](Request& req) {
    const auto& tenant_id = tenant_of(req);
    const std::string& id = req.path_param("id");
    auto body = req.json();
    json::ObjectReader r(body);
    std::string source_id = r.required_string("source_id", 64);
    if (!source_id.empty() && !is_uuid(source_id)) r.add_error("source_id", "invalid", "Must be a customer id.");
    if (source_id == id) r.add_error("source_id", "same_customer", "A customer cannot be merged into itself.");
    r.finish();
    auto merged = cc.uow.run(req.context(), [&](UnitOfWork& uow) {
      auto& sql = uow.sql();
      auto target = load_customer(sql, tenant_id, id);
      std::optional<CustomerRow> source_row = store::customer(sql, tenant_id, source_id);
      if (!source_row || source_row->deleted_at) {
        throw Error::validation("source_id", "not_found", "No such customer.");
      }
      CustomerRow source = *source_row;
      require_permission(req.context(), "customers:update", target.owner_id);
      require_permission(req.context(), "customers:delete", source.owner_id);
      require_version(req, target.version);
      store::lock_customers(sql, tenant_id);
      if (store::count_contacts(sql, tenant_id, target.id) + store::count_contacts(sql, tenant_id, source.id) >
          cc.max_contacts) {
        throw Error::conflict("contact_limit_reached", "Together they would have more than " +
                                                           std::to_string(cc.max_contacts) + " contacts.");
      }
      auto now = now_ms();
      auto moved = store::move_children(sql, tenant_id, source.id, target.id, now);
      // The target wins; its blanks are filled from the source and the tags are joined.
      CustomerRow row = target;
      for (auto field : {&CustomerRow::legal_name, &CustomerRow::email, &CustomerRow::phone, &CustomerRow::website,
                         &CustomerRow::industry, &CustomerRow::tier}) {
        if (!(row.*field)) row.*field = source.*field;
      }
      row.email_disposable = target.email ? target.email_disposable : source.email_disposable;
      for (const auto& tag : source.tags) {
        if (std::find(row.tags.begin(), row.tags.end(), tag) == row.tags.end()) row.tags.push_back(tag);
      }
      if (row.addresses.empty()) row.addresses = source.addresses;
      if (row.social_profiles.empty()) row.social_profiles = source.social_profiles;
      for (const auto& kv : source.custom_fields) {
        if (!row.custom_fields.contains(kv.key())) row.custom_fields[kv.key()] = kv.value();
      }
      if (!row.credit_limit) row.credit_limit = source.credit_limit;
      if (!row.lifetime_value) row.lifetime_value = source.lifetime_value;
      row.updated_at = now;
      save_customer(uow, row, target.version);
      CustomerRow gone = source;
      gone.deleted_at = gone.updated_at = now;
      save_customer(uow, gone, source.version);
      publish_changes(uow, target, row);
      publish(uow, events::kCustomerDeleted, "customer", source.id,
              bj::object{{"customer_id", source.id}, {"code", source.code}, {"merged_into", target.id},
                         {"changes", bj::object{{"deleted_at", bj::object{{"old", nullptr}, {"new", format_rfc3339(now)}}}}}});
      publish(uow, events::kCustomerMerged, "customer", target.id,
              bj::object{{"customer_id", target.id}, {"source_id", source.id}, {"source_code", source.code},
                         {"moved", bj::object{{"contacts", moved[0]}, {"notes", moved[1]}, {"activities", moved[2]}}}});
      return load_customer(sql, tenant_id, target.id);
    });
    return with_etag(json_response(200, merged.to_json()), merged.version);
  }, route("Merge another customer (source_id) into this one: its contacts, notes, activities and timeline move "
           "here, blanks are filled from it, and it is soft-deleted"));

  router.post("/api/v1/customers/{id}/restore", [&cc](Request& req) {
    const auto& tenant_id = tenant_of(req);
    const std::string& id = req.path_param("id");
    auto c = cc.uow.run(req.context(), [&](UnitOfWork& uow) {
      auto c = load_customer(uow.sql(), tenant_id, id, true);
      require_permission(req.context(), "customers:delete", c.owner_id);
      if (!c.deleted_at) throw Error::conflict("not_deleted", "The customer is not deleted.");
      require_version(req, c.version);
      CustomerRow row = c;
      auto deleted_at = *row.deleted_at;
      row.deleted_at.reset();
      row.updated_at = now_ms();
      save_customer(uow, row, c.version);
      publish(uow, events::kCustomerRestored, "customer", id,
              bj::object{{"customer_id", id},
                         {"changes", bj::object{{"deleted_at", bj::object{{"old", format_rfc3339(deleted_at)},
                                                                          {"new", nullptr}}}}}});
      return load_customer(uow.sql(), tenant_id, id);
    });
    return with_etag(json_response(200, c.to_json()), c.version);
  }, route("Restore a soft-deleted customer"));

  for (const char* action : {"activate", "deactivate", "block", "unblock"}) {
    std::string name = action;
    router.post("/api/v1/customers/{id}/" + name, [&cc, name](Request& req) {
      const auto& tenant_id = tenant_of(req);
      const std::string& id = req.path_param("id");
      auto c = cc.uow.run(req.context(), [&](UnitOfWork& uow) {
        auto c = load_customer(uow.sql(), tenant_id, id);
        require_permission(req.context(), "customers:update", c.owner_id);
        require_version(req, c.version);
        auto target = domain::status_after(name, c.status);
        if (!target) {
          std::string hint = c.status == "blocked" && name == "activate" ? " Unblock it first." : "";
          throw Error::conflict("invalid_transition", "Cannot " + name + " a customer that is " + c.status + "." + hint);
        }
        CustomerRow row = c;
        row.status = *target;
        row.updated_at = now_ms();
        save_customer(uow, row, c.version);
        publish_changes(uow, c, row);
        return load_customer(uow.sql(), tenant_id, id);
      });
      return with_etag(json_response(200, c.to_json()), c.version);
    }, route(name == "activate"     ? "Make a customer active (not from blocked: unblock first)"
             : name == "deactivate" ? "Make a lead, prospect or active customer inactive"
             : name == "block"      ? "Block a customer"
                                    : "Unblock a blocked customer (it becomes inactive)"));
  }
}

}  // namespace crm::customer
