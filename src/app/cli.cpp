#include "application.hpp"

#include "crm/platform/db.hpp"
#include "crm/platform/log.hpp"
#include "crm/platform/migrations.hpp"
#include "crm/platform/outbox.hpp"
#include "crm/platform/time.hpp"

#include <fmt/format.h>

#include <cmath>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <set>
#include <pthread.h>

namespace crm::app {

using namespace crm::platform;

namespace {

constexpr const char* kUsage = R"(crm — Batik CRM server

Usage:
  crm serve [--config FILE] [--demo] [options]   start the HTTP server
  crm migrate [up|status] [--config FILE] [options]
  crm outbox status [--config FILE]              pending, retrying and dead deliveries
  crm outbox replay EVENT_ID [--config FILE]     re-deliver an event to every subscriber
  crm create-superuser --email E [--name N]      a platform administrator (password from
                                                 stdin, or generated and printed once)
  crm seed-demo                                  the demo tenant and its users
  crm tenants purge                              remove cancelled tenants whose grace
                                                 period is over (the server does it hourly)
  crm audit archive --before DATE                move older audit entries to a gzip file
                                                 of JSON lines in $CRM_DATA_DIR/audit-archive
  crm openapi                                    print the OpenAPI 3.1 document
  crm version
  crm --help

Options (each also settable in the config file or a CRM_* environment variable;
precedence: flag > environment > file > default):
  --config FILE          JSON configuration file (comments allowed)
  --demo                 embedded SQLite database in $CRM_DATA_DIR/demo.db
  --host HOST            listen address (CRM_HTTP_HOST, default 127.0.0.1)
  --port PORT            listen port (CRM_HTTP_PORT, default 8080)
  --database-url URL     sqlite:PATH or postgresql://user:pass@host:port/db (CRM_DATABASE_URL)
  --data-dir DIR         data directory (CRM_DATA_DIR, default ./data)
  --log-level LEVEL      debug, info, warn or error (CRM_LOG_LEVEL)
  --set KEY=VALUE        any configuration key, e.g. --set outbox.max_attempts=5
)";

struct Args {
  std::string command;
  std::vector<std::string> positional;
  ConfigSources sources;
};

[[noreturn]] void usage_error(const std::string& message) {
  throw ConfigError(message + " (see crm --help)");
}

Args parse_args(int argc, char** argv) {
  Args a;
  static const std::map<std::string, std::string> kFlagKeys = {
      {"--host", "http.host"},          {"--port", "http.port"},         {"--database-url", "database.url"},
      {"--data-dir", "data_dir"},       {"--log-level", "log.level"},
  };
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&](const std::string& name) -> std::string {
      auto eq = arg.find('=');
      if (eq != std::string::npos) return arg.substr(eq + 1);
      if (i + 1 >= argc) usage_error(name + " needs a value");
      return argv[++i];
    };
    std::string name = arg.substr(0, arg.find('='));
    if (name == "--help" || name == "-h") {
      a.command = "help";
    } else if (name == "--version") {
      a.command = "version";
    } else if (name == "--config") {
      a.sources.file = value(name);
    } else if (name == "--demo") {
      a.sources.demo = true;
    } else if (name == "--set") {
      std::string kv = value(name);
      auto eq = kv.find('=');
      if (eq == std::string::npos) usage_error("--set needs KEY=VALUE");
      a.sources.flags[kv.substr(0, eq)] = kv.substr(eq + 1);
    } else if (auto it = kFlagKeys.find(name); it != kFlagKeys.end()) {
      a.sources.flags[it->second] = value(name);
    } else if (!arg.empty() && arg[0] == '-') {
      static const std::set<std::string> kPlatformCommands = {"",        "serve",   "migrate", "outbox",
                                                              "openapi", "version", "help"};
      if (kPlatformCommands.count(a.command)) usage_error("unknown option " + arg);
      a.positional.push_back(arg);  // a module command's own option
    } else if (a.command.empty()) {
      a.command = arg;
    } else {
      a.positional.push_back(arg);
    }
  }
  a.sources.env = process_environment();
  return a;
}

int cmd_serve(Args& args, std::vector<ModuleFactory> modules) {
  auto started = std::chrono::steady_clock::now();
  Config config = load_config(args.sources);
  // Signals are taken by sigwait in this thread only; block them before any thread starts.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  Application app(config, std::move(modules));
  int applied = app.migrate();
  app.start();
  auto ready_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
  log_info("ready", {{"listen", fmt::format("{}:{}", config.http.host, app.port())},
                     {"port", app.port()},
                     {"database", app.database().url().redacted},
                     {"demo", config.demo},
                     {"tls", config.http.tls.enabled()},
                     {"migrations_applied", applied},
                     {"startup_ms", std::round(ready_ms * 10) / 10}});
  int sig = 0;
  sigwait(&signals, &sig);
  log_info("shutting down", {{"signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"}});
  app.stop();
  log_info("stopped");
  return 0;
}

int cmd_migrate(Args& args, std::vector<ModuleFactory> modules) {
  std::string sub = args.positional.empty() ? "up" : args.positional[0];
  Config config = load_config(args.sources);
  Application app(config, std::move(modules));
  Migrator migrator(app.database(), app.migrations());
  if (sub == "up") {
    int n = migrator.apply();
    std::cout << "applied " << n << " migration(s)\n";
    return 0;
  }
  if (sub == "status") {
    for (const auto& s : migrator.status()) {
      std::cout << fmt::format("{:<10} {:<40} {:<8} {}\n", s.owner, s.name, s.applied ? "applied" : "pending",
                               s.applied_at);
    }
    return 0;
  }
  usage_error("unknown migrate command " + sub);
}

int cmd_outbox(Args& args, std::vector<ModuleFactory> modules) {
  if (args.positional.empty()) usage_error("outbox needs status or replay");
  Config config = load_config(args.sources);
  Application app(config, std::move(modules));
  app.migrate();
  const std::string& sub = args.positional[0];
  if (sub == "status") {
    auto s = outbox_status(app.database());
    std::cout << fmt::format("events {}  pending {}  retrying {}  dead {}  lag_ms {}\n", s.events, s.pending,
                             s.retrying, s.dead, s.oldest_pending_age_ms);
    for (const auto& sub_status : s.subscribers) {
      std::cout << fmt::format("  {:<32} pending {:<6} retrying {:<6} done {:<8} dead {}\n", sub_status.subscriber,
                               sub_status.pending, sub_status.retrying, sub_status.done, sub_status.dead);
    }
    for (const auto& dead : outbox_dead(app.database(), 20)) {
      std::cout << fmt::format("  dead: {} {} -> {} after {} attempts: {}\n", dead.event_id, dead.event_type,
                               dead.subscriber, dead.attempts, dead.last_error);
    }
    return 0;
  }
  if (sub == "replay") {
    if (args.positional.size() < 2) usage_error("outbox replay needs an event id");
    int n = outbox_replay(app.database(), args.positional[1]);
    if (n == 0) {
      std::cerr << "crm: no deliveries for event " << args.positional[1] << "\n";
      return 1;
    }
    std::cout << "re-queued " << n << " deliver" << (n == 1 ? "y" : "ies") << "\n";
    return 0;
  }
  usage_error("unknown outbox command " + sub);
}

}  // namespace

int run_cli(int argc, char** argv, std::vector<ModuleFactory> modules) {
  try {
    Args args = parse_args(argc, argv);
    if (args.command.empty() || args.command == "help") {
      std::cout << kUsage;
      return args.command.empty() ? 2 : 0;
    }
    if (args.command == "version") {
      std::cout << "crm " << CRM_VERSION << "\n";
      return 0;
    }
    if (args.command == "serve") return cmd_serve(args, std::move(modules));
    if (args.command == "migrate") return cmd_migrate(args, std::move(modules));
    if (args.command == "outbox") return cmd_outbox(args, std::move(modules));
    if (args.command == "openapi") {
      // The document needs no database: a throwaway SQLite file keeps construction cheap.
      args.sources.flags["database.url"] = "sqlite:" + (std::filesystem::temp_directory_path() /
                                                         ("crm-openapi-" + random_hex(6) + ".db")).string();
      args.sources.flags["auth.jwt_secret"] = random_hex(32);
      Config config = load_config(args.sources);
      std::string doc;
      {
        Application app(config, std::move(modules));
        doc = app.openapi_document();
      }
      std::filesystem::remove(config.database.url.substr(7));
      std::cout << doc << "\n";
      return 0;
    }
    {
      Config config = load_config(args.sources);
      Application app(config, std::move(modules));
      app.migrate();
      if (auto code = app.run_command(args.command, args.positional)) return *code;
    }
    usage_error("unknown command " + args.command);
  } catch (const ConfigError& e) {
    std::cerr << "crm: " << e.what() << "\n";
    return 2;
  } catch (const MigrationError& e) {
    std::cerr << "crm: " << e.what() << "\n";
    return 3;
  } catch (const std::exception& e) {
    std::cerr << "crm: " << e.what() << "\n";
    return 1;
  }
}

}  // namespace crm::app
