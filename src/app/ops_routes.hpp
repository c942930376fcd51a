#pragma once
// Operations endpoints: /healthz, /readyz, /metrics and /api/v1/openapi.json.

#include "crm/platform/config.hpp"
#include "crm/platform/db.hpp"
#include "crm/platform/metrics.hpp"
#include "crm/platform/migrations.hpp"
#include "crm/platform/router.hpp"
#include "crm/platform/unit_of_work.hpp"

#include <functional>
#include <memory>
#include <string>

namespace crm::app {

struct OpsDependencies {
  const platform::Config& config;
  platform::Database& db;
  platform::MetricsRegistry& metrics;
  std::vector<platform::MigrationSource> migrations;
  /// The OpenAPI document, built once all routes are registered.
  std::shared_ptr<const std::string> openapi;
};

void register_ops_routes(platform::Router& router, std::shared_ptr<OpsDependencies> deps);
/// Registers the gauges of the pool, the group commits and the outbox.
void register_platform_gauges(platform::MetricsRegistry& metrics, platform::Database& db,
                              platform::UnitOfWorkFactory& units, std::function<int()> in_flight);

/// The OpenAPI 3.1 document of every registered route.
std::string build_openapi(const platform::Router& router);

}  // namespace crm::app
