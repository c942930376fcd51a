// The customer module: wiring, the facade other modules call, the shared create path and
// the event handlers that write the timeline.
#include "customer_internal.hpp"

#include "crm/iam/events.hpp"
#include "crm/platform/authorization.hpp"
#include "crm/platform/event_bus.hpp"
#include "crm/platform/log.hpp"
#include "crm/platform/metrics.hpp"
#include "crm/platform/periodic_task.hpp"
#include "crm/platform/router.hpp"
#include "custom_fields.hpp"
#include "validation.hpp"

#include <soci/soci.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>

namespace crm::generated {
std::vector<crm::platform::MigrationSource> migrations_customer();
}

namespace crm::customer {

using namespace crm::platform;

void publish(UnitOfWork& uow, const char* type, const std::string& aggregate_type, const std::string& aggregate_id,
             bj::object payload) {
  uow.publish(uow.make_event(type, events::kVersion, aggregate_type, aggregate_id, std::move(payload)));
}

const std::string& tenant_of(const Request& req) {
  const auto& ctx = req.context();
  require_authenticated(ctx);
  if (ctx.tenant_id.empty()) throw Error::forbidden("This endpoint needs a tenant-scoped token.");
  return ctx.tenant_id;
}

bool flag(const Request& req, const char* name) {
  auto v = req.query(name);
  if (!v) return false;
  if (*v == "true") return true;
  if (*v == "false") return false;
  throw Error::bad_parameter(name, "Must be true or false.");
}

std::optional<std::string> if_match(const Request& req) {
  auto header = req.header("If-Match");
  if (header.empty()) return std::nullopt;
  std::string v(header);
  if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
  if (v.rfind("W/", 0) == 0) v = v.substr(3, v.size() >= 4 ? v.size() - 4 : 0);
  return v;
}

void require_version(const std::optional<std::string>& expected, int version) {
  if (expected && *expected != std::to_string(version)) {
    throw Error::precondition_failed("The resource changed since you read it.");
  }
}

void require_version(const Request& req, int version) { require_version(if_match(req), version); }

HttpResponse with_etag(HttpResponse res, int version) {
  res.set("ETag", "\"" + std::to_string(version) + "\"");
  return res;
}

namespace {

/// The customer `read` finds, 404 when there is none (or it is deleted, unless allowed).
template <class Read>
auto existing_customer(const std::string& id, bool include_deleted, const Read& read) {
  if (!is_uuid(id)) throw Error::not_found("No such customer.");
  auto c = read();
  if (!c || (c->deleted_at && !include_deleted)) throw Error::not_found("No such customer.");
  return std::move(*c);
}

}  // namespace

CustomerRow load_customer(soci::session& sql, const std::string& tenant_id, const std::string& id,
                          bool include_deleted) {
  return existing_customer(id, include_deleted, [&] { return store::customer(sql, tenant_id, id); });
}

CustomerDocument load_customer_document(soci::session& sql, const std::string& tenant_id, const std::string& id,
                                        bool include_deleted) {
  return existing_customer(id, include_deleted, [&] { return store::customer_document(sql, tenant_id, id); });
}

std::shared_ptr<iam::IamDirectory> CustomerContext::iam() const {
  return module.services.get<iam::IamDirectory>();
}

TenantDefaults CustomerContext::defaults(const std::string& tenant_id) const {
  constexpr TimestampMs kCacheMs = 5000;
  auto now = now_ms();
  {
    std::lock_guard lock(defaults_mutex);
    auto it = defaults_cache.find(tenant_id);
    if (it != defaults_cache.end() && it->second.second > now) return it->second.first;
  }
  TenantDefaults d;
  auto t = iam()->tenant(tenant_id);
  if (!t) return d;
  if (domain::valid_country(t->country)) {
    d.region = t->country;
  } else if (auto dash = t->locale.rfind('-'); dash != std::string::npos && domain::valid_country(t->locale.substr(dash + 1))) {
    d.region = t->locale.substr(dash + 1);  // "en-MY"
  }
  if (domain::currency_exponent(t->currency)) d.currency = t->currency;
  d.plan = t->plan;
  {
    auto lease = db.acquire();
    d.custom_fields = std::make_shared<const FieldDefinitions>(store::field_definitions(*lease, tenant_id, "customer"));
  }
  std::lock_guard lock(defaults_mutex);
  if (defaults_cache.size() > 10000) defaults_cache.clear();
  defaults_cache[tenant_id] = {d, now + kCacheMs};
  return d;
}

void CustomerContext::forget_defaults(const std::string& tenant_id) const {
  std::lock_guard lock(defaults_mutex);
  defaults_cache.erase(tenant_id);
}

void CustomerContext::require_member(const std::string& tenant_id, const std::string& user_id, const char* field) const {
  if (user_id.empty() || !is_uuid(user_id) || !iam()->member(tenant_id, user_id)) {
    throw Error::validation(field, "not_a_member", "Must be an active member of the tenant.");
  }
}

void CustomerContext::require_member(const RequestContext& ctx, const std::string& user_id, const char* field) const {
  const auto& p = ctx.principal;
  if (p.authenticated && !p.user_id.empty() && p.user_id == user_id && p.tenant_id == ctx.tenant_id) return;
  require_member(ctx.tenant_id, user_id, field);
}

std::string CustomerContext::default_owner(const RequestContext& ctx) {
  return ctx.principal.user_id.empty() ? ctx.actor_id : ctx.principal.user_id;
}

void save_customer(UnitOfWork& uow, const CustomerRow& row, int expected_version) {
  if (!store::update_customer(uow.sql(), row, expected_version)) {
    throw Error::precondition_failed("The customer changed since you read it.");
  }
}

namespace {

/// Fields whose changes customer.updated carries (status and owner have events of their own).
const std::vector<std::string>& updated_fields() {
  static const std::vector<std::string> f = {"type", "name", "legal_name", "email", "phone", "website",
                                             "industry", "tier", "tags", "addresses", "social_profiles",
                                             "custom_fields", "credit_limit", "lifetime_value", "preferences",
                                             "external_id"};
  return f;
}

}  // namespace

void publish_changes(UnitOfWork& uow, const CustomerRow& before, const CustomerRow& after) {
  auto b = before.to_json(), a = after.to_json();
  auto plain = changes(b, a, updated_fields());
  if (!plain.empty()) {
    publish(uow, events::kCustomerUpdated, "customer", after.id,
            bj::object{{"customer_id", after.id}, {"changes", plain}});
  }
  auto status = changes(b, a, {"status"});
  if (!status.empty()) {
    publish(uow, events::kCustomerStatusChanged, "customer", after.id,
            bj::object{{"customer_id", after.id}, {"changes", status}});
  }
  auto owner = changes(b, a, {"owner_id"});
  if (!owner.empty()) {
    publish(uow, events::kCustomerOwnerChanged, "customer", after.id,
            bj::object{{"customer_id", after.id}, {"changes", owner}});
  }
}

namespace {

std::string format_code(std::int64_t n) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "CUS-%06lld", static_cast<long long>(n));
  return buf;
}

const std::vector<std::string>& created_fields() {
  static const std::vector<std::string> f = {"code", "slug", "type", "name", "legal_name", "email", "phone",
                                             "website", "industry", "status", "tier", "owner_id", "tags",
                                             "addresses", "social_profiles", "custom_fields", "credit_limit",
                                             "lifetime_value", "preferences", "external_id"};
  return f;
}

/// 409 duplicate naming the customer that has the email or phone; `hint` says how to go on.
Error duplicate_error(const std::pair<std::string, std::string>& dup, const std::string& hint) {
  return Error(ErrorKind::conflict, "duplicate", "A customer with this " + dup.second + " exists: " + dup.first + ". " + hint,
               {FieldError{dup.second, "duplicate", "Another customer has it."}})
      .with_extension("existing_id", dup.first);
}

Error external_id_taken(const std::string& existing_id) {
  return Error(ErrorKind::conflict, "external_id_taken", "Another customer has this external_id.",
               {FieldError{"external_id", "taken", "Another customer has it."}})
      .with_extension("existing_id", existing_id);
}

}  // namespace

CustomerRow CustomerContext::create(UnitOfWork& uow, CustomerRow row, const TenantDefaults& defaults,
                                    bool allow_duplicate, const bj::object& extra_payload) {
  auto& sql = uow.sql();
  const std::string& tenant_id = uow.context().tenant_id;
  // First: the sequence row lock serializes creation within the tenant, so the duplicate,
  // external id and slug checks below cannot race another create.
  auto number = store::next_sequence(sql, tenant_id, kCodeSequence);
  row.code = format_code(number);
  // The tenant has at most number - 1 customers besides this one (numbers are never reused),
  // so counting is needed only once it has created as many as its plan allows.
  if (auto limit = plan_limits.find(defaults.plan);
      limit != plan_limits.end() && limit->second > 0 && number - 1 >= limit->second &&
      store::count_live_customers(sql, tenant_id) >= limit->second) {
    throw Error::conflict("plan_limit_reached",
                          "The " + defaults.plan + " plan allows " + std::to_string(limit->second) + " customers.");
  }
  if (!allow_duplicate) {
    if (auto dup = store::find_duplicate(sql, tenant_id, row.email_key(), row.phone.value_or(""))) {
      throw duplicate_error(*dup, "Send ?allow_duplicate=true to create another.");
    }
  }
  if (row.external_id) {
    if (auto other = store::customer_with_external_id(sql, tenant_id, *row.external_id)) {
      throw external_id_taken(*other);
    }
  }
  std::string base = domain::slugify(row.name);
  std::string slug = base;
  if (store::slug_taken(sql, tenant_id, slug)) {
    // The code is unique in the tenant, so "<name>-<number>" is almost always free.
    std::string number = row.code.substr(4);
    while (number.size() > 1 && number.front() == '0') number.erase(0, 1);
    slug = base + "-" + number;
    for (int i = 2; store::slug_taken(sql, tenant_id, slug); ++i) slug = base + "-" + number + "-" + std::to_string(i);
  }
  row.slug = slug;
  row.tenant_id = tenant_id;
  row.id = new_uuid_v7();
  row.created_by = uow.context().actor_id;
  row.created_at = row.updated_at = now_ms();
  row.version = 1;
  store::insert_customer(sql, row);
  bj::object payload{{"customer_id", row.id}, {"code", row.code}, {"name", row.name},
                     {"status", row.status}, {"owner_id", row.owner_id},
                     {"changes", changes(bj::object{}, row.to_json(), created_fields())}};
  for (const auto& kv : extra_payload) payload[kv.key()] = kv.value();
  publish(uow, events::kCustomerCreated, "customer", row.id, std::move(payload));
  return row;
}

CustomerRow CustomerContext::update(UnitOfWork& uow, const std::string& id, const bj::value& body, Mode mode,
                                    const TenantDefaults& defaults, bool allow_duplicate,
                                    const std::optional<std::string>& expected_version) {
  auto& sql = uow.sql();
  const std::string& tenant_id = uow.context().tenant_id;
  auto before = load_customer(sql, tenant_id, id);
  require_permission(uow.context(), "customers:update", before.owner_id);
  require_version(expected_version, before.version);
  CustomerRow row = before;
  apply_customer_body(body, mode, defaults, row);
  if (!domain::status_change_allowed(before.status, row.status)) {
    throw Error(ErrorKind::conflict, "invalid_transition",
                "Blocking and unblocking go through POST /customers/{id}/block and /unblock.",
                {FieldError{"status", "invalid_transition", "Cannot change from " + before.status + " to " + row.status + "."}});
  }
  // Only a changed email or phone is checked: a customer is no duplicate of itself, and one
  // that was saved as a known duplicate keeps its other fields editable.
  std::string email_key = row.email_key() != before.email_key() ? row.email_key() : std::string();
  std::string phone = row.phone != before.phone ? row.phone.value_or("") : std::string();
  bool new_external_id = row.external_id && row.external_id != before.external_id;
  bool check_duplicate = !allow_duplicate && (!email_key.empty() || !phone.empty());
  if (new_external_id || check_duplicate) {
    // The lock creation takes first: a concurrent create or update cannot slip in between
    // the check and the write.
    store::lock_customers(sql, tenant_id);
    if (new_external_id) {
      if (auto other = store::customer_with_external_id(sql, tenant_id, *row.external_id); other && *other != id) {
        throw external_id_taken(*other);
      }
    }
    if (check_duplicate) {
      if (auto dup = store::find_duplicate(sql, tenant_id, email_key, phone, id)) {
        throw duplicate_error(*dup, "Send ?allow_duplicate=true to save it anyway.");
      }
    }
  }
  if (row.to_json() == before.to_json()) return before;  // nothing changed: no write, no event
  row.updated_at = now_ms();
  save_customer(uow, row, before.version);
  publish_changes(uow, before, row);
  return load_customer(sql, tenant_id, id);
}

void CustomerContext::soft_delete(UnitOfWork& uow, const std::string& id,
                                  const std::optional<std::string>& expected_version) {
  const std::string& tenant_id = uow.context().tenant_id;
  auto c = load_customer(uow.sql(), tenant_id, id);
  require_permission(uow.context(), "customers:delete", c.owner_id);
  require_version(expected_version, c.version);
  CustomerRow row = c;
  row.deleted_at = row.updated_at = now_ms();
  save_customer(uow, row, c.version);
  publish(uow, events::kCustomerDeleted, "customer", id,
          bj::object{{"customer_id", id}, {"code", c.code},
                     {"changes", bj::object{{"deleted_at", bj::object{{"old", nullptr},
                                                                      {"new", format_rfc3339(*row.deleted_at)}}}}}});
}

namespace {

void timeline_entry(UnitOfWork& uow, const EventEnvelope& e, const std::string& customer_id, std::string kind,
                    std::string summary, bj::object data = {}) {
  TimelineRow t;
  t.tenant_id = e.tenant_id;
  t.id = new_uuid_v7();
  t.customer_id = customer_id;
  t.kind = std::move(kind);
  t.summary = std::move(summary);
  t.data = std::move(data);
  t.actor_id = e.actor_id;
  t.source_type = "event";
  t.source_id = e.id;
  t.occurred_at = e.occurred_at;
  store::insert_timeline(uow.sql(), t);
}

std::string text_of(const bj::object& o, const char* key) {
  const auto* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->get_string()) : std::string();
}

/// The system entries of a customer's timeline, from the module's own events.
void write_timeline(UnitOfWork& uow, const EventEnvelope& e) {
  const auto& p = e.payload;
  std::string customer_id = text_of(p, "customer_id");
  if (customer_id.empty() || e.tenant_id.empty()) return;
  auto change = [&](const char* field) {
    const auto* c = p.if_contains("changes");
    const bj::value* f = c && c->is_object() ? c->get_object().if_contains(field) : nullptr;
    return f && f->is_object() ? f->get_object() : bj::object{};
  };
  auto as_text = [](const bj::value* v) { return v && v->is_string() ? std::string(v->get_string()) : std::string("none"); };
  if (e.type == events::kCustomerCreated) {
    std::string lead = text_of(p, "source_lead_id");
    timeline_entry(uow, e, customer_id, "created",
                   lead.empty() ? "Customer " + text_of(p, "code") + " created"
                                : "Customer " + text_of(p, "code") + " created from lead " + lead,
                   bj::object{{"code", text_of(p, "code")}, {"status", text_of(p, "status")}});
  } else if (e.type == events::kCustomerStatusChanged) {
    auto s = change("status");
    timeline_entry(uow, e, customer_id, "status_changed",
                   "Status changed from " + as_text(s.if_contains("old")) + " to " + as_text(s.if_contains("new")), s);
  } else if (e.type == events::kCustomerOwnerChanged) {
    auto o = change("owner_id");
    timeline_entry(uow, e, customer_id, "owner_changed",
                   "Owner changed from " + as_text(o.if_contains("old")) + " to " + as_text(o.if_contains("new")), o);
  } else if (e.type == events::kCustomerDeleted) {
    timeline_entry(uow, e, customer_id, "deleted", "Customer deleted");
  } else if (e.type == events::kCustomerMerged) {
    timeline_entry(uow, e, customer_id, "merged", "Customer " + text_of(p, "source_code") + " merged into this one",
                   bj::object{{"source_id", text_of(p, "source_id")}});
  } else if (e.type == events::kCustomerRestored) {
    timeline_entry(uow, e, customer_id, "restored", "Customer restored");
  } else if (e.type == events::kContactAdded) {
    timeline_entry(uow, e, customer_id, "contact_added", "Contact " + text_of(p, "name") + " added",
                   bj::object{{"contact_id", text_of(p, "contact_id")}});
  } else if (e.type == events::kNoteAdded) {
    timeline_entry(uow, e, customer_id, "note_added", "Note added", bj::object{{"note_id", text_of(p, "note_id")}});
  } else if (e.type == events::kActivityLogged) {
    timeline_entry(uow, e, customer_id, "activity", text_of(p, "summary"),
                   bj::object{{"activity_id", text_of(p, "activity_id")}, {"type", text_of(p, "type")}});
  }
}

class CustomerModuleImpl final : public Module, public CustomerDirectory {
 public:
  explicit CustomerModuleImpl(ModuleContext& ctx) : module_(ctx), ctx_{module_, ctx.db, ctx.uow} {
    if (auto v = integer_setting("max_contacts_per_customer", 1, 10000, "an integer from 1 to 10000")) {
      ctx_.max_contacts = static_cast<int>(*v);
    }
    merges_ = &ctx.metrics.counter("crm_customer_search_merges_total",
                                   "Merge steps run on the full-text index of customers (SQLite)");
    if (auto v = integer_setting("search_merge_interval_ms", 0, 86400000, "0 (off) or an integer up to 86400000")) {
      search_merge_interval_ = std::chrono::milliseconds(*v);
    }
    if (auto v = integer_setting("search_merge_after_changes", 1, 100000000, "an integer from 1")) {
      search_merge_after_ = *v;
    }
    if (auto v = integer_setting("import_max_bytes", 1024, 1LL << 34, "an integer from 1024 to 17179869184")) {
      ctx_.import_max_bytes = *v;
    }
    if (auto v = integer_setting("import_batch_size", 1, 10000, "an integer from 1 to 10000")) {
      ctx_.import_batch_size = static_cast<int>(*v);
    }
    ctx_.imports = &imports_;
    if (const auto* limits = module_.section.if_contains("customer_limits")) {
      // {"free": 10000, ...}: live customers per plan, 0 for unlimited.
      if (!limits->is_object()) throw ConfigError("invalid configuration: modules.customer.customer_limits: an object");
      for (const auto& kv : limits->get_object()) {
        std::string plan(kv.key());
        if (!ctx_.plan_limits.count(plan) || !kv.value().is_int64() || kv.value().get_int64() < 0) {
          throw ConfigError("invalid configuration: modules.customer.customer_limits." + plan +
                            ": a plan (free, starter, pro, enterprise) and a count >= 0");
        }
        ctx_.plan_limits[plan] = kv.value().get_int64();
      }
    }
  }

  std::string_view name() const override { return "customer"; }
  std::vector<MigrationSource> migrations() const override { return generated::migrations_customer(); }

  void register_routes(Router& router) override {
    register_customer_routes(router, ctx_);
    register_related_routes(router, ctx_);
    register_field_routes(router, ctx_);
    register_batch_routes(router, ctx_);
    register_export_routes(router, ctx_);
    register_import_routes(router, ctx_);
    register_segment_routes(router, ctx_);
    describe_customer_api(router);
    describe_batch_api(router);
    describe_export_api(router);
    describe_import_api(router);
    describe_segment_api(router);
  }

  void subscribe(EventBus& bus) override {
    // The timeline is a read model of the module's own events, kept in the same transaction.
    bus.subscribe_sync("customer.timeline",
                       {events::kCustomerCreated, events::kCustomerStatusChanged, events::kCustomerOwnerChanged,
                        events::kCustomerDeleted, events::kCustomerRestored, events::kCustomerMerged, events::kContactAdded,
                        events::kNoteAdded, events::kActivityLogged},
                       [](UnitOfWork& uow, const EventEnvelope& e) { write_timeline(uow, e); });
    // IAM changed a tenant (settings, plan): its cached defaults go once that commits.
    bus.subscribe_sync("customer.tenant_defaults",
                       {iam::events::kTenantUpdated, iam::events::kTenantPlanChanged, iam::events::kTenantStatusChanged},
                       [this](UnitOfWork& uow, const EventEnvelope& e) {
                         std::string tenant_id = e.aggregate_id;
                         uow.after_commit([this, tenant_id] { ctx_.forget_defaults(tenant_id); });
                       });
    // The search document follows every change of the text it is made of, in the same
    // transaction, so a search never sees a half-done write. It is written once per customer,
    // from the final state, just before the transaction commits.
    bus.subscribe_sync("customer.search_index",
                       {events::kCustomerCreated, events::kCustomerUpdated, events::kCustomerPurged,
                        events::kCustomerDeleted, events::kCustomerMerged,
                        events::kContactAdded, events::kContactUpdated, events::kContactRemoved, events::kNoteAdded,
                        events::kNoteUpdated, events::kNoteRemoved},
                       [this](UnitOfWork& uow, const EventEnvelope& e) {
                         const auto* id = e.payload.if_contains("customer_id");
                         if (!id || !id->is_string() || e.tenant_id.empty()) return;
                         std::string tenant_id = e.tenant_id, customer_id(id->get_string());
                         bool created = e.type == events::kCustomerCreated;
                         // A document made on creation has no contacts or notes; any later change
                         // in the same transaction asks for a full one, which then runs after it.
                         // All documents are prepared first, then all written to the index.
                         auto document = std::make_shared<std::optional<store::SearchDocument>>();
                         std::string key = (created ? "customer.search.new:" : "customer.search:") + tenant_id +
                                           ":" + customer_id;
                         if (!uow.before_commit(key, [&uow, tenant_id, customer_id, created, document] {
                               *document = store::prepare_search_document(uow.sql(), tenant_id, customer_id, created);
                             })) {
                           return;
                         }
                         uow.before_commit(key, [&uow, document] {
                           if (*document) store::write_search_document(uow.sql(), **document);
                         }, 1);
                         search_changes_.fetch_add(1, std::memory_order_relaxed);
                       });
  }

  // modules.customer.<key>: nullopt when absent; a ConfigError saying `expected` when it is
  // not an integer from `min` to `max`.
  std::optional<long long> integer_setting(const char* key, long long min, long long max, const char* expected) const {
    const auto* m = module_.section.if_contains(key);
    if (!m) return std::nullopt;
    if (!m->is_int64() || m->get_int64() < min || m->get_int64() > max) {
      throw ConfigError(std::string("invalid configuration: modules.customer.") + key + ": " + expected);
    }
    return m->get_int64();
  }

  // SQLite: once enough search documents changed, the full-text index is merged in the
  // background, a bounded step per transaction, so that searches do not slow down as deleted
  // and replaced documents pile up in its segments (measured: 195 -> 77 searches/s after
  // 80,000 creates and deletes of customers, back to 195 once merged).
  //
  // A merge of every level with two or more segments can rewrite most of the index, so it
  // waits for a quarter of the documents to have changed (and at least
  // search_merge_after_changes): on 170,000 customers, merging after every 1,000 creates kept
  // the write lock for 40 ms per step, some 10 s a minute under a stream of creates. Smaller
  // steps keep each hold short.
  void merge_search_index() {
    pending_search_changes_ += search_changes_.exchange(0, std::memory_order_relaxed);
    if (pending_search_changes_ < search_merge_after_) return;
    try {
      std::int64_t documents = 0;
      {
        auto lease = module_.db.acquire();
        documents = store::search_document_count(*lease);
      }
      if (pending_search_changes_ < documents / 4) return;
      for (int step = 0; step < kSearchMergeSteps; ++step) {
        bool more = merge_step();
        merges_->inc();
        if (!more) {
          pending_search_changes_ = 0;
          break;
        }
      }
    } catch (const std::exception& e) {
      log_warn("merging the search index failed", {{"error", e.what()}});
    }
    // A merge reads and writes the index's largest doclists through buffers of some megabytes
    // each (measured: 40 MiB more resident memory after a 100,000-row import); the process's
    // MemoryTrimmer hands what they freed back to the system.
  }

  // One merge step in a transaction of its own, never in a group commit with document
  // writes. (The index was found corrupt within a minute of a 300,000-row import with creates
  // alongside while merges ran in groups with FTS5's negative page count; see
  // store::merge_search_index.)
  bool merge_step() {
    return ctx_.uow.run_alone(RequestContext{}, [](UnitOfWork& uow) {
      return store::merge_search_index(uow.sql(), kSearchMergePages);
    });
  }

  void start() override {
    module_.services.provide<CustomerDirectory>(std::shared_ptr<CustomerDirectory>(this, [](CustomerDirectory*) {}));
    rebuild_search_index_if_empty();
    // IAM starts first and seeds the demo tenant and its users.
    if (module_.config.demo) {
      seed_demo_customers(ctx_);
      seed_demo_segments(ctx_);
    }
    imports_.start();
    if (module_.db.backend() == Backend::sqlite && search_merge_interval_.count() > 0) {
      merge_task_ = std::make_unique<PeriodicTask>(search_merge_interval_, [this] { merge_search_index(); });
      merge_task_->start();
    }
  }

  void stop() override {
    if (merge_task_) merge_task_->stop();
    imports_.stop();
  }

  std::optional<CustomerSummary> find_customer(const std::string& tenant_id, const std::string& customer_id,
                                               bool include_deleted) const override {
    if (!is_uuid(customer_id)) return std::nullopt;
    auto lease = module_.db.acquire();
    auto c = store::customer(*lease, tenant_id, customer_id);
    if (!c || (c->deleted_at && !include_deleted)) return std::nullopt;
    return c->summary();
  }

  CustomerSummary create_customer(UnitOfWork& uow, const NewCustomer& input) override {
    const std::string& tenant_id = uow.context().tenant_id;
    if (tenant_id.empty()) throw Error::forbidden("Creating a customer needs a tenant.");
    bj::object body{{"name", input.name}, {"type", input.type}, {"status", input.status}};
    if (!input.email.empty()) body["email"] = input.email;
    if (!input.phone.empty()) body["phone"] = input.phone;
    if (!input.external_id.empty()) body["external_id"] = input.external_id;
    bj::array tags;
    for (const auto& t : input.tags) tags.emplace_back(t);
    body["tags"] = std::move(tags);
    std::string owner = input.owner_id.empty() ? CustomerContext::default_owner(uow.context()) : input.owner_id;
    CustomerRow row;
    // Both ask IAM on a connection of their own while the caller's transaction is open
    // (IamDirectory takes no session); the defaults are usually cached.
    auto defaults = ctx_.defaults(tenant_id);
    apply_customer_body(body, Mode::create, defaults, row);
    ctx_.require_member(uow.context(), owner, "owner_id");
    row.owner_id = owner;
    bj::object extra;
    if (!input.source_lead_id.empty()) extra["source_lead_id"] = input.source_lead_id;
    return ctx_.create(uow, std::move(row), defaults, false, extra).summary();
  }

  std::string add_timeline_entry(UnitOfWork& uow, const TimelineEntry& entry) override {
    const std::string& tenant_id = uow.context().tenant_id;
    std::vector<FieldError> problems;
    if (entry.kind.empty() || entry.kind.size() > 50) problems.push_back({"kind", "invalid", "1 to 50 characters."});
    if (entry.summary.empty() || entry.summary.size() > 500) {
      problems.push_back({"summary", "invalid", "1 to 500 characters."});
    }
    if (!problems.empty()) throw Error::validation(problems);
    load_customer(uow.sql(), tenant_id, entry.customer_id, true);
    TimelineRow t;
    t.tenant_id = tenant_id;
    t.id = new_uuid_v7();
    t.customer_id = entry.customer_id;
    t.kind = entry.kind;
    t.summary = entry.summary;
    t.data = entry.data;
    t.actor_id = uow.context().actor_id;
    t.source_type = entry.source_type;
    t.source_id = entry.source_id;
    t.occurred_at = now_ms();
    store::insert_timeline(uow.sql(), t);
    publish(uow, events::kTimelineEntryAdded, "customer", entry.customer_id,
            bj::object{{"customer_id", entry.customer_id}, {"entry_id", t.id}, {"kind", t.kind},
                       {"summary", t.summary}});
    return t.id;
  }

  bj::object check_custom_fields(UnitOfWork& uow, const std::string& entity, const bj::value& custom_fields,
                                 bool check_required) const override {
    if (!domain::valid_field_entity(entity)) throw Error::validation("entity", "invalid", "Not an entity with custom fields.");
    auto definitions = store::field_definitions(uow.sql(), uow.context().tenant_id, entity);
    std::vector<FieldError> problems;
    auto out = read_custom_fields(custom_fields, &definitions, check_required, "custom_fields", problems);
    if (!problems.empty()) throw Error::validation(problems);
    return out;
  }

 private:
  /// A database whose customers have no search documents (it predates their keys) gets them
  /// rebuilt, a few hundred customers per transaction.
  void rebuild_search_index_if_empty() {
    {
      auto lease = module_.db.acquire();
      if (!store::search_index_empty(*lease)) return;
    }
    std::pair<std::string, std::string> last;
    std::size_t total = 0;
    while (true) {
      auto batch = ctx_.uow.run(RequestContext{}, [&](UnitOfWork& uow) {
        auto keys = store::customer_keys_after(uow.sql(), last.first, last.second, 500);
        for (const auto& [tenant_id, id] : keys) store::reindex_customer(uow.sql(), tenant_id, id);
        return keys;
      });
      if (batch.empty()) break;
      total += batch.size();
      last = batch.back();
    }
    log_info("customer search index rebuilt", {{"customers", static_cast<std::int64_t>(total)}});
  }

  ModuleContext module_;
  CustomerContext ctx_;
  ImportWorker imports_{ctx_};
  // Search index merging (SQLite): one step writes about this many pages, holding the write
  // lock for some milliseconds; a run takes at most this many steps.
  static constexpr int kSearchMergePages = 64;
  static constexpr int kSearchMergeSteps = 256;
  std::chrono::milliseconds search_merge_interval_{30000};
  long long search_merge_after_ = 1000;
  std::atomic<long long> search_changes_{0};
  long long pending_search_changes_ = 0;  // the merge task's thread only
  platform::Counter* merges_ = nullptr;
  std::unique_ptr<PeriodicTask> merge_task_;
};

}  // namespace

ModuleFactory customer_module_factory() {
  return ModuleFactory{"customer", [](ModuleContext& ctx) { return std::make_unique<CustomerModuleImpl>(ctx); }};
}

}  // namespace crm::customer
