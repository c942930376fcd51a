#include "application.hpp"

#include "crm/platform/db.hpp"
#include "crm/platform/event_bus.hpp"
#include "crm/platform/log.hpp"
#include "crm/platform/memory.hpp"
#include "crm/platform/metrics.hpp"
#include "crm/platform/outbox.hpp"
#include "crm/platform/pagination.hpp"
#include "crm/platform/router.hpp"
#include "crm/platform/time.hpp"
#include "crm/platform/unit_of_work.hpp"
#include "ops_routes.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include "platform/http_server.hpp"
#include "platform/middleware.hpp"
#include "platform/pipeline.hpp"
#include "platform/request_guards.hpp"

namespace crm::generated {
std::vector<crm::platform::MigrationSource> migrations_platform();
}

namespace crm::app {

using namespace crm::platform;

std::vector<MigrationSource> platform_migrations() { return generated::migrations_platform(); }

namespace {

// Demo mode needs no configuration: a signing secret is generated once and kept in the data
// directory (readable by the owner only) so tokens survive restarts.
std::string demo_secret(const std::string& data_dir) {
  std::filesystem::path path = std::filesystem::path(data_dir) / "demo-secret.key";
  std::filesystem::create_directories(path.parent_path());
  if (std::ifstream in(path); in) {
    std::string secret;
    std::getline(in, secret);
    if (secret.size() >= 32) return secret;
  }
  std::string secret = random_hex(32);
  {
    std::ofstream out(path, std::ios::trunc);
    out << secret << "\n";
  }
  std::filesystem::permissions(path, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  return secret;
}

}  // namespace

struct Application::Impl {
  Config config;
  MetricsRegistry metrics;
  SystemClock clock;
  std::unique_ptr<Database> db;
  EventBus bus;
  std::unique_ptr<UnitOfWorkFactory> uow;
  ServiceRegistry services;
  Router router;
  Pipeline pipeline;
  std::unique_ptr<RequestGuards> guards;  // rate limits, idempotency
  std::vector<std::unique_ptr<Module>> modules;
  std::unique_ptr<OutboxDispatcher> dispatcher;
  std::unique_ptr<HttpServer> server;
  // Free heap goes back to the system once the arenas hold more than 8 MiB of it, checked
  // every second (a large import with requests beside it left ~100 MiB free in the arenas).
  MemoryTrimmer trimmer{std::chrono::seconds(1), 8 * 1024 * 1024, 1024 * 1024};
  bool routes_built = false;
  bool subscribed = false;
  bool started = false;
  bool stopped = false;
};

Application::Application(Config config, std::vector<ModuleFactory> factories) : impl_(std::make_unique<Impl>()) {
  auto& d = *impl_;
  d.config = std::move(config);
  LogLevel level = LogLevel::info;
  parse_log_level(d.config.log_level, level);
  set_log_level(level);
  if (d.config.jwt_secret.empty() && d.config.demo) d.config.jwt_secret = demo_secret(d.config.data_dir);
  if (!d.config.jwt_secret.empty()) set_cursor_key("cursor:" + d.config.jwt_secret);
  d.db = open_database(d.config);
  d.uow = std::make_unique<UnitOfWorkFactory>(*d.db, d.bus);
  d.dispatcher = std::make_unique<OutboxDispatcher>(*d.db, d.bus, d.config.outbox, d.metrics);
  if (d.config.outbox.dispatch_enabled) {
    d.bus.set_commit_listener([dispatcher = d.dispatcher.get()] { dispatcher->wake(); });
  }
  for (auto& factory : factories) {
    boost::json::object section;
    if (const auto* mods = d.config.raw.if_contains("modules"); mods && mods->is_object()) {
      if (const auto* s = mods->get_object().if_contains(factory.name); s && s->is_object()) section = s->get_object();
    }
    ModuleContext ctx{d.config, std::move(section), *d.db, d.bus, *d.uow, d.metrics, d.clock, d.services};
    d.modules.push_back(factory.make(ctx));
  }
}

Application::~Application() { stop(); }

Database& Application::database() { return *impl_->db; }

std::optional<int> Application::run_command(const std::string& name, const std::vector<std::string>& args) {
  // A command's events get what a request's get: the synchronous handlers (the audit log,
  // other modules' reactions) and a delivery row for every asynchronous subscriber, which a
  // running server then delivers.
  subscribe_modules();
  for (auto& m : impl_->modules) {
    if (auto code = m->run_command(name, args)) return code;
  }
  return std::nullopt;
}

std::vector<MigrationSource> Application::migrations() const {
  auto all = platform_migrations();
  for (const auto& m : impl_->modules) {
    auto own = m->migrations();
    all.insert(all.end(), own.begin(), own.end());
  }
  return all;
}

int Application::migrate() {
  Migrator migrator(*impl_->db, migrations());
  return migrator.apply();
}

void Application::build_routes() {
  auto& d = *impl_;
  if (d.routes_built) return;
  d.routes_built = true;
  auto ops = std::make_shared<OpsDependencies>(OpsDependencies{d.config, *d.db, d.metrics, migrations(), nullptr});
  register_ops_routes(d.router, ops);
  for (auto& m : d.modules) m->register_routes(d.router);
  ops->openapi = std::make_shared<const std::string>(build_openapi(d.router));
}

std::string Application::openapi_document() {
  build_routes();
  return build_openapi(impl_->router);
}

void Application::subscribe_modules() {
  auto& d = *impl_;
  if (d.subscribed) return;
  d.subscribed = true;
  for (auto& m : d.modules) m->subscribe(d.bus);
}

void Application::start() {
  auto& d = *impl_;
  build_routes();
  subscribe_modules();

  d.pipeline.use(std::make_shared<AccessLogMiddleware>(d.metrics));
  d.pipeline.use(std::make_shared<ResponseHeadersMiddleware>(d.config.http.tls.enabled()));
  d.pipeline.use(std::make_shared<CorsMiddleware>(d.config.http.cors_allowed_origins));
  d.pipeline.use(std::make_shared<ErrorMiddleware>());
  d.pipeline.use(std::make_shared<ContentTypeMiddleware>());
  d.guards = std::make_unique<RequestGuards>(d.config, *d.db);
  std::vector<StagedMiddleware> staged = d.guards->middleware();  // first within their stages
  for (auto& m : d.modules) {
    auto own = m->middleware();
    staged.insert(staged.end(), own.begin(), own.end());
  }
  std::stable_sort(staged.begin(), staged.end(),
                   [](const StagedMiddleware& a, const StagedMiddleware& b) { return a.stage < b.stage; });
  for (auto& s : staged) d.pipeline.use(s.middleware);

  for (auto& m : d.modules) m->start();
  d.server = std::make_unique<HttpServer>(d.config.http, d.router, d.pipeline, d.metrics);
  register_platform_gauges(d.metrics, *d.db, *d.uow, [server = d.server.get()] { return server->in_flight(); });
  d.metrics.gauge("crm_memory_trims", "Times free heap memory was returned to the system (cumulative)",
                  [&trimmer = d.trimmer] {
                    return std::vector<MetricsRegistry::GaugeSample>{{{}, static_cast<double>(trimmer.trims())}};
                  });
  if (d.config.outbox.dispatch_enabled) d.dispatcher->start();
  d.guards->start();
  d.trimmer.start();
  d.server->start();
  d.started = true;
}

unsigned short Application::port() const { return impl_->server ? impl_->server->port() : 0; }

void Application::stop() {
  auto& d = *impl_;
  if (!d.started || d.stopped) return;
  d.stopped = true;
  d.server->shutdown();
  d.guards->stop();
  d.dispatcher->stop(d.config.outbox.dispatch_enabled);
  for (auto it = d.modules.rbegin(); it != d.modules.rend(); ++it) (*it)->stop();
  d.trimmer.stop();
}

}  // namespace crm::app
