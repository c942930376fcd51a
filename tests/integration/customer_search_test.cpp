// Full-text search of customers (q=) on SQLite FTS5 and PostgreSQL tsvector.
#include <doctest/doctest.h>

#include <boost/json.hpp>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <set>
#include <thread>
#include <vector>

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

/// The ids a q= search answers with (one page); REQUIREs a 200.
std::vector<std::string> search_ids(HttpClient& client, const std::string& token, const std::string& q,
                                    const std::string& extra = "") {
  auto r = call(client, "GET", "/api/v1/customers?q=" + encode(q) + extra, token);
  REQUIRE_MESSAGE(r.status == 200, q << ": " << r.body);
  std::vector<std::string> out;
  for (const auto& c : data_of(r)) out.push_back(id_of(c.as_object()));
  return out;
}

}  // namespace

TEST_SUITE("integration/customer_search") {
  TEST_CASE("customer: on SQLite the search index is merged in the background once enough documents changed") {
    TestDatabase db("sqlite");
    std::string config = db.data_dir() + "/merge-config.json";
    std::ofstream(config) << R"({"modules": {"customer": {"search_merge_interval_ms": 100, "search_merge_after_changes": 50}}})";
    ServerProcess server(db, {}, {"--config", config});
    HttpClient client(server.port());
    auto a = register_tenant(client, "cust-search-merge", "owner@search-merge.example");
    auto merges = [&] {
      auto body = client.get("/metrics").body;
      auto at = body.find("\ncrm_customer_search_merges_total ");
      REQUIRE_MESSAGE(at != std::string::npos, body.substr(0, 300));
      return std::stoll(body.substr(at + 34));
    };
    CHECK(merges() == 0);
    // 30 new documents, then 30 replaced ones: 60 changes, over the threshold of 50.
    bj::array create, update;
    for (int i = 0; i < 30; ++i) {
      create.push_back(bj::object{{"name", "Songket " + std::to_string(i)}, {"email", "m" + std::to_string(i) + "@merge.my"}});
    }
    auto created = call(client, "POST", "/api/v1/customers/batch/create", a.access, js(bj::object{{"inputs", create}}));
    REQUIRE_MESSAGE(created.status == 200, created.body);
    auto results = obj(created).at("results").as_array();  // a copy: the object is a temporary
    REQUIRE(results.size() == 30);
    for (const auto& r : results) {
      update.push_back(bj::object{{"id", r.at("id")}, {"version", 1},
                                  {"properties", bj::object{{"name", "Tenun " + std::to_string(update.size())}}}});
    }
    auto updated = call(client, "POST", "/api/v1/customers/batch/update", a.access, js(bj::object{{"inputs", update}}));
    REQUIRE_MESSAGE(updated.status == 200, updated.body);
    auto outcomes = obj(updated).at("results").as_array();
    for (const auto& r : outcomes) CHECK_MESSAGE(r.at("status").to_number<int>() == 200, js(r.as_object()));
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds(15);
    while (merges() == 0 && std::chrono::steady_clock::now() < until)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    CHECK(merges() >= 1);
    // The merged index answers as before: the new names, not the old ones.
    auto found = [&](const std::string& q) { return search_ids(client, a.access, q, "&limit=100").size(); };
    CHECK(found("tenun") == 30);
    CHECK(found("songket") == 0);
    CHECK(found("m1") == 11);  // m1, m10 .. m19
  }

  TEST_CASE("customer: on SQLite a merge of the search index also waits for a quarter of the documents to change") {
    TestDatabase db("sqlite");
    std::string off = db.data_dir() + "/merge-off-config.json", on = db.data_dir() + "/merge-quarter-config.json";
    std::ofstream(off) << R"({"modules": {"customer": {"search_merge_interval_ms": 0}}})";
    std::ofstream(on) << R"({"modules": {"customer": {"search_merge_interval_ms": 50, "search_merge_after_changes": 20}}})";
    // 800 documents written with merging off; the server that merges starts counting at 0.
    Account a;
    std::vector<std::string> ids;
    {
      ServerProcess server(db, {}, {"--config", off});
      HttpClient client(server.port());
      a = register_tenant(client, "cust-merge-quarter", "owner@merge-quarter.example");
      for (int chunk = 0; chunk < 8; ++chunk) {
        bj::array inputs;
        for (int i = 0; i < 100; ++i) inputs.push_back(bj::object{{"name", "Songket " + std::to_string(chunk * 100 + i)}});
        auto r = call(client, "POST", "/api/v1/customers/batch/create", a.access, js(bj::object{{"inputs", inputs}}));
        REQUIRE_MESSAGE(r.status == 200, r.body);
        auto results = obj(r).at("results").as_array();
        for (const auto& x : results) ids.push_back(str(x.at("id")));
      }
    }
    REQUIRE(ids.size() == 800);
    ServerProcess server(db, {}, {"--config", on});
    HttpClient client(server.port());
    auto merges = [&] {
      auto body = client.get("/metrics").body;
      auto at = body.find("\ncrm_customer_search_merges_total ");
      REQUIRE_MESSAGE(at != std::string::npos, body.substr(0, 300));
      return std::stoll(body.substr(at + 34));
    };
    auto rename = [&](std::size_t from, std::size_t to) {
      bj::array inputs;
      for (std::size_t i = from; i < to; ++i) {
        inputs.push_back(bj::object{{"id", ids[i]}, {"properties", bj::object{{"name", "Tenun " + std::to_string(i)}}}});
      }
      auto r = call(client, "POST", "/api/v1/customers/batch/update", a.access, js(bj::object{{"inputs", inputs}}));
      REQUIRE_MESSAGE(r.status == 200, r.body);
    };
    rename(0, 60);  // 60 changes: over 20, under 200 (a quarter of 800)
    std::this_thread::sleep_for(std::chrono::milliseconds(1000));
    CHECK(merges() == 0);
    rename(60, 160);  // a batch holds at most 100
    rename(160, 210);  // 210 changes
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds(15);
    while (merges() == 0 && std::chrono::steady_clock::now() < until)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    CHECK(merges() > 0);
    CHECK(search_ids(client, a.access, "tenun", "&limit=200").size() == 200);
    CHECK(search_ids(client, a.access, "tenun 20", "&limit=200").size() == 11);  // 20, 200 .. 209
  }

  TEST_CASE("customer: a customer created and changed in one transaction is found by its final text only") {
    for (const auto& backend : backends()) {
      CAPTURE(backend);
      TestDatabase db(backend);
      ServerProcess server(db);
      HttpClient client(server.port());
      auto a = register_tenant(client, "cust-search-once", "owner@search-once.example");
      // One batch is one transaction: the first input creates the customer, the second
      // (the same email) changes it, and its search document is written once, at the end.
      auto r = call(client, "POST", "/api/v1/customers/batch/upsert", a.access,
                    js(bj::object{{"match_on", "email"},
                                  {"inputs", bj::array{bj::object{{"name", "Songket Awal"}, {"email", "once@batik.my"}},
                                                       bj::object{{"name", "Tenun Akhir"}, {"email", "once@batik.my"},
                                                                  {"tags", bj::array{"pewarna"}}}}}}));
      REQUIRE_MESSAGE(r.status == 200, r.body);
      auto results = obj(r).at("results").as_array();
      REQUIRE(results.size() == 2);
      CHECK(results[0].at("status").to_number<int>() == 201);
      CHECK(results[1].at("status").to_number<int>() == 200);
      std::string id = str(results[0].at("id"));
      CHECK(str(results[1].at("id")) == id);
      auto found = [&](const std::string& q) { return search_ids(client, a.access, q); };
      CHECK(found("tenun") == std::vector<std::string>{id});
      CHECK(found("pewarna") == std::vector<std::string>{id});
      CHECK(found("songket").empty());
      // A contact added later still reaches the same document.
      REQUIRE(call(client, "POST", "/api/v1/customers/" + id + "/contacts", a.access,
                   js(bj::object{{"first_name", "Zubaidah"}})).status == 201);
      CHECK(found("zubaid") == std::vector<std::string>{id});
      CHECK(found("tenun") == std::vector<std::string>{id});
    }
  }

  TEST_CASE("customer: on SQLite q= ranks by where the words are: name start, name, legal name or email, tag, contact, note") {
    TestDatabase db("sqlite");
    ServerProcess server(db);
    HttpClient client(server.port());
    auto a = register_tenant(client, "cust-search-tiers", "owner@search-tiers.example");
    // Created from the worst match to the best, so that creation order cannot explain the result.
    auto note = create_customer(client, a.access, bj::object{{"name", "Kedai Satu"}});
    REQUIRE(call(client, "POST", "/api/v1/customers/" + id_of(note) + "/notes", a.access,
                 js(bj::object{{"body", "Wants songket for a wedding"}})).status == 201);
    auto contact = create_customer(client, a.access, bj::object{{"name", "Kedai Dua"}});
    REQUIRE(call(client, "POST", "/api/v1/customers/" + id_of(contact) + "/contacts", a.access,
                 js(bj::object{{"first_name", "Songketa"}, {"last_name", "Osman"}})).status == 201);
    auto tag = create_customer(client, a.access, bj::object{{"name", "Kedai Tiga"}, {"tags", bj::array{"songket"}}});
    auto email = create_customer(client, a.access, bj::object{{"name", "Kedai Empat"}, {"email", "songket@empat.my"}});
    auto legal = create_customer(client, a.access, bj::object{{"name", "Kedai Lima"}, {"legal_name", "Songket Lima Sdn Bhd"}});
    auto later = create_customer(client, a.access, bj::object{{"name", "Kedai Songket Enam"}});
    auto start = create_customer(client, a.access, bj::object{{"name", "Songket Tujuh"}});
    create_customer(client, a.access, bj::object{{"name", "Kedai Lapan"}});  // no match
    std::vector<std::string> expected{id_of(start), id_of(later), id_of(email), id_of(legal),
                                      id_of(tag),   id_of(contact), id_of(note)};
    CHECK(search_ids(client, a.access, "songket") == expected);
    CHECK(search_ids(client, a.access, "SONG") == expected);  // a prefix ranks as the word
    // Page by page, across the tiers, the same order.
    std::vector<std::string> walked;
    std::string cursor;
    for (int pages = 0; pages < 10; ++pages) {
      auto r = call(client, "GET", "/api/v1/customers?q=songket&limit=2" + (cursor.empty() ? "" : "&cursor=" + encode(cursor)),
                    a.access);
      REQUIRE_MESSAGE(r.status == 200, r.body);
      for (const auto& c : data_of(r)) walked.push_back(id_of(c.as_object()));
      bj::value next = obj(r).at("page").at("next_cursor");
      if (next.is_null()) break;
      cursor = str(next);
    }
    CHECK(walked == expected);
    // Two words: both in the name beat one in the name and one in a note.
    REQUIRE(call(client, "POST", "/api/v1/customers/" + id_of(start) + "/notes", a.access,
                 js(bj::object{{"body", "Asked about kain"}})).status == 201);
    auto both = create_customer(client, a.access, bj::object{{"name", "Kain Songket Lapan"}});
    CHECK(search_ids(client, a.access, "songket kain") == std::vector<std::string>{id_of(both), id_of(start)});
    // A page that ended at a customer purged since cannot go on from it: a clear 400.
    auto first = call(client, "GET", "/api/v1/customers?q=songket&limit=2", a.access);
    REQUIRE(first.status == 200);
    std::string after_later = str(obj(first).at("page").at("next_cursor"));
    REQUIRE(call(client, "DELETE", "/api/v1/customers/" + id_of(later) + "?hard=true", a.access).status == 204);
    auto gone = call(client, "GET", "/api/v1/customers?q=songket&limit=2&cursor=" + encode(after_later), a.access);
    CHECK(gone.status == 400);
    CHECK(error_fields(gone).count("cursor") == 1);
  }

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
        return search_ids(client, a.access, q, extra);
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
      // SQLite keys its documents in customer_search_keys; PostgreSQL's carry the customer id.
      CHECK(db.scalar(std::string("SELECT COUNT(*) FROM ") +
                      (backend == "sqlite" ? "customer_search_keys" : "customer_search") + " WHERE customer_id = '" +
                      id_of(plain) + "'") == 0);

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

// Structured search: POST /customers/search with a filter tree.
namespace {

using IdSet = std::set<std::string>;

bj::object leaf(const char* field, const char* op, bj::value value = nullptr) {
  bj::object o{{"field", field}, {"op", op}};
  if (!value.is_null()) o["value"] = std::move(value);
  return o;
}

}  // namespace

TEST_SUITE("integration/customer_search") {
  TEST_CASE("customer: a relevance-ordered search pages exactly through more matches than the ranked window holds") {
    for (const auto& backend : backends()) {
      CAPTURE(backend);
      TestDatabase db(backend);
      ServerProcess server(db);
      HttpClient client(server.port());
      auto a = register_tenant(client, "cust-window-a", "owner@window-a.example");
      auto b = register_tenant(client, "cust-window-b", "owner@window-b.example");
      // 300 matches in tenant a: 42 rank higher (the word in the name, at its start or not;
      // the others have it as a tag), and one in 12 is active. Tenant b has matches of its
      // own that must stay out.
      std::set<std::string> all, better, active, starting;
      for (int chunk = 0; chunk < 3; ++chunk) {
        bj::array inputs;
        for (int i = chunk * 100; i < chunk * 100 + 100; ++i) {
          bool in_name = i % 100 < 13 + chunk;
          std::string name = !in_name ? "Weaver " : i % 2 ? "Songket Weaver " : "Weaver Songket ";
          bj::object c{{"name", name + std::to_string(i)}, {"status", i % 12 == 0 ? "active" : "lead"}};
          if (!in_name) c["tags"] = bj::array{"songket"};
          inputs.push_back(c);
        }
        auto r = call(client, "POST", "/api/v1/customers/batch/create", a.access, js(bj::object{{"inputs", inputs}}));
        REQUIRE_MESSAGE(r.status == 200, r.body);
        int i = chunk * 100;
        auto answer = obj(r);
        for (const auto& res : answer.at("results").as_array()) {
          const auto& o = res.as_object();
          REQUIRE(o.at("status").to_number<int>() == 201);
          std::string id = id_of(o.at("resource").as_object());
          all.insert(id);
          if (i % 100 < 13 + chunk) better.insert(id);
          if (i % 100 < 13 + chunk && i % 2) starting.insert(id);
          if (i % 12 == 0) active.insert(id);
          ++i;
        }
      }
      REQUIRE(better.size() == 42);
      bj::array other;
      for (int i = 0; i < 30; ++i) other.push_back(bj::object{{"name", "Songket Loom " + std::to_string(i)}});
      REQUIRE(call(client, "POST", "/api/v1/customers/batch/create", b.access, js(bj::object{{"inputs", other}})).status ==
              200);

      auto walk = [&](const std::string& extra) {
        std::vector<std::string> seen;
        std::string cursor;
        for (int pages = 0; pages < 100; ++pages) {
          auto r = call(client, "GET", "/api/v1/customers?q=songket&limit=7" + extra + (cursor.empty() ? "" : "&cursor=" + cursor),
                        a.access);
          REQUIRE_MESSAGE(r.status == 200, r.body);
          for (const auto& c : data_of(r)) seen.push_back(id_of(c.as_object()));
          bj::value next = obj(r).at("page").at("next_cursor");
          if (next.is_null()) break;
          cursor = encode(str(next));
        }
        return seen;
      };
      auto everyone = walk("");
      CHECK(everyone.size() == 300);
      CHECK(std::set<std::string>(everyone.begin(), everyone.end()) == all);
      // The better-ranked customers come first; on SQLite, names that start with the word
      // before the other names.
      CHECK(std::set<std::string>(everyone.begin(), everyone.begin() + 42) == better);
      if (backend == "sqlite") {
        CHECK(std::set<std::string>(everyone.begin(), everyone.begin() + static_cast<long>(starting.size())) == starting);
      }
      // A filter leaves the best-ranked window short of a page: the rest still comes, once.
      auto actives = walk("&status=active");
      CHECK(actives.size() == active.size());
      CHECK(std::set<std::string>(actives.begin(), actives.end()) == active);
      CHECK(walk("&status=active&tier=gold").empty());
    }
  }

  TEST_CASE("customer: POST /customers/search filters by a nested tree with every operator, custom fields and q") {
    for (const auto& backend : backends()) {
      CAPTURE(backend);
      TestDatabase db(backend);
      ServerProcess server(db);
      HttpClient client(server.port());
      auto a = register_tenant(client, "cust-tree-a", "owner@tree-a.example");
      auto b = register_tenant(client, "cust-tree-b", "owner@tree-b.example");
      auto viewer = add_member(client, db, a, "viewer@tree-a.example", "viewer");
      auto address = [](const char* country, const char* postal) {
        return bj::array{bj::object{{"type", "billing"}, {"line1", "1 Street"}, {"postal_code", postal}, {"country", country}}};
      };
      auto money = [](const char* amount) { return bj::object{{"amount", amount}, {"currency", "MYR"}}; };
      auto c1 = id_of(create_customer(client, a.access,
          bj::object{{"name", "Alpha Batik"}, {"status", "active"}, {"tier", "gold"}, {"industry", "retail"},
                     {"tags", bj::array{"vip", "wholesale"}}, {"addresses", address("MY", "50450")},
                     {"email", "alpha@alpha-batik.example"}, {"external_id", "EXT-1"}, {"credit_limit", money("1000")},
                     {"custom_fields", bj::object{{"region", "north"}, {"looms", 4}, {"export", true}}}}));
      auto c2 = id_of(create_customer(client, a.access,
          bj::object{{"name", "Beta Songket"}, {"legal_name", "Alpha Songket Trading"}, {"status", "lead"},
                     {"tier", "silver"}, {"industry", "textiles"}, {"tags", bj::array{"vip"}},
                     {"addresses", address("SG", "018956")}, {"credit_limit", money("250")},
                     {"custom_fields", bj::object{{"region", "south"}, {"looms", 10}}}}));
      auto c3 = id_of(create_customer(client, a.access,
          bj::object{{"name", "Gamma Indigo"}, {"status", "prospect"}, {"type", "individual"},
                     {"custom_fields", bj::object{{"region", "north"}, {"export", false}}}}));
      auto c4 = id_of(create_customer(client, a.access,
          bj::object{{"name", "Delta Tenun"}, {"status", "churned"}, {"tier", "platinum"}, {"industry", "retail"},
                     {"tags", bj::array{"wholesale"}}, {"addresses", address("MY", "10000")},
                     {"credit_limit", money("5000")}, {"custom_fields", bj::object{{"looms", 2}}}}));
      auto e5 = create_customer(client, a.access,
          bj::object{{"name", "Epsilon 100%_Craft"}, {"status", "active"}, {"tier", "bronze"}, {"industry", "Crafts"},
                     {"credit_limit", money("0")}});
      auto c5 = id_of(e5);
      auto gone = id_of(create_customer(client, a.access,
          bj::object{{"name", "Zeta Gone"}, {"status", "active"}, {"tier", "gold"}, {"tags", bj::array{"vip"}}}));
      REQUIRE(call(client, "DELETE", "/api/v1/customers/" + gone, a.access).status == 204);
      auto theirs = id_of(create_customer(client, b.access,
          bj::object{{"name", "Alpha Other"}, {"status", "active"}, {"tier", "gold"}, {"tags", bj::array{"vip"}},
                     {"custom_fields", bj::object{{"region", "north"}}}}));
      auto first = get_ok(client, a.access, "/api/v1/customers/" + c1);

      auto search_as = [&](const std::string& token, bj::object body) {
        if (!body.contains("limit")) body["limit"] = 200;
        auto r = call(client, "POST", "/api/v1/customers/search", token, js(body));
        REQUIRE_MESSAGE(r.status == 200, js(body) << ": " << r.body);
        IdSet out;
        for (const auto& c : data_of(r)) out.insert(id_of(c.as_object()));
        return out;
      };
      auto search = [&](bj::value filter, bj::object extra = {}) {
        extra["filter"] = std::move(filter);
        return search_as(a.access, extra);
      };

      // A nested and/or/not tree: (active or silver/platinum) and not wholesale.
      bj::object tree{{"and", bj::array{
          bj::object{{"or", bj::array{leaf("status", "eq", "active"), leaf("tier", "in", bj::array{"silver", "platinum"})}}},
          bj::object{{"not", leaf("tag", "eq", "wholesale")}}}}};
      CHECK(search(tree) == IdSet{c2, c5});
      CHECK(search(bj::object{{"not", tree}}) == IdSet{c1, c3, c4});
      CHECK(search(nullptr) == IdSet{c1, c2, c3, c4, c5});  // no filter: every live customer
      CHECK(search_as(a.access, {}) == IdSet{c1, c2, c3, c4, c5});

      // Every operator.
      CHECK(search(leaf("status", "eq", "active")) == IdSet{c1, c5});
      CHECK(search(leaf("tier", "neq", "gold")) == IdSet{c2, c3, c4, c5});  // no tier is not gold
      CHECK(search(leaf("status", "in", bj::array{"lead", "prospect"})) == IdSet{c2, c3});
      CHECK(search(leaf("industry", "nin", bj::array{"retail"})) == IdSet{c2, c3, c5});
      CHECK(search(leaf("credit_limit", "lt", "1000")) == IdSet{c2, c5});
      CHECK(search(leaf("credit_limit", "lte", 1000)) == IdSet{c1, c2, c5});
      CHECK(search(leaf("credit_limit", "gt", "1000.00")) == IdSet{c4});
      CHECK(search(leaf("credit_limit", "gte", 1000)) == IdSet{c1, c4});
      CHECK(search(leaf("credit_limit", "between", bj::array{"250", 1000})) == IdSet{c1, c2});
      CHECK(search(leaf("credit_limit", "is_null")) == IdSet{c3});
      CHECK(search(leaf("created_at", "between", bj::array{first.at("created_at"), e5.at("created_at")})) ==
            IdSet{c1, c2, c3, c4, c5});
      CHECK(search(leaf("created_at", "gt", e5.at("created_at"))).empty());  // the later one is deleted
      CHECK(search(leaf("created_at", "lt", "2000-01-01T00:00:00Z")).empty());
      CHECK(search(leaf("updated_at", "gte", "2000-01-01T00:00:00.000Z")) == IdSet{c1, c2, c3, c4, c5});
      CHECK(search(leaf("name", "contains", "BATIK")) == IdSet{c1});
      CHECK(search(leaf("name", "contains", "%_")) == IdSet{c5});  // LIKE wildcards are plain text
      CHECK(search(leaf("name", "starts_with", "gam")) == IdSet{c3});
      CHECK(search(leaf("name", "lt", "Beta Songket")) == IdSet{c1});
      CHECK(search(leaf("tier", "is_null")) == IdSet{c3});
      CHECK(search(leaf("legal_name", "is_not_null")) == IdSet{c2});
      CHECK(search(leaf("type", "eq", "individual")) == IdSet{c3});
      CHECK(search(leaf("owner_id", "eq", bj::value(a.user_id))) == IdSet{c1, c2, c3, c4, c5});
      CHECK(search(leaf("owner_id", "neq", bj::value(a.user_id))).empty());
      CHECK(search(leaf("code", "eq", first.at("code"))) == IdSet{c1});
      CHECK(search(leaf("email", "eq", "alpha@alpha-batik.example")) == IdSet{c1});
      CHECK(search(leaf("external_id", "eq", "EXT-1")) == IdSet{c1});
      CHECK(search(leaf("tag", "in", bj::array{"VIP"})) == IdSet{c1, c2});
      CHECK(search(leaf("tag", "nin", bj::array{"vip", "wholesale"})) == IdSet{c3, c5});
      CHECK(search(leaf("tag", "is_null")) == IdSet{c3, c5});
      CHECK(search(leaf("tag", "is_not_null")) == IdSet{c1, c2, c4});
      CHECK(search(leaf("country", "eq", "my")) == IdSet{c1, c4});
      CHECK(search(leaf("country", "neq", "MY")) == IdSet{c2, c3, c5});

      // Custom fields compare the stored JSON value by its type.
      CHECK(search(leaf("custom.region", "eq", "north")) == IdSet{c1, c3});
      CHECK(search(leaf("custom.region", "neq", "north")) == IdSet{c2, c4, c5});
      CHECK(search(leaf("custom.looms", "gt", 3)) == IdSet{c1, c2});  // numerically: 10 > 3
      CHECK(search(leaf("custom.looms", "between", bj::array{2, 4})) == IdSet{c1, c4});
      CHECK(search(leaf("custom.looms", "lte", 2.5)) == IdSet{c4});
      CHECK(search(leaf("custom.export", "eq", true)) == IdSet{c1});
      CHECK(search(leaf("custom.export", "eq", false)) == IdSet{c3});
      CHECK(search(leaf("custom.export", "is_null")) == IdSet{c2, c4, c5});
      CHECK(search(leaf("custom.region", "is_not_null")) == IdSet{c1, c2, c3});
      CHECK(search(leaf("custom.region", "in", bj::array{"south", "east"})) == IdSet{c2});
      CHECK(search(leaf("custom.region", "nin", bj::array{"north"})) == IdSet{c2, c4, c5});
      CHECK(search(leaf("custom.region", "starts_with", "NO")) == IdSet{c1, c3});
      CHECK(search(leaf("custom.region", "contains", "out")) == IdSet{c2});
      CHECK(search(leaf("custom.looms", "eq", "4")).empty());  // a text is not the number 4

      // Combined with q (the other tenant's "Alpha Other" never appears).
      CHECK(search_as(a.access, bj::object{{"q", "alpha"}}) == IdSet{c1, c2});
      CHECK(search(leaf("tier", "eq", "silver"), bj::object{{"q", "alpha"}}) == IdSet{c2});
      CHECK(search(bj::object{{"not", leaf("tier", "eq", "silver")}}, bj::object{{"q", "alpha"}}) == IdSet{c1});

      // Another tenant sees only its own; a viewer may search.
      CHECK(search_as(b.access, bj::object{{"filter", leaf("custom.region", "eq", "north")}}) == IdSet{theirs});
      CHECK(search_as(viewer.access, bj::object{{"filter", tree}}) == IdSet{c2, c5});
    }
  }

  TEST_CASE("customer: POST /customers/search pages through a filtered result, and a cursor belongs to its filter") {
    for (const auto& backend : backends()) {
      CAPTURE(backend);
      TestDatabase db(backend);
      ServerProcess server(db);
      HttpClient client(server.port());
      auto a = register_tenant(client, "cust-page-a", "owner@page-a.example");
      auto b = register_tenant(client, "cust-page-b", "owner@page-b.example");
      std::vector<std::pair<std::string, std::string>> wanted;  // (name, id) of the matches
      for (const char* name : {"Kappa", "Alpha", "Iota", "Eta", "Beta", "Theta", "Delta"}) {
        auto id = id_of(create_customer(client, a.access, bj::object{{"name", name}, {"tier", "gold"}}));
        wanted.emplace_back(name, id);
        create_customer(client, a.access, bj::object{{"name", std::string(name) + " Other"}, {"tier", "silver"}});
      }
      std::sort(wanted.begin(), wanted.end());
      auto filter = leaf("tier", "eq", "gold");
      std::vector<std::string> seen;
      std::string cursor;
      int pages = 0;
      std::string second_cursor;
      while (true) {
        bj::object body{{"filter", filter}, {"sort", "name"}, {"limit", 2}};
        if (!cursor.empty()) body["cursor"] = cursor;
        auto r = call(client, "POST", "/api/v1/customers/search", a.access, js(body));
        REQUIRE_MESSAGE(r.status == 200, r.body);
        auto page = obj(r);
        CHECK(page.at("data").as_array().size() <= 2);
        for (const auto& c : page.at("data").as_array()) seen.push_back(id_of(c.as_object()));
        ++pages;
        REQUIRE(pages < 10);
        if (page.at("page").at("next_cursor").is_null()) break;
        cursor = str(page.at("page").at("next_cursor"));
        if (second_cursor.empty()) second_cursor = cursor;
      }
      CHECK(pages == 4);
      std::vector<std::string> expected;
      for (const auto& w : wanted) expected.push_back(w.second);
      CHECK(seen == expected);  // in name order, no gap, no duplicate

      // A cursor is bound to its filter, its sort and its tenant.
      REQUIRE(!second_cursor.empty());
      auto with = [&](const std::string& token, bj::object body) {
        body["cursor"] = second_cursor;
        return call(client, "POST", "/api/v1/customers/search", token, js(body));
      };
      CHECK(with(a.access, bj::object{{"filter", filter}, {"sort", "name"}, {"limit", 2}}).status == 200);
      auto other = with(a.access, bj::object{{"filter", leaf("tier", "eq", "silver")}, {"sort", "name"}, {"limit", 2}});
      CHECK(other.status == 400);
      CHECK(error_fields(other).count("cursor") == 1);
      CHECK(with(a.access, bj::object{{"sort", "name"}, {"limit", 2}}).status == 400);
      CHECK(with(a.access, bj::object{{"filter", filter}, {"sort", "-name"}, {"limit", 2}}).status == 400);
      CHECK(with(b.access, bj::object{{"filter", filter}, {"sort", "name"}, {"limit", 2}}).status == 400);
      // A GET cursor is not a search cursor.
      auto get = obj(call(client, "GET", "/api/v1/customers?tier=gold&sort=name&limit=2", a.access));
      auto get_cursor = str(get.at("page").at("next_cursor"));
      CHECK(call(client, "POST", "/api/v1/customers/search", a.access,
                 js(bj::object{{"filter", filter}, {"sort", "name"}, {"limit", 2}, {"cursor", get_cursor}})).status == 400);
      // limit and sort as on GET.
      CHECK(call(client, "POST", "/api/v1/customers/search", a.access, js(bj::object{{"limit", 201}})).status == 400);
      CHECK(call(client, "POST", "/api/v1/customers/search", a.access, js(bj::object{{"sort", "nope"}})).status == 400);
      CHECK(call(client, "POST", "/api/v1/customers/search", a.access, js(bj::object{{"sort", "relevance"}})).status == 400);
      auto default_page = obj(call(client, "POST", "/api/v1/customers/search", a.access, js(bj::object{})));
      CHECK(default_page.at("page").at("limit") == 25);
      CHECK(default_page.at("data").as_array().size() == 14);
    }
  }

  TEST_CASE("customer: POST /customers/search answers 422 naming the path of every problem of the filter") {
    for (const auto& backend : backends()) {
      CAPTURE(backend);
      TestDatabase db(backend);
      ServerProcess server(db);
      HttpClient client(server.port());
      auto a = register_tenant(client, "cust-bad-a", "owner@bad-a.example");
      auto post = [&](const bj::object& body) {
        return call(client, "POST", "/api/v1/customers/search", a.access, js(body));
      };
      bj::object bad{{"and", bj::array{
          leaf("nope", "eq", 1),                                     // 0: unknown field
          leaf("status", "like", "x"),                               // 1: unknown op
          leaf("status", "lt", "active"),                            // 2: op not valid for an enumeration
          leaf("name", "eq", 5),                                     // 3: wrong value type
          leaf("status", "eq", "sleeping"),                          // 4: bad enum value
          leaf("credit_limit", "between", bj::array{1}),             // 5: between without two values
          leaf("tier", "in", bj::array{}),                           // 6: in with an empty list
          bj::object{{"or", bj::array{leaf("custom.looms", "contains", 3)}}},  // 7: contains a number
          bj::object{{"not", leaf("created_at", "gt", "yesterday")}},          // 8: not a timestamp
          leaf("tier", "in", bj::array{"gold", "tin"}),              // 9: bad enum value in a list
          leaf("custom.Bad-Key", "eq", 1),                           // 10: custom key
          leaf("created_at", "starts_with", "2026"),                 // 11: op not valid for a timestamp
      }}};
      auto r = post(bj::object{{"filter", bad}, {"extra", 1}});
      REQUIRE(r.status == 422);
      CHECK(error_code_for(r, "extra") == "unknown_field");
      CHECK(error_code_for(r, "filter.and[0].field") == "unknown_field");
      CHECK(error_code_for(r, "filter.and[1].op") == "unknown_op");
      CHECK(error_code_for(r, "filter.and[2].op") == "op_not_allowed");
      CHECK(error_code_for(r, "filter.and[3].value") == "type");
      CHECK(error_code_for(r, "filter.and[4].value") == "enum");
      CHECK(error_code_for(r, "filter.and[5].value") == "between");
      CHECK(error_code_for(r, "filter.and[6].value") == "empty");
      CHECK(error_code_for(r, "filter.and[7].or[0].value") == "type");
      CHECK(error_code_for(r, "filter.and[8].not.value") == "invalid");
      CHECK(error_code_for(r, "filter.and[9].value[1]") == "enum");
      CHECK(error_code_for(r, "filter.and[10].field") == "unknown_field");
      CHECK(error_code_for(r, "filter.and[11].op") == "op_not_allowed");
      CHECK(error_fields(r).size() == 13);

      // Each problem alone is a 422 too.
      CHECK(post(bj::object{{"filter", leaf("credit_limit", "between", bj::array{1, 2, 3})}}).status == 422);
      CHECK(error_code_for(post(bj::object{{"filter", leaf("name", "eq")}}), "filter.value") == "required");
      CHECK(error_code_for(post(bj::object{{"filter", bj::object{{"and", bj::array{}}}}}), "filter.and") == "type");
      CHECK(error_code_for(post(bj::object{{"filter", "status=active"}}), "filter") == "type");
      CHECK(error_code_for(post(bj::object{{"filter", leaf("tag", "lt", "vip")}}), "filter.op") == "op_not_allowed");
      CHECK(error_code_for(post(bj::object{{"filter", leaf("owner_id", "eq", "me")}}), "filter.value") == "invalid");

      // Depth: 10 levels pass, 11 do not.
      auto nest = [](int levels) {
        bj::value v = leaf("status", "eq", "active");
        for (int i = 1; i < levels; ++i) v = bj::object{{"not", v}};
        return v;
      };
      CHECK(post(bj::object{{"filter", nest(10)}}).status == 200);
      auto deep = post(bj::object{{"filter", nest(11)}});
      REQUIRE(deep.status == 422);
      CHECK(error_code_for(deep, "filter.not.not.not.not.not.not.not.not.not.not") == "too_deep");
      // Leaves: 100 pass, 101 do not.
      auto many = [](int n) {
        bj::array a;
        for (int i = 0; i < n; ++i) a.push_back(leaf("status", "neq", "blocked"));
        return bj::object{{"or", a}};
      };
      CHECK(post(bj::object{{"filter", many(100)}}).status == 200);
      auto wide = post(bj::object{{"filter", many(101)}});
      REQUIRE(wide.status == 422);
      CHECK(error_code_for(wide, "filter") == "too_many_leaves");
    }
  }
}
