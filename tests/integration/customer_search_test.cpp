// Full-text search of customers (q=) on SQLite FTS5 and PostgreSQL tsvector.
#include <doctest/doctest.h>

#include <boost/json.hpp>

#include <set>

#include "support/customer_helpers.hpp"
#include "support/harness.hpp"

using namespace crm::testing;
using namespace crm::testing::customer;

namespace {

std::string encode(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.') {
      out += static_cast<char>(c);
    } else {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", c);
      out += buf;
    }
  }
  return out;
}

}  // namespace

TEST_SUITE("integration/customer_search") {
  TEST_CASE("customer: q= finds customers by prefixes of their name, email, phone, tags, contacts and notes") {
    for (const auto& backend : backends()) {
      CAPTURE(backend);
      TestDatabase db(backend);
      ServerProcess server(db);
      HttpClient client(server.port());
      auto a = register_tenant(client, "cust-search-a", "owner@search-a.example");
      auto b = register_tenant(client, "cust-search-b", "owner@search-b.example");
      auto kedai = create_customer(client, a.access,
                                   bj::object{{"name", "Kedai Batik Siti"}, {"legal_name", "Siti Enterprise Sdn Bhd"},
                                              {"email", "orders@kedaisiti.my"}, {"phone", "012-345 6789"},
                                              {"tags", bj::array{"wholesale"}}, {"status", "active"}});
      auto indigo = create_customer(client, a.access, bj::object{{"name", "Indigo House"}});
      auto plain = create_customer(client, a.access, bj::object{{"name", "Plain Textiles"}});
      create_customer(client, b.access, bj::object{{"name", "Kedai Batik B"}, {"phone", "0123456789"}});
      REQUIRE(call(client, "POST", "/api/v1/customers/" + id_of(plain) + "/notes", a.access,
                   js(bj::object{{"body", "Asked about indigo dye and songket"}})).status == 201);
      auto contact = obj(call(client, "POST", "/api/v1/customers/" + id_of(indigo) + "/contacts", a.access,
                              js(bj::object{{"first_name", "Rahimah"}, {"last_name", "Osman"}})));

      auto ids = [&](const std::string& q, const std::string& extra = "") {
        auto r = call(client, "GET", "/api/v1/customers?q=" + encode(q) + extra, a.access);
        REQUIRE_MESSAGE(r.status == 200, q << ": " << r.body);
        std::vector<std::string> out;
        for (const auto& c : data_of(r)) out.push_back(id_of(c.as_object()));
        return out;
      };
      using V = std::vector<std::string>;
      CHECK(ids("ked") == V{id_of(kedai)});               // prefix of the name
      CHECK(ids("KEDAI bat") == V{id_of(kedai)});         // every term must match
      CHECK(ids("enterprise") == V{id_of(kedai)});        // legal name
      CHECK(ids("kedaisiti") == V{id_of(kedai)});         // a word of the email
      CHECK(ids("orders@kedaisiti.my") == V{id_of(kedai)});
      CHECK(ids("012-345 6789") == V{id_of(kedai)});      // the phone as typed nationally
      CHECK(ids("+60 12 345 6789") == V{id_of(kedai)});   // and internationally
      CHECK(ids("wholes") == V{id_of(kedai)});            // tag
      CHECK(ids("songket") == V{id_of(plain)});           // note
      CHECK(ids("rahim") == V{id_of(indigo)});            // contact name
      CHECK(ids("nothingmatches").empty());
      CHECK(ids("ked", "&status=prospect").empty());      // combined with filters
      CHECK(ids("ked", "&status=active") == V{id_of(kedai)});
      // Ranked: a name match comes before a note match.
      CHECK(ids("indigo") == V{id_of(indigo), id_of(plain)});
      auto total = call(client, "GET", "/api/v1/customers?q=indigo&include_total=true&limit=1", a.access);
      CHECK(obj(total).at("page").at("total") == 2);
      auto next = str(obj(total).at("page").at("next_cursor"));
      auto second = call(client, "GET", "/api/v1/customers?q=indigo&limit=1&cursor=" + next, a.access);
      REQUIRE(second.status == 200);
      CHECK(data_of(second).size() == 1);
      CHECK(id_of(data_of(second)[0].as_object()) == id_of(plain));
      CHECK(call(client, "GET", "/api/v1/customers?q=other&limit=1&cursor=" + next, a.access).status == 400);
      CHECK(ids("indigo", "&sort=name") == V{id_of(indigo), id_of(plain)});

      // The index follows every write in the same transaction.
      REQUIRE(call(client, "DELETE", "/api/v1/customers/" + id_of(indigo) + "/contacts/" + id_of(contact), a.access).status == 204);
      CHECK(ids("rahim").empty());
      REQUIRE(call(client, "PATCH", "/api/v1/customers/" + id_of(kedai), a.access, js(bj::object{{"name", "Toko Siti"}})).status == 200);
      CHECK(ids("kedai") == V{id_of(kedai)});  // still in the email
      CHECK(ids("toko") == V{id_of(kedai)});
      CHECK(ids("batik").empty());
      REQUIRE(call(client, "DELETE", "/api/v1/customers/" + id_of(plain), a.access).status == 204);
      CHECK(ids("songket").empty());
      CHECK(ids("songket", "&include_deleted=true") == V{id_of(plain)});
      REQUIRE(call(client, "DELETE", "/api/v1/customers/" + id_of(plain) + "?hard=true", a.access).status == 204);
      CHECK(db.scalar("SELECT COUNT(*) FROM customer_search WHERE customer_id = '" + id_of(plain) + "'") == 0);

      // Another tenant's customers are never found.
      auto theirs = call(client, "GET", "/api/v1/customers?q=0123456789", b.access);
      CHECK(data_of(theirs).size() == 1);
      CHECK(str(data_of(theirs)[0].at("name")) == "Kedai Batik B");

      // Search syntax is never passed through, and a query needs something to search for.
      CHECK(call(client, "GET", "/api/v1/customers?q=" + encode("\"*) OR (NEAR"), a.access).status == 200);
      CHECK(call(client, "GET", "/api/v1/customers?q=" + encode("' & !:* |"), a.access).status == 400);
      auto blank = call(client, "GET", "/api/v1/customers?q=%20%20", a.access);
      CHECK(blank.status == 400);
      CHECK(error_fields(blank).count("q") == 1);
      auto relevance = call(client, "GET", "/api/v1/customers?sort=relevance", a.access);
      CHECK(relevance.status == 400);
      CHECK(error_fields(relevance).count("sort") == 1);
    }
  }
}
