// Process lifecycle and operations endpoints: readiness, metrics, OpenAPI, CLI, shutdown.
#include "support/harness.hpp"

#include <boost/json.hpp>
#include <doctest/doctest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

using namespace crm::testing;

TEST_SUITE("integration/lifecycle") {

TEST_CASE("SIGTERM finishes in-flight requests, then exits 0") {
  for (const auto& backend : backends()) {
    CAPTURE(backend);
    TestDatabase db(backend);
    ServerProcess server(db);
    HttpResult slow;
    std::thread t([&] {
      try {
        HttpClient client(server.port());
        slow = client.get("/api/v1/probe/slow?ms=1200");
      } catch (const std::exception& e) {
        slow.body = e.what();  // status stays 0: the check below fails with the reason
      }
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    auto started = std::chrono::steady_clock::now();
    int code = server.terminate();
    t.join();
    CHECK(code == 0);
    CHECK_MESSAGE(slow.status == 200, slow.body);
    CHECK(std::chrono::steady_clock::now() - started >= std::chrono::milliseconds(700));
    CHECK(server.output().find("\"msg\":\"stopped\"") != std::string::npos);
  }
}

TEST_CASE("readyz reports the database, migrations and outbox lag") {
  for (const auto& backend : backends()) {
    CAPTURE(backend);
    TestDatabase db(backend);
    ServerProcess server(db, {{"CRM_OUTBOX_DISPATCH_ENABLED", "false"}, {"CRM_OUTBOX_LAG_THRESHOLD_MS", "200"}});
    HttpClient client(server.port());
    auto ready = client.get("/readyz");
    CHECK(ready.status == 200);
    CHECK(ready.json().at("checks").at("database").as_string() == "ok");
    CHECK(ready.json().at("checks").at("migrations").as_string() == "ok");
    CHECK(client.get("/healthz").status == 200);

    // An event nobody dispatches makes the outbox lag grow past the threshold.
    REQUIRE(client.post_json("/api/v1/probe/items", R"({"name":"stuck"})").status == 201);
    std::this_thread::sleep_for(std::chrono::milliseconds(400));
    auto lagging = client.get("/readyz");
    CHECK(lagging.status == 503);
    CHECK(lagging.json().at("reason").as_string() == "outbox lag over threshold");
  }
}

TEST_CASE("readyz is 503 when the database is unreachable, while healthz stays 200") {
  auto all = backends();
  if (std::find(all.begin(), all.end(), "postgres") == all.end()) return;
  auto db = std::make_unique<TestDatabase>("postgres");
  ServerProcess server(*db);
  HttpClient client(server.port());
  REQUIRE(client.get("/readyz").status == 200);
  db.reset();  // drops the database, terminating the server's connections
  auto ready = client.get("/readyz");
  CHECK(ready.status == 503);
  CHECK(ready.json().at("reason").as_string() == "database unreachable");
  CHECK(ready.json().at("checks").at("database").as_string() == "unreachable");
  CHECK(client.get("/healthz").status == 200);
  // Handlers that need the database answer 503, not 500.
  auto write = client.post_json("/api/v1/probe/items", R"({"name":"x"})");
  CHECK(write.status == 503);
}

TEST_CASE("requests in flight when the database goes away answer 503, never 500") {
  auto all = backends();
  if (std::find(all.begin(), all.end(), "postgres") == all.end()) return;
  auto db = std::make_unique<TestDatabase>("postgres");
  ServerProcess server(*db);
  // Writers and readers keep every pooled connection busy, so that some of them are open
  // (and lost) when the database goes, not only reopened after.
  std::atomic<bool> stop{false};
  std::atomic<int> before{0};
  std::mutex mutex;
  std::map<int, int> statuses;
  std::vector<std::thread> clients;
  for (int i = 0; i < 6; ++i) {
    clients.emplace_back([&, i] {
      std::optional<HttpClient> client;
      while (!stop.load()) {
        HttpResult r;  // status 0 when the connection failed: the checks below name it
        try {
          if (!client) client.emplace(server.port());
          r = i % 2 == 0 ? client->post_json("/api/v1/probe/items", R"({"name":"in flight"})")
                         : client->get("/api/v1/probe/items/00000000-0000-7000-8000-000000000000");
        } catch (const std::exception&) {
          client.reset();
        }
        std::lock_guard lock(mutex);
        ++statuses[r.status];
        if (r.status == 201) ++before;
      }
    });
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (before.load() < 50 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (before.load() < 50) stop = true;  // the checks below fail with what was seen
  db.reset();  // drops the database, terminating the server's connections mid-request
  std::this_thread::sleep_for(std::chrono::milliseconds(700));
  stop = true;
  for (auto& t : clients) t.join();
  std::string seen;
  for (auto [status, count] : statuses) seen += std::to_string(status) + ":" + std::to_string(count) + " ";
  CAPTURE(seen);
  CHECK(before.load() >= 50);
  CHECK(statuses.count(503) == 1);  // the requests after the drop
  for (auto [status, count] : statuses) CHECK((status == 201 || status == 404 || status == 503));
}

TEST_CASE("metrics expose request counters, latency histograms, pool and outbox") {
  TestDatabase db("sqlite");
  ServerProcess server(db);
  HttpClient client(server.port());
  client.get("/healthz");
  client.get("/api/v1/nothing-here");
  REQUIRE(client.post_json("/api/v1/probe/items", R"({"name":"x"})").status == 201);  // one group commit
  auto m = client.get("/metrics");
  CHECK(m.status == 200);
  CHECK(m.header("Content-Type").rfind("text/plain", 0) == 0);
  CHECK(m.body.find("crm_http_requests_total{method=\"GET\",route=\"/healthz\",status=\"200\"} 1") != std::string::npos);
  CHECK(m.body.find("crm_http_requests_total{method=\"GET\",route=\"unmatched\",status=\"404\"} 1") != std::string::npos);
  CHECK(m.body.find("crm_http_request_duration_seconds_bucket{method=\"GET\",route=\"/healthz\",le=\"+Inf\"} 1") !=
        std::string::npos);
  CHECK(m.body.find("crm_db_pool_connections{state=\"in_use\"}") != std::string::npos);
  CHECK(m.body.find("crm_outbox_deliveries{state=\"pending\"}") != std::string::npos);
  CHECK(m.body.find("crm_outbox_lag_seconds") != std::string::npos);
  // The write's group commit: counted, and its leader's time by the clock and in CPU.
  auto value_of = [&](const std::string& series) {
    auto at = m.body.find("\n" + series + " ");
    REQUIRE_MESSAGE(at != std::string::npos, series);
    return std::stod(m.body.substr(at + series.size() + 2));
  };
  CHECK(value_of("crm_db_group_commits{count=\"units\"}") >= 1);
  double wall = value_of("crm_db_group_commit_seconds{clock=\"wall\"}");
  double cpu = value_of("crm_db_group_commit_seconds{clock=\"cpu\"}");
  CHECK(wall > 0);
  CHECK(cpu > 0);
  CHECK(cpu <= wall + 0.001);
}

TEST_CASE("the OpenAPI document describes the registered routes") {
  TestDatabase db("sqlite");
  ServerProcess server(db);
  HttpClient client(server.port());
  auto r = client.get("/api/v1/openapi.json");
  REQUIRE(r.status == 200);
  auto doc = r.json().as_object();
  CHECK(doc.at("openapi").as_string() == "3.1.0");
  auto& paths = doc.at("paths").as_object();
  CHECK(paths.contains("/healthz"));
  CHECK(paths.contains("/readyz"));
  CHECK(paths.contains("/metrics"));
  CHECK(paths.at("/api/v1/probe/items").as_object().contains("post"));
  auto& get_item = paths.at("/api/v1/probe/items/{id}").at("get").as_object();
  CHECK(get_item.at("parameters").as_array()[0].at("name").as_string() == "id");
  CHECK(doc.at("components").at("schemas").as_object().contains("Problem"));
}

TEST_CASE("the CLI: version, help, migrate status, and bad configuration named in one line") {
  auto [vcode, vout] = run_command(crm_binary_path(), {"version"});
  CHECK(vcode == 0);
  CHECK(vout.rfind("crm ", 0) == 0);
  auto [hcode, hout] = run_command(crm_binary_path(), {"--help"});
  CHECK(hcode == 0);
  CHECK(hout.find("crm serve") != std::string::npos);

  auto [pcode, pout] = run_command(crm_binary_path(), {"serve", "--port", "http"});
  CHECK(pcode == 2);
  CHECK(pout.find("http.port") != std::string::npos);
  CHECK(std::count(pout.begin(), pout.end(), '\n') == 1);
  auto [ecode, eout] = run_command(crm_binary_path(), {"serve"}, {{"CRM_LOG_LEVEL", "loud"}});
  CHECK(ecode == 2);
  CHECK(eout.find("CRM_LOG_LEVEL") != std::string::npos);
  auto [ucode, uout] = run_command(crm_binary_path(), {"serve"}, {{"CRM_DATABASE_URL", "mysql://x"}});
  CHECK(ucode == 2);
  CHECK(uout.find("database.url") != std::string::npos);

  for (const auto& backend : backends()) {
    CAPTURE(backend);
    TestDatabase db(backend);
    std::map<std::string, std::string> env{{"CRM_DATABASE_URL", db.url()}, {"CRM_LOG_LEVEL", "error"}};
    auto [scode, sout] = run_command(crm_binary_path(), {"migrate", "status"}, env);
    CHECK(scode == 0);
    CHECK(sout.find("pending") != std::string::npos);
    auto [mcode, mout] = run_command(crm_binary_path(), {"migrate", "up"}, env);
    CHECK(mcode == 0);
    auto [s2code, s2out] = run_command(crm_binary_path(), {"migrate", "status"}, env);
    CHECK(s2out.find("0001_outbox") != std::string::npos);
    CHECK(s2out.find("applied") != std::string::npos);
    CHECK(s2out.find("pending") == std::string::npos);
    // A changed migration is refused at start-up.
    db.exec("UPDATE platform_schema_migrations SET checksum = 'tampered'");
    auto [tcode, tout] = run_command(crm_binary_path(), {"migrate", "up"}, env);
    CHECK(tcode == 3);
    CHECK(tout.find("checksum") != std::string::npos);
  }
}

TEST_CASE("demo mode uses $CRM_DATA_DIR/demo.db and becomes ready") {
  TestDatabase db("sqlite");
  std::map<std::string, std::string> env{{"CRM_DATA_DIR", db.data_dir() + "/demo-data"}};
  // The harness passes CRM_DATABASE_URL; --demo without a URL must pick the demo file.
  ServerProcess server(db, env, {"--demo", "--database-url", "sqlite:" + db.data_dir() + "/demo-data/demo.db"},
                       crm_binary_path());
  HttpClient client(server.port());
  CHECK(client.get("/readyz").status == 200);
  CHECK(std::filesystem::exists(db.data_dir() + "/demo-data/demo.db"));
  CHECK(server.terminate() == 0);
}

}  // TEST_SUITE

TEST_SUITE("integration/tls") {

TEST_CASE("with a certificate and key configured the server speaks HTTPS and sends HSTS") {
  TestDatabase db("sqlite");
  std::string cert = db.data_dir() + "/cert.pem", key = db.data_dir() + "/key.pem";
  auto [gcode, gout] = run_command("/usr/bin/openssl",
                                   {"req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
                                    "-days", "1", "-subj", "/CN=localhost"});
  REQUIRE_MESSAGE(gcode == 0, gout);
  ServerProcess server(db, {{"CRM_TLS_CERT_FILE", cert}, {"CRM_TLS_KEY_FILE", key}});
  auto [code, out] = run_command("/usr/bin/curl", {"-s", "-i", "--cacert", cert, "--resolve",
                                                    "localhost:" + std::to_string(server.port()) + ":127.0.0.1",
                                                    "https://localhost:" + std::to_string(server.port()) + "/healthz"});
  CHECK(code == 0);
  CHECK(out.find("HTTP/1.1 200") != std::string::npos);
  std::string lower = out;
  for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  CHECK(lower.find("strict-transport-security: max-age=31536000") != std::string::npos);
  // Plain HTTP on the TLS port is refused.
  auto [pcode, pout] = run_command("/usr/bin/curl", {"-s", "-o", "/dev/null", "-w", "%{http_code}",
                                                      "http://127.0.0.1:" + std::to_string(server.port()) + "/healthz"});
  CHECK(pout.find("200") == std::string::npos);
  CHECK(server.terminate() == 0);
}

}  // TEST_SUITE
