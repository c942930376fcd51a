#include "ops_routes.hpp"

#include "crm/platform/json.hpp"
#include "crm/platform/outbox.hpp"

#include <boost/json.hpp>

namespace crm::app {

using namespace crm::platform;
namespace bj = boost::json;

namespace {

bj::object simple_response(const char* description, const char* content_type = "application/json") {
  return bj::object{{"description", description},
                    {"content", bj::object{{content_type, bj::object{{"schema", bj::object{{"type", "object"}}}}}}}};
}

}  // namespace

void register_ops_routes(Router& router, std::shared_ptr<OpsDependencies> deps) {
  RouteOptions health;
  health.run_inline = true;
  health.tag = "operations";
  health.public_route = true;
  health.openapi = {{"summary", "Liveness: the process is up"},
                    {"responses", bj::object{{"200", simple_response("The process is alive")}}}};
  router.get("/healthz", [](Request&) { return json_response(200, bj::object{{"status", "ok"}}); }, health);

  RouteOptions ready;
  ready.tag = "operations";
  ready.public_route = true;
  ready.openapi = {{"summary", "Readiness: database reachable, migrations current, outbox lag under threshold"},
                   {"responses", bj::object{{"200", simple_response("Ready")},
                                            {"503", simple_response("Not ready, with the reason")}}}};
  router.get("/readyz", [deps](Request&) {
    bj::object checks;
    std::string reason;
    bool db_ok = deps->db.ping();
    checks["database"] = db_ok ? "ok" : "unreachable";
    if (!db_ok) reason = "database unreachable";
    if (db_ok) {
      try {
        Migrator migrator(deps->db, deps->migrations);
        bool current = migrator.current();
        checks["migrations"] = current ? "ok" : "pending";
        if (!current) reason = "migrations pending";
      } catch (const std::exception&) {
        checks["migrations"] = "changed";
        reason = "an applied migration was changed";
      }
      try {
        auto status = outbox_status(deps->db);
        bool lag_ok = status.oldest_pending_age_ms <= deps->config.outbox.lag_threshold_ms;
        checks["outbox"] = bj::object{{"pending", status.pending},
                                      {"dead", status.dead},
                                      {"lag_ms", status.oldest_pending_age_ms},
                                      {"status", lag_ok ? "ok" : "lagging"}};
        if (!lag_ok && reason.empty()) reason = "outbox lag over threshold";
      } catch (const std::exception&) {
        checks["outbox"] = "unavailable";
        if (reason.empty()) reason = "outbox unavailable";
      }
    }
    bj::object body{{"status", reason.empty() ? "ready" : "unavailable"}, {"checks", checks}};
    if (!reason.empty()) body["reason"] = reason;
    HttpResponse res = json_response(reason.empty() ? 200 : 503, body);
    if (!reason.empty()) res.set("Retry-After", "5");
    return res;
  }, ready);

  RouteOptions metrics;
  metrics.tag = "operations";
  metrics.public_route = true;
  metrics.openapi = {{"summary", "Prometheus metrics"},
                     {"responses", bj::object{{"200", simple_response("Metrics in the text exposition format",
                                                                       "text/plain")}}}};
  router.get("/metrics", [deps](Request&) {
    return text_response(200, deps->metrics.render(), "text/plain; version=0.0.4; charset=utf-8");
  }, metrics);

  RouteOptions openapi;
  openapi.run_inline = true;
  openapi.tag = "operations";
  openapi.public_route = true;
  openapi.openapi = {{"summary", "This OpenAPI document"},
                     {"responses", bj::object{{"200", simple_response("OpenAPI 3.1 document")}}}};
  router.get("/api/v1/openapi.json", [deps](Request&) {
    return text_response(200, deps->openapi ? *deps->openapi : std::string("{}"), "application/json");
  }, openapi);
}

void register_platform_gauges(MetricsRegistry& metrics, Database& db, UnitOfWorkFactory& units,
                              std::function<int()> in_flight) {
  metrics.gauge("crm_db_pool_connections", "Database pool connections by state", [&db] {
    auto s = db.stats();
    return std::vector<MetricsRegistry::GaugeSample>{
        {{{"state", "in_use"}}, static_cast<double>(s.in_use)},
        {{{"state", "idle"}}, static_cast<double>(s.size - s.in_use)}};
  });
  metrics.gauge("crm_db_pool_waits", "Pool acquisitions that had to wait (cumulative)", [&db] {
    auto s = db.stats();
    return std::vector<MetricsRegistry::GaugeSample>{{{}, static_cast<double>(s.waits)}};
  });
  metrics.gauge("crm_db_pool_timeouts", "Pool acquisitions that timed out (cumulative)", [&db] {
    auto s = db.stats();
    return std::vector<MetricsRegistry::GaugeSample>{{{}, static_cast<double>(s.timeouts)}};
  });
  metrics.gauge("crm_db_statements", "SQL statements by how they were obtained (cumulative)", [&db] {
    auto s = db.stats();
    return std::vector<MetricsRegistry::GaugeSample>{
        {{{"source", "prepared"}}, static_cast<double>(s.statements_prepared)},
        {{{"source", "cached"}}, static_cast<double>(s.statements_reused)}};
  });
  metrics.gauge("crm_db_group_commits", "SQLite group commits: transactions and the units of work they ran (cumulative)",
                [&units] {
                  auto s = units.group_stats();
                  return std::vector<MetricsRegistry::GaugeSample>{
                      {{{"count", "transactions"}}, static_cast<double>(s.transactions)},
                      {{{"count", "units"}}, static_cast<double>(s.units)}};
                });
  metrics.gauge("crm_db_group_commit_seconds",
                "SQLite group commits: time their leaders spent on them, by the clock and in CPU (cumulative)", [&units] {
                  auto s = units.group_stats();
                  return std::vector<MetricsRegistry::GaugeSample>{{{{"clock", "wall"}}, s.wall_seconds},
                                                                   {{{"clock", "cpu"}}, s.cpu_seconds}};
                });
  metrics.gauge("crm_outbox_deliveries", "Outbox deliveries by state", [&db] {
    std::vector<MetricsRegistry::GaugeSample> out;
    try {
      auto s = outbox_status(db);
      out.push_back({{{"state", "pending"}}, static_cast<double>(s.pending)});
      out.push_back({{{"state", "retrying"}}, static_cast<double>(s.retrying)});
      out.push_back({{{"state", "dead"}}, static_cast<double>(s.dead)});
    } catch (const std::exception&) {
    }
    return out;
  });
  metrics.gauge("crm_outbox_lag_seconds", "Age of the oldest pending outbox delivery", [&db] {
    std::vector<MetricsRegistry::GaugeSample> out;
    try {
      out.push_back({{}, static_cast<double>(outbox_status(db).oldest_pending_age_ms) / 1000.0});
    } catch (const std::exception&) {
    }
    return out;
  });
  metrics.gauge("crm_http_in_flight_requests", "Requests being handled", [in_flight] {
    return std::vector<MetricsRegistry::GaugeSample>{{{}, static_cast<double>(in_flight ? in_flight() : 0)}};
  });
}

std::string build_openapi(const Router& router) {
  bj::object paths;
  for (const auto& route : router.routes()) {
    bj::object op = route.options.openapi;
    std::string method(boost::beast::http::to_string(route.method));
    for (auto& c : method) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (!route.options.tag.empty() && !op.contains("tags")) op["tags"] = bj::array{bj::value(route.options.tag)};
    if (!op.contains("operationId")) {
      std::string id = method;
      for (char c : route.pattern) id.push_back(std::isalnum(static_cast<unsigned char>(c)) ? c : '_');
      op["operationId"] = id;
    }
    // Path parameters come from the pattern.
    bj::array params = op.contains("parameters") ? op["parameters"].as_array() : bj::array{};
    std::size_t pos = 0;
    while ((pos = route.pattern.find('{', pos)) != std::string::npos) {
      auto end = route.pattern.find('}', pos);
      params.push_back(bj::object{{"name", route.pattern.substr(pos + 1, end - pos - 1)},
                                  {"in", "path"},
                                  {"required", true},
                                  {"schema", bj::object{{"type", "string"}}}});
      pos = end;
    }
    if (!params.empty()) op["parameters"] = params;
    if (!op.contains("security")) {
      op["security"] = route.options.public_route ? bj::array{} : bj::array{bj::object{{"bearer", bj::array{}}}};
    }
    bj::object responses = op.contains("responses") ? op["responses"].as_object() : bj::object{};
    bj::object problem_response{
        {"description", "Error (RFC 9457 problem)"},
        {"content", bj::object{{"application/problem+json",
                                bj::object{{"schema", bj::object{{"$ref", "#/components/schemas/Problem"}}}}}}}};
    bool has_4xx = false;
    for (const auto& kv : responses) has_4xx = has_4xx || (!kv.key().empty() && kv.key()[0] == '4');
    if (!has_4xx) responses["4XX"] = problem_response;
    if (!responses.contains("default")) responses["default"] = problem_response;
    op["responses"] = responses;
    bj::value& item = paths[route.pattern];
    if (!item.is_object()) item = bj::object{};
    item.as_object()[method] = op;
  }
  bj::object field_error{{"type", "object"},
                         {"required", bj::array{"field", "code", "message"}},
                         {"properties", bj::object{{"field", bj::object{{"type", "string"}}},
                                                   {"code", bj::object{{"type", "string"}}},
                                                   {"message", bj::object{{"type", "string"}}}}}};
  bj::object problem{
      {"type", "object"},
      {"required", bj::array{"type", "title", "status", "code", "request_id"}},
      {"properties", bj::object{{"type", bj::object{{"type", "string"}}},
                                {"title", bj::object{{"type", "string"}}},
                                {"status", bj::object{{"type", "integer"}}},
                                {"detail", bj::object{{"type", "string"}}},
                                {"code", bj::object{{"type", "string"}}},
                                {"request_id", bj::object{{"type", "string"}}},
                                {"errors", bj::object{{"type", "array"},
                                                      {"items", bj::object{{"$ref", "#/components/schemas/FieldError"}}}}}}}};
  bj::object schemas = router.schemas();
  schemas["Problem"] = problem;
  schemas["FieldError"] = field_error;
  bj::object doc{
      {"openapi", "3.1.0"},
      {"info", bj::object{{"title", "Batik CRM API"},
                          {"version", CRM_VERSION},
                          {"description", "Multi-tenant CRM: customers, sales, notifications."},
                          {"license", bj::object{{"name", "Apache-2.0"}, {"identifier", "Apache-2.0"}}}}},
      {"servers", bj::array{bj::object{{"url", "/"}}}},
      {"paths", paths},
      {"components", bj::object{{"schemas", schemas},
                                {"securitySchemes",
                                 bj::object{{"bearer", bj::object{{"type", "http"}, {"scheme", "bearer"},
                                                                   {"bearerFormat", "JWT"}}}}}}}};
  return bj::serialize(doc);
}

}  // namespace crm::app
