#include "crm/platform/config.hpp"
#include "crm/platform/time.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

namespace {

namespace fs = std::filesystem;
using crm::platform::ConfigError;
using crm::platform::ConfigSources;
using crm::platform::load_config;

/// A unique directory under the system temp dir, removed with everything in it.
class TempDir final {
 public:
  TempDir() : path_(fs::temp_directory_path() / ("crm-config-test-" + crm::platform::random_hex(8))) {
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  std::string write(const std::string& name, const std::string& text) const {
    fs::path p = path_ / name;
    std::ofstream(p, std::ios::binary) << text;
    return p.string();
  }

 private:
  fs::path path_;
};

/// The message of the ConfigError `sources` raise; fails the test when none is thrown.
std::string config_error(const ConfigSources& sources) {
  try {
    load_config(sources);
  } catch (const ConfigError& e) {
    return e.what();
  }
  FAIL("expected a ConfigError");
  return {};
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

const std::string kSecret32(32, 's');

}  // namespace

TEST_SUITE("platform/config") {
  TEST_CASE("defaults apply when no source sets a key") {
    auto c = load_config(ConfigSources{});
    CHECK(c.http.host == "127.0.0.1");
    CHECK(c.http.port == 8080);
    CHECK(c.http.body_limit_bytes == 1024 * 1024);
    CHECK(c.log_level == "info");
    CHECK(c.data_dir == "./data");
    CHECK(c.database.url.empty());
    CHECK(c.http.cors_allowed_origins.empty());
    CHECK_FALSE(c.http.tls.enabled());
    CHECK(c.outbox.dispatch_enabled);
  }

  TEST_CASE("on SQLite writes get a pool of workers larger than the machine, reads one per core") {
    const int cores = std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
    auto c = load_config(ConfigSources{});
    CHECK(c.http.worker_threads == std::max(2, cores));
    CHECK(c.http.write_worker_threads == std::max(64, 32 * cores));
    CHECK(c.http.write_worker_threads_initial == std::max(16, 8 * cores));
    ConfigSources pg;
    pg.env["CRM_DATABASE_URL"] = "postgresql://crm@127.0.0.1/crm";
    auto p = load_config(pg);
    CHECK(p.http.worker_threads == std::max(8, 4 * cores));
    CHECK(p.http.write_worker_threads == p.http.worker_threads);
    CHECK(p.http.write_worker_threads_initial == p.http.worker_threads);
    ConfigSources set;
    set.env["CRM_HTTP_WRITE_WORKER_THREADS"] = "5";
    set.env["CRM_HTTP_WORKER_THREADS"] = "3";
    auto s = load_config(set);
    CHECK(s.http.write_worker_threads == 5);
    CHECK(s.http.write_worker_threads_initial == 5);
    CHECK(s.http.worker_threads == 3);
  }

  TEST_CASE("without a database url the configuration runs in demo mode") {
    CHECK(load_config(ConfigSources{}).demo);
    ConfigSources s;
    s.env["CRM_DATABASE_URL"] = "sqlite:/tmp/x.db";
    CHECK_FALSE(load_config(s).demo);
  }

  TEST_CASE("precedence is default < file < env < flag") {
    TempDir dir;
    ConfigSources s;
    CHECK(load_config(s).http.port == 8080);

    s.file = dir.write("crm.json", R"({"http": {"host": "0.0.0.0", "port": 9001}})");
    CHECK(load_config(s).http.port == 9001);

    s.env["CRM_HTTP_PORT"] = "9002";
    CHECK(load_config(s).http.port == 9002);

    s.flags["http.port"] = "9003";
    auto c = load_config(s);
    CHECK(c.http.port == 9003);
    // Overriding one key keeps its siblings from the file.
    CHECK(c.http.host == "0.0.0.0");

    s.env.erase("CRM_HTTP_PORT");
    CHECK(load_config(s).http.port == 9003);
  }

  TEST_CASE("env overrides file for string, choice, list and boolean keys") {
    TempDir dir;
    ConfigSources s;
    s.file = dir.write("crm.json", R"({"log": {"level": "warn"}, "outbox": {"dispatch_enabled": true},
                                       "data_dir": "/var/lib/crm"})");
    s.env["CRM_LOG_LEVEL"] = "debug";
    s.env["CRM_OUTBOX_DISPATCH_ENABLED"] = "false";
    s.env["CRM_DATA_DIR"] = "/srv/crm";
    auto c = load_config(s);
    CHECK(c.log_level == "debug");
    CHECK_FALSE(c.outbox.dispatch_enabled);
    CHECK(c.data_dir == "/srv/crm");
  }

  TEST_CASE("a JSON file with comments and trailing commas is accepted") {
    TempDir dir;
    ConfigSources s;
    s.file = dir.write("crm.json", R"(// Batik CRM
{
  /* listen */
  "http": {
    "port": 8181, // the port
    "cors_allowed_origins": ["https://app.example",],
  },
  "log": {"level": "error",},
}
)");
    auto c = load_config(s);
    CHECK(c.http.port == 8181);
    CHECK(c.log_level == "error");
    REQUIRE(c.http.cors_allowed_origins.size() == 1);
    CHECK(c.http.cors_allowed_origins[0] == "https://app.example");
  }

  TEST_CASE("the modules section is free-form and kept in raw") {
    TempDir dir;
    ConfigSources s;
    s.file = dir.write("crm.json", R"({"modules": {"notification": {"smtp_host": "mail.local"}}})");
    auto c = load_config(s);
    const auto* modules = c.raw.if_contains("modules");
    REQUIRE(modules != nullptr);
    CHECK(modules->at("notification").at("smtp_host").as_string() == "mail.local");
  }

  TEST_CASE("an unknown key in the file is an error naming the key") {
    TempDir dir;
    ConfigSources s;
    s.file = dir.write("crm.json", R"({"http": {"prot": 8080}})");
    auto msg = config_error(s);
    CHECK(contains(msg, "http.prot"));

    s.file = dir.write("crm2.json", R"({"colour": "blue"})");
    CHECK(contains(config_error(s), "colour"));
  }

  TEST_CASE("an unknown flag is an error naming the key") {
    ConfigSources s;
    s.flags["http.prot"] = "1";
    CHECK(contains(config_error(s), "http.prot"));
  }

  TEST_CASE("a non-numeric port from the environment names the variable and the key") {
    ConfigSources s;
    s.env["CRM_HTTP_PORT"] = "abc";
    auto msg = config_error(s);
    CHECK(contains(msg, "CRM_HTTP_PORT"));
    CHECK(contains(msg, "http.port"));
    CHECK(contains(msg, "abc"));

    s.env["CRM_HTTP_PORT"] = "80x";
    CHECK(contains(config_error(s), "CRM_HTTP_PORT"));
    s.env["CRM_HTTP_PORT"] = "";
    CHECK(contains(config_error(s), "CRM_HTTP_PORT"));
  }

  TEST_CASE("a port out of range in the file names the key") {
    TempDir dir;
    ConfigSources s;
    s.file = dir.write("crm.json", R"({"http": {"port": 70000}})");
    auto msg = config_error(s);
    CHECK(contains(msg, "http.port"));
    CHECK(contains(msg, "70000"));

    s.file = dir.write("neg.json", R"({"http": {"port": -1}})");
    CHECK(contains(config_error(s), "http.port"));
  }

  TEST_CASE("a port of the wrong JSON type in the file names the key") {
    TempDir dir;
    ConfigSources s;
    s.file = dir.write("crm.json", R"({"http": {"port": "8080"}})");
    CHECK(contains(config_error(s), "http.port"));
    s.file = dir.write("real.json", R"({"http": {"port": 80.5}})");
    CHECK(contains(config_error(s), "http.port"));
  }

  TEST_CASE("a port out of range from a flag names the key") {
    ConfigSources s;
    s.flags["http.port"] = "65536";
    CHECK(contains(config_error(s), "http.port"));
    s.flags["http.port"] = "65535";
    CHECK(load_config(s).http.port == 65535);
  }

  TEST_CASE("an unknown log level is an error naming the key") {
    TempDir dir;
    ConfigSources s;
    s.file = dir.write("crm.json", R"({"log": {"level": "loud"}})");
    auto msg = config_error(s);
    CHECK(contains(msg, "log.level"));
    CHECK(contains(msg, "loud"));

    ConfigSources e;
    e.env["CRM_LOG_LEVEL"] = "loud";
    CHECK(contains(config_error(e), "CRM_LOG_LEVEL"));
  }

  TEST_CASE("a boolean that is not a boolean names the variable") {
    ConfigSources s;
    s.env["CRM_OUTBOX_DISPATCH_ENABLED"] = "maybe";
    CHECK(contains(config_error(s), "CRM_OUTBOX_DISPATCH_ENABLED"));
  }

  TEST_CASE("a section that is not an object names the section") {
    TempDir dir;
    ConfigSources s;
    s.file = dir.write("crm.json", R"({"http": 8080})");
    CHECK(contains(config_error(s), "http"));
  }

  TEST_CASE("a file that is not JSON or not an object names the file") {
    TempDir dir;
    ConfigSources s;
    s.file = dir.write("broken.json", R"({"http": {"port": )");
    CHECK(contains(config_error(s), "broken.json"));
    s.file = dir.write("array.json", R"([1, 2])");
    CHECK(contains(config_error(s), "array.json"));
  }

  TEST_CASE("a missing config file is an error") {
    ConfigSources s;
    s.file = (fs::temp_directory_path() / ("crm-config-missing-" + crm::platform::random_hex(8) + ".json")).string();
    CHECK(contains(config_error(s), "cannot read"));
  }

  TEST_CASE("configuration errors are one line") {
    TempDir dir;
    ConfigSources s;
    s.file = dir.write("crm.json", "{\n  \"http\": {\n    \"port\": 70000\n  }\n}\n");
    CHECK_FALSE(contains(config_error(s), "\n"));
  }

  TEST_CASE("a jwt secret shorter than 32 bytes is rejected") {
    ConfigSources s;
    s.env["CRM_JWT_SECRET"] = std::string(31, 's');
    CHECK(contains(config_error(s), "auth.jwt_secret"));

    s.env["CRM_JWT_SECRET"] = kSecret32;
    CHECK(load_config(s).jwt_secret == kSecret32);
  }

  TEST_CASE("a jwt secret in the file is checked too") {
    TempDir dir;
    ConfigSources s;
    s.file = dir.write("crm.json", R"({"auth": {"jwt_secret": "short"}})");
    CHECK(contains(config_error(s), "auth.jwt_secret"));
  }

  TEST_CASE("a TLS certificate without a key is rejected, and the reverse") {
    ConfigSources cert_only;
    cert_only.env["CRM_TLS_CERT_FILE"] = "/etc/crm/cert.pem";
    CHECK(contains(config_error(cert_only), "http.tls.key_file"));

    ConfigSources key_only;
    key_only.env["CRM_TLS_KEY_FILE"] = "/etc/crm/key.pem";
    CHECK(contains(config_error(key_only), "http.tls.cert_file"));

    ConfigSources both = cert_only;
    both.env["CRM_TLS_KEY_FILE"] = "/etc/crm/key.pem";
    auto c = load_config(both);
    CHECK(c.http.tls.enabled());
    CHECK(c.http.tls.cert_file == "/etc/crm/cert.pem");
    CHECK(c.http.tls.key_file == "/etc/crm/key.pem");
  }

  TEST_CASE("--demo clears a database url that came from the file") {
    TempDir dir;
    ConfigSources s;
    s.file = dir.write("crm.json", R"({"database": {"url": "postgresql://crm@db/crm"}})");
    CHECK(load_config(s).database.url == "postgresql://crm@db/crm");
    CHECK_FALSE(load_config(s).demo);

    s.demo = true;
    auto c = load_config(s);
    CHECK(c.database.url.empty());
    CHECK(c.demo);
  }

  TEST_CASE("--demo keeps a database url given by env or flag") {
    ConfigSources env;
    env.demo = true;
    env.env["CRM_DATABASE_URL"] = "sqlite:/tmp/env.db";
    auto from_env = load_config(env);
    CHECK(from_env.database.url == "sqlite:/tmp/env.db");
    CHECK(from_env.demo);

    ConfigSources flag;
    flag.demo = true;
    flag.flags["database.url"] = "sqlite:/tmp/flag.db";
    CHECK(load_config(flag).database.url == "sqlite:/tmp/flag.db");
  }

  TEST_CASE("CRM_CORS_ALLOWED_ORIGINS is a comma-separated list, trimmed, empties dropped") {
    ConfigSources s;
    s.env["CRM_CORS_ALLOWED_ORIGINS"] = "https://a.example, https://b.example ,,";
    auto c = load_config(s);
    REQUIRE(c.http.cors_allowed_origins.size() == 2);
    CHECK(c.http.cors_allowed_origins[0] == "https://a.example");
    CHECK(c.http.cors_allowed_origins[1] == "https://b.example");
  }

  TEST_CASE("a CORS list in the file must hold strings") {
    TempDir dir;
    ConfigSources s;
    s.file = dir.write("crm.json", R"({"http": {"cors_allowed_origins": ["https://a.example", 3]}})");
    CHECK(contains(config_error(s), "http.cors_allowed_origins"));
  }

  TEST_CASE("every documented key has a CRM_ environment variable") {
    auto vars = crm::platform::config_env_variables();
    bool port = false, url = false, secret = false;
    for (const auto& [key, env] : vars) {
      CAPTURE(key);
      CHECK(env.rfind("CRM_", 0) == 0);
      port = port || (key == "http.port" && env == "CRM_HTTP_PORT");
      url = url || (key == "database.url" && env == "CRM_DATABASE_URL");
      secret = secret || (key == "auth.jwt_secret" && env == "CRM_JWT_SECRET");
    }
    CHECK(port);
    CHECK(url);
    CHECK(secret);
  }

  TEST_CASE("rate limits default to the pinned budgets and are read from CRM_RATE_LIMIT_*") {
    auto d = load_config(ConfigSources{}).rate_limit;
    CHECK(d.enabled);
    CHECK(d.ip_per_minute == 300);
    CHECK(d.user_per_minute == 1200);
    CHECK(d.tenant_per_minute == 6000);
    CHECK(d.register_per_hour == 20);
    CHECK(d.auth_per_minute == 30);
    ConfigSources sources;
    sources.env = {{"CRM_RATE_LIMIT_IP_PER_MINUTE", "7"},     {"CRM_RATE_LIMIT_USER_PER_MINUTE", "8"},
                   {"CRM_RATE_LIMIT_TENANT_PER_MINUTE", "9"}, {"CRM_RATE_LIMIT_REGISTER_PER_HOUR", "10"},
                   {"CRM_RATE_LIMIT_AUTH_PER_MINUTE", "11"},  {"CRM_RATE_LIMIT_ENABLED", "false"}};
    auto c = load_config(sources).rate_limit;
    CHECK(c.ip_per_minute == 7);
    CHECK(c.user_per_minute == 8);
    CHECK(c.tenant_per_minute == 9);
    CHECK(c.register_per_hour == 10);
    CHECK(c.auth_per_minute == 11);
    CHECK_FALSE(c.enabled);
    sources.env = {{"CRM_RATE_LIMIT_IP_PER_MINUTE", "0"}};
    CHECK(contains(config_error(sources), "rate_limit.ip_per_minute"));
  }

  TEST_CASE("the example configuration loads and shows the defaults") {
    ConfigSources sources;
    sources.file = (fs::path(__FILE__).parent_path() / "../../config/crm.example.json").string();
    auto c = load_config(sources);
    auto d = load_config(ConfigSources{});
    CHECK(c.rate_limit.ip_per_minute == d.rate_limit.ip_per_minute);
    CHECK(c.rate_limit.register_per_hour == d.rate_limit.register_per_hour);
    CHECK(c.rate_limit.sync_interval_ms == d.rate_limit.sync_interval_ms);
    CHECK(c.outbox.retention_days == d.outbox.retention_days);
  }
}
