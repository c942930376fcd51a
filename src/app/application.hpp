#pragma once
// The composition root: builds the platform, then each module from its ModuleContext, wires
// routes and subscriptions, and runs the server.

#include "crm/platform/config.hpp"
#include "crm/platform/module.hpp"

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace crm::app {

/// Platform migrations compiled into the binary.
std::vector<platform::MigrationSource> platform_migrations();

class Application final {
 public:
  Application(platform::Config config, std::vector<platform::ModuleFactory> modules);
  ~Application();

  /// Every migration of the platform and the modules.
  std::vector<platform::MigrationSource> migrations() const;
  /// Applies pending migrations; throws MigrationError.
  int migrate();
  /// The OpenAPI document of every route (without serving).
  std::string openapi_document();
  /// Starts modules, the outbox dispatcher and the HTTP server.
  void start();
  /// The bound HTTP port.
  unsigned short port() const;
  /// Graceful stop: no new connections, in-flight requests finish, the outbox is flushed.
  void stop();

  platform::Database& database();
  /// Runs a module's command; nullopt when no module has it.
  std::optional<int> run_command(const std::string& name, const std::vector<std::string>& args);

 private:
  void build_routes();
  void subscribe_modules();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// The `crm` command line: serve, migrate, outbox, version, help. Returns the exit code.
int run_cli(int argc, char** argv, std::vector<platform::ModuleFactory> modules);

}  // namespace crm::app
