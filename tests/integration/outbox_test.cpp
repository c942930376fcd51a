// The event bus and transactional outbox end to end, on SQLite and PostgreSQL.
#include "support/harness.hpp"

#include <boost/json.hpp>
#include <doctest/doctest.h>

#include <set>
#include <thread>

using namespace crm::testing;

namespace {

std::string create_item(HttpClient& client, const std::string& name) {
  auto r = client.post_json("/api/v1/probe/items", "{\"name\":\"" + name + "\"}");
  REQUIRE(r.status == 201);
  return std::string(r.json().at("id").as_string());
}

long long handled(TestDatabase& db, const std::string& subscriber, const std::string& aggregate_id) {
  return db.scalar("SELECT COUNT(*) FROM probe_handled WHERE subscriber = '" + subscriber +
                   "' AND aggregate_id = '" + aggregate_id + "'");
}

}  // namespace

TEST_SUITE("integration/outbox") {

TEST_CASE("the row and its outbox entry commit together or not at all") {
  for (const auto& backend : backends()) {
    CAPTURE(backend);
    TestDatabase db(backend);
    ServerProcess server(db);
    HttpClient client(server.port());

    std::string id = create_item(client, "kain");
    CHECK(db.scalar("SELECT COUNT(*) FROM probe_items WHERE name = 'kain'") == 1);
    CHECK(db.scalar("SELECT COUNT(*) FROM platform_outbox WHERE aggregate_id = '" + id + "'") == 1);
    CHECK(db.scalar("SELECT COUNT(*) FROM probe_audit WHERE item_id = '" + id + "'") == 1);  // sync handler

    // A failure after the write and the publish: neither the row nor the event remains.
    auto failed = client.post_json("/api/v1/probe/items", R"({"name":"doomed","fail_after_write":true})");
    CHECK(failed.status == 500);
    CHECK(db.scalar("SELECT COUNT(*) FROM probe_items WHERE name = 'doomed'") == 0);
    CHECK(db.scalar("SELECT COUNT(*) FROM platform_outbox") == 1);
    CHECK(db.scalar("SELECT COUNT(*) FROM probe_audit") == 1);

    // A synchronous handler that fails rolls back the whole change too.
    auto sync_failed = client.post_json("/api/v1/probe/items", R"({"name":"sync-fail"})");
    CHECK(sync_failed.status == 500);
    CHECK(db.scalar("SELECT COUNT(*) FROM probe_items WHERE name = 'sync-fail'") == 0);
    CHECK(db.scalar("SELECT COUNT(*) FROM platform_outbox") == 1);
  }
}

TEST_CASE("an async subscriber gets each event once even when the dispatcher redelivers") {
  for (const auto& backend : backends()) {
    CAPTURE(backend);
    TestDatabase db(backend);
    ServerProcess server(db);
    HttpClient client(server.port());
    std::string id = create_item(client, "songket");
    REQUIRE(eventually([&] { return handled(db, "probe.recorder", id) == 1; }));

    // Redeliver: the delivery is pending again, as after a lost lease or a crash.
    db.exec("UPDATE platform_outbox_deliveries SET status = 'pending', attempts = 0 WHERE subscriber = 'probe.recorder'");
    REQUIRE(eventually([&] {
      return db.scalar("SELECT COUNT(*) FROM platform_outbox_deliveries WHERE status = 'pending'") == 0;
    }));
    CHECK(handled(db, "probe.recorder", id) == 1);
    auto metrics = client.get("/metrics").body;
    CHECK(metrics.find("crm_outbox_duplicates_skipped_total{subscriber=\"probe.recorder\"} 1") != std::string::npos);
  }
}

TEST_CASE("a subscriber that always fails ends in dead letter after N attempts, and can be replayed") {
  for (const auto& backend : backends()) {
    CAPTURE(backend);
    TestDatabase db(backend);
    std::map<std::string, std::string> env{{"CRM_OUTBOX_MAX_ATTEMPTS", "3"}, {"CRM_OUTBOX_BACKOFF_BASE_MS", "20"}};
    std::string event_id;
    {
      ServerProcess server(db, env, {"--set", "modules.probe.failing_subscriber=true"});
      HttpClient client(server.port());
      std::string id = create_item(client, "batik");
      REQUIRE(eventually([&] {
        return db.scalar("SELECT COUNT(*) FROM platform_outbox_deliveries WHERE subscriber = 'probe.always_fails'"
                         " AND status = 'dead'") == 1;
      }));
      CHECK(db.scalar("SELECT attempts FROM platform_outbox_deliveries WHERE subscriber = 'probe.always_fails'") == 3);
      CHECK(db.column("SELECT last_error FROM platform_outbox_deliveries WHERE subscriber = 'probe.always_fails'")[0]
                .find("always fails") != std::string::npos);
      // The other subscriber of the same event is unaffected.
      CHECK(handled(db, "probe.recorder", id) == 1);
      auto ready = client.get("/readyz");
      CHECK(ready.status == 200);
      CHECK(ready.json().at("checks").at("outbox").at("dead").as_int64() == 1);
      event_id = db.column("SELECT CAST(id AS TEXT) FROM platform_outbox")[0];
      CHECK(server.terminate() == 0);
    }
    // The operator's view and replay.
    std::map<std::string, std::string> cli_env{{"CRM_DATABASE_URL", db.url()}, {"CRM_LOG_LEVEL", "error"}};
    auto [code, out] = run_command(probe_server_path(), {"outbox", "status"}, cli_env);
    CHECK(code == 0);
    CHECK(out.find("dead 1") != std::string::npos);
    auto [rcode, rout] = run_command(probe_server_path(), {"outbox", "replay", event_id}, cli_env);
    CHECK(rcode == 0);
    CHECK(rout.find("re-queued 2") != std::string::npos);
    CHECK(db.scalar("SELECT COUNT(*) FROM platform_outbox_deliveries WHERE status = 'pending' AND attempts = 0") == 2);
    auto [ucode, uout] = run_command(probe_server_path(), {"outbox", "replay", "01234567-89ab-7def-8123-456789abcdef"}, cli_env);
    CHECK(ucode == 1);
  }
}

TEST_CASE("failed deliveries are retried with backoff until they succeed") {
  for (const auto& backend : backends()) {
    CAPTURE(backend);
    TestDatabase db(backend);
    ServerProcess server(db, {{"CRM_OUTBOX_BACKOFF_BASE_MS", "20"}}, {"--set", "modules.probe.flaky_failures=2"});
    HttpClient client(server.port());
    std::string id = create_item(client, "tenun");
    REQUIRE(client.post_json("/api/v1/probe/items/" + id + "/touch", "").status == 200);
    REQUIRE(eventually([&] { return handled(db, "probe.flaky", id) == 1; }));
    CHECK(db.scalar("SELECT attempts FROM platform_outbox_deliveries WHERE subscriber = 'probe.flaky'") == 3);
    CHECK(db.column("SELECT status FROM platform_outbox_deliveries WHERE subscriber = 'probe.flaky'")[0] == "done");
  }
}

TEST_CASE("events of one aggregate are handled in the order they were published") {
  for (const auto& backend : backends()) {
    CAPTURE(backend);
    TestDatabase db(backend);
    ServerProcess server(db);
    HttpClient client(server.port());
    std::string id = create_item(client, "ordered");
    for (int i = 0; i < 20; ++i) REQUIRE(client.post_json("/api/v1/probe/items/" + id + "/touch", "").status == 200);
    REQUIRE(eventually([&] { return handled(db, "probe.recorder", id) == 21; }));
    auto seqs = db.column("SELECT CAST(event_seq AS TEXT) FROM probe_handled WHERE aggregate_id = '" + id +
                          "' ORDER BY seq");
    for (std::size_t i = 1; i < seqs.size(); ++i) CHECK(std::stoll(seqs[i - 1]) < std::stoll(seqs[i]));
  }
}

TEST_CASE("kill -9 after commit and before dispatch: the event is delivered after restart") {
  for (const auto& backend : backends()) {
    CAPTURE(backend);
    TestDatabase db(backend);
    std::string id;
    {
      ServerProcess server(db, {{"CRM_OUTBOX_DISPATCH_ENABLED", "false"}});
      HttpClient client(server.port());
      id = create_item(client, "acknowledged");
      server.kill9();
    }
    CHECK(db.scalar("SELECT COUNT(*) FROM probe_items WHERE name = 'acknowledged'") == 1);
    CHECK(db.scalar("SELECT COUNT(*) FROM platform_outbox_deliveries WHERE status = 'pending'") == 1);
    CHECK(handled(db, "probe.recorder", id) == 0);

    ServerProcess restarted(db);
    CHECK(eventually([&] { return handled(db, "probe.recorder", id) == 1; }));
  }
}

TEST_CASE("two server processes on one PostgreSQL deliver each event exactly once per subscriber") {
  auto all = backends();
  if (std::find(all.begin(), all.end(), "postgres") == all.end()) return;
  TestDatabase db("postgres");
  ServerProcess first(db);
  ServerProcess second(db);
  constexpr int kItems = 40;
  std::vector<std::thread> writers;
  for (int w = 0; w < 2; ++w) {
    writers.emplace_back([&, w] {
      HttpClient client(w == 0 ? first.port() : second.port());
      for (int i = 0; i < kItems / 2; ++i) {
        auto r = client.post_json("/api/v1/probe/items", "{\"name\":\"item-" + std::to_string(w) + "-" +
                                                             std::to_string(i) + "\"}");
        REQUIRE(r.status == 201);
        std::string id(r.json().at("id").as_string());
        REQUIRE(client.post_json("/api/v1/probe/items/" + id + "/touch", "").status == 200);
      }
    });
  }
  for (auto& t : writers) t.join();
  const long long events = kItems * 2;
  REQUIRE(db.scalar("SELECT COUNT(*) FROM platform_outbox") == events);
  REQUIRE(eventually([&] { return db.scalar("SELECT COUNT(*) FROM probe_handled") >= events &&
                                  db.scalar("SELECT COUNT(*) FROM platform_outbox_deliveries WHERE status <> 'done'") == 0; },
                     std::chrono::seconds(30)));
  CHECK(db.scalar("SELECT COUNT(*) FROM probe_handled") == events);
  CHECK(db.scalar("SELECT COUNT(DISTINCT event_id) FROM probe_handled") == events);
  CHECK(db.scalar("SELECT COUNT(*) FROM platform_inbox") == events);
}

}  // TEST_SUITE
