// POST /api/v1/customers/batch/create|update|upsert|delete: up to 100 inputs in one request,
// each answered with what the single endpoint would have answered for it.
//
// Every input runs in its own savepoint of one transaction, so a failed input takes back
// exactly its own rows, events and audit entries while the others stay. With all_or_none every
// input is still tried, so the answer names each failure, and then the whole transaction is
// rolled back when any failed.
#include "customer_internal.hpp"

#include "crm/platform/authorization.hpp"
#include "crm/platform/openapi_schema.hpp"
#include "crm/platform/router.hpp"

#include <soci/soci.h>

#include <algorithm>
#include <climits>
#include <set>

namespace crm::customer {

using namespace crm::platform;

namespace {

constexpr std::size_t kMaxInputs = 100;

enum class Operation { create, update, upsert, remove };

/// The request envelope: {"inputs": [...], "all_or_none": false, "match_on": ... (upsert)}.
struct Batch {
  std::vector<const bj::value*> inputs;  // into the parsed body
  bool all_or_none = false;
  std::string match_on;  // upsert: "email" or "external_id"
};

/// What every input of one batch shares.
struct BatchScope {
  CustomerContext& cc;
  const RequestContext& ctx;
  const std::string& tenant_id;
  TenantDefaults defaults;
  bool allow_duplicate = false;
  std::string match_on;
  std::set<std::string> members;  // owner ids already found to be active members
};

/// One input after the checks made before the transaction.
struct Input {
  const bj::value* fields = nullptr;    // create, upsert: the input; update: its properties
  std::string id;                       // update, delete
  std::optional<std::string> version;   // update, delete: like If-Match
  CustomerRow row;                      // create: the customer to insert
  std::string match_key;                // upsert: the email key or external id to match
};

/// One input's outcome, in the single endpoint's terms.
struct Result {
  int status = 0;
  std::string id;
  std::optional<bj::object> resource;
  std::optional<Error> problem;
};

/// Errors a single request would have answered with a 4xx belong to their input; anything
/// else (the database failing) fails the whole request, which then commits nothing.
bool belongs_to_input(const Error& e) { return http_status(e.kind()) < 500; }

Result failure(const Error& e) { return Result{http_status(e.kind()), {}, std::nullopt, e}; }

Batch read_batch(const bj::value& body, Operation op) {
  json::ObjectReader r(body);
  Batch b;
  const bj::value* inputs = r.optional_value("inputs");
  b.all_or_none = r.optional_bool("all_or_none").value_or(false);
  if (op == Operation::upsert) {
    auto match_on = r.optional_string("match_on", 30);
    if (!match_on) {
      r.add_error("match_on", "required", "Is required: email or external_id.");
    } else if (*match_on != "email" && *match_on != "external_id") {
      r.add_error("match_on", "invalid", "Must be email or external_id.");
    } else {
      b.match_on = *match_on;
    }
  }
  std::string limits = "1 to " + std::to_string(kMaxInputs) + " inputs";
  if (!inputs) {
    r.add_error("inputs", "required", "Is required: an array of " + limits + ".");
  } else if (!inputs->is_array()) {
    r.add_error("inputs", "type", "Must be an array of " + limits + ".");
  } else if (inputs->get_array().empty()) {
    r.add_error("inputs", "too_few", "Must have " + limits + ".");
  } else if (inputs->get_array().size() > kMaxInputs) {
    r.add_error("inputs", "too_many", "Must have " + limits + "; split larger batches.");
  } else {
    for (const auto& v : inputs->get_array()) b.inputs.push_back(&v);
  }
  r.finish();
  return b;
}

/// A caller who may not do the operation on any customer, not even their own, is refused as
/// a whole (403), as every single request would be; ownership is then checked per input.
void require_batch_permission(const RequestContext& ctx, Operation op) {
  const std::string& self = ctx.principal.user_id;
  switch (op) {
    case Operation::create:
      require_permission(ctx, "customers:create");
      return;
    case Operation::update:
      require_permission(ctx, "customers:update", self);
      return;
    case Operation::upsert:
      if (!has_permission(ctx, "customers:create")) require_permission(ctx, "customers:update", self);
      return;
    case Operation::remove:
      require_permission(ctx, "customers:delete", self);
      return;
  }
}

/// 422 on owner_id unless the owner is an active member; asked once per owner and batch.
void require_owner(BatchScope& s, const std::string& owner_id) {
  if (s.members.count(owner_id)) return;
  s.cc.require_member(s.ctx, owner_id, "owner_id");
  s.members.insert(owner_id);
}

bool names(const std::vector<std::string>& named, const char* field) {
  return std::find(named.begin(), named.end(), field) != named.end();
}

/// {"id", "version"?} of an update or delete input, as If-Match would carry the version.
void read_target(json::ObjectReader& r, Input& in) {
  in.id = r.required_string("id", 64);
  if (auto v = r.optional_int("version", 1, INT_MAX)) in.version = std::to_string(*v);
}

Input prepare_create(BatchScope& s, const bj::value& value) {
  Input in;
  in.fields = &value;
  in.row.owner_id = CustomerContext::default_owner(s.ctx);
  apply_customer_body(value, Mode::create, s.defaults, in.row);
  require_owner(s, in.row.owner_id);
  return in;
}

Input prepare_update(BatchScope& s, const bj::value& value) {
  Input in;
  json::ObjectReader r(value);
  read_target(r, in);
  in.fields = r.optional_value("properties");
  if (!in.fields) {
    r.add_error("properties", "required", "Is required: the customer fields to change.");
  } else if (!in.fields->is_object()) {
    r.add_error("properties", "type", "Must be an object of customer fields.");
  }
  r.finish();
  // As PATCH /customers/{id}: the fields are checked on a blank row first.
  CustomerRow probe;
  auto named = apply_customer_body(*in.fields, Mode::patch, s.defaults, probe);
  if (names(named, "owner_id")) require_owner(s, probe.owner_id);
  return in;
}

Input prepare_upsert(BatchScope& s, const bj::value& value) {
  Input in;
  in.fields = &value;
  // Checked as a patch (a match is patched); creating also needs what a create needs, which
  // the create itself checks.
  CustomerRow probe;
  std::vector<std::string> named;
  std::vector<FieldError> problems;
  try {
    named = apply_customer_body(value, Mode::patch, s.defaults, probe);
  } catch (const Error& e) {
    if (e.kind() != ErrorKind::validation) throw;
    problems = e.fields();
  }
  bool email = s.match_on == "email";
  in.match_key = email ? probe.email_key() : probe.external_id.value_or("");
  bool named_key = std::any_of(problems.begin(), problems.end(), [&](const FieldError& f) { return f.field == s.match_on; });
  if (in.match_key.empty() && !named_key) {
    problems.push_back({s.match_on, "required", "Is required: the batch matches on " + s.match_on + "."});
  }
  if (!problems.empty()) throw Error::validation(problems);
  if (names(named, "owner_id")) require_owner(s, probe.owner_id);
  return in;
}

Input prepare_delete(const bj::value& value) {
  Input in;
  json::ObjectReader r(value);
  read_target(r, in);
  r.finish();
  return in;
}

Input prepare(BatchScope& s, Operation op, const bj::value& value) {
  switch (op) {
    case Operation::create: return prepare_create(s, value);
    case Operation::update: return prepare_update(s, value);
    case Operation::upsert: return prepare_upsert(s, value);
    case Operation::remove: return prepare_delete(value);
  }
  throw Error::internal();
}

Result created(const CustomerRow& c) { return Result{201, c.id, c.to_json(), std::nullopt}; }
Result updated(const CustomerRow& c) { return Result{200, c.id, c.to_json(), std::nullopt}; }

/// The live customer an upsert input matches (the batch holds the tenant's customer lock, so
/// two batches cannot both miss and both create). Several live customers may share an email
/// (saved with allow_duplicate): the oldest is the match.
std::optional<std::string> upsert_match(BatchScope& s, soci::session& sql, const Input& in) {
  if (s.match_on == "email") {
    if (auto dup = store::find_duplicate(sql, s.tenant_id, in.match_key, "")) return dup->first;
    return std::nullopt;
  }
  auto id = store::customer_with_external_id(sql, s.tenant_id, in.match_key);
  if (!id) return std::nullopt;
  // A deleted customer keeps its external_id: creating then answers external_id_taken.
  auto c = store::customer(sql, s.tenant_id, *id);
  if (!c || c->deleted_at) return std::nullopt;
  return id;
}

Result run(BatchScope& s, UnitOfWork& uow, Operation op, const Input& in) {
  switch (op) {
    case Operation::create:
      return created(s.cc.create(uow, in.row, s.defaults, s.allow_duplicate));
    case Operation::update:
      return updated(s.cc.update(uow, in.id, *in.fields, Mode::patch, s.defaults, s.allow_duplicate, in.version));
    case Operation::upsert: {
      if (auto match = upsert_match(s, uow.sql(), in)) {
        return updated(s.cc.update(uow, *match, *in.fields, Mode::patch, s.defaults, s.allow_duplicate, std::nullopt));
      }
      require_permission(s.ctx, "customers:create");
      CustomerRow row;
      row.owner_id = CustomerContext::default_owner(s.ctx);
      apply_customer_body(*in.fields, Mode::create, s.defaults, row);
      return created(s.cc.create(uow, std::move(row), s.defaults, s.allow_duplicate));
    }
    case Operation::remove:
      s.cc.soft_delete(uow, in.id, in.version);
      return Result{204, in.id, std::nullopt, std::nullopt};
  }
  throw Error::internal();
}

/// Thrown out of the unit of work to roll back an all-or-none batch with a failed input.
struct NothingCommitted {};

bj::object result_json(const Result& r, std::size_t index, std::string_view request_id) {
  bj::object o{{"index", index}, {"status", r.status}};
  if (!r.id.empty()) o["id"] = r.id;
  if (r.resource) o["resource"] = *r.resource;
  if (r.problem) o["problem"] = problem_document(*r.problem, request_id);
  return o;
}

/// An input that worked but went with its all-or-none batch: 424, as in WebDAV's "the
/// action depended on another action and that action failed".
bj::object not_committed_json(std::size_t index, std::string_view request_id) {
  auto problem = problem_document(
      Error(ErrorKind::conflict, "not_committed",
            "This input succeeded but was not committed: another input failed and the batch is all or none."),
      request_id);
  problem["status"] = 424;
  problem["title"] = "Failed Dependency";
  return bj::object{{"index", index}, {"status", 424}, {"problem", std::move(problem)}};
}

HttpResponse answer(const std::vector<Result>& results, bool committed, std::string_view request_id) {
  bj::array list;
  std::size_t failed = 0;
  std::vector<FieldError> failures;
  for (std::size_t i = 0; i < results.size(); ++i) {
    const auto& r = results[i];
    if (r.problem) {
      ++failed;
      failures.push_back({"inputs[" + std::to_string(i) + "]", r.problem->code(), r.problem->detail()});
    }
    list.push_back(committed || r.problem ? result_json(r, i, request_id) : not_committed_json(i, request_id));
  }
  if (committed) {
    return json_response(200, bj::object{{"results", std::move(list)},
                                         {"succeeded", results.size() - failed},
                                         {"failed", failed}});
  }
  Error e(ErrorKind::validation, "batch_failed",
          std::to_string(failed) + " of " + std::to_string(results.size()) +
              " inputs failed; the batch is all or none, so nothing was committed.",
          std::move(failures));
  auto doc = problem_document(e, request_id);
  doc["results"] = std::move(list);
  doc["succeeded"] = 0;
  doc["failed"] = failed;
  auto res = json_response(static_cast<unsigned>(http_status(e.kind())), doc);
  res.set(boost::beast::http::field::content_type, "application/problem+json");
  return res;
}

HttpResponse handle_batch(CustomerContext& cc, Request& req, Operation op) {
  const auto& tenant_id = tenant_of(req);
  const auto& ctx = req.context();
  require_batch_permission(ctx, op);
  bool allow_duplicate = op != Operation::remove && flag(req, "allow_duplicate");
  auto body = req.json();
  Batch batch = read_batch(body, op);
  BatchScope scope{cc, ctx, tenant_id, cc.defaults(tenant_id), allow_duplicate, batch.match_on, {}};

  // Body rules and owner membership first, outside the transaction (IAM answers on a
  // connection of its own), as the single endpoints do.
  std::vector<Result> results(batch.inputs.size());
  std::vector<std::optional<Input>> inputs(batch.inputs.size());
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    try {
      inputs[i] = prepare(scope, op, *batch.inputs[i]);
    } catch (const Error& e) {
      if (!belongs_to_input(e)) throw;
      results[i] = failure(e);
    }
  }

  auto any_failed = [&results] {
    return std::any_of(results.begin(), results.end(), [](const Result& r) { return r.problem.has_value(); });
  };
  bool any_ready = std::any_of(inputs.begin(), inputs.end(), [](const auto& in) { return in.has_value(); });
  if (any_ready) {
    try {
      cc.uow.run(ctx, [&](UnitOfWork& uow) {
        // The tenant's customer lock first, before any customer row: creates and checked
        // updates take it before their rows too, so a batch cannot deadlock with them; and
        // taken outside the savepoints, it is held to the end even when an input fails.
        store::lock_customers(uow.sql(), tenant_id);
        for (std::size_t i = 0; i < inputs.size(); ++i) {
          if (!inputs[i]) continue;
          try {
            results[i] = uow.savepoint([&] { return run(scope, uow, op, *inputs[i]); });
          } catch (const Error& e) {
            if (!belongs_to_input(e)) throw;
            results[i] = failure(e);
          }
        }
        if (batch.all_or_none && any_failed()) throw NothingCommitted{};
      });
    } catch (const NothingCommitted&) {
      // Rolled back; the answer below says so.
    }
  }
  bool committed = !(batch.all_or_none && any_failed());
  return answer(results, committed, ctx.request_id);
}

RouteOptions route(const char* summary) { return route_options("customers", summary); }

}  // namespace

void register_batch_routes(Router& router, CustomerContext& cc) {
  const std::pair<const char*, Operation> operations[] = {
      {"create", Operation::create}, {"update", Operation::update},
      {"upsert", Operation::upsert}, {"delete", Operation::remove}};
  for (const auto& [name, op] : operations) {
    Operation operation = op;
    std::string path = std::string("/api/v1/customers/batch/") + name;
    router.post(path, [&cc, operation](Request& req) { return handle_batch(cc, req, operation); },
                route(operation == Operation::create   ? "Create up to 100 customers, a result per input in order"
                      : operation == Operation::update ? "Change up to 100 customers (PATCH semantics), a result per "
                                                         "input in order"
                      : operation == Operation::upsert ? "Create or change up to 100 customers matched on email or "
                                                         "external_id, a result per input in order"
                                                       : "Soft-delete up to 100 customers, a result per input in order"));
  }
}

void describe_batch_api(Router& router) {
  using namespace openapi;
  auto inputs_of = [](bj::object item) {
    auto a = array_of(std::move(item));
    a["minItems"] = 1;
    a["maxItems"] = kMaxInputs;
    return a;
  };
  bj::object all_or_none = boolean();
  all_or_none["description"] =
      "false (default): every input commits on its own. true: all inputs commit or none does; any failure "
      "answers 422 batch_failed with the results and writes nothing";
  bj::object version{{"type", "integer"},
                     {"description", "The version the change is based on (as If-Match); 412 for this input when "
                                     "it moved on"}};
  bj::object target = object({{"id", str("uuid")}, {"version", version}}, {"id"});
  bj::object update_input =
      object({{"id", str("uuid")}, {"version", version}, {"properties", ref("CustomerPatch")}}, {"id", "properties"});
  router.add_schema("CustomerBatchCreate",
                    object({{"inputs", inputs_of(ref("CustomerCreate"))}, {"all_or_none", all_or_none}}, {"inputs"}));
  router.add_schema("CustomerBatchUpdate",
                    object({{"inputs", inputs_of(update_input)}, {"all_or_none", all_or_none}}, {"inputs"}));
  bj::object upsert_input = ref("CustomerPatch");
  upsert_input["description"] =
      "A customer body that has the match_on field. A live customer of the tenant with that email (the oldest, "
      "when several share it) or external_id is patched with it (200); otherwise it is created (201, and then "
      "name is required)";
  router.add_schema("CustomerBatchUpsert",
                    object({{"inputs", inputs_of(upsert_input)},
                            {"match_on", enum_of({"email", "external_id"})},
                            {"all_or_none", all_or_none}},
                           {"inputs", "match_on"}));
  router.add_schema("CustomerBatchDelete",
                    object({{"inputs", inputs_of(target)}, {"all_or_none", all_or_none}}, {"inputs"}));
  bj::object status{{"type", "integer"},
                    {"description", "What the single request would have answered: 201 created, 200 changed, 204 "
                                    "deleted, or the 4xx of the problem; 424 for an input that succeeded but was not "
                                    "committed because its all-or-none batch failed"}};
  bj::object problem = ref("Problem");
  problem["description"] = "The RFC 9457 problem the single request would have answered, errors[] naming the "
                           "fields of the input";
  router.add_schema("CustomerBatchResult",
                    object({{"index", {{"type", "integer"}, {"description", "Position of the input, from 0"}}},
                            {"status", status},
                            {"id", str("uuid")},
                            {"resource", ref("Customer")},
                            {"problem", problem}},
                           {"index", "status"}));
  bj::object results = array_of(ref("CustomerBatchResult"));
  results["description"] = "One result per input, in input order";
  router.add_schema("CustomerBatchResponse", object({{"results", results},
                                                     {"succeeded", integer()},
                                                     {"failed", integer()}},
                                                    {"results", "succeeded", "failed"}));
  bj::object failed_batch{
      {"allOf", bj::array{ref("Problem"),
                          object({{"results", results}, {"succeeded", integer()}, {"failed", integer()}},
                                 {"results", "succeeded", "failed"}, false)}}};
  bj::object failed_response{
      {"description", "all_or_none and an input failed (code batch_failed): nothing was committed; errors[] names "
                      "each failed input as inputs[i], results has every input's outcome. Also: the envelope is "
                      "invalid (inputs missing, empty or over 100, unknown fields, match_on)"},
      {"content", bj::object{{"application/problem+json", bj::object{{"schema", failed_batch}}}}}};
  auto allow_duplicate = query("allow_duplicate", "For every input: save even when an email or phone is another "
                                                  "customer's (otherwise that input is a 409 duplicate)",
                               boolean());
  auto ok = response("A result per input, in order (with all_or_none: every input succeeded and was committed)",
                     ref("CustomerBatchResponse"));
  bj::object other_errors{
      {"description", "The request as a whole: 400 malformed JSON or query, 401, 403 when the caller may not do "
                      "the operation to any customer (then no input is tried)"},
      {"content", bj::object{{"application/problem+json", bj::object{{"schema", ref("Problem")}}}}}};
  auto describe = [&](const char* name, const char* schema, std::string description, bool duplicates) {
    description += " A failed input's problem is the one the single request would answer, its errors[] naming "
                   "the input's own fields (email, not inputs[2].email).";
    bj::object op{{"description", description},
                  {"requestBody", body(ref(schema))},
                  {"responses", {{"200", ok}, {"422", failed_response}, {"4XX", other_errors}}}};
    if (duplicates) op["parameters"] = bj::array{allow_duplicate};
    router.describe(HttpVerb::post, std::string("/api/v1/customers/batch/") + name, op);
  };
  describe("create", "CustomerBatchCreate",
           "Each input is a customer body as POST /customers takes it and is answered as that would be (201 with "
           "the customer; 422, 409 duplicate with existing_id, 409 plan_limit_reached...). Needs customers:create.",
           true);
  describe("update", "CustomerBatchUpdate",
           "Each input {id, version?, properties} is answered as PATCH /customers/{id} with properties as its body "
           "and version as If-Match would be (200; 404 for an unknown or another tenant's id; 403 for a customer "
           "the caller may not change; 412 when version moved on; 409 duplicate). Problems of the properties name "
           "customer fields as PATCH does; problems of the input itself name id, version or properties.",
           true);
  describe("upsert", "CustomerBatchUpsert",
           "Each input is a customer body with the match_on field (422 naming it when absent). A match is answered "
           "as PATCH /customers/{id} would be (200, needs customers:update on it), no match as POST /customers "
           "(201, needs customers:create). Matching happens in input order, so a second input with the same key "
           "patches what the first created.",
           true);
  describe("delete", "CustomerBatchDelete",
           "Each input {id, version?} is answered as DELETE /customers/{id} (soft) with version as If-Match would "
           "be (204; 404; 403; 412).",
           false);
}

}  // namespace crm::customer
