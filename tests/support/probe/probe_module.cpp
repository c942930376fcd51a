#include "probe/probe_module.hpp"

#include "crm/customer/customer_module.hpp"

#include "crm/platform/error.hpp"
#include "crm/platform/event_bus.hpp"
#include "crm/platform/json.hpp"
#include "crm/platform/router.hpp"
#include "crm/platform/time.hpp"
#include "crm/platform/unit_of_work.hpp"

#include <boost/json.hpp>
#include <soci/soci.h>

#include <atomic>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <unistd.h>

namespace crm::generated {
std::vector<crm::platform::MigrationSource> migrations_probe();
}

namespace crm::probe {

using namespace crm::platform;
namespace bj = boost::json;

namespace {

// The probe has no IAM: its tenant comes from a header so tests can use several.
constexpr const char* kDefaultTenant = "00000000-0000-7000-8000-000000000001";

std::string tenant_of(Request& req) {
  std::string_view t = req.header("X-Probe-Tenant");
  if (t.empty()) return kDefaultTenant;
  if (!is_uuid(t)) throw Error::bad_request("X-Probe-Tenant must be a UUID");
  return std::string(t);
}

// Test-only authentication: `X-Probe-User` (and optionally `X-Probe-Tenant`) make the request
// authenticated as that user, so platform tests can exercise per-user and per-tenant
// behaviour without the IAM module.
class ProbeAuthentication final : public Middleware {
 public:
  HttpResponse handle(Request& request, const Next& next) override {
    std::string_view user = request.header("X-Probe-User");
    if (!user.empty()) {
      Principal& p = request.context().principal;
      p.authenticated = true;
      p.user_id = std::string(user);
      p.tenant_id = tenant_of(request);
      request.context().actor_id = p.user_id;
      request.context().tenant_id = p.tenant_id;
    }
    return next(request);
  }
};

class ProbeModule final : public Module {
 public:
  explicit ProbeModule(ModuleContext& ctx) : ctx_(ctx) {
    if (const auto* v = ctx.section.if_contains("failing_subscriber")) failing_ = v->is_bool() && v->get_bool();
    if (const auto* v = ctx.section.if_contains("flaky_failures")) {
      if (v->is_int64()) flaky_failures_ = static_cast<int>(v->get_int64());
    }
  }

  std::string_view name() const override { return "probe"; }
  std::vector<MigrationSource> migrations() const override { return generated::migrations_probe(); }

  void register_routes(Router& router) override {
    RouteOptions create;
    create.tag = "probe";
    create.public_route = true;
    create.openapi = {{"summary", "Create a probe item (writes a row and publishes probe.item_created)"}};
    router.post("/api/v1/probe/items", [this](Request& req) { return create_item(req); }, create);

    RouteOptions touch;
    touch.tag = "probe";
    touch.public_route = true;
    touch.openapi = {{"summary", "Publish probe.item_touched for an item"}};
    router.post("/api/v1/probe/items/{id}/touch", [this](Request& req) { return touch_item(req); }, touch);

    RouteOptions get;
    get.tag = "probe";
    get.public_route = true;
    get.openapi = {{"summary", "Read a probe item (one point query)"}};
    router.get("/api/v1/probe/items/{id}", [this](Request& req) { return get_item(req); }, get);

    // Stand-ins for IAM's sign-up and login: routes with the stricter rate-limit policies.
    RouteOptions signup;
    signup.tag = "probe";
    signup.public_route = true;
    signup.rate_limit = "register";
    signup.openapi = {{"summary", "Answer 200 under the \"register\" rate-limit policy"}};
    router.post("/api/v1/probe/signup", [](Request&) { return json_response(200, bj::object{{"ok", true}}); }, signup);

    RouteOptions login = signup;
    login.rate_limit = "auth";
    login.openapi = {{"summary", "Answer 200 under the \"auth\" rate-limit policy"}};
    router.post("/api/v1/probe/login", [](Request&) { return json_response(200, bj::object{{"ok", true}}); }, login);

    // Another module's view of the customer facade: calls it inside this module's own unit
    // of work, as the sales module converting a lead will.
    RouteOptions facade;
    facade.tag = "probe";
    facade.openapi = {{"summary", "Call the customer module's facade (find, create, timeline)"}};
    router.post("/api/v1/probe/customer-facade", [this](Request& req) { return customer_facade(req); }, facade);

    RouteOptions slow;
    slow.tag = "probe";
    slow.public_route = true;
    slow.openapi = {{"summary", "Sleep, then answer (shutdown and timeout tests)"}};
    router.get("/api/v1/probe/slow", [](Request& req) {
      int ms = std::stoi(req.query("ms").value_or("100"));
      std::this_thread::sleep_for(std::chrono::milliseconds(ms));
      return json_response(200, bj::object{{"slept_ms", ms}});
    }, slow);

    RouteOptions stream;
    stream.tag = "probe";
    stream.public_route = true;
    stream.openapi = {{"summary", "Stream `pieces` numbered lines of `size` bytes as chunks; fail after `fail_after`"}};
    router.get("/api/v1/probe/stream", [](Request& req) {
      int pieces = std::stoi(req.query("pieces").value_or("3"));
      std::size_t size = std::stoul(req.query("size").value_or("16"));
      int fail_after = std::stoi(req.query("fail_after").value_or("-1"));
      int pause_ms = std::stoi(req.query("pause_ms").value_or("0"));
      auto next = std::make_shared<int>(0);
      return streamed_response(req, 200, "text/plain", [=]() -> std::optional<std::string> {
        if (*next == fail_after) throw std::runtime_error("the producer failed");
        if (*next >= pieces) return std::nullopt;
        if (pause_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(pause_ms));
        std::string line = std::to_string((*next)++) + ":";
        line.resize(size - 1, 'x');
        return line + "\n";
      });
    }, stream);
  }

  HttpResponse customer_facade(Request& req) {
    auto customers = ctx_.services.get<customer::CustomerDirectory>();
    auto body = req.json();
    const auto& o = body.as_object();
    auto text = [&](const char* k) {
      const auto* v = o.if_contains(k);
      return v && v->is_string() ? std::string(v->get_string()) : std::string();
    };
    std::string op = text("op");
    if (op == "find") {
      auto c = customers->find_customer(req.context().tenant_id, text("customer_id"),
                                        o.contains("include_deleted") && o.at("include_deleted").as_bool());
      if (!c) throw Error::not_found();
      return json_response(200, bj::object{{"id", c->id}, {"code", c->code}, {"name", c->name}, {"email", c->email},
                                           {"phone", c->phone}, {"status", c->status}, {"owner_id", c->owner_id},
                                           {"deleted", c->deleted}});
    }
    if (op == "create") {
      customer::NewCustomer in;
      in.name = text("name");
      in.email = text("email");
      in.phone = text("phone");
      in.owner_id = text("owner_id");
      in.source_lead_id = text("source_lead_id");
      in.external_id = text("external_id");
      bool fail_after = o.contains("fail_after") && o.at("fail_after").as_bool();
      auto c = ctx_.uow.run(req.context(), [&](UnitOfWork& uow) {
        auto created = customers->create_customer(uow, in);
        if (fail_after) throw Error::conflict("probe_abort", "The caller's own work failed after the create.");
        return created;
      });
      return json_response(201, bj::object{{"id", c.id}, {"code", c.code}, {"slug", c.slug}, {"status", c.status},
                                           {"owner_id", c.owner_id}, {"phone", c.phone}});
    }
    if (op == "timeline") {
      customer::TimelineEntry entry;
      entry.customer_id = text("customer_id");
      entry.kind = text("kind");
      entry.summary = text("summary");
      entry.source_type = "deal";
      entry.source_id = text("source_id");
      entry.data = bj::object{{"amount", "1200.00"}};
      auto id = ctx_.uow.run(req.context(), [&](UnitOfWork& uow) { return customers->add_timeline_entry(uow, entry); });
      return json_response(201, bj::object{{"id", id}});
    }
    if (op == "custom_fields") {
      const auto* fields = o.if_contains("custom_fields");
      auto checked = ctx_.uow.run(req.context(), [&](UnitOfWork& uow) {
        return customers->check_custom_fields(uow, text("entity"), fields ? *fields : bj::value(bj::object{}),
                                              o.contains("check_required") && o.at("check_required").as_bool());
      });
      return json_response(200, bj::object{{"custom_fields", checked}});
    }
    throw Error::bad_request("op must be find, create, timeline or custom_fields");
  }

  std::vector<StagedMiddleware> middleware() override {
    return {{MiddlewareStage::authenticate, std::make_shared<ProbeAuthentication>()}};
  }

  void subscribe(EventBus& bus) override {
    // Inside the publishing transaction: a failure here rolls back the write.
    bus.subscribe_sync("probe.audit", {"probe.item_created"}, [](UnitOfWork& uow, const EventEnvelope& e) {
      if (e.payload.at("name").as_string() == "sync-fail") throw std::runtime_error("sync handler refused");
      uow.sql() << "INSERT INTO probe_audit (event_id, item_id) VALUES (:e, :i)", soci::use(e.id),
          soci::use(e.aggregate_id);
    });
    // After commit, once per event.
    bus.subscribe_async("probe.recorder", {"probe.*"}, [](UnitOfWork& uow, const EventEnvelope& e) {
      record(uow, "probe.recorder", e);
    });
    if (failing_) {
      bus.subscribe_async("probe.always_fails", {"probe.item_created"}, [](UnitOfWork&, const EventEnvelope&) {
        throw std::runtime_error("probe subscriber always fails");
      });
    }
    if (flaky_failures_ > 0) {
      bus.subscribe_async("probe.flaky", {"probe.item_touched"}, [this](UnitOfWork& uow, const EventEnvelope& e) {
        {
          std::lock_guard lock(mutex_);
          if (++flaky_attempts_[e.id] <= flaky_failures_) throw std::runtime_error("flaky failure");
        }
        record(uow, "probe.flaky", e);
      });
    }
  }

 private:
  static void record(UnitOfWork& uow, const std::string& subscriber, const EventEnvelope& e) {
    std::string worker = std::to_string(::getpid());
    long long seq = e.sequence;
    uow.sql() << "INSERT INTO probe_handled (subscriber, event_id, event_type, aggregate_id, event_seq, worker)"
                 " VALUES (:s, :e, :t, :a, :q, :w)",
        soci::use(subscriber), soci::use(e.id), soci::use(e.type), soci::use(e.aggregate_id), soci::use(seq),
        soci::use(worker);
  }

  HttpResponse create_item(Request& req) {
    auto body = req.json();
    json::ObjectReader reader(body);
    std::string name = reader.required_string("name", 200);
    bool fail = reader.optional_bool("fail_after_write").value_or(false);
    // Fails (500) the first time this token is seen by the process, then succeeds: retries.
    std::optional<std::string> fail_once = reader.optional_string("fail_once", 100);
    // Sleeps inside the handler: concurrent requests overlap.
    std::int64_t sleep_ms = reader.optional_int("sleep_ms", 0, 10000).value_or(0);
    reader.finish();
    if (fail_once) {
      std::lock_guard lock(mutex_);
      fail = fail || failed_once_.insert(*fail_once).second;
    }
    if (sleep_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(sleep_ms));
    RequestContext ctx = req.context();
    ctx.tenant_id = tenant_of(req);
    std::string id = new_uuid_v7();
    long long now = now_ms();
    bj::object item{{"id", id}, {"tenant_id", ctx.tenant_id}, {"name", name}, {"created_at", format_rfc3339(now)}};
    ctx_.uow.run(ctx, [&](UnitOfWork& uow) {
      uow.sql() << "INSERT INTO probe_items (tenant_id, id, name, created_at) VALUES (:t, :i, :n, :c)",
          soci::use(ctx.tenant_id), soci::use(id), soci::use(name), soci::use(now);
      uow.publish(uow.make_event("probe.item_created", 1, "probe_item", id, bj::object{{"name", name}}));
      if (fail) throw std::runtime_error("forced failure after the write");
    });
    return created_response(item, "/api/v1/probe/items/" + id);
  }

  HttpResponse touch_item(Request& req) {
    const std::string& id = req.path_param("id");
    if (!is_uuid(id)) throw Error::not_found("No such item.");
    RequestContext ctx = req.context();
    ctx.tenant_id = tenant_of(req);
    ctx_.uow.run(ctx, [&](UnitOfWork& uow) {
      int n = 0;
      uow.sql() << "SELECT COUNT(*) FROM probe_items WHERE tenant_id = :t AND id = :i", soci::use(ctx.tenant_id),
          soci::use(id), soci::into(n);
      if (n == 0) throw Error::not_found("No such item.");
      uow.publish(uow.make_event("probe.item_touched", 1, "probe_item", id, bj::object{}));
    });
    return json_response(200, bj::object{{"id", id}});
  }

  HttpResponse get_item(Request& req) {
    const std::string& id = req.path_param("id");
    if (!is_uuid(id)) throw Error::not_found("No such item.");
    std::string tenant = tenant_of(req);
    auto lease = ctx_.db.acquire();
    std::string name;
    long long created = 0;
    *lease << "SELECT name, created_at FROM probe_items WHERE tenant_id = :t AND id = :i", soci::use(tenant),
        soci::use(id), soci::into(name), soci::into(created);
    if (!lease->got_data()) throw Error::not_found("No such item.");
    return json_response(200, bj::object{{"id", id}, {"tenant_id", tenant}, {"name", name},
                                         {"created_at", format_rfc3339(created)}});
  }

  ModuleContext ctx_;
  bool failing_ = false;
  int flaky_failures_ = 0;
  std::mutex mutex_;
  std::map<std::string, int> flaky_attempts_;
  std::set<std::string> failed_once_;
};

}  // namespace

ModuleFactory probe_module_factory() {
  return ModuleFactory{"probe", [](ModuleContext& ctx) { return std::make_unique<ProbeModule>(ctx); }};
}

}  // namespace crm::probe
