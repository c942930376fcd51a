// /api/v1/segments: named groups of customers. A static segment lists its members; a dynamic
// one stores a filter (the language of POST /customers/search) whose members are evaluated
// live, and keeps a snapshot of them (member_count, refreshed_at) at each refresh.
#include "customer_internal.hpp"

#include "crm/platform/authorization.hpp"
#include "crm/platform/pagination.hpp"
#include "crm/platform/router.hpp"
#include "segment.hpp"

#include <soci/soci.h>

#include <algorithm>
#include <set>

namespace crm::customer {

using namespace crm::platform;

namespace {

RouteOptions route(const char* summary) { return route_options("segments", summary); }

/// Fields whose changes segment events carry.
const std::vector<std::string>& segment_fields() {
  static const std::vector<std::string> f = {"name", "description", "type", "filter", "member_count"};
  return f;
}

SegmentRow load_segment(soci::session& sql, const std::string& tenant_id, const std::string& id) {
  if (!is_uuid(id)) throw Error::not_found("No such segment.");
  auto s = store::segment(sql, tenant_id, id);
  if (!s) throw Error::not_found("No such segment.");
  return *s;
}

void publish_segment(UnitOfWork& uow, const char* type, const SegmentRow& s, bj::object changes,
                     bj::object extra = {}) {
  bj::object payload{{"segment_id", s.id}, {"name", s.name}, {"type", s.type}, {"changes", std::move(changes)}};
  for (const auto& kv : extra) payload[kv.key()] = kv.value();
  publish(uow, type, "segment", s.id, std::move(payload));
}

bj::array to_array(const std::vector<std::string>& ids) {
  bj::array a;
  for (const auto& id : ids) a.emplace_back(id);
  return a;
}

/// A segment body as read (everything validated, the filter resolved).
struct SegmentBody {
  std::string name, name_key;
  std::optional<std::string> description;
  std::string type;
  std::optional<std::vector<std::string>> customer_ids;  // static: the members named, once each
  std::optional<std::string> filter_text;                // dynamic: the filter as stored
  std::shared_ptr<const filter::Node> tree;              // dynamic: the filter, resolved
};

/// The customer ids of `value` (at most 10,000; each a problem at customer_ids[i] when it is
/// not an id or, with `must_be_live`, not a live customer of the tenant). Named twice counts
/// once.
std::vector<std::string> read_customer_ids(json::ObjectReader& r, const bj::value& value, soci::session& sql,
                                           const std::string& tenant_id, bool must_be_live) {
  std::vector<std::string> ids;
  if (!value.is_array()) {
    r.add_error("customer_ids", "type", "Must be an array of customer ids.");
    return ids;
  }
  const auto& a = value.get_array();
  if (a.size() > domain::kSegmentIdsPerRequest) {
    r.add_error("customer_ids", "too_many",
                "At most " + std::to_string(domain::kSegmentIdsPerRequest) + " customer ids in one request.");
    return ids;
  }
  std::vector<std::pair<std::size_t, std::string>> named;
  std::set<std::string> seen;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (!a[i].is_string() || !is_uuid(a[i].get_string())) {
      r.add_error("customer_ids[" + std::to_string(i) + "]", "invalid", "Must be a customer id.");
      continue;
    }
    std::string id(a[i].get_string());
    named.emplace_back(i, id);
    if (seen.insert(id).second) ids.push_back(id);
  }
  if (must_be_live && !ids.empty()) {
    auto live = store::live_customers_among(sql, tenant_id, ids);
    std::set<std::string> found(live.begin(), live.end());
    for (const auto& [i, id] : named) {
      if (!found.count(id)) r.add_error("customer_ids[" + std::to_string(i) + "]", "not_found", "No such customer.");
    }
  }
  return ids;
}

/// The description: trimmed, at most 2000 characters; blank is none.
std::optional<std::string> read_description(json::ObjectReader& r) {
  constexpr std::size_t kMaxChars = 2000;
  const bj::value* v = r.optional_value("description");
  if (!v) return std::nullopt;
  if (!v->is_string()) {
    r.add_error("description", "type", "Must be a string.");
    return std::nullopt;
  }
  std::string_view text = v->get_string();
  auto first = text.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) return std::nullopt;
  text = text.substr(first, text.find_last_not_of(" \t\r\n") - first + 1);
  if (domain::utf8_length(text) > kMaxChars) {
    r.add_error("description", "too_long", "At most " + std::to_string(kMaxChars) + " characters.");
    return std::nullopt;
  }
  return std::string(text);
}

/// The name: tidied, 1 to 200 characters.
void read_name(json::ObjectReader& r, SegmentBody& b) {
  const bj::value* name = r.optional_value("name");
  if (!name) {
    r.add_error("name", "required", "Give the segment a name.");
  } else if (!name->is_string()) {
    r.add_error("name", "type", "Must be a string.");
  } else {
    b.name = domain::tidy_segment_name(name->get_string());
    b.name_key = domain::segment_name_key(b.name);
    if (b.name.empty()) r.add_error("name", "required", "Must not be blank.");
    if (domain::utf8_length(b.name) > domain::kSegmentNameMax) {
      r.add_error("name", "too_long", "At most " + std::to_string(domain::kSegmentNameMax) + " characters.");
    }
  }
}

/// The type of a new segment, or the current one's (which a body may repeat, not change);
/// empty when it is missing or invalid.
std::string read_type(json::ObjectReader& r, const SegmentRow* current) {
  const bj::value* type = r.optional_value("type");
  bool valid = type && type->is_string() && domain::valid_segment_type(type->get_string());
  if (type && !valid) r.add_error("type", "invalid", "Must be static or dynamic.");
  if (current) {
    if (valid && type->get_string() != current->type) {
      r.add_error("type", "immutable", "A segment's type cannot change; create a new segment instead.");
    }
    return current->type;
  }
  if (!type) r.add_error("type", "required", "Is required: static or dynamic.");
  return valid ? std::string(type->get_string()) : std::string();
}

/// What makes the members: customer_ids of a static segment, the filter of a dynamic one
/// (validated like a search's, its segment_id conditions resolved); the other is refused.
void read_members(json::ObjectReader& r, SegmentBody& b, const filter::ParseOptions& options, soci::session& sql,
                  const std::string& tenant_id) {
  const bj::value* ids = r.optional_value("customer_ids");
  const bj::value* filter_value = r.optional_value("filter");
  if (b.type == "static") {
    if (filter_value) {
      r.add_error("filter", "not_allowed",
                  "Only dynamic segments have a filter; a static segment lists its members in customer_ids.");
    }
    if (ids) b.customer_ids = read_customer_ids(r, *ids, sql, tenant_id, true);
    return;
  }
  if (b.type != "dynamic") return;
  if (ids) {
    r.add_error("customer_ids", "not_allowed",
                "A dynamic segment's members follow its filter; only static segments list customer_ids.");
  }
  if (!filter_value) {
    r.add_error("filter", "required", "A dynamic segment needs a filter.");
    return;
  }
  std::vector<FieldError> problems;
  auto tree = filter::parse(*filter_value, "filter", options, problems);
  if (tree) resolve_segments(sql, tenant_id, *tree, options, true, problems);
  for (const auto& p : problems) r.add_error(p.field, p.code, p.message);
  if (tree && problems.empty()) {
    b.filter_text = json::dump(*filter_value);
    b.tree = std::make_shared<const filter::Node>(std::move(*tree));
  }
}

/// Reads a POST (no `current`) or PUT body; every problem is collected into one 422. A PUT
/// replaces name, description and filter; customer_ids, when given, replace a static
/// segment's members (absent, they stay). The type never changes.
SegmentBody read_segment_body(const bj::value& body, const SegmentRow* current, const filter::ParseOptions& options,
                              soci::session& sql, const std::string& tenant_id) {
  json::ObjectReader r(body);
  if (!body.is_object()) r.finish();  // a 422 on "body" alone
  for (const char* f : {"id", "tenant_id", "member_count", "refreshed_at", "created_by", "version", "created_at",
                        "updated_at"}) {
    if (r.optional_value(f)) r.add_error(f, "read_only", "Is set by the server and cannot be written.");
  }
  SegmentBody b;
  read_name(r, b);
  b.description = read_description(r);
  b.type = read_type(r, current);
  read_members(r, b, options, sql, tenant_id);
  r.finish();
  return b;
}

/// 409 naming `name` when another segment of the tenant has the name (the caller holds the
/// segment lock).
void require_free_name(soci::session& sql, const std::string& tenant_id, const std::string& name_key,
                       const std::string& self_id) {
  if (auto other = store::segment_with_name(sql, tenant_id, name_key); other && *other != self_id) {
    throw Error(ErrorKind::conflict, "name_taken", "Another segment has this name.",
                {FieldError{"name", "taken", "Another segment has it."}})
        .with_extension("existing_id", *other);
  }
}

struct Refreshed {
  std::int64_t added = 0, removed = 0;
};

/// A dynamic segment's snapshot: its member rows become the live customers `tree` matches
/// now, and member_count and refreshed_at follow.
Refreshed take_snapshot(soci::session& sql, const SegmentRow& s, std::shared_ptr<const filter::Node> tree,
                        TimestampMs now) {
  CustomerFilter f;
  f.tree = std::move(tree);
  auto [added, removed] = store::replace_segment_snapshot(sql, s.tenant_id, s.id, f, now);
  store::set_segment_count(sql, s.tenant_id, s.id, store::count_live_members(sql, s.tenant_id, s.id), now);
  return {added, removed};
}

/// A page of segments: the query at the page's position, the next cursor, the total.
bj::object segment_page(CustomerContext& cc, const std::string& tenant_id, SegmentQuery q, const PageRequest& page,
                        const std::string& scope) {
  q.limit = page.limit + 1;
  q.after = page.after;
  auto lease = cc.db.acquire();
  auto rows = store::list_segments(*lease, tenant_id, q);
  std::optional<bj::object> next;
  if (static_cast<int>(rows.size()) > page.limit) {
    rows.pop_back();
    const auto& last = rows.back();
    bj::value k = q.sort.field == "name"         ? bj::value(last.name)
                  : q.sort.field == "created_at" ? bj::value(last.created_at)
                                                 : bj::value(last.updated_at);
    next = bj::object{{"k", std::move(k)}, {"id", last.id}};
  }
  bj::array items;
  for (const auto& s : rows) items.push_back(s.to_json());
  std::optional<std::int64_t> total;
  if (page.include_total) total = store::count_segments(*lease, tenant_id, q);
  return page_response(std::move(items), page, next, scope, total);
}

void only_parameters(const Request& req, std::initializer_list<std::string_view> allowed) {
  for (const auto& [k, v] : req.query_params()) {
    if (std::find(allowed.begin(), allowed.end(), k) == allowed.end()) {
      throw Error::bad_parameter(k, "Is not a parameter of this collection.");
    }
  }
}

struct MemberChange {
  std::vector<std::string> added, removed;
};

/// What makes `current` members exactly `wanted`.
MemberChange member_change(const std::vector<std::string>& current, const std::vector<std::string>& wanted) {
  std::set<std::string> had(current.begin(), current.end()), keep(wanted.begin(), wanted.end());
  MemberChange out;
  for (const auto& c : wanted) {
    if (!had.count(c)) out.added.push_back(c);
  }
  for (const auto& c : current) {
    if (!keep.count(c)) out.removed.push_back(c);
  }
  return out;
}

/// The segment with the counts of a membership change or a refresh.
HttpResponse segment_with_counts(const SegmentRow& s, const std::optional<std::int64_t>& added,
                                 const std::optional<std::int64_t>& removed) {
  auto out = s.to_json();
  if (added) out["added"] = *added;
  if (removed) out["removed"] = *removed;
  return with_etag(json_response(200, out), s.version);
}

}  // namespace

SegmentRow create_segment(UnitOfWork& uow, const bj::value& body, const filter::ParseOptions& options) {
  auto& sql = uow.sql();
  const std::string& tenant_id = uow.context().tenant_id;
  auto input = read_segment_body(body, nullptr, options, sql, tenant_id);
  store::lock_segments(sql, tenant_id);
  require_free_name(sql, tenant_id, input.name_key, "");
  SegmentRow s;
  s.tenant_id = tenant_id;
  s.id = new_uuid_v7();
  s.name = input.name;
  s.description = input.description;
  s.type = input.type;
  s.filter = input.filter_text;
  s.created_by = uow.context().actor_id;
  s.created_at = s.updated_at = now_ms();
  store::insert_segment(sql, s, input.name_key);
  if (input.customer_ids) store::add_members(sql, tenant_id, s.id, *input.customer_ids, s.created_at);
  if (s.dynamic()) take_snapshot(sql, s, input.tree, s.created_at);
  auto saved = load_segment(sql, tenant_id, s.id);
  bj::object extra;
  if (input.customer_ids) extra["members"] = bj::object{{"added", to_array(*input.customer_ids)}, {"removed", bj::array{}}};
  publish_segment(uow, events::kSegmentCreated, saved, changes(bj::object{}, saved.to_json(), segment_fields()),
                  std::move(extra));
  return saved;
}

void register_segment_routes(Router& router, CustomerContext& cc) {
  router.get("/api/v1/segments", [&cc](Request& req) {
    const auto& tenant_id = tenant_of(req);
    require_permission(req.context(), "segments:read");
    only_parameters(req, {"limit", "cursor", "include_total", "type", "q", "sort"});
    SegmentQuery q;
    if (auto type = req.query("type")) {
      if (!domain::valid_segment_type(*type)) throw Error::bad_parameter("type", "Must be static or dynamic.");
      q.type = *type;
    }
    if (auto text = req.query("q")) {
      auto key = domain::segment_name_key(*text);
      if (key.empty() || domain::utf8_length(*text) > domain::kSegmentNameMax) {
        throw Error::bad_parameter("q", "Give 1 to 200 characters of a segment name.");
      }
      q.name_contains = key;
    }
    std::string sort = req.query("sort").value_or("name");
    q.sort.descending = !sort.empty() && sort[0] == '-';
    q.sort.field = q.sort.descending || (!sort.empty() && sort[0] == '+') ? sort.substr(1) : sort;
    if (q.sort.field != "name" && q.sort.field != "created_at" && q.sort.field != "updated_at") {
      throw Error::bad_parameter("sort", "Sort by name, created_at or updated_at (prefix - for descending).");
    }
    // A cursor belongs to one tenant, one sort and one set of filters.
    std::string scope = "segments:" + tenant_id + ":" + (q.sort.descending ? "-" : "") + q.sort.field + ":" +
                        q.type.value_or("") + ":" + q.name_contains.value_or("");
    auto page = page_request(req, scope);
    return json_response(200, segment_page(cc, tenant_id, std::move(q), page, scope));
  }, route("List segments (type, q on the name, sort, cursor pagination)"));

  router.post("/api/v1/segments", [&cc](Request& req) {
    const auto& tenant_id = tenant_of(req);
    require_permission(req.context(), "segments:create");
    auto body = req.json();
    auto options = filter_options(cc, tenant_id);
    auto created = cc.uow.run(req.context(), [&](UnitOfWork& uow) { return create_segment(uow, body, options); });
    return with_etag(created_response(created.to_json(), "/api/v1/segments/" + created.id), created.version);
  }, route("Create a segment: static with customer_ids, or dynamic with a filter"));

  router.get("/api/v1/segments/{id}", [&cc](Request& req) {
    const auto& tenant_id = tenant_of(req);
    require_permission(req.context(), "segments:read");
    auto lease = cc.db.acquire();
    auto s = load_segment(*lease, tenant_id, req.path_param("id"));
    return with_etag(json_response(200, s.to_json()), s.version);
  }, route("One segment"));

  router.put("/api/v1/segments/{id}", [&cc](Request& req) {
    const auto& tenant_id = tenant_of(req);
    const std::string& id = req.path_param("id");
    auto body = req.json();
    auto options = filter_options(cc, tenant_id);
    auto after = cc.uow.run(req.context(), [&](UnitOfWork& uow) {
      auto& sql = uow.sql();
      auto before = load_segment(sql, tenant_id, id);
      require_permission(req.context(), "segments:update");
      require_version(req, before.version);
      auto input = read_segment_body(body, &before, options, sql, tenant_id);
      if (input.name != before.name) {
        store::lock_segments(sql, tenant_id);
        require_free_name(sql, tenant_id, input.name_key, id);
      }
      SegmentRow row = before;
      row.name = input.name;
      row.description = input.description;
      if (row.dynamic()) row.filter = input.filter_text;
      MemberChange diff;
      if (input.customer_ids) diff = member_change(store::member_ids(sql, tenant_id, id), *input.customer_ids);
      const auto& [added, removed] = diff;
      bool edited = row.name != before.name || row.description != before.description || row.filter != before.filter;
      if (!edited && added.empty() && removed.empty()) return before;  // nothing changed: no write, no event
      auto now = now_ms();
      row.updated_at = now;
      if (!store::update_segment(sql, row, input.name_key, before.version)) {
        throw Error::precondition_failed("The segment changed since you read it.");
      }
      store::add_members(sql, tenant_id, id, added, now);
      store::remove_members(sql, tenant_id, id, removed);
      if (row.dynamic() && row.filter != before.filter) take_snapshot(sql, row, input.tree, now);
      auto saved = load_segment(sql, tenant_id, id);
      bj::object extra;
      if (!added.empty() || !removed.empty()) {
        extra["members"] = bj::object{{"added", to_array(added)}, {"removed", to_array(removed)}};
      }
      publish_segment(uow, events::kSegmentUpdated, saved, changes(before.to_json(), saved.to_json(), segment_fields()),
                      std::move(extra));
      return saved;
    });
    return with_etag(json_response(200, after.to_json()), after.version);
  }, route("Replace a segment's name, description and filter (customer_ids, when given, replace a static "
           "segment's members); the type cannot change"));

  router.del("/api/v1/segments/{id}", [&cc](Request& req) {
    const auto& tenant_id = tenant_of(req);
    const std::string& id = req.path_param("id");
    cc.uow.run(req.context(), [&](UnitOfWork& uow) {
      auto s = load_segment(uow.sql(), tenant_id, id);
      require_permission(req.context(), "segments:delete");
      require_version(req, s.version);
      store::delete_segment(uow.sql(), tenant_id, id);
      publish_segment(uow, events::kSegmentDeleted, s, changes(s.to_json(), bj::object{}, segment_fields()));
    });
    return no_content_response();
  }, route("Delete a segment (its customers stay)"));

  router.post("/api/v1/segments/{id}/refresh", [&cc](Request& req) {
    const auto& tenant_id = tenant_of(req);
    const std::string& id = req.path_param("id");
    auto options = filter_options(cc, tenant_id);
    auto [segment, counts] = cc.uow.run(req.context(), [&](UnitOfWork& uow) {
      auto& sql = uow.sql();
      auto before = load_segment(sql, tenant_id, id);
      require_permission(req.context(), "segments:update");
      // Two refreshes of one segment would race on its member rows: the second waits, then
      // starts from what the first wrote.
      store::lock_segment(sql, tenant_id, id);
      before = load_segment(sql, tenant_id, id);
      auto now = now_ms();
      Refreshed diff;
      if (before.dynamic()) {
        diff = take_snapshot(sql, before, segment_ref(before, options).filter, now);
      } else {
        store::set_segment_count(sql, tenant_id, id, store::count_live_members(sql, tenant_id, id), now);
      }
      auto saved = load_segment(sql, tenant_id, id);
      publish_segment(uow, events::kSegmentRefreshed, saved,
                      changes(before.to_json(), saved.to_json(), {"member_count", "refreshed_at"}),
                      bj::object{{"added", diff.added}, {"removed", diff.removed}});
      return std::make_pair(saved, diff);
    });
    return segment_with_counts(segment, counts.added, counts.removed);
  }, route("Refresh a segment: a dynamic one's member snapshot is taken again from its filter (added, removed); "
           "a static one's members are recounted"));

  for (const bool adding : {true, false}) {
    router.post(adding ? "/api/v1/segments/{id}/members" : "/api/v1/segments/{id}/members/remove",
                [&cc, adding](Request& req) {
      const auto& tenant_id = tenant_of(req);
      const std::string& id = req.path_param("id");
      auto body = req.json();
      auto [segment, moved] = cc.uow.run(req.context(), [&](UnitOfWork& uow) {
        auto& sql = uow.sql();
        auto before = load_segment(sql, tenant_id, id);
        require_permission(req.context(), "segments:update");
        require_version(req, before.version);
        if (before.dynamic()) {
          throw Error::conflict("dynamic_segment", "A dynamic segment's members follow its filter.");
        }
        json::ObjectReader r(body);
        if (!body.is_object()) r.finish();  // a 422 on "body" alone
        const bj::value* value = r.optional_value("customer_ids");
        std::vector<std::string> ids;
        if (!value) r.add_error("customer_ids", "required", "List the customer ids.");
        else ids = read_customer_ids(r, *value, sql, tenant_id, adding);
        r.finish();
        auto present = store::members_among(sql, tenant_id, id, ids);
        std::set<std::string> had(present.begin(), present.end());
        std::vector<std::string> changed;  // added: not yet members; removed: members
        for (const auto& c : ids) {
          bool member = had.count(c) > 0;
          if (member != adding) changed.push_back(c);
        }
        if (changed.empty()) return std::make_pair(before, changed);  // nothing to do: no write, no event
        auto now = now_ms();
        SegmentRow row = before;
        row.updated_at = now;
        if (!store::update_segment(sql, row, domain::segment_name_key(row.name), before.version)) {
          throw Error::precondition_failed("The segment changed since you read it.");
        }
        if (adding) store::add_members(sql, tenant_id, id, changed, now);
        else store::remove_members(sql, tenant_id, id, changed);
        auto saved = load_segment(sql, tenant_id, id);
        bj::array none;
        publish_segment(uow, events::kSegmentUpdated, saved, changes(before.to_json(), saved.to_json(), segment_fields()),
                        bj::object{{"members", bj::object{{"added", adding ? to_array(changed) : none},
                                                          {"removed", adding ? none : to_array(changed)}}}});
        return std::make_pair(saved, changed);
      });
      auto n = static_cast<std::int64_t>(moved.size());
      return adding ? segment_with_counts(segment, n, std::nullopt) : segment_with_counts(segment, std::nullopt, n);
    }, route(adding ? "Add customers to a static segment (customer_ids; members already in it are kept)"
                    : "Remove customers from a static segment (customer_ids; ids that are not members are ignored)"));
  }

  router.get("/api/v1/segments/{id}/customers", [&cc](Request& req) {
    const auto& tenant_id = tenant_of(req);
    require_permission(req.context(), "segments:read");
    require_permission(req.context(), "customers:read");
    only_parameters(req, {"limit", "cursor", "include_total", "sort"});
    const std::string& id = req.path_param("id");
    auto options = filter_options(cc, tenant_id);
    CustomerQuery q;
    {
      auto lease = cc.db.acquire();
      auto s = load_segment(*lease, tenant_id, id);
      q.filter.segment = std::make_shared<const filter::Node>(filter::in_segment(segment_ref(s, options)));
    }
    q.filter.segment_id = id;
    std::string canonical_sort;
    q.sort = parse_sort(req.query("sort"), false, canonical_sort);
    std::string scope = list_scope(tenant_id, canonical_sort, q.filter);
    auto page = page_request(req, scope);
    return list_page(cc, tenant_id, std::move(q), page, scope);
  }, route("The segment's customers, as customer objects: a dynamic segment's evaluated now from its filter, a "
           "static one's live members"));
}

}  // namespace crm::customer
