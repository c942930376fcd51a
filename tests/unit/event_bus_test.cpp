#include "crm/platform/db.hpp"
#include "crm/platform/error.hpp"
#include "crm/platform/log.hpp"
#include "crm/platform/event_bus.hpp"
#include "crm/platform/migrations.hpp"
#include "crm/platform/metrics.hpp"
#include "crm/platform/outbox.hpp"
#include "crm/platform/time.hpp"
#include "crm/platform/unit_of_work.hpp"

#include "app/application.hpp"

#include <doctest/doctest.h>

#include <boost/json/array.hpp>
#include <boost/json/parse.hpp>
#include <soci/soci.h>

#include <algorithm>
#include <atomic>
#include <functional>
#include <mutex>
#include <chrono>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

namespace bj = boost::json;
namespace fs = std::filesystem;
using crm::platform::EventBus;
using crm::platform::EventEnvelope;
using crm::platform::event_type_matches;
using crm::platform::UnitOfWork;

EventEnvelope envelope(std::string type, int version, bj::object payload) {
  EventEnvelope e;
  e.id = crm::platform::new_uuid_v7();
  e.type = std::move(type);
  e.version = version;
  e.aggregate_type = "customer";
  e.aggregate_id = "c-1";
  e.payload = std::move(payload);
  return e;
}

/// Upcasters that record the order they ran in and depend on each other's output.
void register_customer_upcasters(EventBus& bus) {
  bus.register_upcaster("customer.created", 1, [](bj::object& p) {
    bj::value name = p.at("name");  // copy first: inserting may rehash and move the source
    p["full_name"] = std::move(name);
    p.erase("name");
    p["steps"] = bj::array{1};
  });
  bus.register_upcaster("customer.created", 2, [](bj::object& p) {
    // Needs v2's field: fails loudly if run before the v1 → v2 step.
    bj::value full_name = p.at("full_name");
    p["display_name"] = std::move(full_name);
    p.at("steps").as_array().push_back(2);
  });
}

/// A SQLite database with the platform's own migrations applied.
class OutboxDatabase final {
 public:
  OutboxDatabase() : dir_(fs::temp_directory_path() / ("crm-event-bus-test-" + crm::platform::random_hex(8))) {
    fs::create_directories(dir_);
    crm::platform::set_log_sink([](std::string_view) {});  // keep test output readable
    crm::platform::DatabaseConfig cfg;
    cfg.pool_size = 2;
    db_ = std::make_unique<crm::platform::Database>(
        cfg, crm::platform::parse_database_url("sqlite:" + (dir_ / "bus.db").string()));
    crm::platform::Migrator(*db_, crm::app::platform_migrations()).apply();
  }
  ~OutboxDatabase() {
    db_.reset();
    crm::platform::set_log_sink(nullptr);
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  OutboxDatabase(const OutboxDatabase&) = delete;
  OutboxDatabase& operator=(const OutboxDatabase&) = delete;

  crm::platform::Database& db() { return *db_; }
  fs::path path() const { return dir_ / "bus.db"; }

  int count(const std::string& sql) {
    auto lease = db_->acquire();
    int n = -1;
    *lease << sql, soci::into(n);
    return n;
  }

 private:
  fs::path dir_;
  std::unique_ptr<crm::platform::Database> db_;
};

}  // namespace

TEST_SUITE("platform/event_bus") {
  TEST_CASE("a v1 envelope is upcast through every step in order to the current version") {
    EventBus bus;
    register_customer_upcasters(bus);
    auto e = envelope("customer.created", 1, bj::object{{"name", "Siti"}, {"email", "siti@example.my"}});
    auto up = bus.upcast(e);
    CHECK(up.version == 3);
    CHECK_FALSE(up.payload.contains("name"));
    CHECK(up.payload.at("full_name").as_string() == "Siti");
    CHECK(up.payload.at("display_name").as_string() == "Siti");
    CHECK(up.payload.at("email").as_string() == "siti@example.my");
    CHECK(up.payload.at("steps") == bj::array{1, 2});
    // The envelope around the payload is unchanged.
    CHECK(up.id == e.id);
    CHECK(up.type == "customer.created");
    CHECK(up.aggregate_id == "c-1");
  }

  TEST_CASE("a v2 envelope runs only the steps after its version") {
    EventBus bus;
    register_customer_upcasters(bus);
    auto up = bus.upcast(envelope("customer.created", 2, bj::object{{"full_name", "Aminah"}, {"steps", bj::array{}}}));
    CHECK(up.version == 3);
    CHECK(up.payload.at("steps") == bj::array{2});
    CHECK(up.payload.at("display_name").as_string() == "Aminah");
  }

  TEST_CASE("an envelope already at the current version is unchanged") {
    EventBus bus;
    register_customer_upcasters(bus);
    bj::object payload{{"display_name", "x"}};
    auto up = bus.upcast(envelope("customer.created", 3, payload));
    CHECK(up.version == 3);
    CHECK(up.payload == payload);
  }

  TEST_CASE("an envelope of a type without upcasters is unchanged") {
    EventBus bus;
    register_customer_upcasters(bus);
    bj::object payload{{"name", "Deal"}};
    auto up = bus.upcast(envelope("opportunity.won", 1, payload));
    CHECK(up.version == 1);
    CHECK(up.payload == payload);
  }

  TEST_CASE("upcasting stops at a missing step") {
    EventBus bus;
    bus.register_upcaster("lead.converted", 1, [](bj::object& p) { p["v2"] = true; });
    bus.register_upcaster("lead.converted", 3, [](bj::object& p) { p["v4"] = true; });
    auto up = bus.upcast(envelope("lead.converted", 1, {}));
    CHECK(up.version == 2);
    CHECK(up.payload.contains("v2"));
    CHECK_FALSE(up.payload.contains("v4"));
  }

  TEST_CASE("an exact pattern matches only its own type") {
    CHECK(event_type_matches("customer.created", "customer.created"));
    CHECK_FALSE(event_type_matches("customer.created", "customer.updated"));
    CHECK_FALSE(event_type_matches("customer.created", "customer.created.v2"));
    CHECK_FALSE(event_type_matches("customer", "customer.created"));
  }

  TEST_CASE("a prefix wildcard matches types under that prefix only") {
    CHECK(event_type_matches("customer.*", "customer.created"));
    CHECK(event_type_matches("customer.*", "customer.contact.added"));
    CHECK_FALSE(event_type_matches("customer.*", "customers.x"));
    CHECK_FALSE(event_type_matches("customer.*", "customer"));
    CHECK_FALSE(event_type_matches("customer.*", "lead.created"));
    CHECK_FALSE(event_type_matches("customer.*", "xcustomer.created"));
  }

  TEST_CASE("a star matches every type") {
    CHECK(event_type_matches("*", "customer.created"));
    CHECK(event_type_matches("*", "iam.user.invited"));
  }

  TEST_CASE("an async subscriber wants any type one of its patterns matches") {
    crm::platform::AsyncSubscriber s{"notify", {"lead.converted", "opportunity.*"}, {}, {}};
    CHECK(s.wants("lead.converted"));
    CHECK(s.wants("opportunity.won"));
    CHECK_FALSE(s.wants("lead.created"));
    CHECK_FALSE(s.wants("customer.created"));
  }

  TEST_CASE("async subscribers are found by name and a duplicate name throws") {
    EventBus bus;
    bus.subscribe_async("notification.mailer", {"*"}, [](UnitOfWork&, const EventEnvelope&) {});
    bus.subscribe_async("sales.reactor", {"customer.*"}, [](UnitOfWork&, const EventEnvelope&) {},
                        crm::platform::AsyncSubscriberOptions{3});
    CHECK_THROWS_AS(bus.subscribe_async("notification.mailer", {"x"}, [](UnitOfWork&, const EventEnvelope&) {}),
                    std::logic_error);
    auto all = bus.async_subscribers();
    REQUIRE(all.size() == 2);
    CHECK(all[0]->name == "notification.mailer");
    CHECK(all[1]->name == "sales.reactor");
    REQUIRE(bus.async_subscriber("sales.reactor") != nullptr);
    CHECK(bus.async_subscriber("sales.reactor")->options.max_attempts == 3);
    CHECK(bus.async_subscriber("missing") == nullptr);
  }

  TEST_CASE("an envelope's JSON has every field, nulls for empty tenant, actor and causation") {
    auto e = envelope("customer.created", 2, bj::object{{"name", "Siti"}});
    e.occurred_at = 1795461573123;  // 2026-11-23T19:19:33.123Z
    e.correlation_id = "req-1";
    e.trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    auto j = e.to_json();
    CHECK(j.at("id").as_string() == e.id);
    CHECK(j.at("type").as_string() == "customer.created");
    CHECK(j.at("version").as_int64() == 2);
    CHECK(j.at("tenant_id").is_null());
    CHECK(j.at("aggregate_type").as_string() == "customer");
    CHECK(j.at("aggregate_id").as_string() == "c-1");
    CHECK(j.at("occurred_at").as_string() == "2026-11-23T19:19:33.123Z");
    CHECK(j.at("actor_id").is_null());
    CHECK(j.at("correlation_id").as_string() == "req-1");
    CHECK(j.at("causation_id").is_null());
    CHECK(j.at("trace_id").as_string() == "4bf92f3577b34da6a3ce929d0e0e4736");
    CHECK(j.at("payload") == bj::object{{"name", "Siti"}});
  }

  TEST_CASE("an envelope's JSON carries tenant, actor and causation when set") {
    auto e = envelope("customer.created", 1, {});
    e.tenant_id = "t-1";
    e.actor_id = "u-1";
    e.causation_id = "ev-0";
    auto j = e.to_json();
    CHECK(j.at("tenant_id").as_string() == "t-1");
    CHECK(j.at("actor_id").as_string() == "u-1");
    CHECK(j.at("causation_id").as_string() == "ev-0");
  }

  TEST_CASE("publishing runs matching sync handlers and writes the outbox and deliveries in the transaction") {
    OutboxDatabase t;
    EventBus bus;
    std::vector<std::string> seen;
    bus.subscribe_sync("audit", {"customer.*"}, [&](UnitOfWork&, const EventEnvelope& e) { seen.push_back(e.type); });
    bus.subscribe_sync("other", {"lead.*"}, [&](UnitOfWork&, const EventEnvelope&) { seen.push_back("wrong"); });
    bus.subscribe_async("mailer", {"customer.created"}, [](UnitOfWork&, const EventEnvelope&) {});
    bus.subscribe_async("leads", {"lead.*"}, [](UnitOfWork&, const EventEnvelope&) {});
    int commits = 0;
    bus.set_commit_listener([&] { ++commits; });

    crm::platform::UnitOfWorkFactory uow(t.db(), bus);
    crm::platform::RequestContext ctx;
    ctx.request_id = "req-1";
    ctx.tenant_id = "t-1";
    uow.run(ctx, [&](UnitOfWork& u) {
      u.publish(u.make_event("customer.created", 1, "customer", "c-1", bj::object{{"name", "Siti"}}));
    });

    CHECK(seen == std::vector<std::string>{"customer.created"});
    CHECK(commits == 1);
    CHECK(t.count("SELECT count(*) FROM platform_outbox WHERE type = 'customer.created' AND tenant_id = 't-1'"
                  " AND correlation_id = 'req-1'") == 1);
    CHECK(t.count("SELECT count(*) FROM platform_outbox_deliveries WHERE subscriber = 'mailer'"
                  " AND status = 'pending'") == 1);
    CHECK(t.count("SELECT count(*) FROM platform_outbox_deliveries WHERE subscriber = 'leads'") == 0);
  }

  TEST_CASE("a throwing sync handler rolls the whole change back, outbox row included") {
    OutboxDatabase t;
    EventBus bus;
    bus.subscribe_sync("audit", {"*"}, [](UnitOfWork&, const EventEnvelope&) {
      throw std::runtime_error("audit failed");
    });
    bus.subscribe_async("mailer", {"*"}, [](UnitOfWork&, const EventEnvelope&) {});
    int commits = 0;
    bus.set_commit_listener([&] { ++commits; });
    crm::platform::UnitOfWorkFactory uow(t.db(), bus);

    CHECK_THROWS_WITH_AS(uow.run(crm::platform::RequestContext{},
                                 [&](UnitOfWork& u) {
                                   u.sql() << "CREATE TABLE probe_written (id INTEGER)";
                                   u.publish(u.make_event("customer.created", 1, "customer", "c-1", {}));
                                 }),
                         "audit failed", std::runtime_error);
    CHECK(commits == 0);
    CHECK(t.count("SELECT count(*) FROM platform_outbox") == 0);
    CHECK(t.count("SELECT count(*) FROM platform_outbox_deliveries") == 0);
    CHECK(t.count("SELECT count(*) FROM sqlite_master WHERE name = 'probe_written'") == 0);
  }

  TEST_CASE("a failed savepoint undoes only its own rows, events and after-commit actions") {
    OutboxDatabase t;
    EventBus bus;
    int audited = 0;
    bus.subscribe_sync("audit", {"*"}, [&](UnitOfWork&, const EventEnvelope&) { ++audited; });
    bus.subscribe_async("mailer", {"*"}, [](UnitOfWork&, const EventEnvelope&) {});
    int commits = 0;
    bus.set_commit_listener([&] { ++commits; });
    crm::platform::UnitOfWorkFactory uow(t.db(), bus);
    std::vector<std::string> after;

    uow.run(crm::platform::RequestContext{}, [&](UnitOfWork& u) {
      u.sql() << "CREATE TABLE probe_rows (id INTEGER)";
      int kept = u.savepoint([&] {
        u.sql() << "INSERT INTO probe_rows (id) VALUES (1)";
        u.publish(u.make_event("customer.created", 1, "customer", "c-1", {}));
        u.after_commit([&] { after.push_back("kept"); });
        return 1;
      });
      CHECK(kept == 1);
      CHECK_THROWS_AS(u.savepoint([&] {
                        u.sql() << "INSERT INTO probe_rows (id) VALUES (2)";
                        u.publish(u.make_event("customer.created", 1, "customer", "c-2", {}));
                        u.after_commit([&] { after.push_back("undone"); });
                        // A savepoint inside a savepoint goes with its parent.
                        u.savepoint([&] { u.sql() << "INSERT INTO probe_rows (id) VALUES (3)"; });
                        throw std::runtime_error("input failed");
                      }),
                      std::runtime_error);
      u.savepoint([&] { u.sql() << "INSERT INTO probe_rows (id) VALUES (4)"; });
    });

    CHECK(commits == 1);
    CHECK(audited == 2);  // the handler ran for both; the second one's writes went with its savepoint
    CHECK(t.count("SELECT count(*) FROM probe_rows") == 2);
    CHECK(t.count("SELECT count(*) FROM probe_rows WHERE id IN (1, 4)") == 2);
    CHECK(t.count("SELECT count(*) FROM platform_outbox") == 1);
    CHECK(t.count("SELECT count(*) FROM platform_outbox WHERE aggregate_id = 'c-1'") == 1);
    CHECK(t.count("SELECT count(*) FROM platform_outbox_deliveries") == 1);
    CHECK(after == std::vector<std::string>{"kept"});
  }

  TEST_CASE("a unit of work whose savepoints all failed wakes no dispatcher") {
    OutboxDatabase t;
    EventBus bus;
    int commits = 0;
    bus.set_commit_listener([&] { ++commits; });
    crm::platform::UnitOfWorkFactory uow(t.db(), bus);
    uow.run(crm::platform::RequestContext{}, [&](UnitOfWork& u) {
      CHECK_THROWS(u.savepoint([&] {
        u.publish(u.make_event("customer.created", 1, "customer", "c-1", {}));
        throw std::runtime_error("input failed");
      }));
      CHECK_FALSE(u.published_events());
    });
    CHECK(commits == 0);
    CHECK(t.count("SELECT count(*) FROM platform_outbox") == 0);
  }

  TEST_CASE("a unit of work without events does not wake the dispatcher") {
    OutboxDatabase t;
    EventBus bus;
    int commits = 0;
    bus.set_commit_listener([&] { ++commits; });
    crm::platform::UnitOfWorkFactory uow(t.db(), bus);
    uow.run(crm::platform::RequestContext{}, [](UnitOfWork&) {});
    CHECK(commits == 0);
  }

  TEST_CASE("only events with an asynchronous subscriber wake the dispatcher after commit") {
    OutboxDatabase t;
    EventBus bus;
    bus.subscribe_async("notification.mailer", {"customer.created"}, [](UnitOfWork&, const EventEnvelope&) {});
    int commits = 0;
    bus.set_commit_listener([&] { ++commits; });
    crm::platform::UnitOfWorkFactory uow(t.db(), bus);
    uow.run(crm::platform::RequestContext{}, [](UnitOfWork& u) {
      u.publish(u.make_event("note.added", 1, "note", "n-1", {}));
    });
    CHECK(commits == 0);
    CHECK(t.count("SELECT count(*) FROM platform_outbox") == 1);
    uow.run(crm::platform::RequestContext{}, [](UnitOfWork& u) {
      u.publish(u.make_event("customer.created", 1, "customer", "c-1", {}));
    });
    CHECK(commits == 1);
    CHECK(t.count("SELECT count(*) FROM platform_outbox_deliveries") == 1);
  }

  TEST_CASE("a SQLite unit of work waits for the process's write lock before it begins") {
    OutboxDatabase t;
    EventBus bus;
    crm::platform::UnitOfWorkFactory uow(t.db(), bus);
    std::atomic<bool> began{false};
    std::thread writer;
    {
      auto held = t.db().write_lock();
      writer = std::thread([&] {
        uow.run(crm::platform::RequestContext{}, [&](UnitOfWork&) { began = true; });
      });
      std::this_thread::sleep_for(std::chrono::milliseconds(150));
      CHECK_FALSE(began.load());  // queued on the lock, not inside SQLite's busy handler
    }
    writer.join();
    CHECK(began.load());
  }

  TEST_CASE("retention purges old events whose deliveries are all done, and keeps the rest") {
    OutboxDatabase t;
    EventBus bus;
    bus.subscribe_async("s", {"*"}, [](UnitOfWork&, const EventEnvelope& e) {
      if (e.aggregate_id == "failing") throw std::runtime_error("not yet");
    });
    crm::platform::UnitOfWorkFactory uow(t.db(), bus);
    for (const char* aggregate : {"a", "b", "failing"}) {
      uow.run(crm::platform::RequestContext{}, [&](UnitOfWork& u) {
        u.publish(u.make_event("thing.happened", 1, "thing", aggregate, {}));
      });
    }
    crm::platform::MetricsRegistry metrics;
    crm::platform::OutboxConfig config;
    crm::platform::OutboxDispatcher dispatcher(t.db(), bus, config, metrics);
    CHECK(dispatcher.run_once() == 3);
    CHECK(t.count("SELECT count(*) FROM platform_outbox_deliveries WHERE status = 'done'") == 2);
    CHECK(t.count("SELECT count(*) FROM platform_inbox") == 2);

    // Nothing is old enough yet.
    CHECK(crm::platform::outbox_purge(t.db(), crm::platform::now_ms() - 60000) == 0);
    CHECK(t.count("SELECT count(*) FROM platform_outbox") == 3);

    CHECK(crm::platform::outbox_purge(t.db(), crm::platform::now_ms() + 60000) == 2);
    CHECK(t.count("SELECT count(*) FROM platform_outbox") == 1);
    CHECK(t.count("SELECT count(*) FROM platform_outbox WHERE aggregate_id = 'failing'") == 1);
    CHECK(t.count("SELECT count(*) FROM platform_outbox_deliveries") == 1);
    CHECK(t.count("SELECT count(*) FROM platform_inbox") == 0);
  }
}

namespace {

/// Starts `n` threads that each run a unit of work while the test holds the write lock, waits
/// until all of them are queued, then lets them in. `work(i, uow)` is unit i.
struct QueuedUnits {
  std::vector<std::string> outcomes;  // "ok" or the exception's message, per unit

  QueuedUnits(crm::platform::UnitOfWorkFactory& uow, int n, const std::function<void(int, UnitOfWork&)>& work)
      : outcomes(static_cast<std::size_t>(n)) {
    std::vector<std::thread> threads;
    {
      auto held = uow.database().write_lock();
      for (int i = 0; i < n; ++i) {
        threads.emplace_back([&, i] {
          crm::platform::RequestContext ctx;
          ctx.request_id = "req-" + std::to_string(i);
          ctx.tenant_id = "t-1";
          try {
            uow.run(ctx, [&](UnitOfWork& u) { work(i, u); });
            outcomes[static_cast<std::size_t>(i)] = "ok";
          } catch (const std::exception& e) {
            outcomes[static_cast<std::size_t>(i)] = e.what();
          }
        });
      }
      auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
      while (uow.queued() < n && std::chrono::steady_clock::now() < until)
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      REQUIRE(uow.queued() == n);
    }
    for (auto& t : threads) t.join();
  }
};

}  // namespace

TEST_SUITE("platform/group_commit") {
  TEST_CASE("units of work that queue while a writer holds the lock commit together in one transaction") {
    OutboxDatabase t;
    EventBus bus;
    bus.subscribe_async("mailer", {"*"}, [](UnitOfWork&, const EventEnvelope&) {});
    int wakes = 0;
    bus.set_commit_listener([&] { ++wakes; });
    crm::platform::UnitOfWorkFactory uow(t.db(), bus);
    uow.run(crm::platform::RequestContext{}, [](UnitOfWork& u) { u.sql() << "CREATE TABLE probe_rows (id INTEGER)"; });
    auto before = uow.group_stats();
    CHECK(before.transactions == 1);
    CHECK(before.units == 1);
    std::atomic<int> after_commit{0};

    QueuedUnits units(uow, 8, [&](int i, UnitOfWork& u) {
      u.sql() << "INSERT INTO probe_rows (id) VALUES (:i)", soci::use(i);
      u.publish(u.make_event("customer.created", 1, "customer", "c-" + std::to_string(i), {}));
      u.after_commit([&] { ++after_commit; });
    });

    CHECK(units.outcomes == std::vector<std::string>(8, "ok"));
    auto stats = uow.group_stats();
    CHECK(stats.transactions - before.transactions == 1);
    CHECK(stats.units - before.units == 8);
    // The leader's time is counted, and it cannot have used more CPU than time passed.
    CHECK(stats.wall_seconds > before.wall_seconds);
    CHECK(stats.cpu_seconds > before.cpu_seconds);
    CHECK(stats.cpu_seconds - before.cpu_seconds <= stats.wall_seconds - before.wall_seconds + 0.001);
    CHECK(wakes == 1);
    CHECK(after_commit == 8);
    CHECK(t.count("SELECT count(*) FROM probe_rows") == 8);
    // Each event carries the request context of its own unit of work.
    for (int i = 0; i < 8; ++i) {
      CHECK(t.count("SELECT count(*) FROM platform_outbox WHERE aggregate_id = 'c-" + std::to_string(i) +
                    "' AND correlation_id = 'req-" + std::to_string(i) + "' AND tenant_id = 't-1'") == 1);
    }
    CHECK(uow.queued() == 0);
    CHECK(t.db().writers_waiting() == 0);
  }

  TEST_CASE("a long writer run alone sees the writers queued behind it and never holds a group's commit") {
    // An import's part runs until another writer waits. Had it been taken into a group behind
    // a request, that request would have waited for the part's commit without counting as
    // waiting, so the part would not have ended early.
    OutboxDatabase t;
    EventBus bus;
    crm::platform::UnitOfWorkFactory uow(t.db(), bus);
    uow.run(crm::platform::RequestContext{}, [](UnitOfWork& u) { u.sql() << "CREATE TABLE probe_rows (id INTEGER)"; });
    auto waited_for = [&](int n) {
      auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
      while (t.db().writers_waiting() < n && std::chrono::steady_clock::now() < until)
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      return t.db().writers_waiting() >= n;
    };
    std::atomic<bool> long_saw_waiter{false};
    std::atomic<long long> request_ms{-1};
    std::thread long_writer, request;
    std::chrono::steady_clock::time_point released;
    {
      auto held = t.db().write_lock();  // as the checkpointer holds it for a moment
      long_writer = std::thread([&] {
        uow.run_alone(crm::platform::RequestContext{}, [&](UnitOfWork& u) {
          auto until = std::chrono::steady_clock::now() + std::chrono::seconds(3);
          for (int i = 0; std::chrono::steady_clock::now() < until; ++i) {
            u.sql() << "INSERT INTO probe_rows (id) VALUES (:i)", soci::use(i);
            if (t.db().writers_waiting() > 0) {
              long_saw_waiter = true;
              break;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
          }
        });
      });
      CHECK(waited_for(1));  // CHECK, not REQUIRE: the threads must still be joined
      request = std::thread([&] {
        uow.run(crm::platform::RequestContext{}, [&](UnitOfWork& u) { u.sql() << "INSERT INTO probe_rows (id) VALUES (-1)"; });
        request_ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - released).count();
      });
      CHECK(waited_for(3));  // queued for a group, and its leader on the lock
      released = std::chrono::steady_clock::now();
    }
    request.join();
    long_writer.join();
    // Whichever took the lock first, the request did not wait for the long writer to give up.
    CHECK(request_ms.load() >= 0);
    CHECK(request_ms.load() < 1500);
    CHECK(t.count("SELECT count(*) FROM probe_rows WHERE id = -1") == 1);
    CHECK(t.db().writers_waiting() == 0);
    // When the long writer took the lock first, it saw the request and ended early.
    CHECK((long_saw_waiter.load() || request_ms.load() < 500));
  }

  TEST_CASE("in a group, a unit of work that throws fails alone and the others commit") {
    OutboxDatabase t;
    EventBus bus;
    int audited = 0;
    bus.subscribe_sync("audit", {"*"}, [&](UnitOfWork& u, const EventEnvelope& e) {
      ++audited;
      u.sql() << "INSERT INTO probe_audit (aggregate_id) VALUES (:a)", soci::use(e.aggregate_id);
    });
    bus.subscribe_async("mailer", {"*"}, [](UnitOfWork&, const EventEnvelope&) {});
    crm::platform::UnitOfWorkFactory uow(t.db(), bus);
    uow.run(crm::platform::RequestContext{}, [](UnitOfWork& u) {
      u.sql() << "CREATE TABLE probe_rows (id INTEGER PRIMARY KEY)";
      u.sql() << "CREATE TABLE probe_audit (aggregate_id TEXT)";
      u.sql() << "INSERT INTO probe_rows (id) VALUES (100)";
    });
    auto before = uow.group_stats();
    std::vector<std::string> after;
    std::mutex after_mutex;

    QueuedUnits units(uow, 6, [&](int i, UnitOfWork& u) {
      u.sql() << "INSERT INTO probe_rows (id) VALUES (:i)", soci::use(i);
      u.publish(u.make_event("customer.created", 1, "customer", "c-" + std::to_string(i), {}));
      u.after_commit([&, i] {
        std::lock_guard lock(after_mutex);
        after.push_back("c-" + std::to_string(i));
      });
      if (i == 2) throw crm::platform::Error(crm::platform::ErrorKind::conflict, "conflict", "unit 2 conflicts");
      if (i == 4) u.sql() << "INSERT INTO probe_rows (id) VALUES (100)";  // a constraint violation
    });

    CHECK(units.outcomes[0] == "ok");
    CHECK(units.outcomes[1] == "ok");
    CHECK(units.outcomes[2] == "unit 2 conflicts");
    CHECK(units.outcomes[3] == "ok");
    CHECK(units.outcomes[4] != "ok");
    CHECK(units.outcomes[5] == "ok");
    CHECK(uow.group_stats().transactions - before.transactions == 1);
    CHECK(t.count("SELECT count(*) FROM probe_rows WHERE id IN (0, 1, 3, 5)") == 4);
    CHECK(t.count("SELECT count(*) FROM probe_rows") == 5);
    // What the failed units' handlers wrote went with them; their events never reached the outbox.
    CHECK(audited == 6);
    CHECK(t.count("SELECT count(*) FROM probe_audit") == 4);
    CHECK(t.count("SELECT count(*) FROM probe_audit WHERE aggregate_id IN ('c-2', 'c-4')") == 0);
    CHECK(t.count("SELECT count(*) FROM platform_outbox") == 4);
    CHECK(t.count("SELECT count(*) FROM platform_outbox WHERE aggregate_id IN ('c-2', 'c-4')") == 0);
    std::sort(after.begin(), after.end());
    CHECK(after == std::vector<std::string>{"c-0", "c-1", "c-3", "c-5"});
  }

  TEST_CASE("units of work in a group each run their own function and see their own bindings") {
    OutboxDatabase t;
    EventBus bus;
    crm::platform::UnitOfWorkFactory uow(t.db(), bus);
    std::vector<int> seen(5, -1);
    QueuedUnits units(uow, 5, [&](int i, UnitOfWork& u) {
      int n = 0;
      u.sql() << "SELECT :i * 10", soci::use(i), soci::into(n);
      seen[static_cast<std::size_t>(i)] = n;
    });
    CHECK(units.outcomes == std::vector<std::string>(5, "ok"));
    CHECK(seen == std::vector<int>{0, 10, 20, 30, 40});
    auto value = uow.run(crm::platform::RequestContext{}, [](UnitOfWork&) { return std::string("returned"); });
    CHECK(value == "returned");
  }

  TEST_CASE("the write-ahead log is checkpointed in the background once it grows past 1,000 pages") {
    OutboxDatabase t;
    EventBus bus;
    crm::platform::UnitOfWorkFactory uow(t.db(), bus);
    CHECK(t.db().checkpoints() == 0);
    uow.run(crm::platform::RequestContext{}, [](UnitOfWork& u) { u.sql() << "CREATE TABLE probe_blobs (b BLOB)"; });
    // About 1,300 pages of 4 KiB in a few commits.
    for (int i = 0; i < 4; ++i) {
      uow.run(crm::platform::RequestContext{}, [](UnitOfWork& u) {
        u.sql() << "INSERT INTO probe_blobs (b) SELECT zeroblob(4000) FROM (WITH RECURSIVE n(x) AS "
                   "(SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 330) SELECT x FROM n)";
      });
    }
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (t.db().checkpoints() == 0 && std::chrono::steady_clock::now() < until)
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    CHECK(t.db().checkpoints() >= 1);
    // Everything in the log was copied into the database, and the next writer started the log over.
    uow.run(crm::platform::RequestContext{}, [](UnitOfWork& u) { u.sql() << "INSERT INTO probe_blobs (b) VALUES (x'00')"; });
    auto lease = t.db().acquire();
    int busy = -1, log_pages = -1, copied = -1;
    *lease << "PRAGMA wal_checkpoint(PASSIVE)", soci::into(busy), soci::into(log_pages), soci::into(copied);
    CHECK(log_pages < 1000);
    CHECK(copied == log_pages);
  }

  TEST_CASE("the write-ahead log starts over and stays small while writers and readers keep going") {
    OutboxDatabase t;
    EventBus bus;
    crm::platform::UnitOfWorkFactory uow(t.db(), bus);
    uow.run(crm::platform::RequestContext{}, [](UnitOfWork& u) { u.sql() << "CREATE TABLE probe_blobs (b BLOB)"; });
    std::atomic<bool> writing{true};
    std::atomic<long> reads{0};
    std::vector<std::thread> readers;
    for (int r = 0; r < 2; ++r) {
      readers.emplace_back([&] {
        while (writing) {
          auto lease = t.db().acquire();
          int n = 0;
          *lease << "SELECT count(*) FROM probe_blobs", soci::into(n);
          ++reads;
        }
      });
    }
    // 120 MB of pages through the log, in 400 KB commits from two writers.
    std::vector<std::thread> writers;
    for (int w = 0; w < 2; ++w) {
      writers.emplace_back([&] {
        for (int i = 0; i < 150; ++i) {
          uow.run(crm::platform::RequestContext{}, [](UnitOfWork& u) {
            u.sql() << "INSERT INTO probe_blobs (b) SELECT zeroblob(4000) FROM (WITH RECURSIVE n(x) AS "
                       "(SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 100) SELECT x FROM n)";
          });
        }
      });
    }
    for (auto& w : writers) w.join();
    writing = false;
    for (auto& r : readers) r.join();
    CHECK(reads > 0);
    CHECK(t.count("SELECT count(*) FROM probe_blobs") == 30000);
    CHECK(t.db().checkpoints() >= 1);
    auto wal = fs::file_size(fs::path(t.path().string() + "-wal"));
    CHECK(wal < 48u * 1024 * 1024);
  }
}

TEST_SUITE("platform/unit_of_work") {
  TEST_CASE("work asked for before the commit runs once per key, phase 0 before phase 1, after the function") {
    OutboxDatabase t;
    EventBus bus;
    crm::platform::UnitOfWorkFactory uow(t.db(), bus);
    std::vector<std::string> ran;
    uow.run(crm::platform::RequestContext{}, [&](UnitOfWork& u) {
      u.sql() << "CREATE TABLE probe_rows (id INTEGER)";
      CHECK(u.before_commit("b", [&] { ran.push_back("b1"); }, 1));
      CHECK(u.before_commit("a", [&] {
        ran.push_back("a0");
        // Reads what the function wrote, and may ask for more.
        int n = 0;
        u.sql() << "SELECT count(*) FROM probe_rows", soci::into(n);
        ran.push_back("rows=" + std::to_string(n));
        u.before_commit("c", [&] { ran.push_back("c0"); });
      }));
      CHECK_FALSE(u.before_commit("a", [&] { ran.push_back("a0 again"); }));
      CHECK(u.before_commit("a", [&] { ran.push_back("a1"); }, 1));  // another phase, another key
      u.sql() << "INSERT INTO probe_rows (id) VALUES (1)";
      ran.push_back("fn");
    });
    CHECK(ran == std::vector<std::string>{"fn", "a0", "rows=1", "c0", "b1", "a1"});
    CHECK_THROWS_AS(uow.run(crm::platform::RequestContext{},
                            [&](UnitOfWork& u) { u.before_commit("x", [] {}, 2); }),
                    std::invalid_argument);
  }

  TEST_CASE("a rolled-back savepoint takes its before-commit work with it, and a throwing one commits nothing") {
    OutboxDatabase t;
    EventBus bus;
    crm::platform::UnitOfWorkFactory uow(t.db(), bus);
    uow.run(crm::platform::RequestContext{}, [](UnitOfWork& u) { u.sql() << "CREATE TABLE probe_rows (id INTEGER)"; });
    std::vector<std::string> ran;
    uow.run(crm::platform::RequestContext{}, [&](UnitOfWork& u) {
      u.before_commit("kept", [&] { ran.push_back("kept"); });
      CHECK_THROWS(u.savepoint([&] {
        u.before_commit("undone", [&] { ran.push_back("undone"); });
        throw std::runtime_error("input failed");
      }));
      // The key is free again after the rollback.
      CHECK(u.before_commit("undone", [&] { ran.push_back("asked again"); }));
    });
    CHECK(ran == std::vector<std::string>{"kept", "asked again"});

    CHECK_THROWS_WITH_AS(uow.run(crm::platform::RequestContext{},
                                 [&](UnitOfWork& u) {
                                   u.sql() << "INSERT INTO probe_rows (id) VALUES (7)";
                                   u.before_commit("fails", [] { throw std::runtime_error("index failed"); });
                                 }),
                         "index failed", std::runtime_error);
    CHECK(t.count("SELECT count(*) FROM probe_rows") == 0);
  }
}

TEST_SUITE("platform/group_commit") {
  TEST_CASE("a unit of work started inside another fails at once instead of waiting forever") {
    OutboxDatabase t;
    EventBus bus;
    crm::platform::UnitOfWorkFactory uow(t.db(), bus);
    CHECK_THROWS_WITH_AS(uow.run(crm::platform::RequestContext{},
                                 [&](UnitOfWork&) { uow.run(crm::platform::RequestContext{}, [](UnitOfWork&) {}); }),
                         "a unit of work was started inside another one", std::logic_error);
    // The factory is still usable afterwards.
    int n = uow.run(crm::platform::RequestContext{}, [](UnitOfWork& u) {
      int one = 0;
      u.sql() << "SELECT 1", soci::into(one);
      return one;
    });
    CHECK(n == 1);
  }
}
