#pragma once
/// The module seam: how a module plugs into the process. A module is built from a
/// ModuleContext, registers its routes, lists every event it reacts to in `subscribe`, and
/// exposes its facade to other modules through the ServiceRegistry.

#include "crm/platform/config.hpp"
#include "crm/platform/http.hpp"
#include "crm/platform/migrations.hpp"

#include <boost/json/object.hpp>

#include <any>
#include <functional>
#include <map>
#include <optional>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <typeindex>
#include <vector>

namespace crm::platform {

class Clock;
class Database;
class EventBus;
class MetricsRegistry;
class Router;
class UnitOfWorkFactory;

/// Module facades by interface type: the only way one module calls another.
class ServiceRegistry final {
 public:
  template <class Interface>
  void provide(std::shared_ptr<Interface> service) {
    services_[std::type_index(typeid(Interface))] = std::move(service);
  }
  /// Throws std::logic_error when no module provides the interface.
  template <class Interface>
  std::shared_ptr<Interface> get() const {
    auto it = services_.find(std::type_index(typeid(Interface)));
    if (it == services_.end()) throw std::logic_error("no module provides the requested service");
    return std::any_cast<std::shared_ptr<Interface>>(it->second);
  }

 private:
  std::map<std::type_index, std::any> services_;
};

/// What a module is given: its configuration section and the platform services.
struct ModuleContext {
  const Config& config;
  boost::json::object section;  // config.raw["modules"][name], empty when absent
  Database& db;
  EventBus& bus;
  UnitOfWorkFactory& uow;
  MetricsRegistry& metrics;
  const Clock& clock;
  ServiceRegistry& services;
};

class Module {
 public:
  virtual ~Module() = default;
  /// Stable name: migrations owner, config section, tables prefix.
  virtual std::string_view name() const = 0;
  /// The module's schema, compiled into the binary.
  virtual std::vector<MigrationSource> migrations() const { return {}; }
  virtual void register_routes(Router& router) = 0;
  /// Every event the module reacts to, in one place.
  virtual void subscribe(EventBus& bus) = 0;
  /// Middleware the module adds to every request (IAM: authentication).
  virtual std::vector<StagedMiddleware> middleware() { return {}; }
  /// A command-line command the module provides (`crm create-superuser ...`), run after
  /// migrations; nullopt when the name is not one of the module's commands.
  virtual std::optional<int> run_command(const std::string& /*name*/, const std::vector<std::string>& /*args*/) {
    return std::nullopt;
  }
  /// After migrations, before serving (seed data, background workers).
  virtual void start() {}
  /// On shutdown, in reverse order.
  virtual void stop() {}
};

/// Builds a module; the composition root holds a list of these.
struct ModuleFactory {
  std::string name;
  std::function<std::unique_ptr<Module>(ModuleContext&)> make;
};

}  // namespace crm::platform
