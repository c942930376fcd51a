// The customer facade as another module uses it (through the probe module), on both backends.
#include <doctest/doctest.h>

#include <boost/json.hpp>

#include "support/customer_helpers.hpp"
#include "support/harness.hpp"

using namespace crm::testing;
using namespace crm::testing::customer;

TEST_SUITE("integration/customer_facade") {
  TEST_CASE("customer: the facade creates in the caller's transaction, finds in the tenant and writes the timeline") {
    for (const auto& backend : backends()) {
      CAPTURE(backend);
      TestDatabase db(backend);
      ServerProcess server(db);
      HttpClient client(server.port());
      auto a = register_tenant(client, "cust-facade-a", "owner@facade-a.example");
      auto b = register_tenant(client, "cust-facade-b", "owner@facade-b.example");
      auto facade = [&](const Account& who, const bj::object& body) {
        return call(client, "POST", "/api/v1/probe/customer-facade", who.access, js(body));
      };

      auto created = facade(a, bj::object{{"op", "create"}, {"name", "Converted Lead Sdn Bhd"}, {"phone", "012-345 6789"},
                                          {"source_lead_id", "lead-77"}});
      REQUIRE_MESSAGE(created.status == 201, created.body);
      auto c = obj(created);
      CHECK(str(c.at("code")) == "CUS-000001");
      CHECK(str(c.at("status")) == "prospect");
      CHECK(str(c.at("owner_id")) == a.user_id);  // the acting user by default
      CHECK(str(c.at("phone")) == "+60123456789");
      std::string id = str(c.at("id"));
      // It is an ordinary customer over HTTP, with its creation audited and on the timeline.
      auto http = get_ok(client, a.access, "/api/v1/customers/" + id);
      CHECK(str(http.at("name")) == "Converted Lead Sdn Bhd");
      CHECK(audit_changes(db, "customer.created", id).size() == 1);
      auto created_event = outbox_payloads(db, "customer.created");
      REQUIRE(created_event.size() == 1);
      CHECK(str(created_event[0].at("source_lead_id")) == "lead-77");

      // The same rules as the API: validation and duplicates.
      auto invalid = facade(a, bj::object{{"op", "create"}, {"name", ""}, {"email", "bad"}});
      CHECK(invalid.status == 422);
      CHECK(error_fields(invalid) == std::set<std::string>{"name", "email"});
      auto dup = facade(a, bj::object{{"op", "create"}, {"name", "Again"}, {"phone", "+60123456789"}});
      CHECK(dup.status == 409);
      CHECK(str(obj(dup).at("existing_id")) == id);
      auto stranger = facade(a, bj::object{{"op", "create"}, {"name", "Owned"}, {"owner_id", b.user_id}});
      CHECK(stranger.status == 422);
      CHECK(error_code_for(stranger, "owner_id") == "not_a_member");

      // The caller's failure rolls the customer back with its own work.
      auto aborted = facade(a, bj::object{{"op", "create"}, {"name", "Never Committed"}, {"fail_after", true}});
      CHECK(aborted.status == 409);
      CHECK(db.scalar("SELECT COUNT(*) FROM customer_customers WHERE name = 'Never Committed'") == 0);

      auto found = facade(a, bj::object{{"op", "find"}, {"customer_id", id}});
      REQUIRE(found.status == 200);
      CHECK(str(obj(found).at("code")) == "CUS-000001");
      CHECK(facade(b, bj::object{{"op", "find"}, {"customer_id", id}}).status == 404);
      CHECK(facade(a, bj::object{{"op", "find"}, {"customer_id", "not-a-uuid"}}).status == 404);
      REQUIRE(call(client, "DELETE", "/api/v1/customers/" + id, a.access).status == 204);
      CHECK(facade(a, bj::object{{"op", "find"}, {"customer_id", id}}).status == 404);
      auto deleted = facade(a, bj::object{{"op", "find"}, {"customer_id", id}, {"include_deleted", true}});
      REQUIRE(deleted.status == 200);
      CHECK(obj(deleted).at("deleted") == true);
      REQUIRE(call(client, "POST", "/api/v1/customers/" + id + "/restore", a.access).status == 200);

      auto entry = facade(a, bj::object{{"op", "timeline"}, {"customer_id", id}, {"kind", "deal_won"},
                                        {"summary", "Deal won: 40 sarongs"}, {"source_id", "deal-9"}});
      REQUIRE_MESSAGE(entry.status == 201, entry.body);
      auto timeline = data_of(call(client, "GET", "/api/v1/customers/" + id + "/timeline", a.access));
      REQUIRE_FALSE(timeline.empty());
      CHECK(str(timeline[0].at("kind")) == "deal_won");
      CHECK(str(timeline[0].at("source_type")) == "deal");
      CHECK(str(timeline[0].at("source_id")) == "deal-9");
      bool lead_entry = false;
      for (const auto& e : timeline) {
        if (str(e.at("kind")) == "created") lead_entry = str(e.at("summary")) == "Customer CUS-000001 created from lead lead-77";
      }
      CHECK(lead_entry);
      CHECK(facade(b, bj::object{{"op", "timeline"}, {"customer_id", id}, {"kind", "x"}, {"summary", "y"}}).status == 404);
      CHECK(facade(a, bj::object{{"op", "timeline"}, {"customer_id", id}, {"kind", ""}, {"summary", ""}}).status == 422);
    }
  }
}
