// Listing customers on SQLite and PostgreSQL: filters, sort, cursor pagination, bad parameters.
#include <doctest/doctest.h>

#include <boost/json.hpp>

#include <atomic>
#include <set>
#include <thread>

#include "support/customer_helpers.hpp"
#include "support/harness.hpp"

using namespace crm::testing;
using namespace crm::testing::customer;

namespace {

std::vector<std::string> names_of(const HttpResult& r) {
  std::vector<std::string> out;
  for (const auto& c : data_of(r)) out.push_back(str(c.at("name")));
  return out;
}

}  // namespace

TEST_SUITE("integration/customer_listing") {
  TEST_CASE("customer: customers are filtered by status, tier, type, owner, tag, industry, country and time ranges") {
    for (const auto& backend : backends()) {
      CAPTURE(backend);
      TestDatabase db(backend);
      ServerProcess server(db);
      HttpClient client(server.port());
      auto owner = register_tenant(client, "cust-filter", "owner@filter.example");
      auto sales = add_member(client, db, owner, "sales@filter.example", "sales");
      auto address = [](const char* country, const char* postal) {
        return bj::array{bj::object{{"type", "billing"}, {"line1", "1 Street"}, {"postal_code", postal}, {"country", country}}};
      };
      create_customer(client, owner.access,
                      bj::object{{"name", "Alpha"}, {"status", "active"}, {"tier", "gold"}, {"type", "business"},
                                 {"tags", bj::array{"vip", "batik"}}, {"industry", "Retail"},
                                 {"addresses", address("MY", "50450")}});
      create_customer(client, owner.access,
                      bj::object{{"name", "Bravo"}, {"status", "prospect"}, {"tier", "silver"}, {"type", "individual"},
                                 {"tags", bj::array{"batik"}}, {"industry", "retail"}, {"addresses", address("SG", "018956")}});
      auto middle = create_customer(client, sales.access,
                                    bj::object{{"name", "Charlie"}, {"status", "active"}, {"tier", "bronze"},
                                               {"industry", "Hotels"}});
      create_customer(client, owner.access, bj::object{{"name", "Delta"}, {"status", "churned"}});
      std::string base = "/api/v1/customers?sort=name";
      auto names = [&](const std::string& q) {
        auto r = call(client, "GET", base + q, owner.access);
        REQUIRE_MESSAGE(r.status == 200, q << ": " << r.body);
        return names_of(r);
      };
      using V = std::vector<std::string>;
      CHECK(names("") == V{"Alpha", "Bravo", "Charlie", "Delta"});
      CHECK(names("&status=active") == V{"Alpha", "Charlie"});
      CHECK(names("&status=active,churned") == V{"Alpha", "Charlie", "Delta"});
      CHECK(names("&tier=gold,silver") == V{"Alpha", "Bravo"});
      CHECK(names("&type=individual") == V{"Bravo"});
      CHECK(names("&owner_id=" + sales.user_id) == V{"Charlie"});
      CHECK(names("&tag=batik") == V{"Alpha", "Bravo"});
      CHECK(names("&tag=VIP") == V{"Alpha"});
      CHECK(names("&industry=RETAIL") == V{"Alpha", "Bravo"});
      CHECK(names("&country=sg") == V{"Bravo"});
      CHECK(names("&status=active&tag=vip") == V{"Alpha"});
      std::string at = str(middle.at("created_at"));
      CHECK(names("&created_after=" + at) == V{"Delta"});
      CHECK(names("&created_before=" + at) == V{"Alpha", "Bravo"});
      CHECK(names("&updated_after=2000-01-01T00:00:00Z&updated_before=2000-01-02T00:00:00Z").empty());

      auto total = call(client, "GET", "/api/v1/customers?status=active&include_total=true&limit=1", owner.access);
      REQUIRE(total.status == 200);
      CHECK(obj(total).at("page").at("total") == 2);
      CHECK(obj(total).at("page").at("limit") == 1);
      CHECK_FALSE(obj(total).at("page").at("next_cursor").is_null());
      CHECK_FALSE(obj(call(client, "GET", "/api/v1/customers", owner.access)).at("page").as_object().contains("total"));
    }
  }

  TEST_CASE("customer: sorting is on documented fields, both directions, with a stable tie-breaker") {
    for (const auto& backend : backends()) {
      CAPTURE(backend);
      TestDatabase db(backend);
      ServerProcess server(db);
      HttpClient client(server.port());
      auto owner = register_tenant(client, "cust-sort", "owner@sort.example");
      auto money = [](const char* amount) { return bj::object{{"amount", amount}, {"currency", "MYR"}}; };
      create_customer(client, owner.access, bj::object{{"name", "B"}, {"lifetime_value", money("20")}});
      create_customer(client, owner.access, bj::object{{"name", "A"}, {"lifetime_value", money("300")}});
      create_customer(client, owner.access, bj::object{{"name", "C"}});
      create_customer(client, owner.access, bj::object{{"name", "A"}, {"lifetime_value", money("5")}});
      auto names = [&](const std::string& sort) {
        auto r = call(client, "GET", "/api/v1/customers?sort=" + sort, owner.access);
        REQUIRE_MESSAGE(r.status == 200, r.body);
        return names_of(r);
      };
      using V = std::vector<std::string>;
      CHECK(names("-created_at") == V{"A", "C", "A", "B"});
      CHECK(names("created_at") == V{"B", "A", "C", "A"});
      CHECK(names("code") == V{"B", "A", "C", "A"});
      CHECK(names("-code") == V{"A", "C", "A", "B"});
      CHECK(names("-lifetime_value") == V{"A", "B", "A", "C"});  // no value sorts lowest
      CHECK(names("name,-lifetime_value") == V{"A", "A", "B", "C"});
      auto two_a = data_of(call(client, "GET", "/api/v1/customers?sort=name,-lifetime_value", owner.access));
      CHECK(str(two_a[0].at("lifetime_value").at("amount")) == "300.00");
      CHECK(str(two_a[1].at("lifetime_value").at("amount")) == "5.00");
      // Paging through a multi-key sort gives the same order.
      std::vector<std::string> paged;
      std::string cursor;
      for (int i = 0; i < 10; ++i) {
        auto r = call(client, "GET", "/api/v1/customers?sort=name,-lifetime_value&limit=1" +
                                         (cursor.empty() ? "" : "&cursor=" + cursor), owner.access);
        REQUIRE(r.status == 200);
        for (const auto& c : data_of(r)) paged.push_back(str(c.at("code")));
        auto next = obj(r).at("page").at("next_cursor");
        if (next.is_null()) break;
        cursor = str(next);
      }
      std::vector<std::string> whole;
      for (const auto& c : two_a) whole.push_back(str(c.at("code")));
      CHECK(paged == whole);
    }
  }

  TEST_CASE("customer: a bad query parameter is a 400 naming it, and a cursor only works where it was made") {
    for (const auto& backend : backends()) {
      CAPTURE(backend);
      TestDatabase db(backend);
      ServerProcess server(db);
      HttpClient client(server.port());
      auto a = register_tenant(client, "cust-params-a", "owner@params-a.example");
      auto b = register_tenant(client, "cust-params-b", "owner@params-b.example");
      for (int i = 0; i < 3; ++i) create_customer(client, a.access, bj::object{{"name", "A" + std::to_string(i)}});
      for (int i = 0; i < 3; ++i) create_customer(client, b.access, bj::object{{"name", "B" + std::to_string(i)}});
      const std::vector<std::pair<std::string, std::string>> bad = {
          {"sort=colour", "sort"},
          {"sort=name,name", "sort"},
          {"sort=", "sort"},
          {"status=sleeping", "status"},
          {"status=active,", "status"},
          {"tier=diamond", "tier"},
          {"type=company", "type"},
          {"owner_id=me", "owner_id"},
          {"country=XX", "country"},
          {"created_after=yesterday", "created_after"},
          {"updated_before=2026-13-01T00:00:00Z", "updated_before"},
          {"limit=0", "limit"},
          {"limit=201", "limit"},
          {"limit=ten", "limit"},
          {"include_total=yes", "include_total"},
          {"include_deleted=1", "include_deleted"},
          {"cursor=forged", "cursor"},
          {"colour=red", "colour"},
      };
      for (const auto& [query, param] : bad) {
        CAPTURE(query);
        auto r = call(client, "GET", "/api/v1/customers?" + query, a.access);
        CHECK(r.status == 400);
        CHECK(error_fields(r).count(param) == 1);
      }
      CHECK(call(client, "GET", "/api/v1/customers?limit=200", a.access).status == 200);

      auto first = call(client, "GET", "/api/v1/customers?limit=1", a.access);
      std::string cursor = str(obj(first).at("page").at("next_cursor"));
      REQUIRE_FALSE(cursor.empty());
      // Another tenant, or another sort, cannot use the cursor.
      auto foreign = call(client, "GET", "/api/v1/customers?limit=1&cursor=" + cursor, b.access);
      CHECK(foreign.status == 400);
      CHECK(error_fields(foreign).count("cursor") == 1);
      auto resorted = call(client, "GET", "/api/v1/customers?limit=1&sort=name&cursor=" + cursor, a.access);
      CHECK(resorted.status == 400);
      std::string tampered = cursor;
      tampered[2] = tampered[2] == 'A' ? 'B' : 'A';
      CHECK(call(client, "GET", "/api/v1/customers?limit=1&cursor=" + tampered, a.access).status == 400);
      CHECK(call(client, "GET", "/api/v1/customers?limit=1&cursor=" + cursor, a.access).status == 200);
    }
  }

  TEST_CASE("customer: walking 1,000 customers in pages of 7 while rows are inserted has no duplicate and no gap") {
    for (const auto& backend : backends()) {
      CAPTURE(backend);
      TestDatabase db(backend);
      ServerProcess server(db);
      HttpClient client(server.port());
      auto owner = register_tenant(client, "cust-walk", "owner@walk.example");
      // Seed quickly through parallel clients.
      std::set<std::string> seeded;
      std::mutex seeded_mutex;
      std::vector<std::thread> seeders;
      for (int t = 0; t < 4; ++t) {
        seeders.emplace_back([&, t] {
          HttpClient c(server.port());
          for (int i = 0; i < 250; ++i) {
            auto r = create_raw(c, owner.access, bj::object{{"name", "Seed " + std::to_string(t) + "-" + std::to_string(i)}});
            if (r.status == 201) {
              std::lock_guard lock(seeded_mutex);
              seeded.insert(str(obj(r).at("id")));
            }
          }
        });
      }
      for (auto& th : seeders) th.join();
      REQUIRE(seeded.size() == 1000);

      for (const std::string sort : {"-created_at", "name", "code"}) {
        CAPTURE(sort);
        std::atomic<bool> stop{false};
        std::string inserter_error;
        std::thread inserter([&] {
          try {
            HttpClient c(server.port());
            int i = 0;
            while (!stop) create_raw(c, owner.access, bj::object{{"name", "Live " + sort + std::to_string(i++)}});
          } catch (const std::exception& e) {
            inserter_error = e.what();
          }
        });
        std::vector<std::string> seen;
        std::string cursor;
        int pages = 0;
        while (true) {
          auto r = call(client, "GET", "/api/v1/customers?limit=7&sort=" + sort + (cursor.empty() ? "" : "&cursor=" + cursor),
                        owner.access);
          REQUIRE_MESSAGE(r.status == 200, r.body);
          auto items = data_of(r);
          CHECK(items.size() <= 7);
          for (const auto& c : items) seen.push_back(str(c.at("id")));
          ++pages;
          auto next = obj(r).at("page").at("next_cursor");
          if (next.is_null()) break;
          cursor = str(next);
        }
        stop = true;
        inserter.join();
        auto out = server.output();
        CHECK_MESSAGE(inserter_error.empty(), inserter_error << "\n" << out.substr(out.size() > 4000 ? out.size() - 4000 : 0));
        std::set<std::string> unique(seen.begin(), seen.end());
        CHECK(unique.size() == seen.size());  // no duplicate
        for (const auto& id : seeded) {
          if (!unique.count(id)) {
            FAIL_CHECK("customer " << id << " was skipped");
            break;
          }
        }
        CHECK(pages >= 1000 / 7);
      }
    }
  }
}
