// Demo mode seeds the batik maker's customers and segments (SPEC section 9) once, through the
// same validation and writes as the API.
#include <doctest/doctest.h>

#include <map>
#include <set>

#include "support/harness.hpp"
#include "support/iam_helpers.hpp"

using namespace crm::testing;
using namespace crm::testing::iam;

namespace {

std::int64_t total_of(HttpClient& client, const std::string& token, const std::string& query) {
  auto r = call(client, "GET", "/api/v1/customers?include_total=true&limit=1" + query, token);
  REQUIRE_MESSAGE(r.status == 200, r.body);
  return obj(r).at("page").at("total").as_int64();
}

}  // namespace

TEST_SUITE("integration/customer_demo") {
  TEST_CASE("customer: demo mode seeds 200 customers with contacts, notes, activities and segments, once") {
    for (const auto& backend : backends()) {
      CAPTURE(backend);
      TestDatabase db(backend);
      std::string first_code;
      {
        ServerProcess server(db, {}, {"--demo"}, crm_binary_path());
        HttpClient client(server.port());
        auto owner = login(client, "owner@demo.test", "demo-password-2026");
        auto sales = login(client, "sales@demo.test", "demo-password-2026");
        CHECK(total_of(client, owner.access, "") == 200);
        // Typed custom fields of the batik trade, filled in on every customer.
        auto fields = data_of(call(client, "GET", "/api/v1/custom-fields?entity=customer", owner.access));
        REQUIRE(fields.size() == 2);
        CHECK(str(fields[0].at("key")) == "batik_technique");
        CHECK(str(fields[1].at("type")) == "multi_select");
        auto canting = call(client, "POST", "/api/v1/customers/search", owner.access,
                            js(bj::object{{"filter", bj::object{{"field", "custom.batik_technique"}, {"op", "eq"},
                                                                {"value", "canting"}}},
                                          {"limit", 200}}));
        REQUIRE_MESSAGE(canting.status == 200, canting.body);
        CHECK(data_of(canting).size() > 10);
        CHECK(data_of(canting).size() < 200);
        // Owned by the demo users: half of them by the sales rep.
        CHECK(total_of(client, owner.access, "&owner_id=" + sales.user_id) == 100);
        CHECK(total_of(client, owner.access, "&type=business") == 120);
        CHECK(total_of(client, owner.access, "&country=MY") >= 150);
        CHECK(total_of(client, owner.access, "&country=SG") > 0);

        auto page = call(client, "GET", "/api/v1/customers?type=business&sort=code&limit=5", owner.access);
        REQUIRE(page.status == 200);
        auto rows = data_of(page);
        REQUIRE(rows.size() == 5);
        first_code = str(rows[0].at("code"));
        CHECK(first_code == "CUS-000001");
        std::set<std::string> phones;
        for (const auto& c : rows) {
          auto id = str(c.at("id"));
          auto contacts = call(client, "GET", "/api/v1/customers/" + id + "/contacts", owner.access);
          REQUIRE(contacts.status == 200);
          CHECK(!data_of(contacts).empty());
          auto activities = call(client, "GET", "/api/v1/customers/" + id + "/activities", owner.access);
          REQUIRE(activities.status == 200);
          CHECK(!data_of(activities).empty());
          if (c.at("phone").is_string()) phones.insert(str(c.at("phone")));
        }
        for (const auto& p : phones) CHECK(p.rfind("+601", 0) == 0);

        // Searchable, with work waiting in the review queue, and audited like any write.
        CHECK(data_of(call(client, "GET", "/api/v1/customers?q=batik", owner.access)).size() > 0);
        CHECK(data_of(call(client, "GET", "/api/v1/activities/review-queue", owner.access)).size() > 0);
        CHECK(db.scalar("SELECT COUNT(*) FROM iam_audit_log WHERE action = 'customer.created'") == 200);

        // Marketing's segments: a hand-picked static one and dynamic ones that match what the
        // same filters find on GET /customers.
        auto segments = call(client, "GET", "/api/v1/segments?limit=200", owner.access);
        REQUIRE(segments.status == 200);
        std::map<std::string, bj::object> by_name;
        for (const auto& s : data_of(segments)) by_name[str(s.at("name"))] = s.as_object();
        REQUIRE(by_name.size() == 4);
        auto marketing = login(client, "marketing@demo.test", "demo-password-2026");
        for (const auto& [name, s] : by_name) {
          CAPTURE(name);
          CHECK(s.at("created_by") == bj::value(marketing.user_id));
          CHECK(s.at("member_count").as_int64() > 0);
          CHECK(total_of(client, owner.access, "&segment_id=" + str(s.at("id"))) == s.at("member_count").as_int64());
        }
        REQUIRE(by_name.count("Wholesale partners"));
        CHECK(by_name["Wholesale partners"].at("type") == "static");
        CHECK(by_name["Wholesale partners"].at("member_count").as_int64() ==
              total_of(client, owner.access, "&tag=wholesale&status=active"));
        REQUIRE(by_name.count("Gold and platinum in Malaysia"));
        CHECK(by_name["Gold and platinum in Malaysia"].at("type") == "dynamic");
        CHECK(by_name["Gold and platinum in Malaysia"].at("member_count").as_int64() ==
              total_of(client, owner.access, "&tier=gold,platinum&country=MY"));
        REQUIRE(by_name.count("Customers abroad"));
        CHECK(by_name["Customers abroad"].at("member_count").as_int64() ==
              200 - total_of(client, owner.access, "&country=MY"));
        REQUIRE(by_name.count("Leads and prospects"));
        CHECK(by_name["Leads and prospects"].at("member_count").as_int64() ==
              total_of(client, owner.access, "&status=lead,prospect"));
        CHECK(db.scalar("SELECT COUNT(*) FROM iam_audit_log WHERE action = 'segment.created'") == 4);
      }
      // A restart on the same database adds nothing.
      ServerProcess again(db, {}, {"--demo"}, crm_binary_path());
      HttpClient client(again.port());
      auto owner = login(client, "owner@demo.test", "demo-password-2026");
      CHECK(total_of(client, owner.access, "") == 200);
      CHECK(db.scalar("SELECT COUNT(*) FROM customer_segments") == 4);
    }
  }
}
