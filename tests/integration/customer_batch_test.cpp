// POST /customers/batch/create|update|upsert|delete on SQLite and PostgreSQL: a result per
// input in order, per-input problems and permissions, all_or_none, upsert matching, the
// limits of the envelope, plan limit and code sequence, idempotency and the OpenAPI entries.
#include <doctest/doctest.h>

#include <boost/json.hpp>

#include <fstream>
#include <mutex>
#include <set>
#include <thread>

#include "support/customer_helpers.hpp"
#include "support/harness.hpp"

using namespace crm::testing;
using namespace crm::testing::customer;

namespace {

HttpResult batch(HttpClient& client, const std::string& token, const std::string& operation, const bj::object& body,
                 const std::string& query = {}, std::map<std::string, std::string> headers = {}) {
  return call(client, "POST", "/api/v1/customers/batch/" + operation + query, token, js(body), std::move(headers));
}

/// A 200 batch answer's results; REQUIREs one result per input with its index.
bj::array results_of(const HttpResult& r, std::size_t inputs) {
  REQUIRE_MESSAGE(r.status == 200, r.status << " " << r.body);
  auto o = obj(r);
  REQUIRE(o.contains("results"));
  auto results = o.at("results").as_array();
  REQUIRE(results.size() == inputs);
  for (std::size_t i = 0; i < results.size(); ++i) CHECK(results[i].at("index").to_number<std::size_t>() == i);
  return results;
}

int status_of(const bj::value& result) { return result.at("status").to_number<int>(); }

std::string problem_code(const bj::value& result) {
  const auto* p = result.as_object().if_contains("problem");
  return p ? str(p->at("code")) : std::string();
}

std::set<std::string> problem_fields(const bj::value& result) {
  std::set<std::string> out;
  const auto* p = result.as_object().if_contains("problem");
  if (!p) return out;
  for (const auto& e : p->at("errors").as_array()) out.insert(str(e.at("field")));
  return out;
}

std::vector<int> statuses(const bj::array& results) {
  std::vector<int> out;
  for (const auto& r : results) out.push_back(status_of(r));
  return out;
}

long long count_of(TestDatabase& db, const std::string& sql) { return db.scalar(sql); }

long long events(TestDatabase& db, const std::string& type) {
  return count_of(db, "SELECT COUNT(*) FROM platform_outbox WHERE type = '" + type + "'");
}

long long audits(TestDatabase& db, const std::string& action) {
  return count_of(db, "SELECT COUNT(*) FROM iam_audit_log WHERE action = '" + action + "'");
}

long long listed_total(HttpClient& client, const std::string& token) {
  auto r = call(client, "GET", "/api/v1/customers?include_total=true", token);
  REQUIRE_MESSAGE(r.status == 200, r.body);
  return obj(r).at("page").at("total").to_number<long long>();
}

bj::object customer_body(const std::string& name, const std::string& email = {}) {
  bj::object o{{"name", name}};
  if (!email.empty()) o["email"] = email;
  return o;
}

}  // namespace

TEST_SUITE("integration/customer_batch") {
  TEST_CASE("customer: batch create, update, upsert and delete each answer one result per input, in input order") {
    for (const auto& backend : backends()) {
      CAPTURE(backend);
      TestDatabase db(backend);
      ServerProcess server(db);
      HttpClient client(server.port());
      auto owner = register_tenant(client, "batch-basic", "owner@batch-basic.example");

      auto created = results_of(batch(client, owner.access, "create",
                                      bj::object{{"inputs", bj::array{customer_body("Anggerik", "anggerik@batik.my"),
                                                                      customer_body("Bunga", "bunga@batik.my"),
                                                                      customer_body("Cempaka", "cempaka@batik.my")}}}),
                                3);
      std::vector<std::string> ids;
      const char* names[] = {"Anggerik", "Bunga", "Cempaka"};
      for (std::size_t i = 0; i < 3; ++i) {
        CAPTURE(i);
        CHECK(status_of(created[i]) == 201);
        const auto& c = created[i].at("resource").as_object();
        CHECK(str(c.at("name")) == names[i]);
        CHECK(str(c.at("code")) == "CUS-00000" + std::to_string(i + 1));
        CHECK(str(c.at("owner_id")) == owner.user_id);
        CHECK(str(created[i].at("id")) == str(c.at("id")));
        ids.push_back(str(c.at("id")));
        CHECK(get_ok(client, owner.access, "/api/v1/customers/" + ids.back()) == c);
      }
      CHECK(listed_total(client, owner.access) == 3);
      // The same events and audit entries as POST /customers makes.
      CHECK(events(db, "customer.created") == 3);
      auto single = create_customer(client, owner.access, customer_body("Dahlia", "dahlia@batik.my"));
      auto payloads = outbox_payloads(db, "customer.created");
      REQUIRE(payloads.size() == 4);
      std::set<std::string> single_keys, batch_keys, single_changes, batch_changes;
      for (const auto& kv : payloads[3]) single_keys.insert(std::string(kv.key()));
      for (const auto& kv : payloads[0]) batch_keys.insert(std::string(kv.key()));
      for (const auto& kv : payloads[3].at("changes").as_object()) single_changes.insert(std::string(kv.key()));
      for (const auto& kv : payloads[0].at("changes").as_object()) batch_changes.insert(std::string(kv.key()));
      CHECK(batch_keys == single_keys);
      CHECK(batch_changes == single_changes);
      auto audit = audit_changes(db, "customer.created", ids[0]);
      REQUIRE(audit.size() == 1);
      CHECK(str(audit[0].at("name").at("new")) == "Anggerik");

      auto r = batch(client, owner.access, "update",
                     bj::object{{"inputs", bj::array{bj::object{{"id", ids[1]}, {"version", 1},
                                                                {"properties", bj::object{{"tier", "gold"}}}},
                                                     bj::object{{"id", ids[0]},
                                                                {"properties", bj::object{{"name", "Anggerik Baru"},
                                                                                          {"email", nullptr}}}}}}});
      auto updated = results_of(r, 2);
      CHECK(statuses(updated) == std::vector<int>{200, 200});
      CHECK(str(updated[0].at("id")) == ids[1]);
      CHECK(str(updated[0].at("resource").at("tier")) == "gold");
      CHECK(updated[0].at("resource").at("version") == 2);
      CHECK(str(updated[0].at("resource").at("name")) == "Bunga");  // PATCH: the rest is kept
      CHECK(str(updated[1].at("resource").at("name")) == "Anggerik Baru");
      CHECK(updated[1].at("resource").at("email").is_null());
      auto update_audit = audit_changes(db, "customer.updated", ids[0]);
      REQUIRE(update_audit.size() == 1);
      CHECK(str(update_audit[0].at("name").at("old")) == "Anggerik");
      CHECK(str(update_audit[0].at("email").at("old")) == "anggerik@batik.my");

      auto upserted = results_of(batch(client, owner.access, "upsert",
                                       bj::object{{"match_on", "email"},
                                                  {"inputs", bj::array{bj::object{{"email", "CEMPAKA@batik.my"},
                                                                                  {"industry", "Textiles"}},
                                                                       customer_body("Endah", "endah@batik.my")}}}),
                                 2);
      CHECK(statuses(upserted) == std::vector<int>{200, 201});
      CHECK(str(upserted[0].at("id")) == ids[2]);
      CHECK(str(upserted[0].at("resource").at("industry")) == "Textiles");
      CHECK(str(upserted[1].at("resource").at("code")) == "CUS-000005");
      std::string endah = str(upserted[1].at("id"));

      auto deleted = results_of(batch(client, owner.access, "delete",
                                      bj::object{{"inputs", bj::array{bj::object{{"id", ids[0]}},
                                                                      bj::object{{"id", endah}, {"version", 1}}}}}),
                                2);
      CHECK(statuses(deleted) == std::vector<int>{204, 204});
      CHECK(str(deleted[0].at("id")) == ids[0]);
      CHECK_FALSE(deleted[0].as_object().contains("resource"));
      CHECK(call(client, "GET", "/api/v1/customers/" + ids[0], owner.access).status == 404);
      CHECK(call(client, "GET", "/api/v1/customers/" + endah + "?include_deleted=true", owner.access).status == 200);
      CHECK(events(db, "customer.deleted") == 2);
      CHECK(audit_changes(db, "customer.deleted", ids[0]).size() == 1);
      CHECK(listed_total(client, owner.access) == 3);  // Bunga, Cempaka, Dahlia
      auto answer = obj(batch(client, owner.access, "delete", bj::object{{"inputs", bj::array{bj::object{{"id", ids[1]}}}}}));
      CHECK(answer.at("succeeded") == 1);
      CHECK(answer.at("failed") == 0);
    }
  }

  TEST_CASE("customer: a bad input in a batch gets its own problem naming its fields while the others commit") {
    for (const auto& backend : backends()) {
      CAPTURE(backend);
      TestDatabase db(backend);
      ServerProcess server(db);
      HttpClient client(server.port());
      auto owner = register_tenant(client, "batch-partial", "owner@batch-partial.example");
      auto r = batch(client, owner.access, "create",
                     bj::object{{"inputs", bj::array{customer_body("Good One", "one@batik.my"),
                                                     bj::object{{"name", "Bad"}, {"email", "nope"}, {"tier", "diamond"}},
                                                     bj::object{{"name", "  "}, {"colour", "indigo"}},
                                                     customer_body("Good Two"),
                                                     customer_body("Twin", "ONE@batik.my"),
                                                     bj::value(42),
                                                     bj::object{{"name", "Stranger"}, {"owner_id", kUnknownId}},
                                                     customer_body("Good Three")}}});
      auto results = results_of(r, 8);
      CHECK(statuses(results) == std::vector<int>{201, 422, 422, 201, 409, 422, 422, 201});
      CHECK(problem_code(results[1]) == "validation_failed");
      CHECK(problem_fields(results[1]) == std::set<std::string>{"email", "tier"});
      CHECK(problem_fields(results[2]) == std::set<std::string>{"name", "colour"});
      CHECK(problem_code(results[4]) == "duplicate");
      CHECK(str(results[4].at("problem").at("existing_id")) == str(results[0].at("id")));
      CHECK(problem_fields(results[4]) == std::set<std::string>{"email"});
      CHECK(problem_fields(results[5]).count("body") == 1);  // not an object
      CHECK(problem_fields(results[6]) == std::set<std::string>{"owner_id"});
      // A problem is the one the single request would answer.
      const auto& p = results[1].at("problem").as_object();
      CHECK(p.at("status") == 422);
      CHECK(str(p.at("request_id")) == r.header("x-request-id"));
      for (const char* member : {"type", "title", "detail", "code", "errors"}) CHECK(p.contains(member));
      auto answer = obj(r);
      CHECK(answer.at("succeeded") == 3);
      CHECK(answer.at("failed") == 5);

      // Only the good inputs left rows, events and audit entries, and the failed ones took no
      // code numbers (the duplicate had drawn one before it was found out).
      CHECK(listed_total(client, owner.access) == 3);
      CHECK(count_of(db, "SELECT COUNT(*) FROM customer_customers") == 3);
      CHECK(str(results[0].at("resource").at("code")) == "CUS-000001");
      CHECK(str(results[3].at("resource").at("code")) == "CUS-000002");
      CHECK(str(results[7].at("resource").at("code")) == "CUS-000003");
      CHECK(events(db, "customer.created") == 3);
      CHECK(audits(db, "customer.created") == 3);
      CHECK(count_of(db, "SELECT COUNT(*) FROM customer_timeline") == 3);
      std::string one = str(results[0].at("id")), two = str(results[3].at("id"));
      CHECK(get_ok(client, owner.access, "/api/v1/customers/" + one).at("version") == 1);

      // An update batch: a bad field, a good change, an input without id, an unknown envelope
      // field, and a change to another customer's email.
      auto u = batch(client, owner.access, "update",
                     bj::object{{"inputs", bj::array{bj::object{{"id", one}, {"properties", bj::object{{"email", "bad"}}}},
                                                     bj::object{{"id", two}, {"properties", bj::object{{"tier", "gold"}}}},
                                                     bj::object{{"properties", bj::object{{"tier", "gold"}}}},
                                                     bj::object{{"id", one}, {"properties", bj::object{}}, {"extra", 1}},
                                                     bj::object{{"id", two}, {"properties", bj::object{{"email", "one@batik.my"}}}},
                                                     bj::object{{"id", one}, {"properties", bj::array{}}},
                                                     bj::object{{"id", one}, {"version", "1"}, {"properties", bj::object{}}}}}});
      auto ur = results_of(u, 7);
      CHECK(statuses(ur) == std::vector<int>{422, 200, 422, 422, 409, 422, 422});
      CHECK(problem_fields(ur[0]) == std::set<std::string>{"email"});
      CHECK(problem_fields(ur[2]) == std::set<std::string>{"id"});
      CHECK(problem_fields(ur[3]) == std::set<std::string>{"extra"});
      CHECK(problem_code(ur[4]) == "duplicate");
      CHECK(str(ur[4].at("problem").at("existing_id")) == one);
      CHECK(problem_fields(ur[5]) == std::set<std::string>{"properties"});
      CHECK(problem_fields(ur[6]) == std::set<std::string>{"version"});
      CHECK(get_ok(client, owner.access, "/api/v1/customers/" + one).at("version") == 1);
      auto after = get_ok(client, owner.access, "/api/v1/customers/" + two);
      CHECK(str(after.at("tier")) == "gold");
      CHECK(after.at("email").is_null());
      CHECK(events(db, "customer.updated") == 1);
      // With ?allow_duplicate=true the same change goes through.
      auto allowed = results_of(
          batch(client, owner.access, "update",
                bj::object{{"inputs", bj::array{bj::object{{"id", two}, {"properties", bj::object{{"email", "one@batik.my"}}}}}}},
                "?allow_duplicate=true"),
          1);
      CHECK(status_of(allowed[0]) == 200);
      CHECK(str(allowed[0].at("resource").at("email")) == "one@batik.my");
    }
  }

  TEST_CASE("customer: an all_or_none batch with a failing input commits nothing and names the failed inputs") {
    for (const auto& backend : backends()) {
      CAPTURE(backend);
      TestDatabase db(backend);
      ServerProcess server(db);
      HttpClient client(server.port());
      auto owner = register_tenant(client, "batch-atomic", "owner@batch-atomic.example");
      auto r = batch(client, owner.access, "create",
                     bj::object{{"all_or_none", true},
                                {"inputs", bj::array{customer_body("First", "first@batik.my"), customer_body("Second"),
                                                     customer_body("Third", "not-an-email"),
                                                     customer_body("Fourth", "FIRST@batik.my")}}});
      REQUIRE_MESSAGE(r.status == 422, r.body);
      CHECK(r.header("content-type").find("application/problem+json") == 0);
      CHECK(code_of(r) == "batch_failed");
      CHECK(error_fields(r) == std::set<std::string>{"inputs[2]", "inputs[3]"});
      auto doc = obj(r);
      CHECK(doc.at("succeeded") == 0);
      CHECK(doc.at("failed") == 2);
      auto results = doc.at("results").as_array();
      REQUIRE(results.size() == 4);
      CHECK(statuses(results) == std::vector<int>{424, 424, 422, 409});
      CHECK(problem_code(results[0]) == "not_committed");
      CHECK_FALSE(results[0].as_object().contains("resource"));
      CHECK_FALSE(results[0].as_object().contains("id"));
      CHECK(problem_fields(results[2]) == std::set<std::string>{"email"});
      // The duplicate was of an input that was then rolled back: it is named all the same.
      CHECK(problem_code(results[3]) == "duplicate");

      CHECK(count_of(db, "SELECT COUNT(*) FROM customer_customers") == 0);
      CHECK(listed_total(client, owner.access) == 0);
      CHECK(events(db, "customer.created") == 0);
      CHECK(audits(db, "customer.created") == 0);
      CHECK(count_of(db, "SELECT COUNT(*) FROM customer_timeline") == 0);

      // Without the bad inputs it commits, and the numbers the rolled-back batch drew are free.
      auto ok = results_of(batch(client, owner.access, "create",
                                 bj::object{{"all_or_none", true},
                                            {"inputs", bj::array{customer_body("First", "first@batik.my"),
                                                                 customer_body("Second")}}}),
                           2);
      CHECK(statuses(ok) == std::vector<int>{201, 201});
      CHECK(str(ok[0].at("resource").at("code")) == "CUS-000001");
      CHECK(str(ok[1].at("resource").at("code")) == "CUS-000002");
      std::string first = str(ok[0].at("id")), second = str(ok[1].at("id"));

      // One stale version rolls back the other change too.
      auto u = batch(client, owner.access, "update",
                     bj::object{{"all_or_none", true},
                                {"inputs", bj::array{bj::object{{"id", first}, {"properties", bj::object{{"name", "Renamed"}}}},
                                                     bj::object{{"id", second}, {"version", 7},
                                                                {"properties", bj::object{{"tier", "gold"}}}}}}});
      REQUIRE_MESSAGE(u.status == 422, u.body);
      CHECK(statuses(obj(u).at("results").as_array()) == std::vector<int>{424, 412});
      CHECK(str(get_ok(client, owner.access, "/api/v1/customers/" + first).at("name")) == "First");
      CHECK(events(db, "customer.updated") == 0);
      CHECK(audits(db, "customer.updated") == 0);

      auto d = batch(client, owner.access, "delete",
                     bj::object{{"all_or_none", true},
                                {"inputs", bj::array{bj::object{{"id", first}}, bj::object{{"id", kUnknownId}}}}});
      REQUIRE_MESSAGE(d.status == 422, d.body);
      CHECK(statuses(obj(d).at("results").as_array()) == std::vector<int>{424, 404});
      CHECK(listed_total(client, owner.access) == 2);
      CHECK(events(db, "customer.deleted") == 0);
    }
  }

  TEST_CASE("customer: a batch takes 1 to 100 inputs and refuses a bad envelope as a whole") {
    for (const auto& backend : backends()) {
      CAPTURE(backend);
      TestDatabase db(backend);
      ServerProcess server(db);
      HttpClient client(server.port());
      auto owner = register_tenant(client, "batch-limits", "owner@batch-limits.example");
      auto many = [](std::size_t n) {
        bj::array a;
        for (std::size_t i = 0; i < n; ++i) a.push_back(customer_body("Customer " + std::to_string(i)));
        return a;
      };
      auto none = batch(client, owner.access, "create", bj::object{{"inputs", bj::array{}}});
      CHECK(none.status == 422);
      CHECK(error_code_for(none, "inputs") == "too_few");
      auto over = batch(client, owner.access, "create", bj::object{{"inputs", many(101)}});
      CHECK(over.status == 422);
      CHECK(error_code_for(over, "inputs") == "too_many");
      CHECK(count_of(db, "SELECT COUNT(*) FROM customer_customers") == 0);

      const std::vector<std::pair<std::string, bj::object>> bad = {
          {"create", bj::object{}},
          {"create", bj::object{{"inputs", bj::object{{"name", "x"}}}}},
          {"create", bj::object{{"inputs", many(1)}, {"dry_run", true}}},
          {"create", bj::object{{"inputs", many(1)}, {"all_or_none", "yes"}}},
          {"create", bj::object{{"inputs", many(1)}, {"match_on", "email"}}},
          {"upsert", bj::object{{"inputs", many(1)}}},
          {"upsert", bj::object{{"inputs", many(1)}, {"match_on", "phone"}}},
          {"update", bj::object{{"inputs", nullptr}}},
          {"delete", bj::object{{"inputs", many(101)}}},
      };
      const std::vector<std::string> named = {"inputs", "inputs", "dry_run", "all_or_none", "match_on",
                                              "match_on", "match_on", "inputs", "inputs"};
      for (std::size_t i = 0; i < bad.size(); ++i) {
        CAPTURE(i);
        auto r = batch(client, owner.access, bad[i].first, bad[i].second);
        CHECK(r.status == 422);
        CHECK(error_fields(r).count(named[i]) == 1);
      }
      CHECK(call(client, "POST", "/api/v1/customers/batch/create", owner.access, "{\"inputs\": [").status == 400);
      CHECK(call(client, "POST", "/api/v1/customers/batch/create", owner.access, "[]").status == 422);
      CHECK(batch(client, owner.access, "create", bj::object{{"inputs", many(1)}}, "?allow_duplicate=maybe").status ==
            400);
      CHECK(batch(client, "", "create", bj::object{{"inputs", many(1)}}).status == 401);
      CHECK(count_of(db, "SELECT COUNT(*) FROM customer_customers") == 0);

      // Exactly 100 is fine, with 100 distinct codes in input order.
      auto results = results_of(batch(client, owner.access, "create", bj::object{{"inputs", many(100)}}), 100);
      for (std::size_t i = 0; i < 100; ++i) {
        CAPTURE(i);
        CHECK(status_of(results[i]) == 201);
        char code[16];
        std::snprintf(code, sizeof code, "CUS-%06zu", i + 1);
        CHECK(str(results[i].at("resource").at("code")) == code);
        CHECK(str(results[i].at("resource").at("name")) == "Customer " + std::to_string(i));
      }
      CHECK(listed_total(client, owner.access) == 100);
    }
  }

  TEST_CASE("customer: upsert by email or by external_id creates first, then updates the match, also within one batch") {
    for (const auto& backend : backends()) {
      CAPTURE(backend);
      TestDatabase db(backend);
      ServerProcess server(db);
      HttpClient client(server.port());
      auto owner = register_tenant(client, "batch-upsert", "owner@batch-upsert.example");
      auto by_email = [&](const bj::array& inputs) {
        return batch(client, owner.access, "upsert", bj::object{{"match_on", "email"}, {"inputs", inputs}});
      };
      auto first = results_of(by_email(bj::array{customer_body("Siti", "siti@batik.my")}), 1);
      REQUIRE(status_of(first[0]) == 201);
      std::string siti = str(first[0].at("id"));
      auto again = results_of(by_email(bj::array{bj::object{{"name", "Siti Aminah"}, {"email", "SITI@batik.my"},
                                                             {"tier", "gold"}}}),
                              1);
      CHECK(status_of(again[0]) == 200);
      CHECK(str(again[0].at("id")) == siti);
      CHECK(str(again[0].at("resource").at("name")) == "Siti Aminah");
      CHECK(again[0].at("resource").at("version") == 2);

      // Twice in one batch: the second input patches what the first created.
      auto twice = results_of(by_email(bj::array{customer_body("Ali", "ali@batik.my"),
                                                 bj::object{{"email", "ali@batik.my"}, {"tier", "silver"}},
                                                 customer_body("No Email"),
                                                 bj::object{{"email", "new@batik.my"}},
                                                 bj::object{{"name", "Broken"}, {"email", "broken"}}}),
                              5);
      CHECK(statuses(twice) == std::vector<int>{201, 200, 422, 422, 422});
      CHECK(str(twice[1].at("id")) == str(twice[0].at("id")));
      CHECK(str(twice[1].at("resource").at("name")) == "Ali");
      CHECK(str(twice[1].at("resource").at("tier")) == "silver");
      CHECK(problem_fields(twice[2]) == std::set<std::string>{"email"});  // the key to match on
      CHECK(problem_fields(twice[3]) == std::set<std::string>{"name"});   // no match: a create needs a name
      CHECK(problem_fields(twice[4]) == std::set<std::string>{"email"});
      CHECK(listed_total(client, owner.access) == 2);
      CHECK(events(db, "customer.created") == 2);
      CHECK(events(db, "customer.updated") == 2);

      auto by_external = [&](const bj::array& inputs) {
        return batch(client, owner.access, "upsert", bj::object{{"match_on", "external_id"}, {"inputs", inputs}});
      };
      auto ext = results_of(by_external(bj::array{bj::object{{"name", "Legacy One"}, {"external_id", "legacy-1"}},
                                                  bj::object{{"name", "Legacy One Renamed"}, {"external_id", "legacy-1"}},
                                                  bj::object{{"name", "Legacy Two"}, {"external_id", "legacy-2"}},
                                                  customer_body("No Key", "nokey@batik.my")}),
                            4);
      CHECK(statuses(ext) == std::vector<int>{201, 200, 201, 422});
      CHECK(str(ext[1].at("id")) == str(ext[0].at("id")));
      CHECK(str(ext[1].at("resource").at("name")) == "Legacy One Renamed");
      CHECK(problem_fields(ext[3]) == std::set<std::string>{"external_id"});
      auto later = results_of(by_external(bj::array{bj::object{{"external_id", "legacy-2"}, {"tier", "platinum"}}}), 1);
      CHECK(status_of(later[0]) == 200);
      CHECK(str(later[0].at("id")) == str(ext[2].at("id")));
      CHECK(str(later[0].at("resource").at("tier")) == "platinum");
      // A deleted customer keeps its external_id: no match, and no second customer with it.
      REQUIRE(call(client, "DELETE", "/api/v1/customers/" + str(ext[2].at("id")), owner.access).status == 204);
      auto gone = results_of(by_external(bj::array{bj::object{{"name", "Legacy Two Again"}, {"external_id", "legacy-2"}}}), 1);
      CHECK(status_of(gone[0]) == 409);
      CHECK(problem_code(gone[0]) == "external_id_taken");
      CHECK(listed_total(client, owner.access) == 3);
    }
  }

  TEST_CASE("customer: batch update and delete answer 403, 404 and 412 per input as the single endpoints do") {
    for (const auto& backend : backends()) {
      CAPTURE(backend);
      TestDatabase db(backend);
      ServerProcess server(db);
      HttpClient client(server.port());
      auto owner = register_tenant(client, "batch-perm", "owner@batch-perm.example");
      auto other = register_tenant(client, "batch-perm-other", "owner@batch-perm-other.example");
      auto sales = add_member(client, db, owner, "sales@batch-perm.example", "sales");
      auto viewer = add_member(client, db, owner, "viewer@batch-perm.example", "viewer");
      std::string owners = id_of(create_customer(client, owner.access, customer_body("Owner's")));
      std::string own = id_of(create_customer(client, sales.access, customer_body("Sales Own")));
      auto foreign = create_customer(client, other.access, customer_body("Other Tenant's"));
      std::string theirs = id_of(foreign);

      auto tier = bj::object{{"tier", "gold"}};
      auto u = batch(client, sales.access, "update",
                     bj::object{{"inputs", bj::array{bj::object{{"id", owners}, {"properties", tier}},
                                                     bj::object{{"id", own}, {"properties", tier}},
                                                     bj::object{{"id", theirs}, {"properties", tier}},
                                                     bj::object{{"id", kUnknownId}, {"properties", tier}},
                                                     bj::object{{"id", own}, {"version", 1}, {"properties", tier}},
                                                     bj::object{{"id", "not-an-id"}, {"properties", tier}}}}});
      auto ur = results_of(u, 6);
      // The fifth input comes after the second changed the customer to version 2.
      CHECK(statuses(ur) == std::vector<int>{403, 200, 404, 404, 412, 404});
      CHECK(problem_code(ur[0]) == "forbidden");
      // Another tenant's id is answered exactly like an id that does not exist.
      auto not_found = ur[2].at("problem").as_object(), unknown = ur[3].at("problem").as_object();
      CHECK(not_found == unknown);
      CHECK(problem_code(ur[4]) == "version_mismatch");
      CHECK(get_ok(client, owner.access, "/api/v1/customers/" + owners).at("tier").is_null());
      CHECK(get_ok(client, other.access, "/api/v1/customers/" + theirs) == foreign);

      auto d = batch(client, sales.access, "delete",
                     bj::object{{"inputs", bj::array{bj::object{{"id", owners}}, bj::object{{"id", own}, {"version", 1}},
                                                     bj::object{{"id", theirs}}, bj::object{{"id", own}}}}});
      auto dr = results_of(d, 4);
      CHECK(statuses(dr) == std::vector<int>{403, 412, 404, 204});
      CHECK(call(client, "GET", "/api/v1/customers/" + owners, owner.access).status == 200);
      CHECK(call(client, "GET", "/api/v1/customers/" + own, owner.access).status == 404);
      CHECK(call(client, "GET", "/api/v1/customers/" + theirs, other.access).status == 200);

      // An owner that is not a member is the input's 422, as on PATCH.
      auto o = results_of(batch(client, owner.access, "update",
                                bj::object{{"inputs", bj::array{bj::object{{"id", owners},
                                                                           {"properties", bj::object{{"owner_id", kUnknownId}}}},
                                                                bj::object{{"id", owners},
                                                                           {"properties", bj::object{{"owner_id", sales.user_id}}}}}}}),
                          2);
      CHECK(statuses(o) == std::vector<int>{422, 200});
      CHECK(problem_fields(o[0]) == std::set<std::string>{"owner_id"});
      CHECK(events(db, "customer.owner_changed") == 1);

      // Who may not do it to any customer is refused as a whole, and nothing is written.
      long long before = count_of(db, "SELECT COUNT(*) FROM customer_customers");
      CHECK(batch(client, viewer.access, "create", bj::object{{"inputs", bj::array{customer_body("Nope")}}}).status == 403);
      CHECK(batch(client, viewer.access, "update",
                  bj::object{{"inputs", bj::array{bj::object{{"id", owners}, {"properties", tier}}}}})
                .status == 403);
      CHECK(batch(client, viewer.access, "upsert",
                  bj::object{{"match_on", "email"}, {"inputs", bj::array{customer_body("Nope", "nope@batik.my")}}})
                .status == 403);
      CHECK(batch(client, viewer.access, "delete", bj::object{{"inputs", bj::array{bj::object{{"id", owners}}}}}).status ==
            403);
      CHECK(count_of(db, "SELECT COUNT(*) FROM customer_customers") == before);
      // A sales member upserting onto a customer someone else owns gets a 403 for that input.
      auto s = results_of(batch(client, sales.access, "upsert",
                                bj::object{{"match_on", "external_id"},
                                           {"inputs", bj::array{bj::object{{"name", "New"}, {"external_id", "s-1"}}}}}),
                          1);
      CHECK(status_of(s[0]) == 201);
      REQUIRE(call(client, "PATCH", "/api/v1/customers/" + str(s[0].at("id")), owner.access,
                   js(bj::object{{"owner_id", owner.user_id}}))
                  .status == 200);
      auto s2 = results_of(batch(client, sales.access, "upsert",
                                 bj::object{{"match_on", "external_id"},
                                            {"inputs", bj::array{bj::object{{"tier", "gold"}, {"external_id", "s-1"}}}}}),
                           1);
      CHECK(status_of(s2[0]) == 403);
    }
  }

  TEST_CASE("customer: batch create keeps the plan limit and distinct codes under concurrent batches") {
    for (const auto& backend : backends()) {
      CAPTURE(backend);
      TestDatabase db(backend);
      std::string config = db.data_dir() + "/batch-plan.json";
      std::ofstream(config) << "{\"modules\": {\"customer\": {\"customer_limits\": {\"free\": 103}}}}";
      ServerProcess server(db, {}, {"--config", config});
      HttpClient setup(server.port());
      auto owner = register_tenant(setup, "batch-plan", "owner@batch-plan.example");
      constexpr int kThreads = 4, kEach = 25;
      std::mutex mutex;
      std::vector<std::string> codes;
      std::vector<int> failures;
      std::vector<std::thread> threads;
      for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&, t] {
          HttpClient client(server.port());
          bj::array inputs;
          for (int i = 0; i < kEach; ++i) inputs.push_back(customer_body("Same Name"));  // slugs must not collide
          auto r = batch(client, owner.access, "create", bj::object{{"inputs", inputs}});
          std::lock_guard lock(mutex);
          if (r.status != 200) {
            failures.push_back(r.status);
            return;
          }
          auto answer = bj::parse(r.body);
          for (const auto& result : answer.at("results").as_array()) {
            if (result.at("status") != 201) {
              failures.push_back(static_cast<int>(result.at("status").to_number<int>()) + 1000 * t);
              continue;
            }
            codes.push_back(str(result.at("resource").at("code")));
          }
        });
      }
      for (auto& th : threads) th.join();
      CHECK(failures.empty());
      std::set<std::string> distinct(codes.begin(), codes.end());
      CHECK(distinct.size() == kThreads * kEach);
      CHECK(*distinct.begin() == "CUS-000001");
      CHECK(*distinct.rbegin() == "CUS-000100");
      CHECK(count_of(db, "SELECT COUNT(DISTINCT slug) FROM customer_customers") == kThreads * kEach);

      // Three more fit the plan; the last two of five are refused, each on its own.
      bj::array five;
      for (int i = 0; i < 5; ++i) five.push_back(customer_body("Late " + std::to_string(i)));
      auto late = results_of(batch(setup, owner.access, "create", bj::object{{"inputs", five}}), 5);
      CHECK(statuses(late) == std::vector<int>{201, 201, 201, 409, 409});
      CHECK(problem_code(late[3]) == "plan_limit_reached");
      CHECK(str(late[2].at("resource").at("code")) == "CUS-000103");
      CHECK(listed_total(setup, owner.access) == 103);
      // Room made by a batch delete is usable by the next batch, and numbers never repeat.
      auto del = results_of(batch(setup, owner.access, "delete",
                                  bj::object{{"inputs", bj::array{bj::object{{"id", str(late[0].at("id"))}}}}}),
                            1);
      REQUIRE(status_of(del[0]) == 204);
      auto next = results_of(batch(setup, owner.access, "create", bj::object{{"inputs", bj::array{customer_body("Next")}}}), 1);
      CHECK(status_of(next[0]) == 201);
      CHECK(str(next[0].at("resource").at("code")) == "CUS-000104");
    }
  }

  TEST_CASE("customer: a batch sent again with the same Idempotency-Key is replayed, not done twice") {
    for (const auto& backend : backends()) {
      CAPTURE(backend);
      TestDatabase db(backend);
      ServerProcess server(db);
      HttpClient client(server.port());
      auto owner = register_tenant(client, "batch-idem", "owner@batch-idem.example");
      bj::object body{{"inputs", bj::array{customer_body("Once", "once@batik.my"), customer_body("Twice")}}};
      auto first = batch(client, owner.access, "create", body, {}, {{"Idempotency-Key", "batch-key-1"}});
      auto results = results_of(first, 2);
      auto again = batch(client, owner.access, "create", body, {}, {{"Idempotency-Key", "batch-key-1"}});
      CHECK(again.status == 200);
      CHECK(again.body == first.body);
      CHECK(count_of(db, "SELECT COUNT(*) FROM customer_customers") == 2);
      CHECK(events(db, "customer.created") == 2);
      auto other = batch(client, owner.access, "create", bj::object{{"inputs", bj::array{customer_body("Other")}}}, {},
                         {{"Idempotency-Key", "batch-key-1"}});
      CHECK(other.status == 422);
      CHECK(code_of(other) == "idempotency_key_reused");
    }
  }

  TEST_CASE("customer: the OpenAPI document describes the four batch operations, their bodies and results") {
    TestDatabase db("sqlite");
    ServerProcess server(db);
    HttpClient client(server.port());
    auto r = client.get("/api/v1/openapi.json");
    REQUIRE(r.status == 200);
    auto doc = r.json().as_object();
    const auto& paths = doc.at("paths").as_object();
    const auto& schemas = doc.at("components").at("schemas").as_object();
    const std::vector<std::pair<std::string, std::string>> operations = {{"create", "CustomerBatchCreate"},
                                                                         {"update", "CustomerBatchUpdate"},
                                                                         {"upsert", "CustomerBatchUpsert"},
                                                                         {"delete", "CustomerBatchDelete"}};
    for (const auto& [name, schema] : operations) {
      CAPTURE(name);
      std::string path = "/api/v1/customers/batch/" + name;
      REQUIRE(paths.contains(path));
      const auto& op = paths.at(path).at("post").as_object();
      CHECK(str(op.at("summary")).size() > 10);
      CHECK(str(op.at("requestBody").at("content").at("application/json").at("schema").at("$ref")) ==
            "#/components/schemas/" + schema);
      CHECK(str(op.at("responses").at("200").at("content").at("application/json").at("schema").at("$ref")) ==
            "#/components/schemas/CustomerBatchResponse");
      CHECK(op.at("responses").as_object().contains("422"));
      const auto& body_schema = schemas.at(schema).as_object();
      CHECK(body_schema.at("properties").as_object().contains("inputs"));
      CHECK(body_schema.at("properties").as_object().contains("all_or_none"));
      CHECK(body_schema.at("properties").at("inputs").at("maxItems") == 100);
    }
    CHECK(schemas.at("CustomerBatchUpsert").at("required").as_array().size() == 2);
    const auto& result = schemas.at("CustomerBatchResult").at("properties").as_object();
    for (const char* field : {"index", "status", "id", "resource", "problem"}) CHECK(result.contains(field));
  }
}  // TEST_SUITE
